using Domino.Toolstack.Domains;
using Domino.Toolstack.Store;

namespace Domino.Toolstack.Drivers;

/// <summary>The identity of one incarnation of a guest: a restart gets a new domid.</summary>
public sealed record GuestRef(Guid Uuid, int DomId, string Name, DomainSpec Spec);

/// <summary>What a driver reports after starting a guest.</summary>
public sealed record GuestStarted(int? VmmPid = null, long? VmmStartTicks = null);

public enum AttachOutcome { Alive, Exited, Vanished }

/// <summary>What a restarted daemon finds for a recorded guest.</summary>
public sealed record AttachResult(AttachOutcome Outcome, GuestExit Exit = GuestExit.Crash, string Detail = "", bool Paused = false);

/// <summary>One vCPU as <c>vcpu-list</c> shows it.</summary>
public sealed record VcpuInfo
{
    public int Vcpu { get; init; }
    public int Cpu { get; init; } = -1;
    /// <summary>xl's three-character vCPU state: <c>r--</c> running, <c>-b-</c> blocked, <c>--p</c> offline/paused.</summary>
    public string State { get; init; } = "---";
    public double Time { get; init; }
    public string Hard { get; init; } = "all";
    public string Soft { get; init; } = "all";
    public bool Online { get; init; } = true;

    /// <summary>The host thread running this vCPU, when the driver has one (schedulers pin and prioritise it).</summary>
    public int? ThreadId { get; init; }
}

/// <summary>What a driver can say about how it runs one guest (shown by <c>list -l</c>).</summary>
public sealed record DriverDetail
{
    public required string Driver { get; init; }

    /// <summary>How the vCPUs run: <c>kvm</c>, or <c>tcg</c> for QEMU's binary translation.</summary>
    public string? Accelerator { get; init; }
    public int? Pid { get; init; }
    public IReadOnlyList<int>? VcpuThreads { get; init; }
    public string? Version { get; init; }
}

/// <summary>How drivers tell the toolstack that a guest stopped by itself.</summary>
public interface IDriverEvents
{
    void GuestExited(GuestRef guest, GuestExit exit, string detail);
}

/// <summary>
/// One hypervisor backend (libvirt's virHypervisorDriver). A driver implements what its hypervisor can
/// do; every operation it leaves alone reports "OPERATION is not supported by the NAME driver".
/// Drivers hold no lifecycle policy: state checks, records, events and on_* actions are the toolstack's.
/// </summary>
public abstract partial class DomainDriver : IAsyncDisposable
{
    private IDriverEvents? _events;

    public abstract string Name { get; }

    protected IDriverEvents Events => _events ?? throw new InvalidOperationException("driver is not bound to a toolstack");

    public virtual void Bind(IDriverEvents events) => _events = events;

    /// <summary>Builds the guest and starts its vCPUs (or leaves them paused). Must not return before
    /// the guest is recorded somewhere a restarted daemon will find it (for process drivers: the pid file).</summary>
    public abstract Task<GuestStarted> StartAsync(GuestRef guest, bool paused, string configJson, CancellationToken ct);

    /// <summary>Releases everything the guest holds. Must succeed for a guest that is already gone.</summary>
    public abstract Task DestroyAsync(GuestRef guest, CancellationToken ct);

    /// <summary>After a daemon restart: finds the guest recorded in <paramref name="record"/>.</summary>
    public abstract Task<AttachResult> AttachAsync(GuestRef guest, DomainRecord record, CancellationToken ct);

    public virtual Task PauseAsync(GuestRef guest, CancellationToken ct) => throw Unsupported("pause");
    public virtual Task UnpauseAsync(GuestRef guest, CancellationToken ct) => throw Unsupported("unpause");

    /// <summary>Asks the guest to power off or reboot; it reports back through <see cref="IDriverEvents"/>.</summary>
    public virtual Task RequestShutdownAsync(GuestRef guest, bool reboot, CancellationToken ct) =>
        throw Unsupported(reboot ? "reboot" : "shutdown");

    /// <summary>
    /// Sends the guest a hardware event (xl trigger): the power button, the reset line, an NMI to
    /// <paramref name="vcpu"/>, ... How the guest ends, if it does, comes back through <see cref="IDriverEvents"/>.
    /// </summary>
    public virtual Task TriggerAsync(GuestRef guest, DomainTrigger trigger, int vcpu, CancellationToken ct) =>
        throw UnsupportedTrigger(trigger);

    /// <summary>"trigger init is not supported by the NAME driver (it sends power, reset and nmi)".</summary>
    protected ToolstackException UnsupportedTrigger(DomainTrigger trigger, params DomainTrigger[] supported)
    {
        var words = supported.Select(t => t.Word()).ToArray();
        var sends = words.Length switch
        {
            0 => "",
            1 => $" (it sends {words[0]})",
            _ => $" (it sends {string.Join(", ", words[..^1])} and {words[^1]})",
        };
        return new ToolstackException(ErrorKind.Unsupported, $"trigger {trigger.Word()} is not supported by the {Name} driver{sends}");
    }

    public virtual Task SetVcpusAsync(GuestRef guest, int count, CancellationToken ct) => throw Unsupported("vcpu-set");
    public virtual Task PinVcpuAsync(GuestRef guest, int vcpu, string? hard, string? soft, CancellationToken ct) => throw Unsupported("vcpu-pin");
    public virtual Task SetMemoryAsync(GuestRef guest, long targetMb, CancellationToken ct) => throw Unsupported("mem-set");
    public virtual Task SetMaxMemoryAsync(GuestRef guest, long maxMb, CancellationToken ct) => throw Unsupported("mem-max");
    public virtual Task<IReadOnlyList<VcpuInfo>> GetVcpusAsync(GuestRef guest, CancellationToken ct) => throw Unsupported("vcpu-list");
    /// <summary>How the guest is run (process, accelerator, vCPU threads); null when there is nothing to say.</summary>
    public virtual DriverDetail? Describe(GuestRef guest) => null;

    public virtual Task<double> GetCpuTimeAsync(GuestRef guest, CancellationToken ct) => Task.FromResult(0.0);

    /// <summary>The host threads running the guest's vCPUs (pid and gettid), for the host scheduler to
    /// place; empty when the driver's guests have no host threads (test) or does not know them yet.</summary>
    public virtual IReadOnlyList<Scheduling.Host.VcpuThread> VcpuThreads(GuestRef guest) => [];

    /// <summary>Hands a domain's ARINC653 window table (null: none) to whatever runs its vCPUs; drivers
    /// whose guests have no gate (test, qemu) ignore it.</summary>
    public virtual void PublishGateTable(Guid uuid, Domino.Vmm.Scheduling.GateTable? table) { }

    /// <summary>
    /// Tells <paramref name="started"/> the pid of each process the driver starts ahead of a domain (the
    /// vmm driver's spare VMM process), and of one already running, so the scheduler can place it early
    /// (<see cref="Scheduling.SchedulingService.PrepareSpare"/>). Called on a background thread.
    /// </summary>
    public virtual void OnSpareStarted(Action<int> started) { }

    public virtual Task<byte[]> ReadConsoleHistoryAsync(GuestRef guest, CancellationToken ct) => throw Unsupported("dmesg");

    /// <summary>A duplex console: reads return guest output (the recent history first when
    /// <paramref name="replay"/>), writes go to the guest's console input.</summary>
    public virtual Task<Stream> OpenConsoleAsync(GuestRef guest, bool replay, CancellationToken ct) => throw Unsupported("console");

    /// <summary>
    /// <see cref="StartAsync"/> with the console attached (xl create -c): the returned console sees the
    /// guest's output from its first byte. By default the guest is built paused, the console opened and
    /// then the guest run (unless <paramref name="paused"/>); a driver whose console keeps the guest's
    /// output from the start may run it at once. On failure the caller destroys the guest.
    /// </summary>
    public virtual async Task<(GuestStarted Started, Stream Console)> StartWithConsoleAsync(GuestRef guest, bool paused, string configJson, CancellationToken ct)
    {
        var started = await StartAsync(guest, paused: true, configJson, ct).ConfigureAwait(false);
        var console = await OpenConsoleAsync(guest, replay: true, ct).ConfigureAwait(false);
        try
        {
            if (!paused) await UnpauseAsync(guest, ct).ConfigureAwait(false);
        }
        catch
        {
            await console.DisposeAsync().ConfigureAwait(false);
            throw;
        }
        return (started, console);
    }

    /// <summary>Writes an ELF core file of guest memory and vCPU registers (coredump-* actions).</summary>
    public virtual Task WriteCoreDumpAsync(GuestRef guest, string path, CancellationToken ct) => throw Unsupported("core dump");

    /// <summary>Resets the guest in place, keeping its domid and memory allocation (on_soft_reset).</summary>
    public virtual Task SoftResetAsync(GuestRef guest, CancellationToken ct) => throw Unsupported("soft-reset");

    /// <summary>Raises a guest event as if the guest had caused it (test driver only).</summary>
    public virtual Task InjectAsync(GuestRef guest, GuestExit exit, CancellationToken ct) => throw Unsupported("event injection");

    protected ToolstackException Unsupported(string operation) => ToolstackException.Unsupported(operation, Name);

    public virtual ValueTask DisposeAsync()
    {
        GC.SuppressFinalize(this);
        return ValueTask.CompletedTask;
    }
}
