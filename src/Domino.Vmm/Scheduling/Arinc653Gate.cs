using Domino.Vmm.Vcpu;
using static Domino.Vmm.Interop.Interop;

namespace Domino.Vmm.Scheduling;

/// <summary>One window of a cyclic schedule: <paramref name="Vcpu"/> runs on <paramref name="Cpu"/> from
/// <paramref name="OffsetNs"/> into each major frame for <paramref name="LengthNs"/>.</summary>
public readonly record struct GateWindow(int Vcpu, int Cpu, long OffsetNs, long LengthNs);

/// <summary>The windows the gate enforces, repeating every major frame from <see cref="EpochNs"/> (CLOCK_MONOTONIC).</summary>
public sealed record GateTable(long MajorFrameNs, long EpochNs, IReadOnlyList<GateWindow> Windows);

/// <summary>
/// ARINC653 time partitioning for vCPU threads. Each vCPU thread, before entering the guest, sleeps
/// (clock_nanosleep, TIMER_ABSTIME, CLOCK_MONOTONIC) until its next window opens, moves itself to the
/// window's CPU at SCHED_FIFO so the wake-up preempts time-sharing work, and arms a per-thread timer
/// that sends the vCPU kick signal at the window's end, so KVM_RUN returns and the thread comes back
/// here. Outside its windows a vCPU does not run at all; time no window covers stays idle.
/// A new table takes effect at each vCPU's next wait.
/// </summary>
public sealed class Arinc653Gate : IVcpuGate
{
    private readonly int? _kickSignal;
    private readonly int _fifoPriority;
    private GateTable _table;

    [ThreadStatic] private static ThreadState? t_state;

    private sealed class ThreadState
    {
        public nint Timer;
        public int Cpu = -1;
        public bool Fifo;
    }

    /// <param name="kickAtWindowEnd">Send the vCPU kick signal at each window's end so KVM_RUN returns
    /// (false: the thread watches the returned window end itself, as the benchmark's host threads do).</param>
    /// <param name="fifoPriority">SCHED_FIFO priority for gated threads; 0 leaves their policy alone.</param>
    public Arinc653Gate(GateTable table, bool kickAtWindowEnd, int fifoPriority = 50)
    {
        Validate(table);
        _table = table;
        _kickSignal = kickAtWindowEnd ? Interop.Interop.Libc.VcpuKickSignal : null;
        _fifoPriority = fifoPriority;
    }

    public GateTable Table => Volatile.Read(ref _table);

    /// <summary>Called at each window start with (vCPU, planned start, actual start) in CLOCK_MONOTONIC ns.</summary>
    public Action<int, long, long>? WindowStarted { get; set; }

    public void Replace(GateTable table)
    {
        Validate(table);
        Volatile.Write(ref _table, table);
    }

    private static void Validate(GateTable table)
    {
        if (table.MajorFrameNs <= 0) throw new ArgumentException("the major frame must be positive");
        foreach (var w in table.Windows)
            if (w.LengthNs <= 0 || w.OffsetNs < 0 || w.OffsetNs + w.LengthNs > table.MajorFrameNs)
                throw new ArgumentException($"window for vcpu {w.Vcpu} at {w.OffsetNs} ns (+{w.LengthNs}) lies outside the major frame");
    }

    /// <summary>After a window ends the kick repeats this often until the thread is back at the gate: a
    /// kick that lands just before KVM_RUN is entered is consumed by the signal handler and would be lost.</summary>
    public const long KickRepeatNs = 200_000;

    public bool WaitForWindow(int vcpu, out long windowEndNs)
    {
        var state = t_state ??= new ThreadState();
        if (state.Timer != 0) Sched.ArmTimer(state.Timer, 0); // back at the gate: stop kicking
        var table = Table;
        var now = Sched.Now();
        var (start, end, cpu) = NextWindow(table, vcpu, now);
        if (cpu < 0)
        {
            // No window at all: sleep a major frame and look again (the table may have changed).
            Sched.SleepUntil(now + table.MajorFrameNs);
            windowEndNs = 0;
            return false;
        }
        if (!state.Fifo && _fifoPriority > 0)
        {
            state.Fifo = HostThread.SetFifo(0, _fifoPriority) == 0;
        }
        if (cpu != state.Cpu && HostThread.SetAffinity(0, [cpu]) == 0) state.Cpu = cpu;
        if (start > now)
        {
            if (Sched.SleepUntil(start) != 0)
            {
                windowEndNs = 0;
                return false;
            }
            var woke = Sched.Now();
            WindowStarted?.Invoke(vcpu, start, woke);
            if (woke >= end)
            {
                // Woken after the whole window had passed (an overloaded host): skip it rather than overrun.
                windowEndNs = 0;
                return false;
            }
        }
        if (_kickSignal is { } signal)
        {
            if (state.Timer == 0) state.Timer = Sched.CreateThreadTimer(Sched.GetTid(), signal);
            Sched.ArmTimer(state.Timer, end, KickRepeatNs);
        }
        windowEndNs = end;
        return true;
    }

    /// <summary>The window of <paramref name="vcpu"/> that is open at <paramref name="now"/>, else the next one; cpu -1 if it has none.</summary>
    public static (long Start, long End, int Cpu) NextWindow(GateTable table, int vcpu, long now)
    {
        var frame = now < table.EpochNs ? 0 : (now - table.EpochNs) / table.MajorFrameNs;
        for (var k = frame; k <= frame + 1; k++)
        {
            var frameStart = table.EpochNs + k * table.MajorFrameNs;
            (long, long, int)? best = null;
            foreach (var w in table.Windows)
            {
                if (w.Vcpu != vcpu) continue;
                var s = frameStart + w.OffsetNs;
                var e = s + w.LengthNs;
                if (e <= now) continue;
                if (best is null || s < best.Value.Item1) best = (s, e, w.Cpu);
            }
            if (best is { } b) return b;
        }
        return (0, 0, -1);
    }
}
