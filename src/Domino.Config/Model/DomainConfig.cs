using Domino.Config.Syntax;

namespace Domino.Config.Model;

/// <summary>
/// A domain as xl.cfg(5) describes it, after parsing and validation. Nullable members are "not set":
/// the toolstack applies Xen's default. Collections are never null.
/// </summary>
public sealed class DomainConfig
{
    // --- Selecting the guest type (xl.cfg(5) "Selecting Guest Type") ---
    public DomainType Type { get; set; } = DomainType.Pv;

    // --- General options ---
    public string? Name { get; set; }
    public Guid? Uuid { get; set; }
    public string? Pool { get; set; }
    public bool? Hap { get; set; }
    public bool? Oos { get; set; }
    public string? SeclabelSsid { get; set; }
    public string? InitSeclabel { get; set; }
    public bool? DriverDomain { get; set; }

    // --- CPU allocation ---
    public int? Vcpus { get; set; }
    public int? MaxVcpus { get; set; }
    public CpuAffinity? Cpus { get; set; }
    public CpuAffinity? CpusSoft { get; set; }
    public int? Weight { get; set; }
    public int? Cap { get; set; }

    // --- Memory allocation (MiB, as xl.cfg(5) writes them) ---
    public long? MemoryMb { get; set; }
    public long? MaxMemMb { get; set; }
    public List<VnumaNode> Vnuma { get; } = [];

    // --- Event actions ---
    public LifecycleAction OnPoweroff { get; set; } = LifecycleAction.Destroy;
    public LifecycleAction OnReboot { get; set; } = LifecycleAction.Restart;
    public LifecycleAction OnWatchdog { get; set; } = LifecycleAction.Destroy;
    public LifecycleAction OnCrash { get; set; } = LifecycleAction.Destroy;
    public LifecycleAction OnSoftReset { get; set; } = LifecycleAction.SoftReset;

    // --- Direct kernel boot ---
    public string? Kernel { get; set; }
    public string? Ramdisk { get; set; }

    /// <summary>The effective kernel command line: <c>cmdline=</c>, or <c>root=</c> and <c>extra=</c> combined as xl does.</summary>
    public string? Cmdline { get; set; }

    // --- Non-direct boot ---
    public string? Bootloader { get; set; }
    public List<string> BootloaderArgs { get; } = [];

    // --- Other options ---
    public List<string> Extra { get; } = [];
    public bool? Localtime { get; set; }
    public long? RtcTimeoffset { get; set; }
    public bool? DisableMigrate { get; set; }
    public TscMode? TscMode { get; set; }
    public long? MaxGrantFrames { get; set; }
    public long? MaxMaptrackFrames { get; set; }
    public long? EventChannels { get; set; }
    public string? BlkdevStart { get; set; }
    public string? DeviceModelVersion { get; set; }
    public bool? DeviceModelStubdomain { get; set; }
    public string? DeviceModelOverride { get; set; }
    public List<string> DeviceModelArgs { get; } = [];
    public List<string> DeviceModelArgsPv { get; } = [];
    public List<string> DeviceModelArgsHvm { get; } = [];

    // --- Devices ---
    public List<DiskConfig> Disks { get; } = [];
    public List<NicConfig> Nics { get; } = [];
    public List<PciDevice> PciDevices { get; } = [];
    public List<VfbConfig> Vfbs { get; } = [];
    public bool? PciPermissive { get; set; }
    public bool? PciMsiTranslate { get; set; }
    public bool? PciSeize { get; set; }
    public bool? PciPowerMgmt { get; set; }

    // --- HVM: firmware and paging ---
    public string? Firmware { get; set; }
    public BiosType? Bios { get; set; }
    public bool? Pae { get; set; }
    public bool? Acpi { get; set; }
    public bool? AcpiS3 { get; set; }
    public bool? AcpiS4 { get; set; }
    public bool? AcpiLaptopSlate { get; set; }
    public bool? Apic { get; set; }
    public bool? Nx { get; set; }
    public bool? Hpet { get; set; }
    public bool? VptAlign { get; set; }
    public bool? NestedHvm { get; set; }
    public TimerMode? TimerMode { get; set; }

    /// <summary><c>viridian=</c>: a boolean, or a list of enlightenment groups ("base", "freq", "!hcall_ipi"...).</summary>
    public ViridianSetting? Viridian { get; set; }

    /// <summary><c>cpuid=</c> as written (libxl or legacy xend syntax); checked for shape, applied by the toolstack.</summary>
    public CpuidPolicy? Cpuid { get; set; }

    public long? MmioHoleMb { get; set; }
    public long? ShadowMemoryMb { get; set; }
    public bool? XenPlatformPci { get; set; }

    // --- HVM: emulated devices ---
    public string? Boot { get; set; }
    public List<string> Serial { get; } = [];

    /// <summary>True when <c>serial=</c> was written as a list (libxl keeps a single string and a list apart).</summary>
    public bool SerialIsList { get; set; }
    public VgaKind? Vga { get; set; }
    public long? VideoRamMb { get; set; }
    public bool? Vnc { get; set; }
    public string? VncListen { get; set; }
    public string? VncPasswd { get; set; }
    public int? VncDisplay { get; set; }
    public bool? VncUnused { get; set; }
    public bool? Sdl { get; set; }
    public bool? OpenGl { get; set; }
    public string? Keymap { get; set; }
    public bool? NoGraphic { get; set; }
    public bool? Usb { get; set; }
    public int? UsbVersion { get; set; }
    public List<string> UsbDevices { get; } = [];

    /// <summary>True when <c>usbdevice=</c> was written as a list.</summary>
    public bool UsbDevicesIsList { get; set; }
    public string? SoundHw { get; set; }
    public bool? GfxPassthru { get; set; }

    /// <summary>Settings this version does not know. They are kept, reported as warnings, and written back out.</summary>
    public List<ConfigSetting> UnknownSettings { get; } = [];
}

/// <summary>
/// vCPU placement (<c>cpus=</c>, <c>cpus_soft=</c>): one CPU list for every vCPU (<c>"0-3,^1"</c>,
/// <c>"nodes:0"</c>, <c>"all"</c>), or a list with one entry per vCPU.
/// </summary>
public sealed record CpuAffinity(IReadOnlyList<CpuSet> Sets, bool PerVcpu)
{
    public bool Equals(CpuAffinity? other) => other is not null && PerVcpu == other.PerVcpu && Sets.SequenceEqual(other.Sets);

    public override int GetHashCode() => HashCode.Combine(PerVcpu, Sets.Count);
}

/// <summary>
/// One xl CPU list: comma-separated items, each <c>all</c>, <c>N</c>, <c>N-M</c>, <c>nodes:N[-M]</c> or <c>node:N</c>,
/// any of them prefixed with <c>^</c> to exclude.
/// </summary>
public sealed record CpuSet(string Spec, IReadOnlyList<CpuSetItem> Items)
{
    public bool Equals(CpuSet? other) => other is not null && Spec == other.Spec;

    public override int GetHashCode() => Spec.GetHashCode(StringComparison.Ordinal);

    public override string ToString() => Spec;
}

/// <summary>One item of a <see cref="CpuSet"/>; <c>All</c> items have <c>First</c>/<c>Last</c> unused.</summary>
public readonly record struct CpuSetItem(bool Exclude, bool Nodes, bool All, int First, int Last);

/// <summary><c>viridian=</c>: enabled/disabled as a whole, or a list of groups.</summary>
public sealed record ViridianSetting(bool? Enabled, IReadOnlyList<string> Groups)
{
    public bool Equals(ViridianSetting? other) => other is not null && Enabled == other.Enabled && Groups.SequenceEqual(other.Groups);

    public override int GetHashCode() => HashCode.Combine(Enabled, Groups.Count);
}

/// <summary><c>cpuid=</c> as written: a string (libxl syntax, <c>"host,tm=0,sse3=0"</c>) or a list (xend syntax).</summary>
public sealed record CpuidPolicy(IReadOnlyList<string> Items, bool IsList)
{
    public bool Equals(CpuidPolicy? other) => other is not null && IsList == other.IsList && Items.SequenceEqual(other.Items);

    public override int GetHashCode() => HashCode.Combine(IsList, Items.Count);
}

/// <summary>One virtual NUMA node (xl.cfg(5) <c>vnuma=</c>).</summary>
public sealed class VnumaNode
{
    public int Pnode { get; set; }
    public long SizeMb { get; set; }
    public string Vcpus { get; set; } = "";
    public List<int> Distances { get; } = [];
}
