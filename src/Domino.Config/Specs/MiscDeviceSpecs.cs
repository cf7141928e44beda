using System.Globalization;
using Domino.Config.Model;

namespace Domino.Config.Specs;

/// <summary>
/// The smaller device lists of xl.cfg(5) — vkb, vtpm, p9, pvcalls, channel, usbctrl, usbdev — which all
/// share the <c>KEY=VALUE,...</c> form.
/// </summary>
internal static class MiscDeviceSpecs
{
    public const string VkbSyntax = """
        vkb = [ "KEY=VALUE,...", ... ]: backend=DOMAIN backend-type=qemu|linux unique-id=ID
          feature-disable-keyboard=0|1 feature-disable-pointer=0|1 feature-abs-pointer=0|1
          feature-raw-pointer=0|1 feature-multi-touch=0|1 width=N height=N
          multi-touch-width=N multi-touch-height=N multi-touch-num-contacts=N
        """;

    public const string VtpmSyntax = """vtpm = [ "backend=DOMAIN,uuid=UUID", ... ]""";

    public const string P9Syntax = """p9 = [ "tag=TAG,path=DIR,security_model=none,backend=DOMAIN", ... ] (tag and path required)""";

    public const string PvCallsSyntax = """pvcalls = [ "backend=DOMAIN", ... ]""";

    public const string ChannelSyntax = """channel = [ "name=NAME,connection=pty|socket[,path=SOCKET][,backend=DOMAIN]", ... ] (socket needs path)""";

    public const string UsbCtrlSyntax = """usbctrl = [ "type=auto|pv|devicemodel|qusb,version=1|2|3,ports=1-31[,backend=DOMAIN]", ... ]""";

    public const string UsbDevSyntax = """usbdev = [ "type=hostdev,hostbus=N,hostaddr=N[,controller=N,port=N]", ... ]""";

    public static VkbConfig? ParseVkb(SpecSource source) => Parse(source, new VkbConfig(), (v, t, s) =>
    {
        switch (t.Key)
        {
            case "backend": return v with { Backend = t.Value };
            case "backend-type": return OneOf(s, t, "qemu", "linux") is { } bt ? v with { BackendType = bt } : v;
            case "unique-id": return v with { UniqueId = t.Value };
            case "feature-disable-keyboard": return v with { FeatureDisableKeyboard = Flag(s, t) };
            case "feature-disable-pointer": return v with { FeatureDisablePointer = Flag(s, t) };
            case "feature-abs-pointer": return v with { FeatureAbsPointer = Flag(s, t) };
            case "feature-raw-pointer": return v with { FeatureRawPointer = Flag(s, t) };
            case "feature-multi-touch": return v with { FeatureMultiTouch = Flag(s, t) };
            case "width": return v with { Width = Number(s, t) };
            case "height": return v with { Height = Number(s, t) };
            case "multi-touch-width": return v with { MultiTouchWidth = Number(s, t) };
            case "multi-touch-height": return v with { MultiTouchHeight = Number(s, t) };
            case "multi-touch-num-contacts": return v with { MultiTouchNumContacts = Number(s, t) };
            default: Unknown(s, t, "vkb", VkbSyntax); return v;
        }
    });

    public static VtpmConfig? ParseVtpm(SpecSource source) => Parse(source, new VtpmConfig(), (v, t, s) =>
    {
        switch (t.Key)
        {
            case "backend": return v with { Backend = t.Value };
            case "uuid":
                if (Guid.TryParseExact(t.Value, "D", out var g)) return v with { Uuid = g };
                s.Error(t.ValueOffset, $"invalid uuid '{t.Value}' in vtpm (expected 8-4-4-4-12 hex digits)");
                return v;
            default: Unknown(s, t, "vtpm", VtpmSyntax); return v;
        }
    });

    public static P9Config? ParseP9(SpecSource source)
    {
        var p = Parse(source, new P9Config(), (v, t, s) =>
        {
            switch (t.Key)
            {
                case "backend": return v with { Backend = t.Value };
                case "tag": return v with { Tag = t.Value };
                case "path": return v with { Path = t.Value };
                case "security_model": return v with { SecurityModel = t.Value };
                default: Unknown(s, t, "p9", P9Syntax); return v;
            }
        });
        if (p is { Tag.Length: 0 } or { Path.Length: 0 })
        {
            source.Error(0, $"p9 spec '{source.Text}' needs both tag= and path=");
            return null;
        }
        return p;
    }

    public static PvCallsConfig? ParsePvCalls(SpecSource source) => Parse(source, new PvCallsConfig(), (v, t, s) =>
    {
        if (t.Key == "backend") return v with { Backend = t.Value };
        Unknown(s, t, "pvcalls", PvCallsSyntax);
        return v;
    });

    public static ChannelConfig? ParseChannel(SpecSource source)
    {
        var c = Parse(source, new ChannelConfig(), (v, t, s) =>
        {
            switch (t.Key)
            {
                case "backend": return v with { Backend = t.Value };
                case "name": return v with { Name = t.Value };
                case "connection": return OneOf(s, t, "pty", "socket") is { } conn ? v with { Connection = conn } : v;
                case "path": return v with { Path = t.Value };
                default: Unknown(s, t, "channel", ChannelSyntax); return v;
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

    public static UsbControllerConfig? ParseUsbCtrl(SpecSource source) => Parse(source, new UsbControllerConfig(), (v, t, s) =>
    {
        switch (t.Key)
        {
            case "type": return OneOf(s, t, "auto", "pv", "devicemodel", "qusb") is { } type ? v with { Type = type } : v;
            case "version": return v with { Version = (int?)Number(s, t, 1, 3) };
            case "ports": return v with { Ports = (int?)Number(s, t, 1, 31) };
            case "backend": return v with { Backend = t.Value };
            default: Unknown(s, t, "usbctrl", UsbCtrlSyntax); return v;
        }
    });

    public static UsbDeviceConfig? ParseUsbDev(SpecSource source)
    {
        bool bus = false, addr = false;
        var d = Parse(source, new UsbDeviceConfig(), (v, t, s) =>
        {
            switch (t.Key)
            {
                case "type":
                    OneOf(s, t, "hostdev");
                    return v;
                case "hostbus":
                    bus = true;
                    return v with { HostBus = (int)(Number(s, t, 0, 255) ?? 0) };
                case "hostaddr":
                    addr = true;
                    return v with { HostAddr = (int)(Number(s, t, 0, 255) ?? 0) };
                case "controller": return v with { Controller = (int?)Number(s, t, 0, int.MaxValue) };
                case "port": return v with { Port = (int?)Number(s, t, 1, 31) };
                default: Unknown(s, t, "usbdev", UsbDevSyntax); return v;
            }
        });
        if (d is not null && (!bus || !addr))
        {
            source.Error(0, $"usbdev spec '{source.Text}' needs hostbus= and hostaddr=");
            return null;
        }
        return d;
    }

    private static T? Parse<T>(SpecSource source, T initial, Func<T, SpecToken, SpecSource, T> apply)
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

    private static void Unknown(SpecSource s, SpecToken t, string what, string syntax) =>
        s.Error(t.Offset, $"unknown {what} parameter '{t.Key}' (syntax: {syntax.ReplaceLineEndings(" ").Trim()})");

    private static string? OneOf(SpecSource s, SpecToken t, params string[] allowed)
    {
        if (allowed.Contains(t.Value)) return t.Value;
        s.Error(t.ValueOffset, $"unknown {t.Key} '{t.Value}' in {s.Key} (expected {string.Join(", ", allowed)})");
        return null;
    }

    private static bool Flag(SpecSource s, SpecToken t)
    {
        var b = SpecTokenizer.ParseBool(t.Value);
        if (b is null) s.Error(t.ValueOffset, $"invalid {t.Key} '{t.Value}' in {s.Key} (expected 0 or 1)");
        return b ?? false;
    }

    private static uint? Number(SpecSource s, SpecToken t, long min = 0, long max = uint.MaxValue)
    {
        if (long.TryParse(t.Value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n >= min && n <= max) return (uint)n;
        s.Error(t.ValueOffset, $"invalid {t.Key} '{t.Value}' in {s.Key} (expected a number from {min} to {max})");
        return null;
    }

    public static string Format(VkbConfig v) => Join(
        ("backend", v.Backend), ("backend-type", v.BackendType), ("unique-id", v.UniqueId),
        ("feature-disable-keyboard", v.FeatureDisableKeyboard ? "1" : null), ("feature-disable-pointer", v.FeatureDisablePointer ? "1" : null),
        ("feature-abs-pointer", v.FeatureAbsPointer ? "1" : null), ("feature-raw-pointer", v.FeatureRawPointer ? "1" : null),
        ("feature-multi-touch", v.FeatureMultiTouch ? "1" : null), ("width", N(v.Width)), ("height", N(v.Height)),
        ("multi-touch-width", N(v.MultiTouchWidth)), ("multi-touch-height", N(v.MultiTouchHeight)),
        ("multi-touch-num-contacts", N(v.MultiTouchNumContacts)));

    public static string Format(VtpmConfig v) => Join(("backend", v.Backend), ("uuid", v.Uuid?.ToString("D")));

    public static string Format(P9Config v) => Join(("tag", v.Tag), ("path", v.Path), ("security_model", v.SecurityModel), ("backend", v.Backend));

    public static string Format(PvCallsConfig v) => Join(("backend", v.Backend));

    public static string Format(ChannelConfig v) => Join(("name", v.Name), ("connection", v.Connection), ("path", v.Path), ("backend", v.Backend));

    public static string Format(UsbControllerConfig v) => Join(("type", v.Type), ("version", N(v.Version)), ("ports", N(v.Ports)), ("backend", v.Backend));

    public static string Format(UsbDeviceConfig v) =>
        Join(("type", "hostdev"), ("hostbus", N(v.HostBus)), ("hostaddr", N(v.HostAddr)), ("controller", N(v.Controller)), ("port", N(v.Port)));

    private static string? N(long? n) => n?.ToString(CultureInfo.InvariantCulture);

    private static string Join(params (string Key, string? Value)[] parts) =>
        string.Join(",", parts.Where(p => p.Value is not null).Select(p => $"{p.Key}={p.Value}"));
}
