using System.Globalization;
using Domino.Config.Diagnostics;

namespace Domino.Config.Syntax;

/// <summary>
/// A value as written in xl.cfg: a string, a number (kept as its source text, like libxlu does),
/// or a bracketed list. Every value remembers where it was written.
/// </summary>
public abstract record ConfigValue(string File, SourcePosition Position)
{
    /// <summary>The text an atom stands for (strings unquoted, numbers as written); null for lists.</summary>
    public abstract string? AtomText { get; }

    /// <summary>How the value is written in xl.cfg syntax.</summary>
    public abstract string ToSource();
}

/// <summary>A quoted string; <see cref="Text"/> has escapes already resolved.</summary>
public sealed record ConfigString(string Text, string File, SourcePosition Position) : ConfigValue(File, Position)
{
    /// <summary>True when the source spelling maps 1:1 to <see cref="Text"/>, so offsets inside it map to columns.</summary>
    public bool ColumnsExact { get; init; } = true;

    public override string AtomText => Text;

    public override string ToSource() => Quote(Text);

    /// <summary>Double-quotes a string, escaping what libxlu's lexer would otherwise misread.</summary>
    public static string Quote(string text)
    {
        var sb = new System.Text.StringBuilder(text.Length + 2);
        sb.Append('"');
        foreach (var c in text)
        {
            switch (c)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\t': sb.Append("\\t"); break;
                case '\r': sb.Append("\\r"); break;
                default:
                    // xl 4.17 cannot read \x or octal escapes, so other characters are written as they are.
                    sb.Append(c);
                    break;
            }
        }
        sb.Append('"');
        return sb.ToString();
    }
}

/// <summary>An unquoted number such as <c>512</c> or <c>0x1f</c>, kept as written.</summary>
public sealed record ConfigNumber(string Text, string File, SourcePosition Position) : ConfigValue(File, Position)
{
    public override string AtomText => Text;

    public override string ToSource() => Text;
}

/// <summary>A <c>[ a, b, ... ]</c> list; xl allows lists of lists (vnuma).</summary>
public sealed record ConfigList(IReadOnlyList<ConfigValue> Items, string File, SourcePosition Position) : ConfigValue(File, Position)
{
    public override string? AtomText => null;

    public override string ToSource() =>
        Items.Count == 0 ? "[]" : "[ " + string.Join(", ", Items.Select(i => i.ToSource())) + " ]";

    public bool Equals(ConfigList? other) =>
        other is not null && other.File == File && other.Position == Position && Items.SequenceEqual(other.Items);

    public override int GetHashCode() => HashCode.Combine(File, Position, Items.Count);
}

/// <summary>One <c>KEY = VALUE</c> (or <c>KEY += VALUE</c>) statement.</summary>
public sealed record ConfigSetting(string Key, ConfigValue Value, string File, SourcePosition Position, bool Append = false);

/// <summary>The statements of one or more sources in order; later settings of a key override earlier ones.</summary>
public sealed class ConfigDocument
{
    private readonly List<ConfigSetting> _settings = [];

    /// <summary>The file the document was read from, for errors about settings it lacks (even when it is empty).</summary>
    public string? FileName { get; init; }

    public IReadOnlyList<ConfigSetting> Settings => _settings;

    internal void Add(ConfigSetting setting) => _settings.Add(setting);

    /// <summary>
    /// The effective value of each key, in first-appearance order: a later <c>KEY=</c> replaces an
    /// earlier one (this is how `xl create FILE key=value` overrides the file), <c>KEY+=</c> appends.
    /// </summary>
    public IReadOnlyList<ConfigSetting> Effective() => Effective(null);

    internal IReadOnlyList<ConfigSetting> Effective(DiagnosticBag? diagnostics)
    {
        var order = new List<string>();
        var byKey = new Dictionary<string, ConfigSetting>(StringComparer.Ordinal);
        foreach (var s in _settings)
        {
            if (!byKey.TryGetValue(s.Key, out var previous))
            {
                order.Add(s.Key);
                byKey[s.Key] = s with { Append = false };
                continue;
            }
            if (s.Append && (previous.Value is ConfigNumber || s.Value is ConfigNumber))
            {
                diagnostics?.Error(s.File, s.Position, s.Key, $"can't use += with a number for {s.Key} (+= appends to strings and lists; write {s.Key} = VALUE)");
                continue;
            }
            byKey[s.Key] = s.Append ? s with { Value = Concatenate(previous.Value, s.Value), Append = false } : s;
        }
        return order.Select(k => byKey[k]).ToList();
    }

    // libxlu: `+=` appends list items to a list, or text to a string.
    private static ConfigValue Concatenate(ConfigValue left, ConfigValue right) => (left, right) switch
    {
        (ConfigList l, ConfigList r) => l with { Items = [.. l.Items, .. r.Items] },
        (ConfigList l, _) => l with { Items = [.. l.Items, right] },
        (_, ConfigList r) => r with { Items = [left, .. r.Items] },
        _ => new ConfigString((left.AtomText ?? "") + (right.AtomText ?? ""), left.File, left.Position) { ColumnsExact = false },
    };
}
