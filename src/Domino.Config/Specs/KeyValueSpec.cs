using System.Globalization;

namespace Domino.Config.Specs;

/// <summary>
/// What the smaller device specs share: comma-separated <c>KEY=VALUE</c> fields, each applied to an
/// immutable device record, with every bad field reported at its column.
/// </summary>
internal static class KeyValueSpec
{
    public static T? Parse<T>(SpecSource source, T initial, Func<T, SpecToken, SpecSource, T> apply)
        where T : class
    {
        var errors = source.Diagnostics.Items.Count(d => d.IsError);
        var value = initial;
        foreach (var token in SpecTokenizer.Split(source.Text))
        {
            if (token.Key is null)
            {
                if (token.Value.Length > 0) source.Error(token.Offset, $"{source.Key} parameter '{token.Value}' needs a value (KEY=VALUE)");
                continue;
            }
            value = apply(value, token, source);
        }
        return source.Diagnostics.Items.Count(d => d.IsError) == errors ? value : null;
    }

    public static void Unknown(SpecSource s, SpecToken t, string what, string syntax) =>
        s.Error(t.Offset, $"unknown {what} parameter '{t.Key}' (syntax: {syntax.ReplaceLineEndings(" ").Trim()})");

    public static string? OneOf(SpecSource s, SpecToken t, params string[] allowed)
    {
        if (allowed.Contains(t.Value)) return t.Value;
        s.Error(t.ValueOffset, $"unknown {t.Key} '{t.Value}' in {s.Key} (expected {string.Join(", ", allowed)})");
        return null;
    }

    public static bool Flag(SpecSource s, SpecToken t)
    {
        var b = SpecTokenizer.ParseBool(t.Value);
        if (b is null) s.Error(t.ValueOffset, $"invalid {t.Key} '{t.Value}' in {s.Key} (expected 0 or 1)");
        return b ?? false;
    }

    public static uint? Number(SpecSource s, SpecToken t, long min = 0, long max = uint.MaxValue)
    {
        if (long.TryParse(t.Value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n >= min && n <= max) return (uint)n;
        s.Error(t.ValueOffset, $"invalid {t.Key} '{t.Value}' in {s.Key} (expected a number from {min} to {max})");
        return null;
    }

    public static string? N(long? n) => n?.ToString(CultureInfo.InvariantCulture);

    public static string Join(params (string Key, string? Value)[] parts) =>
        string.Join(",", parts.Where(p => p.Value is not null).Select(p => $"{p.Key}={p.Value}"));
}
