using System.Collections.Concurrent;
using Domino.Vmm.Hypervisor;

namespace Domino.Vmm.Vcpu;

/// <summary>What the VMM does with one exit; returns false when this vCPU must stop.</summary>
public interface IVcpuExitHandler
{
    bool HandleExit(IVcpu vcpu, VmExit exit);

    /// <summary>An exception escaped exit handling or KVM_RUN on this vCPU; the VM must end as crashed.</summary>
    void OnVcpuFault(IVcpu vcpu, Exception error);
}

/// <summary>
/// One vCPU on its own thread, a state machine (Created → Running ⇄ Paused → Stopped) driven only by
/// messages: <see cref="Resume"/>, <see cref="Pause"/> and <see cref="Stop"/> queue a request and
/// kick the thread out of KVM_RUN (immediate_exit + signal); the thread applies it between runs.
/// </summary>
public sealed class VcpuRunner : IDisposable
{
    private readonly IVcpu _vcpu;
    private readonly IVcpuExitHandler _handler;
    private readonly ConcurrentQueue<VcpuState> _requests = new();
    private readonly SemaphoreSlim _wake = new(0);
    private readonly object _stateLock = new(); // a monitor: WaitForState waits on it
    private readonly Thread _thread;
    private readonly ParkedThread? _parked; // woken by the first request
    private VcpuState _state = VcpuState.Created;
    private long _exits;
    private bool _exitInFlight; // the last exit was I/O or MMIO that KVM finishes on the next KVM_RUN
    private int _nmiPending;    // NMIs asked for and not yet handed to KVM

    /// <param name="thread">
    /// A thread started ahead to run this vCPU on (a VM shell's), or null to start one here. It is
    /// woken by the first request (<see cref="Resume"/>, <see cref="Pause"/>, <see cref="Stop"/>).
    /// </param>
    public VcpuRunner(IVcpu vcpu, IVcpuExitHandler handler, ParkedThread? thread = null)
    {
        _vcpu = vcpu;
        _handler = handler;
        if (thread is not null)
        {
            _parked = thread;
            _thread = thread.Thread;
            _tid = thread.Tid;
            thread.Give(ThreadMain, $"vcpu{vcpu.Id}");
            return;
        }
        _thread = new Thread(ThreadMain) { Name = $"vcpu{vcpu.Id}", IsBackground = true };
        _thread.Start();
    }

    public int Id => _vcpu.Id;

    public IVcpu Vcpu => _vcpu;

    public long ExitCount => Interlocked.Read(ref _exits);

    /// <summary>The kernel thread id of this vCPU's thread (0 until the thread has started), for host scheduling.</summary>
    public int Tid => Volatile.Read(ref _tid);

    private int _tid;

    /// <summary>The time-partitioning gate consulted before each KVM_RUN (ARINC653), or null to run freely.</summary>
    public IVcpuGate? Gate
    {
        get => Volatile.Read(ref _gate);
        set { Volatile.Write(ref _gate, value); _vcpu.Kick(); }
    }

    private IVcpuGate? _gate;

    public VcpuState State
    {
        get { lock (_stateLock) return _state; }
    }

    public void Resume() => Post(VcpuState.Running);

    public void Pause() => Post(VcpuState.Paused);

    public void Stop() => Post(VcpuState.Stopped);

    /// <summary>
    /// Sends this vCPU a non-maskable interrupt. vCPU ioctls belong to the vCPU's thread (KVM holds
    /// the vCPU while it runs), so the request is a message: the thread injects it before its next
    /// KVM_RUN. A paused vCPU gets it when it resumes. NMIs do not queue on x86: several asked for
    /// before the thread gets to them arrive as one.
    /// </summary>
    public void InjectNmi()
    {
        Volatile.Write(ref _nmiPending, 1);
        _parked?.Wake();
        _wake.Release();
        _vcpu.Kick();
    }

    /// <summary>NMIs asked for but not handed to KVM yet (0 or 1).</summary>
    public int PendingNmis => Volatile.Read(ref _nmiPending);

    /// <summary>Blocks until the thread has reached <paramref name="state"/> (or stopped); false on timeout.</summary>
    public bool WaitForState(VcpuState state, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        lock (_stateLock)
        {
            while (_state != state && _state != VcpuState.Stopped)
            {
                var left = deadline - DateTime.UtcNow;
                if (left <= TimeSpan.Zero || !Monitor.Wait(_stateLock, left)) return _state == state;
            }
            return _state == state;
        }
    }

    public bool Join(TimeSpan timeout) => _thread.Join(timeout);

    private void Post(VcpuState target)
    {
        _requests.Enqueue(target);
        _parked?.Wake();
        _wake.Release();
        _vcpu.Kick();
    }

    private void SetState(VcpuState to)
    {
        lock (_stateLock)
        {
            if (_state == to) return;
            if (!VcpuTransitions.IsValid(_state, to)) throw new InvalidStateTransitionException($"vCPU {Id}", _state, to);
            _state = to;
            Monitor.PulseAll(_stateLock);
        }
    }

    /// <summary>Applies queued requests; invalid ones (e.g. pausing a stopped vCPU) are ignored.</summary>
    private void DrainRequests()
    {
        while (_requests.TryDequeue(out var target))
        {
            lock (_stateLock)
            {
                if (_state == target || !VcpuTransitions.IsValid(_state, target)) continue;
            }
            if (target == VcpuState.Paused && _exitInFlight)
            {
                // A paused vCPU's state may be saved: let KVM finish the instruction first.
                (_vcpu as ISnapshotVcpu)?.CompletePendingIo();
                _exitInFlight = false;
            }
            SetState(target);
        }
    }

    private void ThreadMain()
    {
        try
        {
            Volatile.Write(ref _tid, Interop.Interop.Libc.GetTid());
            _vcpu.BindToCurrentThread();
            while (true)
            {
                // Clear the kick before looking at requests: a kick that lands after this point
                // leaves immediate_exit set, so the next KVM_RUN returns at once and we look again.
                _vcpu.ClearKick();
                DrainRequests();
                var state = State;
                if (state == VcpuState.Stopped) break;
                if (state != VcpuState.Running)
                {
                    _wake.Wait();
                    continue;
                }
                var gate = Gate;
                if (gate is not null && !gate.WaitForWindow(Id, out _)) continue; // kicked while waiting: requests first
                // A plain read first: this runs before every KVM_RUN, and an NMI is rare.
                if (Volatile.Read(ref _nmiPending) != 0 && Interlocked.Exchange(ref _nmiPending, 0) != 0) _vcpu.InjectNmi();
                var exit = _vcpu.Run();
                gate?.LeftGuest(Id);
                Interlocked.Increment(ref _exits);
                _exitInFlight = exit.Kind is VmExitKind.IoIn or VmExitKind.IoOut or VmExitKind.MmioRead or VmExitKind.MmioWrite;
                if (exit.Kind == VmExitKind.Interrupted) continue;
                if (!_handler.HandleExit(_vcpu, exit)) break;
            }
        }
        catch (Exception e)
        {
            try { _handler.OnVcpuFault(_vcpu, e); } catch { /* the VM is ending; nothing more to report */ }
        }
        finally
        {
            _vcpu.UnbindThread();
            lock (_stateLock)
            {
                _state = VcpuState.Stopped;
                Monitor.PulseAll(_stateLock);
            }
        }
    }

    public void Dispose()
    {
        Stop();
        _thread.Join(TimeSpan.FromSeconds(5));
        _wake.Dispose();
    }
}
