namespace Domino.Config.Model;

/// <summary>xl.cfg(5) <c>type=</c>: how the guest is virtualized.</summary>
public enum DomainType
{
    Pv,
    Pvh,
    Hvm,
}

/// <summary>What the toolstack does when a domain shuts down for a given reason (xl.cfg(5) "Event Actions").</summary>
public enum LifecycleAction
{
    Destroy,
    Restart,
    RenameRestart,
    Preserve,
    CoredumpDestroy,
    CoredumpRestart,
    SoftReset,
}

/// <summary>xl-disk-configuration(5) <c>access=</c>.</summary>
public enum DiskAccess
{
    ReadWrite,
    ReadOnly,
}

/// <summary>xl-disk-configuration(5) <c>devtype=</c>.</summary>
public enum DiskDeviceType
{
    Disk,
    Cdrom,
}

/// <summary>xl-disk-configuration(5) <c>format=</c>.</summary>
public enum DiskFormat
{
    Raw,
    Qcow,
    Qcow2,
    Vhd,
    Qed,
    Empty,
}

/// <summary>xl-disk-configuration(5) <c>backendtype=</c>.</summary>
public enum DiskBackendType
{
    Phy,
    Tap,
    Qdisk,
    Standalone,
}

/// <summary>xl-network-configuration(5) <c>type=</c>.</summary>
public enum NicType
{
    Vif,
    Ioemu,
}

/// <summary>xl.cfg(5) <c>tsc_mode=</c>.</summary>
public enum TscMode
{
    Default,
    AlwaysEmulate,
    Native,
    NativeParavirt,
}

/// <summary>xl.cfg(5) <c>timer_mode=</c> (HVM).</summary>
public enum TimerMode
{
    DelayForMissedTicks,
    NoDelayForMissedTicks,
    NoMissedTicksPending,
    OneMissedTickPending,
}

/// <summary>Emulated graphics card of an HVM guest (<c>vga=</c>, legacy <c>stdvga=</c>).</summary>
public enum VgaKind
{
    Cirrus,
    Std,
    None,
    Qxl,
}

/// <summary>HVM firmware (<c>bios=</c>, or <c>firmware="uefi"|"bios"|"seabios"|"rombios"</c>).</summary>
public enum BiosType
{
    Rombios,
    Seabios,
    Ovmf,
}

/// <summary>PCI reserved-device-memory policy (xl.cfg(5) <c>rdm=</c>, xl-pci-configuration(5) <c>rdm_policy=</c>).</summary>
public enum RdmPolicy
{
    Strict,
    Relaxed,
}
