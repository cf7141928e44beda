namespace Domino.Config.Model;

/// <summary>A virtual keyboard/pointer (<c>vkb=</c>).</summary>
public sealed record VkbConfig
{
    public string? Backend { get; init; }

    /// <summary><c>backend-type=</c>: qemu or linux.</summary>
    public string? BackendType { get; init; }
    public string? UniqueId { get; init; }
    public bool FeatureDisableKeyboard { get; init; }
    public bool FeatureDisablePointer { get; init; }
    public bool FeatureAbsPointer { get; init; }
    public bool FeatureRawPointer { get; init; }
    public bool FeatureMultiTouch { get; init; }
    public uint? Width { get; init; }
    public uint? Height { get; init; }
    public uint? MultiTouchWidth { get; init; }
    public uint? MultiTouchHeight { get; init; }
    public uint? MultiTouchNumContacts { get; init; }
}

/// <summary>A virtual TPM served by a vTPM stub domain (<c>vtpm=</c>).</summary>
public sealed record VtpmConfig
{
    public string? Backend { get; init; }
    public Guid? Uuid { get; init; }
}

/// <summary>A 9pfs share (<c>p9=</c>).</summary>
public sealed record P9Config
{
    public string? Backend { get; init; }
    public string Tag { get; init; } = "";
    public string Path { get; init; } = "";
    public string SecurityModel { get; init; } = "none";
}

/// <summary>A PV calls interface (<c>pvcalls=</c>).</summary>
public sealed record PvCallsConfig
{
    public string? Backend { get; init; }
}

/// <summary>A named console channel (<c>channel=</c>), connected to a pty or a Unix socket.</summary>
public sealed record ChannelConfig
{
    public string? Backend { get; init; }
    public string Name { get; init; } = "";

    /// <summary><c>connection=</c>: pty or socket (then <see cref="Path"/> is the socket).</summary>
    public string Connection { get; init; } = "pty";
    public string? Path { get; init; }
}

/// <summary>A USB controller (<c>usbctrl=</c>).</summary>
public sealed record UsbControllerConfig
{
    /// <summary><c>type=</c>: auto, pv, devicemodel or qusb.</summary>
    public string? Type { get; init; }
    public int? Version { get; init; }
    public int? Ports { get; init; }
    public string? Backend { get; init; }
}

/// <summary>A host USB device passed through (<c>usbdev=</c>).</summary>
public sealed record UsbDeviceConfig
{
    /// <summary><c>type=hostdev</c> when written; libxl records the host address only then.</summary>
    public string? Type { get; init; }

    public int HostBus { get; init; }
    public int HostAddr { get; init; }
    public int? Controller { get; init; }
    public int? Port { get; init; }
}
