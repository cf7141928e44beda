using Domino.Config.Model;

namespace Domino.Config.Specs;

/// <summary>The <c>pvcalls=[ "..." ]</c> grammar of xl.cfg(5): a PV calls interface.</summary>
internal static class PvCallsSpec
{
    public const string Syntax = """pvcalls = [ "backend=DOMAIN", ... ]""";

    public static PvCallsConfig? Parse(SpecSource source) => KeyValueSpec.Parse(source, new PvCallsConfig(), (v, t, s) =>
    {
        if (t.Key == "backend") return v with { Backend = t.Value };
        KeyValueSpec.Unknown(s, t, "pvcalls", Syntax);
        return v;
    });

    public static string Format(PvCallsConfig v) => KeyValueSpec.Join(("backend", v.Backend));
}
