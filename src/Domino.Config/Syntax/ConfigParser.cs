using System.Globalization;
using System.Text;
using Domino.Config.Diagnostics;

namespace Domino.Config.Syntax;

/// <summary>
/// Parses the xl.cfg(5) language: <c>KEY = VALUE</c> statements ended by a newline or <c>;</c>,
/// <c>KEY += VALUE</c> appends, "double" or 'single' quoted strings, numbers, <c>[ ... ]</c> lists
/// that may span lines and end with a trailing comma, and <c>#</c> comments.
/// Never throws: anything it cannot read becomes a diagnostic and parsing resumes at the next statement.
/// </summary>
internal sealed class ConfigParser
{
    // Lists of lists are legal (vnuma); this only stops pathological input from exhausting the stack.
    private const int MaxListDepth = 32;

    private readonly string _text;
    private readonly string _file;
    private readonly DiagnosticBag _diagnostics;
    private readonly ConfigDocument _document;
    private readonly int _lineOffset;
    private int _pos;
    private int _line = 1;
    private int _column = 1;
    private Token _token;

    private ConfigParser(string text, string file, ConfigDocument document, DiagnosticBag diagnostics, int lineOffset)
    {
        _text = text;
        _file = file;
        _document = document;
        _diagnostics = diagnostics;
        _lineOffset = lineOffset;
        _token = Lex();
    }

    /// <summary>Parses <paramref name="text"/> and appends its statements to <paramref name="document"/>.</summary>
    /// <param name="lineOffset">Added to line numbers, so each command-line argument reports as its own line.</param>
    public static void Parse(string text, string file, ConfigDocument document, DiagnosticBag diagnostics, int lineOffset = 0) =>
        new ConfigParser(text ?? "", file, document, diagnostics, lineOffset).ParseDocument();

    private void ParseDocument()
    {
        while (_token.Kind != TokenKind.End)
        {
            if (_token.Kind is TokenKind.Newline or TokenKind.Semicolon)
            {
                Next();
                continue;
            }
            ParseStatement();
        }
    }

    private void ParseStatement()
    {
        var keyToken = _token;
        if (keyToken.Kind != TokenKind.Identifier)
        {
            Fail(keyToken, keyToken.Kind == TokenKind.Invalid
                ? keyToken.Text
                : $"expected a setting name at {Describe(keyToken)} (statements look like KEY = VALUE)");
            Recover();
            return;
        }
        Next();
        bool append;
        if (_token.Kind == TokenKind.Equals) append = false;
        else if (_token.Kind == TokenKind.PlusEquals) append = true;
        else
        {
            Fail(_token, $"expected '=' after '{keyToken.Text}' but found {Describe(_token)}");
            Recover();
            return;
        }
        Next();
        var value = ParseValue(0);
        if (value is null)
        {
            Recover();
            return;
        }
        if (_token.Kind is not (TokenKind.Newline or TokenKind.Semicolon or TokenKind.End))
        {
            Fail(_token, $"expected end of line or ';' after the value of '{keyToken.Text}' but found {Describe(_token)}");
            Recover();
            return;
        }
        _document.Add(new ConfigSetting(keyToken.Text, value, _file, keyToken.Position, append));
    }

    private ConfigValue? ParseValue(int depth)
    {
        var t = _token;
        switch (t.Kind)
        {
            case TokenKind.String:
                Next();
                return new ConfigString(t.Text, _file, t.Position) { ColumnsExact = t.ColumnsExact };
            case TokenKind.Number:
                Next();
                return new ConfigNumber(t.Text, _file, t.Position);
            case TokenKind.OpenBracket:
                if (depth >= MaxListDepth)
                {
                    Fail(t, $"lists nested more than {MaxListDepth} deep");
                    return null;
                }
                return ParseList(depth + 1);
            case TokenKind.Invalid:
                Fail(t, t.Text);
                return null;
            default:
                Fail(t, t.Kind == TokenKind.Identifier
                    ? $"expected a value but found bare word '{t.Text}' (quote strings: \"{t.Text}\")"
                    : $"expected a value (a \"string\", a number or a [ list ]) but found {Describe(t)}");
                return null;
        }
    }

    private ConfigList? ParseList(int depth)
    {
        var open = _token;
        Next();
        var items = new List<ConfigValue>();
        SkipNewlines();
        while (_token.Kind != TokenKind.CloseBracket)
        {
            if (_token.Kind == TokenKind.End)
            {
                Fail(open, "list opened here is never closed with ']'");
                return null;
            }
            var item = ParseValue(depth);
            if (item is null) return null;
            items.Add(item);
            SkipNewlines();
            if (_token.Kind == TokenKind.Comma)
            {
                Next();
                SkipNewlines();
            }
            else if (_token.Kind != TokenKind.CloseBracket)
            {
                Fail(_token, $"expected ',' or ']' in list but found {Describe(_token)}");
                return null;
            }
        }
        Next();
        return new ConfigList(items, _file, open.Position);
    }

    private void SkipNewlines()
    {
        while (_token.Kind == TokenKind.Newline) Next();
    }

    // Error recovery: drop the rest of the broken statement.
    private void Recover()
    {
        while (_token.Kind is not (TokenKind.Newline or TokenKind.Semicolon or TokenKind.End)) Next();
    }

    private void Fail(Token at, string message) => _diagnostics.Error(_file, at.Position, null, message);

    private void Next() => _token = Lex();

    private static string Describe(Token t) => t.Kind switch
    {
        TokenKind.End => "end of input",
        TokenKind.Newline => "end of line",
        TokenKind.String => $"string \"{t.Text}\"",
        TokenKind.Invalid => "an invalid token",
        _ => $"'{t.Text}'",
    };

    private enum TokenKind { Identifier, Number, String, Equals, PlusEquals, Comma, OpenBracket, CloseBracket, Semicolon, Newline, End, Invalid }

    private readonly record struct Token(TokenKind Kind, string Text, SourcePosition Position, bool ColumnsExact = true);

    private char Peek(int ahead = 0) => _pos + ahead < _text.Length ? _text[_pos + ahead] : '\0';

    private bool AtEnd => _pos >= _text.Length;

    private void Advance()
    {
        if (_text[_pos] == '\n')
        {
            _line++;
            _column = 1;
        }
        else
        {
            _column++;
        }
        _pos++;
    }

    private SourcePosition Here => new(_line + _lineOffset, _column);

    private Token Lex()
    {
        while (!AtEnd)
        {
            var c = Peek();
            if (c is ' ' or '\t' or '\r' or '\f' or '\v') Advance();
            else if (c == '#')
            {
                while (!AtEnd && Peek() != '\n') Advance();
            }
            else if (c == '\\' && Peek(1) == '\n')
            {
                Advance();
                Advance();
            }
            else break;
        }
        var at = Here;
        if (AtEnd) return new Token(TokenKind.End, "", at);
        var ch = Peek();
        switch (ch)
        {
            case '\n': Advance(); return new Token(TokenKind.Newline, "\\n", at);
            case '=': Advance(); return new Token(TokenKind.Equals, "=", at);
            case ',': Advance(); return new Token(TokenKind.Comma, ",", at);
            case '[': Advance(); return new Token(TokenKind.OpenBracket, "[", at);
            case ']': Advance(); return new Token(TokenKind.CloseBracket, "]", at);
            case ';': Advance(); return new Token(TokenKind.Semicolon, ";", at);
            case '+' when Peek(1) == '=':
                Advance();
                Advance();
                return new Token(TokenKind.PlusEquals, "+=", at);
            case '"': return LexDoubleQuoted(at);
            case '\'': return LexSingleQuoted(at);
        }
        if (char.IsAsciiLetter(ch) || ch == '_')
        {
            var start = _pos;
            while (!AtEnd && (char.IsAsciiLetterOrDigit(Peek()) || Peek() is '_' or '.' or '-')) Advance();
            return new Token(TokenKind.Identifier, _text[start.._pos], at);
        }
        if (char.IsAsciiDigit(ch) || (ch is '-' or '+' && char.IsAsciiDigit(Peek(1))))
        {
            var start = _pos;
            Advance();
            while (!AtEnd && (char.IsAsciiLetterOrDigit(Peek()) || Peek() is '.' or '_')) Advance();
            return new Token(TokenKind.Number, _text[start.._pos], at);
        }
        Advance();
        return new Token(TokenKind.Invalid, $"unexpected character {Printable(ch)}", at);
    }

    private static string Printable(char c) =>
        c < 0x20 || c == 0x7f || char.IsSurrogate(c) || c == '\uFFFD'
            ? string.Create(CultureInfo.InvariantCulture, $"U+{(int)c:X4}")
            : $"'{c}'";

    // 'single quoted' strings are taken literally, as libxlu does.
    private Token LexSingleQuoted(SourcePosition at)
    {
        Advance();
        var start = _pos;
        while (!AtEnd && Peek() != '\'' && Peek() != '\n') Advance();
        if (AtEnd || Peek() == '\n')
            return new Token(TokenKind.Invalid, "string opened here is missing its closing quote (')", at);
        var text = _text[start.._pos];
        Advance();
        return new Token(TokenKind.String, text, at);
    }

    private Token LexDoubleQuoted(SourcePosition at)
    {
        Advance();
        var sb = new StringBuilder();
        var exact = true;
        while (true)
        {
            if (AtEnd || Peek() == '\n')
                return new Token(TokenKind.Invalid, "string opened here is missing its closing quote (\")", at);
            var c = Peek();
            if (c == '"')
            {
                Advance();
                return new Token(TokenKind.String, sb.ToString(), at, exact);
            }
            if (c != '\\')
            {
                sb.Append(c);
                Advance();
                continue;
            }
            exact = false;
            var escapeAt = Here;
            Advance();
            if (AtEnd) continue;
            var e = Peek();
            Advance();
            switch (e)
            {
                case 'n': sb.Append('\n'); break;
                case 't': sb.Append('\t'); break;
                case 'r': sb.Append('\r'); break;
                case 'a': sb.Append('\a'); break;
                case 'b': sb.Append('\b'); break;
                case 'f': sb.Append('\f'); break;
                case 'v': sb.Append('\v'); break;
                case '\\': sb.Append('\\'); break;
                case '"': sb.Append('"'); break;
                case '\'': sb.Append('\''); break;
                case 'x':
                {
                    var digits = 0;
                    var value = 0;
                    while (digits < 2 && char.IsAsciiHexDigit(Peek()))
                    {
                        value = value * 16 + Convert.ToInt32(Peek().ToString(), 16);
                        Advance();
                        digits++;
                    }
                    if (digits == 0) _diagnostics.Error(_file, escapeAt, null, "\\x in a string must be followed by hex digits");
                    sb.Append((char)value);
                    break;
                }
                case >= '0' and <= '7':
                {
                    var value = e - '0';
                    for (var i = 0; i < 2 && Peek() is >= '0' and <= '7'; i++)
                    {
                        value = value * 8 + (Peek() - '0');
                        Advance();
                    }
                    sb.Append((char)value);
                    break;
                }
                case '\n':
                    break;
                default:
                    _diagnostics.Error(_file, escapeAt, null, $"unknown escape sequence '\\{e}' in string (use \\\\ for a backslash)");
                    sb.Append(e);
                    break;
            }
        }
    }
}
