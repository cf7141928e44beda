using Domino.Config.Model;

namespace Domino.Config.Specs;

/// <summary>The <c>vtpm=[ "..." ]</c> grammar of xl.cfg(5): a virtual TPM.</summary>
internal static class VtpmSpec
{
    public const string Syntax = """vtpm = [ "backend=DOMAIN,uuid=UUID", ... ]""";

    public static VtpmConfig? Parse(SpecSource source) => KeyValueSpec.Parse(source, new VtpmConfig(), (v, t, s) =>
    {
        switch (t.Key)
        {
            case "backend": return v with { Backend = t.Value };
            case "uuid":
                if (Guid.TryParseExact(t.Value, "D", out var g)) return v with { Uuid = g };
                s.Error(t.ValueOffset, $"invalid uuid '{t.Value}' in vtpm (expected 8-4-4-4-12 hex digits)");
                return v;
            default: KeyValueSpec.Unknown(s, t, "vtpm", Syntax); return v;
        }
    });

    public static string Format(VtpmConfig v) => KeyValueSpec.Join(("backend", v.Backend), ("uuid", v.Uuid?.ToString("D")));
}
