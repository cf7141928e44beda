using Domino.Config.Model;

namespace Domino.Config.Specs;

/// <summary>The <c>usbctrl=[ "..." ]</c> grammar of xl.cfg(5): a USB controller.</summary>
internal static class UsbCtrlSpec
{
    public const string Syntax = """usbctrl = [ "type=auto|pv|devicemodel|qusb,version=1|2|3,ports=1-31[,backend=DOMAIN]", ... ]""";

    public static UsbControllerConfig? Parse(SpecSource source) => KeyValueSpec.Parse(source, new UsbControllerConfig(), (v, t, s) =>
    {
        switch (t.Key)
        {
            case "type": return KeyValueSpec.OneOf(s, t, "auto", "pv", "devicemodel", "qusb") is { } type ? v with { Type = type } : v;
            case "version": return v with { Version = (int?)KeyValueSpec.Number(s, t, 1, 3) };
            case "ports": return v with { Ports = (int?)KeyValueSpec.Number(s, t, 1, 31) };
            case "backend": return v with { Backend = t.Value };
            default: KeyValueSpec.Unknown(s, t, "usbctrl", Syntax); return v;
        }
    });

    public static string Format(UsbControllerConfig v) => KeyValueSpec.Join(("type", v.Type), ("version", KeyValueSpec.N(v.Version)), ("ports", KeyValueSpec.N(v.Ports)), ("backend", v.Backend));
}
