using System.Globalization;
using Domino.Config.Diagnostics;
using Domino.Config.Syntax;

namespace Domino.Config.Binding;

/// <summary>Reads typed values out of settings, reporting each mismatch against the setting's own position.</summary>
internal sealed class ValueReader(DiagnosticBag diagnostics)
{
    public DiagnosticBag Diagnostics { get; } = diagnostics;

    public void Error(ConfigValue at, string key, string message) => Diagnostics.Error(at.File, at.Position, key, message);

    public void Error(ConfigSetting at, string message) => Diagnostics.Error(at.File, at.Position, at.Key, message);

    public void Warning(ConfigSetting at, string message) => Diagnostics.Warning(at.File, at.Position, at.Key, message);

    public string? String(ConfigSetting s)
    {
        if (s.Value.AtomText is { } text) return text;
        Error(s.Value, s.Key, $"{s.Key} must be a single \"string\", not a list");
        return null;
    }

    /// <summary>An integer written as a number or a quoted number, decimal or 0x-hex, within [min, max].</summary>
    public long? Integer(ConfigSetting s, long min, long max, string what)
    {
        var text = s.Value.AtomText;
        if (text is null)
        {
            Error(s.Value, s.Key, $"{s.Key} must be {what}, not a list");
            return null;
        }
        if (!TryParseInteger(text, out var value))
        {
            Error(s.Value, s.Key, $"{s.Key} must be {what}, not '{text}'");
            return null;
        }
        if (value < min || value > max)
        {
            var range = max >= int.MaxValue && max != 1L << 32 ? $"at least {min}" : $"between {min} and {max}";
            Error(s.Value, s.Key, $"{s.Key} = {text} is out of range ({what}, {range})");
            return null;
        }
        return value;
    }

    public int? Int(ConfigSetting s, int min, int max, string what) => (int?)Integer(s, min, max, what);

    public static bool TryParseInteger(string text, out long value)
    {
        text = text.Trim();
        var negative = text.StartsWith('-');
        var body = negative || text.StartsWith('+') ? text[1..] : text;
        bool ok;
        if (body.StartsWith("0x", StringComparison.OrdinalIgnoreCase))
            ok = long.TryParse(body.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out value) && body.Length > 2;
        else
            ok = long.TryParse(body, NumberStyles.None, CultureInfo.InvariantCulture, out value);
        if (negative) value = -value;
        return ok;
    }

    /// <summary>xl booleans are numbers; Domino accepts only 0 and 1 so a typo such as 2 or "yes" is caught.</summary>
    public bool? Bool(ConfigSetting s)
    {
        var text = s.Value.AtomText;
        switch (text?.Trim())
        {
            case "0": return false;
            case "1": return true;
        }
        Error(s.Value, s.Key, text is null
            ? $"{s.Key} must be 0 or 1, not a list"
            : $"{s.Key} must be 0 or 1, not '{text}'");
        return null;
    }

    /// <summary>A list of strings; a single string counts as a one-element list, as xl allows.</summary>
    public List<ConfigValue>? Items(ConfigSetting s)
    {
        if (s.Value is ConfigList list)
        {
            var result = new List<ConfigValue>();
            foreach (var item in list.Items)
            {
                if (item is ConfigList) Error(item, s.Key, $"{s.Key} items must be \"strings\", not nested lists");
                else result.Add(item);
            }
            return result;
        }
        return [s.Value];
    }

    public List<string> Strings(ConfigSetting s) => Items(s)?.Select(i => i.AtomText ?? "").ToList() ?? [];

    public TEnum? Enum<TEnum>(ConfigSetting s, IReadOnlyDictionary<string, TEnum> names, string what)
        where TEnum : struct
    {
        var text = String(s);
        if (text is null) return null;
        if (names.TryGetValue(text, out var value)) return value;
        Error(s.Value, s.Key, $"unknown {what} '{text}' for {s.Key} (expected {string.Join(", ", names.Keys)})");
        return null;
    }
}
