using Domino.Config.Model;

namespace Domino.Config.Specs;

/// <summary>The <c>p9=[ "..." ]</c> grammar of xl.cfg(5): a 9pfs share.</summary>
internal static class P9Spec
{
    public const string Syntax = """p9 = [ "tag=TAG,path=DIR,security_model=none,backend=DOMAIN", ... ] (tag and path required)""";

    public static P9Config? Parse(SpecSource source)
    {
        var p = KeyValueSpec.Parse(source, new P9Config(), (v, t, s) =>
        {
            switch (t.Key)
            {
                case "backend": return v with { Backend = t.Value };
                case "tag": return v with { Tag = t.Value };
                case "path": return v with { Path = t.Value };
                case "security_model": return v with { SecurityModel = t.Value };
                default: KeyValueSpec.Unknown(s, t, "p9", Syntax); return v;
            }
        });
        if (p is { Tag.Length: 0 } or { Path.Length: 0 })
        {
            source.Error(0, $"p9 spec '{source.Text}' needs both tag= and path=");
            return null;
        }
        return p;
    }

    public static string Format(P9Config v) => KeyValueSpec.Join(("tag", v.Tag), ("path", v.Path), ("security_model", v.SecurityModel), ("backend", v.Backend));
}
