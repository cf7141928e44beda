namespace Domino.Vmm.Hypervisor;

/// <summary>Why KVM_RUN returned, in the VMM's terms.</summary>
public enum VmExitKind
{
    /// <summary>Port read: the VMM fills <see cref="VmExit.Data"/> before the next run.</summary>
    IoIn,
    /// <summary>Port write: <see cref="VmExit.Data"/> holds the bytes written.</summary>
    IoOut,
    /// <summary>MMIO read outside RAM: the VMM fills <see cref="VmExit.Data"/>.</summary>
    MmioRead,
    /// <summary>MMIO write outside RAM: <see cref="VmExit.Data"/> holds the bytes.</summary>
    MmioWrite,
    Hlt,
    /// <summary>Triple fault (KVM_EXIT_SHUTDOWN).</summary>
    Shutdown,
    /// <summary>KVM_EXIT_SYSTEM_EVENT: <see cref="VmExit.EventType"/> is shutdown, reset or crash.</summary>
    SystemEvent,
    /// <summary>KVM could not emulate or handle something: <see cref="VmExit.Suberror"/> and <see cref="VmExit.Details"/>.</summary>
    InternalError,
    /// <summary>The hardware refused to enter the guest: <see cref="VmExit.Address"/> holds the hardware reason.</summary>
    FailEntry,
    /// <summary>KVM_RUN was interrupted by a signal or immediate_exit; nothing for the VMM to do.</summary>
    Interrupted,
    /// <summary>
    /// The guest touched guest memory KVM could not map to host memory (KVM_RUN failed with EFAULT):
    /// <see cref="VmExit.Address"/> and <see cref="VmExit.Size"/> give the guest-physical range where
    /// KVM says (KVM_EXIT_MEMORY_FAULT), else the address is <see cref="VmExit.UnknownAddress"/>. The guest cannot go on.
    /// </summary>
    MemoryFault,
    Unknown,
}

/// <summary>The kind of a <see cref="VmExitKind.SystemEvent"/>.</summary>
public enum SystemEventType
{
    None = 0,
    Shutdown = 1,
    Reset = 2,
    Crash = 3,
}

/// <summary>
/// One exit from KVM_RUN. <see cref="Data"/> aliases the vCPU's shared run page and is only valid
/// until the next run, hence a ref struct. For string I/O (rep ins/outs), <see cref="Data"/> holds
/// <see cref="Count"/> elements of <see cref="Size"/> bytes each.
/// </summary>
public readonly ref struct VmExit
{
    /// <summary>The <see cref="Address"/> of a <see cref="VmExitKind.MemoryFault"/> whose address KVM did not report.</summary>
    public const ulong UnknownAddress = ulong.MaxValue;

    public VmExitKind Kind { get; init; }

    /// <summary>Port number (I/O) or guest-physical address (MMIO).</summary>
    public ulong Address { get; init; }

    /// <summary>Access width in bytes.</summary>
    public int Size { get; init; }

    /// <summary>Number of elements for string I/O; 1 otherwise.</summary>
    public int Count { get; init; }

    public Span<byte> Data { get; init; }

    public SystemEventType EventType { get; init; }

    public uint Suberror { get; init; }

    /// <summary>Extra words KVM reported with an internal error or system event.</summary>
    public ulong[]? Details { get; init; }

    /// <summary>The raw kvm_run.exit_reason, for <see cref="VmExitKind.Unknown"/> and reports.</summary>
    public uint RawReason { get; init; }

    public override string ToString() => Kind switch
    {
        VmExitKind.IoIn or VmExitKind.IoOut => $"{Kind} port 0x{Address:x} size {Size} count {Count}",
        VmExitKind.MmioRead or VmExitKind.MmioWrite => $"{Kind} 0x{Address:x} size {Size}",
        VmExitKind.SystemEvent => $"SystemEvent {EventType}",
        VmExitKind.InternalError => $"InternalError suberror {Suberror}" +
            (Details is { Length: > 0 } d ? " data " + string.Join(' ', d.Select(x => $"0x{x:x}")) : ""),
        VmExitKind.FailEntry => $"FailEntry hardware reason 0x{Address:x}",
        VmExitKind.MemoryFault => Address == UnknownAddress ? "MemoryFault at an address KVM did not report" : $"MemoryFault 0x{Address:x} size 0x{Size:x}",
        VmExitKind.Unknown => $"Unknown exit reason {RawReason}",
        _ => Kind.ToString(),
    };
}
