namespace Domino.Config.Model;

/// <summary>One virtual network interface, as xl-network-configuration(5) describes it.</summary>
public sealed record NicConfig
{
    /// <summary>Six colon-separated hex octets, unicast; null lets the toolstack pick one in 00:16:3e.</summary>
    public string? Mac { get; init; }
    public string? Bridge { get; init; }
    public string? Ip { get; init; }
    public string? Model { get; init; }
    public NicType? Type { get; init; }
    public string? VifName { get; init; }
    public string? Script { get; init; }
    public string? Backend { get; init; }
    public int? Mtu { get; init; }
    public NicRate? Rate { get; init; }
    public string? GatewayDev { get; init; }
    public int? Devid { get; init; }
    public bool? Trusted { get; init; }
}

/// <summary><c>rate=</c>: a credit of <see cref="BytesPerInterval"/> bytes replenished every <see cref="IntervalMicroseconds"/>.</summary>
public sealed record NicRate(string Spec, ulong BytesPerInterval, uint IntervalMicroseconds);

/// <summary>One passed-through PCI function, as xl-pci-configuration(5) describes it.</summary>
public sealed record PciDevice
{
    public int Domain { get; init; }
    public int Bus { get; init; }
    public int Device { get; init; }

    /// <summary>The function; null for <c>*</c> (every function of the device).</summary>
    public int? Function { get; init; }

    /// <summary>The guest slot (<c>@VSLOT</c> or <c>vslot=</c>).</summary>
    public int? VSlot { get; init; }
    public bool? Permissive { get; init; }
    public bool? MsiTranslate { get; init; }
    public bool? Seize { get; init; }
    public bool? PowerMgmt { get; init; }
    public RdmPolicy? RdmPolicy { get; init; }

    /// <summary>An assignable-device name instead of a BDF (<c>name=</c>).</summary>
    public string? Name { get; init; }

    public string Bdf => Name is not null && Domain == 0 && Bus == 0 && Device == 0 && Function == 0
        ? ""
        : $"{Domain:x4}:{Bus:x2}:{Device:x2}.{(Function is { } f ? f.ToString(System.Globalization.CultureInfo.InvariantCulture) : "*")}";
}

/// <summary>One paravirtual framebuffer (<c>vfb=</c>), with the keyboard xl pairs with it.</summary>
public sealed record VfbConfig
{
    public bool? Vnc { get; init; }
    public string? VncListen { get; init; }
    public string? VncPasswd { get; init; }
    public int? VncDisplay { get; init; }
    public bool? VncUnused { get; init; }
    public bool? Sdl { get; init; }
    public bool? OpenGl { get; init; }
    public string? Display { get; init; }
    public string? XAuthority { get; init; }
    public string? Keymap { get; init; }
}
