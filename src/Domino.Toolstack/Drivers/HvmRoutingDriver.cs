using Domino.Toolstack.Api;
using Domino.Toolstack.Domains;
using Domino.Toolstack.Store;

namespace Domino.Toolstack.Drivers;

/// <summary>
/// Sends each domain to the driver for its type, as Xen gives HVM guests a QEMU device model while PV
/// and PVH guests need none: <c>type="hvm"</c> goes to <paramref name="hvm"/> (the qemu driver), every
/// other type to <paramref name="primary"/>. It answers to the primary driver's name.
/// </summary>
public sealed class HvmRoutingDriver(DomainDriver primary, DomainDriver hvm) : DomainDriver
{
    public override string Name => primary.Name;

    private DomainDriver For(GuestRef guest) => guest.Spec.Type == GuestType.Hvm ? hvm : primary;

    public override void Bind(IDriverEvents events)
    {
        base.Bind(events);
        primary.Bind(events);
        hvm.Bind(events);
    }

    public override Task<GuestStarted> StartAsync(GuestRef guest, bool paused, string configJson, CancellationToken ct) => For(guest).StartAsync(guest, paused, configJson, ct);
    public override void OnSpareStarted(Action<int> started) => primary.OnSpareStarted(started);

    public override Task<(GuestStarted Started, Stream Console)> StartWithConsoleAsync(GuestRef guest, bool paused, string configJson, CancellationToken ct) =>
        For(guest).StartWithConsoleAsync(guest, paused, configJson, ct);
    public override Task DestroyAsync(GuestRef guest, CancellationToken ct) => For(guest).DestroyAsync(guest, ct);
    public override Task<AttachResult> AttachAsync(GuestRef guest, DomainRecord record, CancellationToken ct) => For(guest).AttachAsync(guest, record, ct);
    public override Task PauseAsync(GuestRef guest, CancellationToken ct) => For(guest).PauseAsync(guest, ct);
    public override Task UnpauseAsync(GuestRef guest, CancellationToken ct) => For(guest).UnpauseAsync(guest, ct);
    public override Task RequestShutdownAsync(GuestRef guest, bool reboot, CancellationToken ct) => For(guest).RequestShutdownAsync(guest, reboot, ct);
    public override Task TriggerAsync(GuestRef guest, DomainTrigger trigger, int vcpu, CancellationToken ct) => For(guest).TriggerAsync(guest, trigger, vcpu, ct);
    public override Task SetVcpusAsync(GuestRef guest, int count, CancellationToken ct) => For(guest).SetVcpusAsync(guest, count, ct);
    public override Task PinVcpuAsync(GuestRef guest, int vcpu, string? hard, string? soft, CancellationToken ct) => For(guest).PinVcpuAsync(guest, vcpu, hard, soft, ct);
    public override Task SetMemoryAsync(GuestRef guest, long targetMb, CancellationToken ct) => For(guest).SetMemoryAsync(guest, targetMb, ct);
    public override Task SetMaxMemoryAsync(GuestRef guest, long maxMb, CancellationToken ct) => For(guest).SetMaxMemoryAsync(guest, maxMb, ct);
    public override Task<IReadOnlyList<VcpuInfo>> GetVcpusAsync(GuestRef guest, CancellationToken ct) => For(guest).GetVcpusAsync(guest, ct);
    public override DriverDetail? Describe(GuestRef guest) => For(guest).Describe(guest);
    public override Task<double> GetCpuTimeAsync(GuestRef guest, CancellationToken ct) => For(guest).GetCpuTimeAsync(guest, ct);
    public override Task<byte[]> ReadConsoleHistoryAsync(GuestRef guest, CancellationToken ct) => For(guest).ReadConsoleHistoryAsync(guest, ct);
    public override Task<Stream> OpenConsoleAsync(GuestRef guest, bool replay, CancellationToken ct) => For(guest).OpenConsoleAsync(guest, replay, ct);
    public override Task WriteCoreDumpAsync(GuestRef guest, string path, CancellationToken ct) => For(guest).WriteCoreDumpAsync(guest, path, ct);
    public override Task SoftResetAsync(GuestRef guest, CancellationToken ct) => For(guest).SoftResetAsync(guest, ct);
    public override Task InjectAsync(GuestRef guest, GuestExit exit, CancellationToken ct) => For(guest).InjectAsync(guest, exit, ct);
    public override IReadOnlyList<Scheduling.Host.VcpuThread> VcpuThreads(GuestRef guest) => For(guest).VcpuThreads(guest);

    // A table names no domain type; only the primary driver's VMMs read one.
    public override void PublishGateTable(Guid uuid, Domino.Vmm.Scheduling.GateTable? table) => primary.PublishGateTable(uuid, table);

    public override Task<PersistFigures> SaveAsync(GuestRef guest, string path, SavedDomain domain, IProgress<double>? progress, CancellationToken ct) =>
        For(guest).SaveAsync(guest, path, domain, progress, ct);

    // A saved-state file names no domain type until it is read, and only the primary driver writes them.
    public override Task<SavedDomain> ReadSavedAsync(string path, CancellationToken ct) => primary.ReadSavedAsync(path, ct);

    public override Task<(GuestStarted Started, PersistFigures Figures)> RestoreAsync(GuestRef guest, string path, bool paused, IProgress<double>? progress, CancellationToken ct) =>
        For(guest).RestoreAsync(guest, path, paused, progress, ct);

    public override Task<MigrationFigures> MigrateSendAsync(GuestRef guest, Stream connection, Func<Task> handover, CancellationToken ct) => For(guest).MigrateSendAsync(guest, connection, handover, ct);
    public override Task<GuestStarted> MigrateReceiveAsync(GuestRef guest, Stream connection, CancellationToken ct) => For(guest).MigrateReceiveAsync(guest, connection, ct);

    public override Task RemusProtectAsync(GuestRef guest, Stream connection, TimeSpan interval, Action<long>? onCheckpoint, CancellationToken ct) =>
        For(guest).RemusProtectAsync(guest, connection, interval, onCheckpoint, ct);

    public override Task<GuestStarted?> RemusBackupAsync(GuestRef guest, Stream connection, TimeSpan heartbeat, Action<long>? onCommit, CancellationToken ct) =>
        For(guest).RemusBackupAsync(guest, connection, heartbeat, onCommit, ct);

    public override async ValueTask DisposeAsync()
    {
        await primary.DisposeAsync().ConfigureAwait(false);
        await hvm.DisposeAsync().ConfigureAwait(false);
        await base.DisposeAsync().ConfigureAwait(false);
    }
}
