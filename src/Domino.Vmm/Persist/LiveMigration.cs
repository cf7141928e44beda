using System.Diagnostics;

namespace Domino.Vmm.Persist;

public sealed class MigrationOptions
{
    /// <summary>Most pre-copy rounds before stopping the guest regardless.</summary>
    public int MaxRounds { get; init; } = 30;

    /// <summary>Stop and copy once a round leaves at most this many dirty pages (1 MiB).</summary>
    public long StopAtDirtyPages { get; init; } = 256;

    /// <summary>Called after each round with (round, pages sent in it, pages still dirty).</summary>
    public Action<int, long, long>? OnRound { get; init; }

    /// <summary>Test hook: runs before each round's pages are sent; throw to inject a failure.</summary>
    public Action<int>? BeforeRound { get; init; }

    /// <summary>
    /// Called once the target holds the final state, paused, and before Go is sent: the caller
    /// records that the domain is being handed over (persisted), so that a crash after Go cannot
    /// resume it here. Throwing aborts the migration before Go: the guest resumes here.
    /// </summary>
    public Action? BeforeGo { get; init; }

    /// <summary>Tests only: send what KVM's dirty log reports and nothing the host wrote, to show what that would miss.</summary>
    internal bool KvmDirtyLogOnly { get; init; }
}

/// <summary>What one live migration did.</summary>
public sealed record MigrationReport(int Rounds, long PagesSent, long BytesSent, IReadOnlyList<long> DirtyPerRound, TimeSpan Downtime, TimeSpan Total)
{
    /// <summary>Where the downtime went, step by step, as the source saw it (empty when the guest was not running).</summary>
    public IReadOnlyList<PersistPhase> DowntimeSteps { get; init; } = [];

    public override string ToString() =>
        $"{Rounds} rounds, {PagesSent} pages, {BytesSent / 1048576.0:0.0} MiB sent, downtime {Downtime.TotalMilliseconds:0.0} ms, total {Total.TotalMilliseconds:0} ms" +
        $" (dirty pages per round: {string.Join(" ", DirtyPerRound)})" +
        (DowntimeSteps.Count > 0 ? $"; downtime: {string.Join(", ", DowntimeSteps)}" : "");
}

/// <summary>What the receiver learns from the sender's first record.</summary>
public sealed record IncomingDomain(string Mode, string Name, SavedVmConfig Config, CpuFingerprint Cpu);

/// <summary>
/// Pre-copy live migration (Xen's libxc migration stream, in spirit): a full pass over RAM while
/// the guest runs, then rounds of the pages KVM's dirty log reports, until few remain or rounds
/// stop helping; then pause, send the last dirty pages and the device/vCPU state, and hand over.
/// <para>
/// The handover never lets two copies run. The receiver loads the final state paused and says so
/// (<see cref="StreamRecord.Ack"/>); the sender records the handover (<see cref="MigrationOptions.BeforeGo"/>)
/// and sends <see cref="StreamRecord.Go"/>; the receiver starts the guest only on Go, and keeps it
/// running once started even if it cannot answer. Before Go every failure resumes the source and
/// the receiver discards what it built. After Go the source resumes only if the receiver reports
/// that it could not start; silence leaves the source paused (<see cref="MigrationOutcomeUnknownException"/>).
/// </para>
/// </summary>
public static class LiveMigration
{
    public const string ModeMigrate = "migrate";
    public const string ModeRemus = "remus";

    internal static byte[] EncodeHello(string mode, string name, VirtualMachine vm)
    {
        var w = new PersistWriter();
        w.U32(MigrationChannel.StreamVersion);
        w.String(mode);
        w.String(name);
        w.Bytes(SavedVmConfig.From(vm.Config).ToJson());
        CpuFingerprint.Of(vm.Hypervisor).Save(w);
        return w.ToArray();
    }

    internal static IncomingDomain DecodeHello(byte[] body)
    {
        var r = new PersistReader(body, "migration hello");
        var version = r.U32();
        if (version != MigrationChannel.StreamVersion)
            throw new MigrationException($"migration stream version {version}, this Domino speaks {MigrationChannel.StreamVersion}");
        var mode = r.String();
        var name = r.String();
        var config = SavedVmConfig.FromJson(r.Bytes());
        var cpu = CpuFingerprint.Load(r);
        r.End();
        return new IncomingDomain(mode, name, config, cpu);
    }

    /// <summary>
    /// Migrates the running (or paused) <paramref name="vm"/> over <paramref name="stream"/>. On
    /// success the source is left paused for the caller to destroy. A failure before Go (or a
    /// target that reports it could not start) resumes it (if it was running) and throws
    /// <see cref="MigrationException"/>; a lost answer after Go leaves it paused and throws
    /// <see cref="MigrationOutcomeUnknownException"/>.
    /// </summary>
    public static MigrationReport Send(VirtualMachine vm, string name, Stream stream, MigrationOptions? options = null)
    {
        options ??= new MigrationOptions();
        var total = Stopwatch.StartNew();
        var channel = new MigrationChannel(stream);
        var wasRunning = vm.State == VmState.Running;
        var pausedByUs = false;
        var logging = false;
        var goSent = false;
        var downtime = new Stopwatch();
        PhaseTimer? steps = null;
        var dirtyPerRound = new List<long>();
        long pagesSent = 0;
        var rounds = 0;
        try
        {
            channel.Send(StreamRecord.Hello, EncodeHello(ModeMigrate, name, vm));
            channel.Expect(StreamRecord.Ready);
            vm.Ram.SetDirtyLogging(vm.KvmVm, true);
            logging = true;
            var memory = vm.Memory;
            options.BeforeRound?.Invoke(0);
            pagesSent += PageStream.EncodeNonZero(memory, body => channel.Send(StreamRecord.Pages, body));
            options.OnRound?.Invoke(0, pagesSent, -1);
            long previous = long.MaxValue;
            var stalled = 0;
            while (true)
            {
                rounds++;
                var bitmaps = FetchDirty(vm, !options.KvmDirtyLogOnly);
                var dirty = PageStream.CountDirty(bitmaps);
                dirtyPerRound.Add(dirty);
                // Converged, or out of rounds, or three rounds in a row without shrinking the set: stop and copy.
                stalled = dirty >= previous * 9 / 10 ? stalled + 1 : 0;
                if (dirty <= options.StopAtDirtyPages || rounds >= options.MaxRounds || stalled >= 3)
                {
                    if (wasRunning)
                    {
                        downtime.Start();
                        steps = new PhaseTimer();
                        vm.Pause();
                        pausedByUs = true;
                    }
                    // Pages dirtied between the fetch above and the pause are in the log now; merge them.
                    var last = FetchDirty(vm, !options.KvmDirtyLogOnly);
                    for (var i = 0; i < bitmaps.Count; i++)
                        for (var k = 0; k < bitmaps[i].Length; k++) bitmaps[i][k] |= last[i][k];
                    options.BeforeRound?.Invoke(rounds);
                    pagesSent += PageStream.EncodeDirty(memory, bitmaps, body => channel.Send(StreamRecord.Pages, body));
                    steps?.Mark("pause and last pages");
                    break;
                }
                options.BeforeRound?.Invoke(rounds);
                var sent = PageStream.EncodeDirty(memory, bitmaps, body => channel.Send(StreamRecord.Pages, body));
                pagesSent += sent;
                options.OnRound?.Invoke(rounds, sent, dirty);
                previous = dirty;
            }
            channel.Send(StreamRecord.State, vm.CaptureState().Encode());
            steps?.Mark("device and vCPU state");
            channel.Expect(StreamRecord.Ack); // the target holds the final state, paused
            steps?.Mark("target loads state");
            options.BeforeGo?.Invoke();
            steps?.Mark("handover recorded");
            // From the first byte of Go on, the target may run the guest: this copy must not run again on its own.
            goSent = true;
            channel.Send(StreamRecord.Go, []);
            channel.Expect(StreamRecord.Started);
            steps?.Mark("target starts guest");
            downtime.Stop();
            if (logging) TryStopLogging(vm);
            return new MigrationReport(rounds, pagesSent, channel.BytesSent, dirtyPerRound, downtime.Elapsed, total.Elapsed)
            {
                DowntimeSteps = steps?.Phases ?? [],
            };
        }
        catch (MigrationPeerException e) when (goSent)
        {
            // The target answered Go with its own failure: it did not start the guest and discarded it.
            if (logging) TryStopLogging(vm);
            if (pausedByUs && vm.State == VmState.Paused) vm.Resume();
            throw new MigrationException($"migration failed after the handover, the target could not start the domain; it keeps running here: {e.Message}", e);
        }
        catch (Exception e) when (goSent)
        {
            if (logging) TryStopLogging(vm);
            throw new MigrationOutcomeUnknownException(
                $"the target was told to start the domain but its answer never came ({e.Message}); the domain stays paused here: if it runs on the target, destroy it here, otherwise unpause it here", e);
        }
        catch (Exception e)
        {
            channel.SendError($"migration aborted by the source: {e.Message}");
            if (logging) TryStopLogging(vm);
            if (pausedByUs && vm.State == VmState.Paused) vm.Resume();
            throw new MigrationException($"migration failed before the handover, the domain keeps {(wasRunning ? "running" : "its state")} here: {e.Message}", e);
        }
    }

    private static void TryStopLogging(VirtualMachine vm)
    {
        try { vm.Ram.SetDirtyLogging(vm.KvmVm, false); } catch (Exception) { /* the VM may be gone; nothing to undo */ }
    }

    /// <summary>Each region's pages written since the last fetch: by the guest (KVM's log) and, unless told otherwise, by the host's device models.</summary>
    internal static List<ulong[]> FetchDirty(VirtualMachine vm, bool includeHostWrites = true)
    {
        var list = new List<ulong[]>();
        for (var i = 0; i < vm.Memory.Regions.Count; i++) list.Add(vm.Ram.FetchDirtyBitmap(vm.KvmVm, i, includeHostWrites));
        return list;
    }

    /// <summary>
    /// Reads the sender's hello, lets <paramref name="admit"/> refuse it (return a reason), and
    /// checks the CPU; the caller then calls <see cref="ReceiveMigration"/> or a Remus backup.
    /// On refusal the sender is told why and <see cref="MigrationException"/> is thrown.
    /// </summary>
    public static IncomingDomain ReceiveHello(MigrationChannel channel, Func<IncomingDomain, string?>? admit = null)
    {
        var hello = DecodeHello(channel.Expect(StreamRecord.Hello));
        var refusal = admit?.Invoke(hello);
        if (refusal is null)
        {
            try
            {
                VirtualMachine.CheckHost(hello.Cpu);
            }
            catch (SnapshotException e)
            {
                refusal = e.Message;
            }
        }
        if (refusal is not null)
        {
            channel.SendError($"target refuses domain '{hello.Name}': {refusal}");
            throw new MigrationException($"refused incoming domain '{hello.Name}': {refusal}");
        }
        return hello;
    }

    /// <summary>
    /// Receives a migration announced by <paramref name="hello"/>: builds the VM, takes pages and
    /// state, starts it when the source says go. Returns the running VM; on failure nothing is left.
    /// </summary>
    public static VirtualMachine ReceiveMigration(MigrationChannel channel, IncomingDomain hello, RestoreOptions options)
    {
        if (hello.Mode != ModeMigrate) throw new MigrationException($"expected a migration, the sender started '{hello.Mode}'");
        VirtualMachine? vm = null;
        try
        {
            vm = VirtualMachine.CreateIncoming(hello.Config, options);
            // Load the new VM's own blank state into it once, now, while the guest still runs on the
            // source: the code that loads the real state at the handover then runs warm instead of
            // being compiled inside the downtime. The real state overwrites all of it.
            vm.ApplyState(VmSnapshot.Decode(vm.CaptureState().Encode()));
            channel.Send(StreamRecord.Ready, []);
            while (true)
            {
                var (type, body) = channel.Receive();
                if (type == StreamRecord.Pages)
                {
                    PageStream.Apply(vm.Memory, body);
                    continue;
                }
                if (type != StreamRecord.State) throw new MigrationException($"migration stream: unexpected {type} record");
                vm.ApplyState(VmSnapshot.Decode(body));
                break;
            }
            channel.Send(StreamRecord.Ack, []); // loaded and paused: runs only on Go
            channel.Expect(StreamRecord.Go);
            vm.Start();
        }
        catch (Exception e)
        {
            channel.SendError($"target failed: {e.Message}");
            vm?.Dispose();
            if (e is MigrationException) throw;
            throw new MigrationException($"incoming migration of '{hello.Name}' failed: {e.Message}", e);
        }
        // The guest runs here now and the source will not resume its copy: it stays, whether or not
        // the source hears that it started.
        try
        {
            channel.Send(StreamRecord.Started, []);
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or InvalidOperationException)
        {
            options.Log?.Invoke($"incoming migration of '{hello.Name}': started, but the source could not be told ({e.Message}); it keeps its copy paused");
        }
        return vm;
    }
}
