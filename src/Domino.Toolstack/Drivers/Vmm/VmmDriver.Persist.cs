using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Domino.Toolstack.Api;
using Domino.Toolstack.Domains;
using Domino.Vmm;
using Domino.Vmm.Persist;

namespace Domino.Toolstack.Drivers.Vmm;

/// <summary>Save and restore through the domain's VMM process.</summary>
public sealed partial class VmmDriver
{
    public override async Task<PersistFigures> SaveAsync(GuestRef guest, string path, SavedDomain domain, IProgress<double>? progress, CancellationToken ct)
    {
        progress?.Report(0);
        var data = JsonSerializer.Serialize(domain, MigrationJson.Default.SavedDomain);
        var r = await RequestAsync(guest.Uuid, "save", ct, TimeSpan.FromMinutes(10), path, data).ConfigureAwait(false);
        if (!r.Ok) throw new ToolstackException(ErrorKind.Failed, $"save of domain '{guest.Name}' failed in its VMM: {r.Error}");
        progress?.Report(1);
        return JsonSerializer.Deserialize(r.Result ?? "{}", MigrationJson.Default.PersistFigures) ?? new PersistFigures();
    }

    public override Task<SavedDomain> ReadSavedAsync(string path, CancellationToken ct)
    {
        try
        {
            using var file = SnapshotFile.Open(path);
            VirtualMachine.CheckHost(file.State);
            file.VerifyMemory();
            if (file.State.Toolstack.Length == 0) throw new ToolstackException(ErrorKind.Invalid, $"{path}: a VMM state file without a domain record (not written by domino save)");
            var saved = JsonSerializer.Deserialize(Encoding.UTF8.GetString(file.State.Toolstack), MigrationJson.Default.SavedDomain)
                ?? throw new ToolstackException(ErrorKind.Invalid, $"{path}: empty domain record");
            return Task.FromResult(saved);
        }
        catch (SnapshotException e)
        {
            throw new ToolstackException(ErrorKind.Invalid, e.Message);
        }
    }

    public override async Task<(GuestStarted Started, PersistFigures Figures)> RestoreAsync(GuestRef guest, string path, bool paused, IProgress<double>? progress, CancellationToken ct)
    {
        var sw = Stopwatch.StartNew();
        long bytes, present, total;
        using (var file = SnapshotFile.Open(path))
        {
            bytes = file.Length;
            present = file.PresentPages;
            total = file.Regions.Sum(r => r.Pages);
        }
        var marker = VmmHostPersist.RestoreFile(store, guest.Uuid);
        Store.AtomicFile.Write(marker, path);
        try
        {
            progress?.Report(0.1);
            // The spare VMM process restores the domain if one is live (in its VM shell when the
            // domain fits), else a new one; its first answer carries its own restore figures.
            var (started, answer) = await StartHostAsync(guest, paused, "restore-report", ct).ConfigureAwait(false);
            progress?.Report(1);
            var vmm = answer.Result is { } json ? JsonSerializer.Deserialize(json, MigrationJson.Default.PersistFigures) : null;
            return (started, new PersistFigures
            {
                Bytes = bytes,
                PagesWritten = present,
                PagesSkipped = total - present,
                Ms = sw.Elapsed.TotalMilliseconds,
                Detail = "VMM process started, memory mapped on demand",
                VmmMs = vmm?.VmmMs,
                InShell = vmm?.InShell,
                Phases = vmm?.Phases,
            });
        }
        finally
        {
            TryDelete(marker);
        }
    }

    /// <summary>
    /// The VMM process runs the stream (relayed here to the target) and stops at the handover: the
    /// target holds the final state, paused. It waits there for this daemon: "migration-handover"
    /// returns when it has arrived (or failed), then the toolstack records the handover, then
    /// "migration-go" lets it send Go (or "migration-abort" resumes the guest).
    /// </summary>
    public override async Task<MigrationFigures> MigrateSendAsync(GuestRef guest, Stream connection, Func<Task> handover, CancellationToken ct)
    {
        var id = Guid.NewGuid().ToString("N");
        VmmResponse outcome;
        await using (var control = await ConnectAsync(guest.Uuid, ct).ConfigureAwait(false))
        {
            await control.WriteAsync(VmmWire.Line(new VmmRequest("migrate-send", Path: id, Data: guest.Name), VmmWire.Json.VmmRequest), ct).ConfigureAwait(false);
            var relay = RelayAsync(control, connection, CancellationToken.None);
            var ready = await RequestAsync(guest.Uuid, "migration-handover", ct, TimeSpan.FromMinutes(30), id).ConfigureAwait(false);
            if (!ready.Ok)
            {
                await relay.ConfigureAwait(false);
                throw new ToolstackException(ErrorKind.Failed, ready.Error ?? "migration failed");
            }
            try
            {
                await handover().ConfigureAwait(false);
            }
            catch
            {
                // No go: the VMM resumes the guest (on its own too, if this request is lost, after a timeout).
                try { await RequestAsync(guest.Uuid, "migration-abort", CancellationToken.None, TimeSpan.FromSeconds(30), id).ConfigureAwait(false); }
                catch (Exception e) when (e is IOException or OperationCanceledException or System.Net.Sockets.SocketException) { }
                await relay.ConfigureAwait(false);
                throw;
            }
            try
            {
                outcome = await RequestAsync(guest.Uuid, "migration-go", CancellationToken.None, TimeSpan.FromMinutes(2), id).ConfigureAwait(false);
            }
            catch (Exception e) when (e is IOException or OperationCanceledException or System.Net.Sockets.SocketException)
            {
                throw new HandoverOutcomeUnknownException($"the VMM process did not report the end of the handover: {e.Message}", e);
            }
            await relay.ConfigureAwait(false);
        }
        if (outcome.Ok) return JsonSerializer.Deserialize(outcome.Result ?? "{}", MigrationJson.Default.MigrationFigures) ?? new MigrationFigures();
        if (outcome.Result == VmmHostPersist.OutcomeUnknown) throw new HandoverOutcomeUnknownException(outcome.Error ?? "no answer from the target after go");
        throw new ToolstackException(ErrorKind.Failed, outcome.Error ?? "migration failed");
    }

    public override async Task<GuestStarted> MigrateReceiveAsync(GuestRef guest, Stream connection, CancellationToken ct) =>
        (await ReceiveIntoHostAsync(guest, connection, LiveMigration.ModeMigrate, ct).ConfigureAwait(false)).Started;

    public override async Task RemusProtectAsync(GuestRef guest, Stream connection, TimeSpan interval, Action<long>? onCheckpoint, CancellationToken ct)
    {
        await using var control = await ConnectAsync(guest.Uuid, ct).ConfigureAwait(false);
        await control.WriteAsync(VmmWire.Line(new VmmRequest("remus-protect", Path: ((int)interval.TotalMilliseconds).ToString(System.Globalization.CultureInfo.InvariantCulture), Data: guest.Name),
            VmmWire.Json.VmmRequest), ct).ConfigureAwait(false);
        // Standing down is the VMM's job (it sends the backup a Shutdown record): ask it, keep relaying until it closes.
        using var stop = ct.Register(() => _ = RequestAsync(guest.Uuid, "remus-stop", CancellationToken.None));
        await RelayAsync(control, connection, CancellationToken.None).ConfigureAwait(false);
    }

    public override async Task<GuestStarted?> RemusBackupAsync(GuestRef guest, Stream connection, TimeSpan heartbeat, Action<long>? onCommit, CancellationToken ct)
    {
        var (started, _) = await ReceiveIntoHostAsync(guest, connection, LiveMigration.ModeRemus, ct, heartbeat).ConfigureAwait(false);
        var status = await RequestAsync(guest.Uuid, "status", ct).ConfigureAwait(false);
        return status.State == "running" ? started : null;
    }

    /// <summary>
    /// Starts a VMM process that takes its guest from the stream (marker file <c>UUID.incoming</c>),
    /// relays <paramref name="connection"/> to it until the stream ends, and returns once the
    /// process serves its control socket.
    /// </summary>
    private async Task<(GuestStarted Started, bool Relayed)> ReceiveIntoHostAsync(GuestRef guest, Stream connection, string mode, CancellationToken ct, TimeSpan? heartbeat = null)
    {
        var marker = VmmHostPersist.IncomingFile(store, guest.Uuid);
        Store.AtomicFile.Write(marker, mode);
        try
        {
            var remus = mode == LiveMigration.ModeRemus;
            var start = StartAsync(guest, paused: remus, "{}", ct);
            var socketPath = VmmHostPersist.IncomingSocket(store, guest.Uuid);
            System.Net.Sockets.NetworkStream? host = null;
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
            while (host is null)
            {
                if (start.IsFaulted) await start.ConfigureAwait(false);
                if (DateTime.UtcNow > deadline) throw new ToolstackException(ErrorKind.Failed, $"the VMM process for incoming domain '{guest.Name}' did not open {socketPath}");
                if (File.Exists(socketPath))
                {
                    var socket = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.Unix, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Unspecified);
                    try
                    {
                        await socket.ConnectAsync(new System.Net.Sockets.UnixDomainSocketEndPoint(socketPath), ct).ConfigureAwait(false);
                        host = new System.Net.Sockets.NetworkStream(socket, ownsSocket: true);
                    }
                    catch (System.Net.Sockets.SocketException) { socket.Dispose(); }
                }
                if (host is null) await Task.Delay(5, ct).ConfigureAwait(false);
            }
            // Migration: the VMM process serves its control socket once the guest has arrived and runs.
            // Remus: it serves at once (a paused backup), and the stream lasts until the primary goes.
            await using (host)
            {
                var relay = RelayAsync(host, connection, ct, remus ? heartbeat : null);
                GuestStarted started;
                try
                {
                    started = await start.ConfigureAwait(false);
                }
                catch
                {
                    host.Dispose();
                    await relay.ConfigureAwait(false);
                    throw;
                }
                await relay.ConfigureAwait(false);
                return (started, true);
            }
        }
        finally
        {
            TryDelete(marker);
        }
    }

    /// <summary>
    /// Copies bytes both ways between a VMM process's socket and the migration connection until the
    /// VMM side closes (or, with <paramref name="silence"/>, the network side is quiet that long or drops).
    /// </summary>
    private static async Task RelayAsync(Stream vmm, Stream network, CancellationToken ct, TimeSpan? silence = null)
    {
        using var done = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var toNetwork = Task.Run(async () =>
        {
            try { await vmm.CopyToAsync(network, 1 << 20, done.Token).ConfigureAwait(false); }
            catch (Exception e) when (e is IOException or OperationCanceledException or ObjectDisposedException) { }
        }, CancellationToken.None);
        var toVmm = Task.Run(async () =>
        {
            var buffer = new byte[1 << 20];
            try
            {
                while (true)
                {
                    using var quiet = CancellationTokenSource.CreateLinkedTokenSource(done.Token);
                    if (silence is { } s) quiet.CancelAfter(s);
                    var n = await network.ReadAsync(buffer, quiet.Token).ConfigureAwait(false);
                    if (n == 0) break;
                    await vmm.WriteAsync(buffer.AsMemory(0, n), done.Token).ConfigureAwait(false);
                }
            }
            catch (Exception e) when (e is IOException or OperationCanceledException or ObjectDisposedException) { }
            // The network side ended: let the VMM see end of stream.
            if (vmm is System.Net.Sockets.NetworkStream ns) { try { ns.Socket.Shutdown(System.Net.Sockets.SocketShutdown.Send); } catch (Exception) { } }
        }, CancellationToken.None);
        await toNetwork.ConfigureAwait(false);
        await done.CancelAsync().ConfigureAwait(false);
        await toVmm.ConfigureAwait(false);
    }
}
