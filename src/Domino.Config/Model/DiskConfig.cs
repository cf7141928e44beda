namespace Domino.Config.Model;

/// <summary>One virtual block device, as xl-disk-configuration(5) describes it.</summary>
public sealed record DiskConfig
{
    /// <summary>The backing file or device (<c>target=</c>); empty for an empty CD-ROM drive.</summary>
    public string Target { get; init; } = "";
    public DiskFormat Format { get; init; } = DiskFormat.Raw;
    public string Vdev { get; init; } = "";
    public DiskAccess Access { get; init; } = DiskAccess.ReadWrite;
    public DiskDeviceType DeviceType { get; init; } = DiskDeviceType.Disk;
    public DiskBackendType? BackendType { get; init; }

    /// <summary>The driver domain serving the disk (<c>backend=</c>); null for dom0.</summary>
    public string? Backend { get; init; }
    public string? Script { get; init; }
    public bool DirectIoSafe { get; init; }
    public bool? Discard { get; init; }
    public bool? Trusted { get; init; }

    /// <summary><c>specification=xen|virtio</c>.</summary>
    public string? Specification { get; init; }
    public bool Colo { get; init; }
    public string? ColoHost { get; init; }
    public int? ColoPort { get; init; }
    public string? ColoExport { get; init; }
    public string? ActiveDisk { get; init; }
    public string? HiddenDisk { get; init; }
}
