using System.Globalization;
using Domino.Config.Diagnostics;
using Domino.Config.Syntax;

namespace Domino.Config.Specs;

/// <summary>
/// Where a device-spec string came from, so problems inside it point at the exact column:
/// <c>guest.cfg:14:23: error: ...</c> names the character inside <c>disk=[ "..." ]</c>.
/// </summary>
internal sealed class SpecSource(string key, string text, string file, SourcePosition position, bool columnsExact, DiagnosticBag diagnostics)
{
    public string Key { get; } = key;
    public string Text { get; } = text;
    public DiagnosticBag Diagnostics { get; } = diagnostics;

    public static SpecSource From(string key, ConfigValue value, DiagnosticBag diagnostics) =>
        new(key, value.AtomText ?? "", value.File, value.Position, value is not ConfigString s || s.ColumnsExact, diagnostics);

    /// <summary>Position of character <paramref name="offset"/> of the spec (skipping the opening quote).</summary>
    public SourcePosition At(int offset) => columnsExact ? position.Advance(offset + 1) : position;

    public void Error(int offset, string message) => Diagnostics.Error(file, At(offset), Key, message);

    public void Warning(int offset, string message) => Diagnostics.Warning(file, At(offset), Key, message);
}

/// <summary>One comma-separated element of a device spec: <c>key=value</c>, or a bare word.</summary>
internal readonly record struct SpecToken(string? Key, string Value, int Offset, int ValueOffset)
{
    public string Text => Key is null ? Value : $"{Key}={Value}";
}

/// <summary>The comma-separated option syntax every xl device spec shares.</summary>
internal static class SpecTokenizer
{
    /// <summary>Splits on commas; a key in <paramref name="swallowingKeys"/> takes the rest of the string (disk <c>target=</c>).</summary>
    public static List<SpecToken> Split(string text, params string[] swallowingKeys)
    {
        var tokens = new List<SpecToken>();
        var pos = 0;
        while (pos <= text.Length)
        {
            // Blanks around elements are not significant: "vdev=xvda, format=raw".
            while (pos < text.Length && text[pos] is ' ' or '\t') pos++;
            var swallow = swallowingKeys.FirstOrDefault(k => string.CompareOrdinal(text, pos, k + "=", 0, k.Length + 1) == 0);
            if (swallow is not null)
            {
                var valueStart = pos + swallow.Length + 1;
                tokens.Add(new SpecToken(swallow, text[valueStart..], pos, valueStart));
                break;
            }
            var end = text.IndexOf(',', pos);
            if (end < 0) end = text.Length;
            var piece = text[pos..end].TrimEnd(' ', '\t');
            var eq = piece.IndexOf('=', StringComparison.Ordinal);
            tokens.Add(eq < 0
                ? new SpecToken(null, piece, pos, pos)
                : new SpecToken(piece[..eq], piece[(eq + 1)..], pos, pos + eq + 1));
            if (end == text.Length) break;
            pos = end + 1;
            // "a,b," — a trailing comma ends the spec rather than adding an empty element.
            if (pos == text.Length) break;
        }
        return tokens;
    }

    /// <summary>xl's boolean spelling inside device specs: 0/1 (also accepting yes/no/true/false/on/off).</summary>
    public static bool? ParseBool(string value) => value.ToLowerInvariant() switch
    {
        "1" or "yes" or "true" or "on" or "y" => true,
        "0" or "no" or "false" or "off" or "n" => false,
        _ => null,
    };

    public static bool TryParseInt(string value, out int result) =>
        int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out result);
}
