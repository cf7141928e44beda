using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Domino.Toolstack.Api;
using Domino.Toolstack.Domains;
using Domino.Toolstack.Migration;
using Domino.Toolstack.Store;

namespace Domino.Toolstack.Drivers.Test;

/// <summary>Everything a fake guest is: what its save file holds and what migrates.</summary>
public sealed record TestGuestState
{
    public required SavedDomain Domain { get; init; }
    public bool Paused { get; init; }
    public int Vcpus { get; init; }
    public long MemoryMb { get; init; }
    public long MaxMemMb { get; init; }
    /// <summary>Console history, base64.</summary>
    public string Console { get; init; } = "";
}

/// <summary>One line of the test driver's migration / Remus stream.</summary>
public sealed record TestStreamMessage(string Kind, TestGuestState? Guest = null, string? Error = null);

/// <summary>
/// Save, restore, migration and Remus for fake guests, with the real checks: a state file has a
/// versioned header and a SHA-256 of its body, a newer or damaged file is refused, a migration
/// that fails leaves the source guest running, a Remus backup takes over only from a complete
/// checkpoint. Console history travels with the guest.
/// </summary>
public sealed partial class TestDriver
{
    private const string StateMagic = "DOMINO-TEST-STATE";
    private const int StateVersion = 1;

    private TestGuestState StateOf(TestGuest g, SavedDomain domain) => new()
    {
        Domain = domain,
        Paused = g.Paused,
        Vcpus = g.Vcpus,
        MemoryMb = g.MemoryMb,
        MaxMemMb = g.MaxMemMb,
        Console = Convert.ToBase64String(g.Console.History()),
    };

    private TestGuest Revive(GuestRef guest, TestGuestState state, bool paused, string how)
    {
        var g = new TestGuest(guest) { Paused = paused, Vcpus = state.Vcpus, MemoryMb = state.MemoryMb, MaxMemMb = state.MaxMemMb, Booted = true };
        g.Console.Write(Convert.FromBase64String(state.Console));
        g.Console.Write(Encoding.ASCII.GetBytes($"{guest.Name}: {how} (domid {guest.DomId})\n"));
        _guests[guest.Uuid] = g;
        WriteMarker(g);
        return g;
    }

    public override Task<PersistFigures> SaveAsync(GuestRef guest, string path, SavedDomain domain, IProgress<double>? progress, CancellationToken ct)
    {
        var sw = Stopwatch.StartNew();
        var g = Get(guest);
        var body = JsonSerializer.SerializeToUtf8Bytes(StateOf(g, domain), MigrationJson.Default.TestGuestState);
        var header = Encoding.ASCII.GetBytes($"{StateMagic} {StateVersion} {Convert.ToHexStringLower(SHA256.HashData(body))}\n");
        progress?.Report(0.5);
        AtomicFile.Write(path, [.. header, .. body], durable: true);
        progress?.Report(1.0);
        return Task.FromResult(new PersistFigures
        {
            Bytes = header.Length + body.Length,
            Ms = sw.Elapsed.TotalMilliseconds,
            Detail = "test driver: the fake guest has no memory pages",
        });
    }

    public override Task<SavedDomain> ReadSavedAsync(string path, CancellationToken ct) => Task.FromResult(ReadState(path).Domain);

    private static TestGuestState ReadState(string path)
    {
        byte[] bytes;
        try { bytes = File.ReadAllBytes(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw new ToolstackException(ErrorKind.Invalid, $"{path}: cannot read: {e.Message}"); }
        var newline = Array.IndexOf(bytes, (byte)'\n');
        var header = newline > 0 ? Encoding.ASCII.GetString(bytes, 0, newline).Split(' ') : [];
        if (header.Length != 3 || header[0] != StateMagic)
            throw new ToolstackException(ErrorKind.Invalid, $"{path}: not a state file of the test driver");
        if (!int.TryParse(header[1], out var version) || version > StateVersion)
            throw new ToolstackException(ErrorKind.Invalid, $"{path}: state format version {header[1]} is newer than this Domino reads ({StateVersion})");
        var body = bytes.AsSpan(newline + 1);
        if (Convert.ToHexStringLower(SHA256.HashData(body)) != header[2])
            throw new ToolstackException(ErrorKind.Invalid, $"{path}: state file is corrupt or truncated (checksum mismatch)");
        return JsonSerializer.Deserialize(body, MigrationJson.Default.TestGuestState)
            ?? throw new ToolstackException(ErrorKind.Invalid, $"{path}: empty state");
    }

    public override Task<(GuestStarted Started, PersistFigures Figures)> RestoreAsync(GuestRef guest, string path, bool paused, IProgress<double>? progress, CancellationToken ct)
    {
        var sw = Stopwatch.StartNew();
        var state = ReadState(path);
        Revive(guest, state, paused, "restored");
        progress?.Report(1.0);
        return Task.FromResult((new GuestStarted(), new PersistFigures { Bytes = new FileInfo(path).Length, Ms = sw.Elapsed.TotalMilliseconds, Detail = "test driver" }));
    }

    /// <summary>
    /// The handover of the real drivers, in JSON lines: S→T "state" (the guest, paused here);
    /// T→S "ready" (revived there, paused); the toolstack records the handover; S→T "go";
    /// T→S "started". Before "go" a failure resumes the guest here and the target destroys its
    /// copy; after "go" only an "error" answer resumes it here, silence leaves it paused.
    /// </summary>
    public override async Task<MigrationFigures> MigrateSendAsync(GuestRef guest, Stream connection, Func<Task> handover, CancellationToken ct)
    {
        var sw = Stopwatch.StartNew();
        var g = Get(guest);
        var wasPaused = g.Paused;
        g.Paused = true;
        WriteMarker(g);
        var downtime = Stopwatch.StartNew();
        var goSent = false;
        try
        {
            var domain = new SavedDomain { Name = guest.Name, Uuid = guest.Uuid, Spec = guest.Spec };
            // Paused as the domain was before the migration paused it: that is how it should run there.
            await MigrationWire.WriteLineAsync(connection, new TestStreamMessage("state", StateOf(g, domain) with { Paused = wasPaused }), MigrationJson.Default.TestStreamMessage, ct).ConfigureAwait(false);
            var ready = await MigrationWire.ReadLineAsync(connection, MigrationJson.Default.TestStreamMessage, ct).ConfigureAwait(false);
            if (ready?.Kind != "ready") throw new IOException(ready?.Error ?? "the target closed the connection before it held the guest");
            await handover().ConfigureAwait(false);
            goSent = true;
            await MigrationWire.WriteLineAsync(connection, new TestStreamMessage("go"), MigrationJson.Default.TestStreamMessage, CancellationToken.None).ConfigureAwait(false);
            var reply = await MigrationWire.ReadLineAsync(connection, MigrationJson.Default.TestStreamMessage, CancellationToken.None).ConfigureAwait(false);
            if (reply?.Kind == "error") throw new TargetFailed(reply.Error ?? "the target could not start the guest");
            if (reply?.Kind != "started") throw new IOException("the target closed the connection without confirming the start");
        }
        catch (Exception e) when (goSent && e is not TargetFailed)
        {
            throw new HandoverOutcomeUnknownException($"no confirmation after go: {e.Message}", e);
        }
        catch
        {
            g.Paused = wasPaused;
            WriteMarker(g);
            throw;
        }
        return new MigrationFigures { Rounds = 1, DowntimeMs = downtime.Elapsed.TotalMilliseconds, TotalMs = sw.Elapsed.TotalMilliseconds };
    }

    private sealed class TargetFailed(string message) : IOException(message);

    public override async Task<GuestStarted> MigrateReceiveAsync(GuestRef guest, Stream connection, CancellationToken ct)
    {
        var message = await MigrationWire.ReadLineAsync(connection, MigrationJson.Default.TestStreamMessage, ct).ConfigureAwait(false);
        if (message?.Kind != "state" || message.Guest is null) throw new IOException("the source closed the connection before sending the guest");
        var g = Revive(guest, message.Guest, paused: true, "migrated in, waiting for go");
        TestStreamMessage? go;
        try
        {
            await MigrationWire.WriteLineAsync(connection, new TestStreamMessage("ready"), MigrationJson.Default.TestStreamMessage, ct).ConfigureAwait(false);
            go = await MigrationWire.ReadLineAsync(connection, MigrationJson.Default.TestStreamMessage, ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or OperationCanceledException)
        {
            go = null;
        }
        if (go?.Kind != "go")
        {
            // No go: the source keeps (or resumes) its copy; this one must not exist.
            await DestroyAsync(guest, CancellationToken.None).ConfigureAwait(false);
            throw new IOException("the source went away before saying go; the incoming guest is discarded");
        }
        g.Paused = message.Guest.Paused;
        g.Console.Write(Encoding.ASCII.GetBytes($"{guest.Name}: migrated in (domid {guest.DomId})\n"));
        WriteMarker(g);
        try
        {
            await MigrationWire.WriteLineAsync(connection, new TestStreamMessage("started"), MigrationJson.Default.TestStreamMessage, CancellationToken.None).ConfigureAwait(false);
        }
        catch (IOException)
        {
            // It runs here now, whether or not the source hears it; the source keeps its copy paused.
        }
        return new GuestStarted();
    }

    /// <summary>Whether a guest of this UUID exists here and runs (not paused, not ended): "a running copy".</summary>
    public bool IsRunning(Guid uuid) => _guests.TryGetValue(uuid, out var g) && !g.Paused && !g.Exited;

    public override async Task RemusProtectAsync(GuestRef guest, Stream connection, TimeSpan interval, Action<long>? onCheckpoint, CancellationToken ct)
    {
        var domain = new SavedDomain { Name = guest.Name, Uuid = guest.Uuid, Spec = guest.Spec };
        long n = 0;
        while (!ct.IsCancellationRequested)
        {
            if (!_guests.TryGetValue(guest.Uuid, out var g) || g.Exited) break;
            await MigrationWire.WriteLineAsync(connection, new TestStreamMessage("checkpoint", StateOf(g, domain)), MigrationJson.Default.TestStreamMessage, CancellationToken.None).ConfigureAwait(false);
            var ack = await MigrationWire.ReadLineAsync(connection, MigrationJson.Default.TestStreamMessage, CancellationToken.None).ConfigureAwait(false);
            if (ack?.Kind != "ack") throw new IOException("the Remus backup stopped acknowledging checkpoints");
            onCheckpoint?.Invoke(++n);
            try { await Task.Delay(interval, ct).ConfigureAwait(false); }
            catch (OperationCanceledException) { break; }
        }
        try { await MigrationWire.WriteLineAsync(connection, new TestStreamMessage("shutdown"), MigrationJson.Default.TestStreamMessage, CancellationToken.None).ConfigureAwait(false); }
        catch (IOException) { }
    }

    public override async Task<GuestStarted?> RemusBackupAsync(GuestRef guest, Stream connection, TimeSpan heartbeat, Action<long>? onCommit, CancellationToken ct)
    {
        TestGuestState? committed = null;
        long n = 0;
        while (true)
        {
            TestStreamMessage? message;
            using (var silence = CancellationTokenSource.CreateLinkedTokenSource(ct))
            {
                silence.CancelAfter(heartbeat);
                try
                {
                    message = await MigrationWire.ReadLineAsync(connection, MigrationJson.Default.TestStreamMessage, silence.Token).ConfigureAwait(false);
                }
                catch (Exception e) when (e is IOException or OperationCanceledException && !ct.IsCancellationRequested)
                {
                    message = null;
                }
            }
            if (message is null) break; // primary silent or gone: fail over
            if (message.Kind == "shutdown") return null;
            if (message.Kind != "checkpoint" || message.Guest is null) break;
            committed = message.Guest;
            await MigrationWire.WriteLineAsync(connection, new TestStreamMessage("ack"), MigrationJson.Default.TestStreamMessage, ct).ConfigureAwait(false);
            onCommit?.Invoke(++n);
        }
        if (committed is null) return null;
        Revive(guest, committed, paused: false, "took over from the Remus primary");
        return new GuestStarted();
    }
}
