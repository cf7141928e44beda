using Domino.Vmm.Boot;
using Domino.Vmm.Devices;
using Domino.Vmm.Memory;

namespace Domino.Vmm;

/// <summary>A disk the user asked for.</summary>
public sealed record DiskConfig(string Path, bool ReadOnly);

/// <summary>
/// A virtio-mmio device to attach: <see cref="CreateTransport"/> builds the transport (an
/// <see cref="IBusDevice"/> with a 4 KiB register window) once guest memory and its interrupt line exist.
/// </summary>
public sealed record VirtioMmioDeviceSpec(string Name, Func<GuestMemory, IInterruptLine, IBusDevice> CreateTransport);

/// <summary>What the user asked for (Firecracker's vmm_config): unvalidated.</summary>
public sealed class VmConfig
{
    public required string KernelPath { get; init; }
    public string? RamdiskPath { get; init; }
    public string CommandLine { get; init; } = "";
    public int MemoryMiB { get; init; } = 256;
    public int Vcpus { get; init; } = 1;
    public IReadOnlyList<DiskConfig> Disks { get; init; } = [];
    public IReadOnlyList<VirtioMmioDeviceSpec> VirtioDevices { get; init; } = [];

    /// <summary>Adds a virtio console (hvc0) after the disks; console input then goes to it instead of COM1.</summary>
    public bool VirtioConsole { get; init; }

    /// <summary>Bytes fed to the guest's COM1; read on a background thread until end of stream.</summary>
    public Stream? ConsoleInput { get; init; }

    /// <summary>Receives everything the guest writes to COM1.</summary>
    public Stream? ConsoleOutput { get; init; }

    /// <summary>VMM diagnostics (unclaimed accesses, exits worth noting); null to discard.</summary>
    public Action<string>? Log { get; init; }
}

/// <summary>A <see cref="VmConfig"/> checked and with its files read (Firecracker's resources): safe to build a VM from.</summary>
public sealed class VmResources
{
    public const int MaxVcpus = 254;
    public const int MaxMemoryMiB = 1 << 20;

    private VmResources(VmConfig config, KernelImage kernel, byte[]? ramdisk, MemoryMap map)
    {
        Config = config;
        Kernel = kernel;
        Ramdisk = ramdisk;
        MemoryMap = map;
    }

    public VmConfig Config { get; }
    public KernelImage Kernel { get; }
    public byte[]? Ramdisk { get; }
    public MemoryMap MemoryMap { get; }

    /// <summary>Validates everything that can be checked without KVM; throws <see cref="VmConfigException"/> or <see cref="KernelFormatException"/>.</summary>
    public static VmResources Validate(VmConfig config)
    {
        if (config.Vcpus is < 1 or > MaxVcpus) throw new VmConfigException($"vcpus={config.Vcpus}: expected 1 to {MaxVcpus}");
        if (config.MemoryMiB is < 8 or > MaxMemoryMiB) throw new VmConfigException($"memory={config.MemoryMiB} MiB: expected 8 to {MaxMemoryMiB}");
        if (!File.Exists(config.KernelPath)) throw new VmConfigException($"{config.KernelPath}: kernel file not found");
        var kernel = KernelImage.Identify(config.KernelPath);
        var map = MemoryMap.ForSize((ulong)config.MemoryMiB << 20);
        kernel.CheckFits(map);
        byte[]? ramdisk = null;
        if (config.RamdiskPath is not null)
        {
            if (!File.Exists(config.RamdiskPath)) throw new VmConfigException($"{config.RamdiskPath}: ramdisk file not found");
            ramdisk = File.ReadAllBytes(config.RamdiskPath);
        }
        foreach (var d in config.Disks)
        {
            if (!File.Exists(d.Path)) throw new VmConfigException($"{d.Path}: disk image not found");
        }
        return new VmResources(config, kernel, ramdisk, map);
    }
}

/// <summary>A configuration error, stated with the offending value and what is expected.</summary>
public sealed class VmConfigException(string message) : Exception(message);
