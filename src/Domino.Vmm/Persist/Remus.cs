using System.Diagnostics;

namespace Domino.Vmm.Persist;

/// <summary>Running figures of a Remus primary.</summary>
public sealed record RemusStats(long Checkpoints, TimeSpan LastPause, TimeSpan MaxPause, long LastDirtyPages, long BytesSent);

/// <summary>
/// The protected side of Remus (Cully et al., NSDI 2008): every interval the guest is paused, its
/// dirty pages and device/vCPU state copied into a buffer, and resumed; the buffer then goes to
/// the backup, and the epoch's console output is released only when the backup acknowledges it.
/// If the backup stops answering, the guest simply runs on unprotected here.
/// </summary>
public sealed class RemusPrimary
{
    private readonly VirtualMachine _vm;
    private readonly string _name;
    private readonly MigrationChannel _channel;
    private readonly EpochConsoleBuffer? _console;
    private readonly TimeSpan _interval;
    private readonly Lock _statsLock = new();
    private RemusStats _stats = new(0, TimeSpan.Zero, TimeSpan.Zero, 0, 0);

    public RemusPrimary(VirtualMachine vm, string name, Stream stream, EpochConsoleBuffer? console, TimeSpan interval)
    {
        _vm = vm;
        _name = name;
        _channel = new MigrationChannel(stream);
        _console = console;
        _interval = interval;
    }

    public RemusStats Stats { get { lock (_statsLock) return _stats; } }

    /// <summary>
    /// Protects the guest until <paramref name="cancel"/> fires (the backup is then told to stand
    /// down), the guest ends, or the backup is lost (a <see cref="MigrationException"/>).
    /// </summary>
    public void Run(CancellationToken cancel)
    {
        var logging = false;
        try
        {
            _channel.Send(StreamRecord.Hello, LiveMigration.EncodeHello(LiveMigration.ModeRemus, _name, _vm));
            _channel.Expect(StreamRecord.Ready);
            _vm.Ram.SetDirtyLogging(_vm.KvmVm, true);
            logging = true;
            _console?.StartBuffering();
            PageStream.EncodeNonZero(_vm.Memory, body => _channel.Send(StreamRecord.Pages, body));
            var next = Stopwatch.StartNew();
            while (!cancel.IsCancellationRequested)
            {
                var wait = _interval - next.Elapsed;
                if (wait > TimeSpan.Zero && cancel.WaitHandle.WaitOne(wait)) break;
                next.Restart();
                if (_vm.State != VmState.Running) break; // guest ended (or someone paused it): stop protecting
                Checkpoint();
            }
            _channel.Send(StreamRecord.Shutdown, []);
            _console?.StopBuffering(releaseHeld: true);
        }
        catch (Exception e) when (e is IOException or MigrationException or SnapshotException or ObjectDisposedException or InvalidOperationException)
        {
            // The backup is gone: run on here, unprotected; what the guest printed is real now. Unless
            // the guest itself is gone (its VM ended mid-checkpoint): then a backup that fails over
            // resumes it from the last acknowledged checkpoint and prints what followed again, so
            // what is held here is dropped, or the screen would show it twice.
            _console?.StopBuffering(releaseHeld: _vm.State != VmState.Exited);
            if (_vm.State == VmState.Paused) _vm.Resume();
            throw new MigrationException($"Remus protection of '{_name}' ended: {e.Message}", e);
        }
        finally
        {
            if (logging)
            {
                try { _vm.Ram.SetDirtyLogging(_vm.KvmVm, false); } catch (Exception) { /* VM gone */ }
            }
            _channel.Dispose();
        }
    }

    private void Checkpoint()
    {
        var pause = Stopwatch.StartNew();
        var records = new List<byte[]>();
        byte[] state;
        long epoch;
        long dirty;
        _vm.Pause();
        try
        {
            var bitmaps = LiveMigration.FetchDirty(_vm);
            dirty = PageStream.EncodeDirty(_vm.Memory, bitmaps, records.Add);
            state = _vm.CaptureState().Encode();
            epoch = _console?.Seal() ?? 0;
        }
        finally
        {
            _vm.Resume();
        }
        pause.Stop();
        foreach (var r in records) _channel.Send(StreamRecord.Pages, r);
        _channel.Send(StreamRecord.State, state);
        _channel.Expect(StreamRecord.Ack);
        _console?.Release(epoch);
        lock (_statsLock)
        {
            _stats = new RemusStats(_stats.Checkpoints + 1, pause.Elapsed, pause.Elapsed > _stats.MaxPause ? pause.Elapsed : _stats.MaxPause, dirty, _channel.BytesSent);
        }
    }
}

/// <summary>
/// The backup side of Remus: holds a paused copy of the guest, commits each checkpoint only once
/// it has arrived whole, and when the primary falls silent (the stream's read timeout) or drops
/// the connection, resumes the guest from the last committed checkpoint.
/// </summary>
public static class RemusBackup
{
    /// <summary>
    /// Runs the backup for <paramref name="hello"/>. Returns the running VM after a failover, or
    /// null when the primary stood the backup down (or failed before the first checkpoint).
    /// </summary>
    public static VirtualMachine? Run(MigrationChannel channel, IncomingDomain hello, RestoreOptions options, Action<long>? onCommit = null)
    {
        if (hello.Mode != LiveMigration.ModeRemus) throw new MigrationException($"expected Remus, the sender started '{hello.Mode}'");
        var vm = VirtualMachine.CreateIncoming(hello.Config, options);
        return RunOn(vm, channel, hello, options.Log, onCommit) ? vm : null;
    }

    /// <summary>
    /// Runs the backup on <paramref name="vm"/> (built by <see cref="VirtualMachine.CreateIncoming"/>, not
    /// started). True after a failover (the VM runs); false when the primary stood the backup down —
    /// the VM is then disposed.
    /// </summary>
    public static bool RunOn(VirtualMachine vm, MigrationChannel channel, IncomingDomain hello, Action<string>? log, Action<long>? onCommit = null)
    {
        VmSnapshot? committed = null;
        long checkpoints = 0;
        var pending = new List<byte[]>();
        try
        {
            channel.Send(StreamRecord.Ready, []);
            while (true)
            {
                StreamRecord type;
                byte[] body;
                try
                {
                    (type, body) = channel.Receive();
                }
                catch (Exception e) when (e is IOException or MigrationException or SnapshotException)
                {
                    log?.Invoke($"remus backup of '{hello.Name}': primary lost ({e.Message})");
                    break;
                }
                switch (type)
                {
                    case StreamRecord.Pages when committed is null:
                        PageStream.Apply(vm.Memory, body); // initial copy: nothing committed yet to protect
                        break;
                    case StreamRecord.Pages:
                        pending.Add(body);
                        break;
                    case StreamRecord.State:
                        var state = VmSnapshot.Decode(body);
                        foreach (var p in pending) PageStream.Apply(vm.Memory, p);
                        pending.Clear();
                        committed = state;
                        checkpoints++;
                        channel.Send(StreamRecord.Ack, []);
                        onCommit?.Invoke(checkpoints);
                        break;
                    case StreamRecord.Heartbeat:
                        break;
                    case StreamRecord.Shutdown:
                        vm.Dispose();
                        return false;
                    default:
                        throw new MigrationException($"Remus stream: unexpected {type} record");
                }
            }
            if (committed is null)
            {
                vm.Dispose();
                return false;
            }
            // Failover: a half-received epoch is dropped; the guest resumes from the last commit.
            vm.ApplyState(committed);
            vm.Start();
            return true;
        }
        catch
        {
            vm.Dispose();
            throw;
        }
        finally
        {
            channel.Dispose();
        }
    }
}
