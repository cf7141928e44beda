using Domino.Config.Model;

namespace Domino.Config.Specs;

/// <summary>The <c>usbdev=[ "..." ]</c> grammar of xl.cfg(5): a host USB device.</summary>
internal static class UsbDevSpec
{
    public const string Syntax = """usbdev = [ "type=hostdev,hostbus=N,hostaddr=N[,controller=N,port=N]", ... ]""";

    public static UsbDeviceConfig? Parse(SpecSource source)
    {
        bool bus = false, addr = false;
        var d = KeyValueSpec.Parse(source, new UsbDeviceConfig(), (v, t, s) =>
        {
            switch (t.Key)
            {
                case "type": return KeyValueSpec.OneOf(s, t, "hostdev") is { } type ? v with { Type = type } : v;
                case "hostbus":
                    bus = true;
                    return v with { HostBus = (int)(KeyValueSpec.Number(s, t, 0, 255) ?? 0) };
                case "hostaddr":
                    addr = true;
                    return v with { HostAddr = (int)(KeyValueSpec.Number(s, t, 0, 255) ?? 0) };
                case "controller": return v with { Controller = (int?)KeyValueSpec.Number(s, t, 0, int.MaxValue) };
                case "port": return v with { Port = (int?)KeyValueSpec.Number(s, t, 1, 31) };
                default: KeyValueSpec.Unknown(s, t, "usbdev", Syntax); return v;
            }
        });
        if (d is not null && (!bus || !addr))
        {
            source.Error(0, $"usbdev spec '{source.Text}' needs hostbus= and hostaddr=");
            return null;
        }
        return d;
    }

    public static string Format(UsbDeviceConfig v) =>
        KeyValueSpec.Join(("type", v.Type), ("hostbus", KeyValueSpec.N(v.HostBus)), ("hostaddr", KeyValueSpec.N(v.HostAddr)), ("controller", KeyValueSpec.N(v.Controller)), ("port", KeyValueSpec.N(v.Port)));
}
