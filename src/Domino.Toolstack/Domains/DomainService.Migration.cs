using System.Diagnostics;
using System.Net.Sockets;
using Domino.Toolstack.Api;
using Domino.Toolstack.Drivers;
using Domino.Toolstack.Events;
using Domino.Toolstack.Migration;

namespace Domino.Toolstack.Domains;

/// <summary>save, restore, migrate, remus — and the receiving side of migrate and remus.</summary>
public sealed partial class DomainService
{
    private readonly Dictionary<Guid, CancellationTokenSource> _remus = [];

    /// <summary>How long a Remus backup waits for a checkpoint before it takes over.</summary>
    public TimeSpan RemusHeartbeat { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// xl save: pause, write the state file, then destroy the domain — or with
    /// <paramref name="checkpoint"/> (-c) let it run on, with <paramref name="leavePaused"/> (-p) keep it paused.
    /// A failed save leaves the domain as it was.
    /// </summary>
    public async Task<OperationResult> SaveAsync(string id, string path, bool checkpoint, bool leavePaused, IProgress<double>? progress, CancellationToken ct)
    {
        PersistFigures? figures = null;
        path = Path.GetFullPath(path);
        var info = await RunJob(id, "save", s => s is DomainState.Running or DomainState.Paused, async d =>
        {
            var wasRunning = d.State == DomainState.Running;
            if (wasRunning) await Driver.PauseAsync(Ref(d), ct).ConfigureAwait(false);
            try
            {
                figures = await Driver.SaveAsync(Ref(d), path, SavedDomainOf(d), progress, ct).ConfigureAwait(false);
            }
            catch
            {
                if (wasRunning) await Driver.UnpauseAsync(Ref(d), CancellationToken.None).ConfigureAwait(false);
                throw;
            }
            if (checkpoint || leavePaused)
            {
                if (wasRunning && !leavePaused) await Driver.UnpauseAsync(Ref(d), ct).ConfigureAwait(false);
                else if (wasRunning) Record(d, DomainState.Paused, "saved", DomainEventKind.Paused, $"state saved to {path}");
                return;
            }
            await DestroyLockedAsync(d, "saved", $"state saved to {path}", ct).ConfigureAwait(false);
        }, ct).ConfigureAwait(false);
        return new OperationResult { Domain = info, Persist = figures };
    }

    /// <summary>xl restore: checks the whole file first, then creates the domain it holds, running or (-p) paused.</summary>
    public async Task<OperationResult> RestoreAsync(string path, bool paused, IProgress<double>? progress, CancellationToken ct)
    {
        path = Path.GetFullPath(path);
        var saved = await Driver.ReadSavedAsync(path, ct).ConfigureAwait(false);
        PersistFigures? figures = null;
        var info = await AdmitAsync(saved, "restore", paused ? "restored-paused" : "restored", $"restored from {path}", async d =>
        {
            var (started, f) = await Driver.RestoreAsync(Ref(d), path, paused, progress, ct).ConfigureAwait(false);
            figures = f;
            return (started, paused);
        }, ct).ConfigureAwait(false);
        return new OperationResult { Domain = info, Persist = figures };
    }

    /// <summary>The reason a domain shows while (and if) its migration's outcome is not known here.</summary>
    public static string OutcomeUnknownReason(string target) => $"migration outcome unknown: check {target}";

    /// <summary>
    /// xl migrate: hands the domain to the daemon listening at <paramref name="host"/>:<paramref name="port"/>.
    /// The domain keeps its name and config there and is destroyed here once it runs there. The
    /// handover never leaves two copies running: when the target holds the final state, paused,
    /// the domain is recorded here as paused, reason "migration outcome unknown: check HOST:PORT"
    /// (persisted), and only then is the target told to start it. A failure before that leaves it
    /// running here; a target that then never confirms leaves it paused here for the user to
    /// resolve (destroy here if it runs there, else unpause here).
    /// </summary>
    public async Task<OperationResult> MigrateAsync(string id, string host, int port, CancellationToken ct)
    {
        MigrationFigures? figures = null;
        var target = $"{host}:{port}";
        var unknown = OutcomeUnknownReason(target);
        var info = await RunJob(id, "migrate", s => s is DomainState.Running or DomainState.Paused, async d =>
        {
            using var client = await ConnectAsync(host, port, ct).ConfigureAwait(false);
            var stream = client.GetStream();
            await OfferAsync(stream, d, "migrate", 0, ct).ConfigureAwait(false);
            var before = d.State;
            try
            {
                figures = await Driver.MigrateSendAsync(Ref(d), stream, () =>
                {
                    // On disk before the target may start it: a daemon that dies from here on finds
                    // it paused with this reason, and nothing here resumes it on its own.
                    Record(d, DomainState.Paused, unknown, DomainEventKind.Paused, $"handing over to {target}");
                    return Task.CompletedTask;
                }, ct).ConfigureAwait(false);
            }
            catch (HandoverOutcomeUnknownException e)
            {
                if (d.State != DomainState.Paused || d.Reason != unknown) Record(d, DomainState.Paused, unknown, DomainEventKind.Paused, e.Message);
                throw new ToolstackException(ErrorKind.Failed,
                    $"migration of '{d.Name}' to {target}: the target was told to start it and never confirmed; '{d.Name}' stays paused here ({unknown}). " +
                    $"If it runs on {target}, destroy it here (domino destroy {d.Name}); if it does not, resume it here (domino unpause {d.Name}). Cause: {e.Message}", e);
            }
            catch (Exception e)
            {
                // Before the handover the driver has resumed the guest (if it ran): say so in the record.
                if (d.State != before || d.Reason == unknown)
                    Record(d, before, "migration failed", before == DomainState.Running ? DomainEventKind.Unpaused : DomainEventKind.Updated, e.Message);
                if (e is ToolstackException or OperationCanceledException) throw;
                throw new ToolstackException(ErrorKind.Failed, $"migration of '{d.Name}' to {target} failed; it keeps running here: {e.Message}", e);
            }
            await DestroyLockedAsync(d, "migrated", $"migrated to {target} (downtime {figures.DowntimeMs:0.0} ms)", ct).ConfigureAwait(false);
        }, ct).ConfigureAwait(false);
        return new OperationResult { Domain = info, Migration = figures };
    }

    /// <summary>
    /// xl remus: starts protecting the domain with checkpoints to the daemon at host:port every
    /// <paramref name="interval"/>; runs in the background until the domain is destroyed (the
    /// backup then stands down) or the backup is lost (the domain runs on, unprotected).
    /// </summary>
    public async Task<OperationResult> StartRemusAsync(string id, string host, int port, TimeSpan interval, CancellationToken ct)
    {
        if (interval < TimeSpan.FromMilliseconds(10)) throw new ToolstackException(ErrorKind.Invalid, $"remus interval {interval.TotalMilliseconds} ms is too short (at least 10 ms)");
        TcpClient? client = null;
        var info = await RunJob(id, "protect with remus", s => s is DomainState.Running, async d =>
        {
            lock (_remus)
            {
                if (_remus.ContainsKey(d.Uuid)) throw new ToolstackException(ErrorKind.Conflict, $"domain '{d.Name}' is already protected by Remus");
            }
            client = await ConnectAsync(host, port, ct).ConfigureAwait(false);
            await OfferAsync(client.GetStream(), d, "remus", (int)interval.TotalMilliseconds, ct).ConfigureAwait(false);
        }, ct).ConfigureAwait(false);
        var d = Lookup(id);
        var guest = Ref(d);
        var stop = new CancellationTokenSource();
        lock (_remus) _remus[d.Uuid] = stop;
        Emit(d, DomainEventKind.Updated, $"remus: protected by {host}:{port} every {interval.TotalMilliseconds:0} ms");
        var task = Task.Run(async () =>
        {
            var why = "stopped";
            try
            {
                await Driver.RemusProtectAsync(guest, client!.GetStream(), interval, null, stop.Token).ConfigureAwait(false);
            }
            catch (Exception e)
            {
                why = e.Message;
            }
            finally
            {
                client!.Dispose();
                lock (_remus) _remus.Remove(guest.Uuid);
            }
            if (IsCurrent(d)) Emit(d, DomainEventKind.Updated, $"remus: protection ended: {why}");
        }, CancellationToken.None);
        lock (_background) _background.Add(task);
        return new OperationResult { Domain = info, Message = $"Remus: domain '{info.Name}' checkpointed to {host}:{port} every {interval.TotalMilliseconds:0} ms" };
    }

    /// <summary>Stops Remus protection of a domain (the backup stands down); false when it was not protected.</summary>
    public bool StopRemus(Guid uuid)
    {
        CancellationTokenSource? stop;
        lock (_remus) _remus.TryGetValue(uuid, out stop);
        stop?.Cancel();
        return stop is not null;
    }

    /// <summary>
    /// Serves one connection on the migration port: reads the preamble, admits the domain (its name
    /// must be free here), then lets the driver receive it. Failures are answered on the connection
    /// and leave nothing behind.
    /// </summary>
    public async Task AcceptMigrationAsync(Stream stream, string peer, CancellationToken ct)
    {
        var preamble = await MigrationWire.ReadLineAsync(stream, MigrationJson.Default.MigrationPreamble, ct).ConfigureAwait(false);
        if (preamble is null) return;
        if (preamble.FormatVersion != MigrationPreamble.Version)
        {
            await ReplyAsync(stream, $"migration preamble version {preamble.FormatVersion}, this daemon speaks {MigrationPreamble.Version}", ct).ConfigureAwait(false);
            return;
        }
        var saved = preamble.Domain;
        var remus = preamble.Mode == "remus";
        if (!remus && preamble.Mode != "migrate")
        {
            await ReplyAsync(stream, $"unknown migration mode '{preamble.Mode}'", ct).ConfigureAwait(false);
            return;
        }
        try
        {
            await AdmitAsync(saved, remus ? "keep a Remus backup of" : "receive", remus ? "failover" : "migrated", remus ? $"took over from Remus primary {peer}" : $"migrated from {peer}", async d =>
            {
                await ReplyAsync(stream, null, ct).ConfigureAwait(false);
                if (!remus) return (await Driver.MigrateReceiveAsync(Ref(d), stream, ct).ConfigureAwait(false), false);
                // A backup is shown paused until it takes over; it runs only after a failover.
                d.SetState(DomainState.Paused, "remus-backup");
                Persist(d);
                Emit(d, DomainEventKind.Created, $"Remus backup of '{d.Name}' from {peer}");
                var started = await Driver.RemusBackupAsync(Ref(d), stream, RemusHeartbeat, null, ct).ConfigureAwait(false);
                if (started is null) throw new RemusStoodDown();
                return (started, false);
            }, ct).ConfigureAwait(false);
        }
        catch (RemusStoodDown)
        {
            Log($"remus backup of '{saved.Name}' from {peer}: primary stood down");
        }
        catch (Exception e)
        {
            Log($"incoming {preamble.Mode} of '{saved.Name}' from {peer} failed: {e.Message}");
            await ReplyAsync(stream, e.Message, ct, quiet: true).ConfigureAwait(false);
        }
    }

    private sealed class RemusStoodDown : Exception;

    /// <summary>
    /// Creates a domain record for a guest that arrives whole (restore, migration, failover):
    /// reserves name and UUID first, lets <paramref name="start"/> build it, records it, or forgets
    /// everything if that fails.
    /// </summary>
    private async Task<DomainInfo> AdmitAsync(SavedDomain saved, string operation, string reason, string detail,
        Func<Domain, Task<(GuestStarted Started, bool Paused)>> start, CancellationToken ct)
    {
        var spec = saved.Spec with { Name = saved.Name };
        if (DomainSpec.ValidateName(spec.Name) is { } nameError) throw new ToolstackException(ErrorKind.Invalid, nameError);
        Domain d;
        lock (_table)
        {
            if (_byName.ContainsKey(spec.Name)) throw ToolstackException.DuplicateName(spec.Name);
            var uuid = saved.Uuid == Guid.Empty ? Guid.NewGuid() : saved.Uuid;
            if (_byUuid.TryGetValue(uuid, out var other))
                throw new ToolstackException(ErrorKind.Conflict, $"uuid {uuid} is already used by domain '{other.Name}'");
            d = new Domain(uuid, spec.Name, spec with { Uuid = uuid }, saved.ConfigJson) { DomId = _nextDomId++ };
            _byUuid[uuid] = d;
            _byName[d.Name] = d;
        }
        using (await d.Job.BeginAsync(operation, d.Name, ct).ConfigureAwait(false))
        {
            try
            {
                Persist(d, withConfig: true);
                var (started, paused) = await start(d).ConfigureAwait(false);
                lock (d.Sync)
                {
                    d.VmmPid = started.VmmPid;
                    d.StartedAt = DateTimeOffset.UtcNow;
                    d.CurrentMemoryMb = d.Spec.MemoryMb;
                    d.OnlineVcpus = d.Spec.Vcpus;
                }
                d.SetState(paused ? DomainState.Paused : DomainState.Running, reason);
                Persist(d, started.VmmStartTicks);
            }
            catch (Exception e)
            {
                await Forget(d, quietDriverDestroy: true).ConfigureAwait(false);
                if (e is ToolstackException or OperationCanceledException or RemusStoodDown) throw;
                throw new ToolstackException(ErrorKind.Failed, $"cannot {operation} domain '{spec.Name}': {e.Message}", e);
            }
            Emit(d, DomainEventKind.Created, detail);
        }
        return d.Snapshot();
    }

    private static SavedDomain SavedDomainOf(Domain d)
    {
        lock (d.Sync) return new SavedDomain { Name = d.Name, Uuid = d.Uuid, Spec = d.Spec, ConfigJson = d.ConfigJson };
    }

    private static async Task<TcpClient> ConnectAsync(string host, int port, CancellationToken ct)
    {
        var client = new TcpClient { NoDelay = true };
        try
        {
            using var limit = CancellationTokenSource.CreateLinkedTokenSource(ct);
            limit.CancelAfter(TimeSpan.FromSeconds(10));
            await client.ConnectAsync(host, port, limit.Token).ConfigureAwait(false);
            return client;
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException)
        {
            client.Dispose();
            throw new ToolstackException(ErrorKind.Failed, $"cannot reach a migration listener at {host}:{port}: {e.Message} (start the target with domino daemon --migrate-listen HOST:{port})");
        }
    }

    /// <summary>Sends the preamble and waits for the target to accept the domain.</summary>
    private static async Task OfferAsync(Stream stream, Domain d, string mode, int intervalMs, CancellationToken ct)
    {
        var sw = Stopwatch.StartNew();
        await MigrationWire.WriteLineAsync(stream, new MigrationPreamble { Mode = mode, Domain = SavedDomainOf(d), IntervalMs = intervalMs }, MigrationJson.Default.MigrationPreamble, ct).ConfigureAwait(false);
        MigrationReply? reply;
        try
        {
            reply = await MigrationWire.ReadLineAsync(stream, MigrationJson.Default.MigrationReply, ct).ConfigureAwait(false);
        }
        catch (IOException e)
        {
            throw new ToolstackException(ErrorKind.Failed, $"the migration target dropped the connection: {e.Message}");
        }
        if (reply is null) throw new ToolstackException(ErrorKind.Failed, "the migration target closed the connection without answering");
        if (!reply.Ok) throw new ToolstackException(ErrorKind.Conflict, $"the migration target refused domain '{d.Name}': {reply.Error}");
    }

    private static async Task ReplyAsync(Stream stream, string? error, CancellationToken ct, bool quiet = false)
    {
        try
        {
            await MigrationWire.WriteLineAsync(stream, new MigrationReply(error is null, error), MigrationJson.Default.MigrationReply, ct).ConfigureAwait(false);
        }
        catch (Exception) when (quiet)
        {
            // the peer is gone; nothing to tell it
        }
    }
}
