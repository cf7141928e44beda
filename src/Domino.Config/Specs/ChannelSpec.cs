using Domino.Config.Model;

namespace Domino.Config.Specs;

/// <summary>The <c>channel=[ "..." ]</c> grammar of xl.cfg(5): a console channel.</summary>
internal static class ChannelSpec
{
    public const string Syntax = """channel = [ "name=NAME,connection=pty|socket[,path=SOCKET][,backend=DOMAIN]", ... ] (socket needs path)""";

    public static ChannelConfig? Parse(SpecSource source)
    {
        var c = KeyValueSpec.Parse(source, new ChannelConfig(), (v, t, s) =>
        {
            switch (t.Key)
            {
                case "backend": return v with { Backend = t.Value };
                case "name": return v with { Name = t.Value };
                case "connection": return KeyValueSpec.OneOf(s, t, "pty", "socket") is { } conn ? v with { Connection = conn } : v;
                case "path": return v with { Path = t.Value };
                default: KeyValueSpec.Unknown(s, t, "channel", Syntax); return v;
            }
        });
        if (c is null) return null;
        if (c.Name.Length == 0)
        {
            source.Error(0, $"channel spec '{source.Text}' needs name=");
            return null;
        }
        if (c.Connection == "socket" && c.Path is null)
        {
            source.Error(0, $"channel '{c.Name}' with connection=socket needs path=");
            return null;
        }
        return c;
    }

    public static string Format(ChannelConfig v) => KeyValueSpec.Join(("name", v.Name), ("connection", v.Connection), ("path", v.Path), ("backend", v.Backend));
}
