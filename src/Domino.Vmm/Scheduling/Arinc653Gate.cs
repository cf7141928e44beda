using Domino.Vmm.Vcpu;
using static Domino.Vmm.Interop.Interop;

namespace Domino.Vmm.Scheduling;

/// <summary>One window of a cyclic schedule: <paramref name="Vcpu"/> runs on <paramref name="Cpu"/> from
/// <paramref name="OffsetNs"/> into each major frame for <paramref name="LengthNs"/>.</summary>
public readonly record struct GateWindow(int Vcpu, int Cpu, long OffsetNs, long LengthNs);

/// <summary>The windows the gate enforces, repeating every major frame from <see cref="EpochNs"/> (CLOCK_MONOTONIC).</summary>
public sealed record GateTable(long MajorFrameNs, long EpochNs, IReadOnlyList<GateWindow> Windows);

/// <summary>
/// ARINC653 time partitioning for vCPU threads. Each vCPU thread, before entering the guest, waits
/// until its next window opens, moves itself to the window's CPU at SCHED_FIFO so the wake-up preempts
/// time-sharing work, and arms its timer to send the vCPU kick signal at the window's end, so KVM_RUN
/// returns and the thread comes back here. Outside its windows a vCPU does not run at all; time no
/// window covers stays idle. A new table takes effect at each vCPU's next wait.
/// <para>
/// One per-thread POSIX timer (CLOCK_MONOTONIC, absolute expiry, SIGEV_THREAD_ID) and one signal do all
/// of it. The kick signal is blocked in gated threads, so it is never lost: a window-end expiry that
/// lands just before KVM_RUN stays pending and makes KVM_RUN return at once (the vCPU's
/// KVM_SET_SIGNAL_MASK unblocks it only inside KVM_RUN); the wait for a window start is sigtimedwait on
/// that signal, so a kick from another thread (pause, stop), even one sent before the wait began, ends
/// the wait too, told apart by its si_code. Expiries are checked against the clock, never trusted:
/// a stale one from an earlier arming costs a spurious wake-up or exit, not a wrong window.
/// </para>
/// </summary>
public sealed class Arinc653Gate : IVcpuGate
{
    private readonly bool _kickAtWindowEnd;
    private readonly int _fifoPriority;
    private readonly long _kickLeadNs;
    private readonly long _wakeLeadNs;
    private GateTable _table;

    [ThreadStatic] private static ThreadState? t_state;

    private sealed class ThreadState
    {
        public nint Timer; // valid once Initialised: glibc hands out timer 0 as (timer_t)0
        public bool Initialised;
        public long ArmedAt; // the absolute expiry the timer is armed for, 0 when none is due
        public int Cpu = -1;
        public bool Fifo;
        public long WindowEnd; // end of the window this thread last opened, 0 once it is accounted
        public long OpenedAt; // CLOCK_MONOTONIC when the thread entered that window
        public long CpuAtOpen; // the thread's CPU time then
        public long CpuAtClose; // the thread's CPU time when it last closed a window, 0 before the first
        public long KickAt; // when that window's kick is due
        public bool KickSeen; // KVM_RUN has returned after that kick
    }

    /// <param name="kickAtWindowEnd">Send the vCPU kick signal at each window's end so KVM_RUN returns
    /// (false: the thread watches the returned window end itself, as the benchmark's host threads do).</param>
    /// <param name="fifoPriority">SCHED_FIFO priority for gated threads; 0 leaves their policy alone.</param>
    /// <param name="kickLeadNs">Send the window-end kick this much before the window's end, so the thread
    /// is out of the guest and asleep again by then (<see cref="DefaultKickLeadNs"/>).</param>
    /// <param name="wakeLeadNs">Arm the wake-up this much before the window's start and spin the rest, so
    /// a late timer interrupt does not make the window late (<see cref="DefaultWakeLeadNs"/>).</param>
    public Arinc653Gate(GateTable table, bool kickAtWindowEnd, int fifoPriority = 50,
        long kickLeadNs = DefaultKickLeadNs, long wakeLeadNs = DefaultWakeLeadNs)
    {
        Validate(table);
        _table = table;
        _kickAtWindowEnd = kickAtWindowEnd;
        _fifoPriority = fifoPriority;
        _kickLeadNs = Math.Max(0, kickLeadNs);
        _wakeLeadNs = Math.Max(0, wakeLeadNs);
    }

    /// <summary>
    /// Measured on the development host (nested software KVM, docs/performance.md): a timer interrupt
    /// comes ~20 µs after its expiry, KVM_RUN returns ~10 µs after the signal, and the thread needs
    /// ~25 µs more to be asleep at the gate; kicked at the end itself, a vCPU overran by ~60 µs.
    /// </summary>
    public const long DefaultKickLeadNs = 50_000;

    /// <summary>About the timer interrupt's lateness on the same host, so the wake-up rarely needs a spin of more than a few µs.</summary>
    public const long DefaultWakeLeadNs = 30_000;

    public GateTable Table => Volatile.Read(ref _table);

    /// <summary>Window-start lateness, kick latency and overrun of every window this gate opened.</summary>
    public GateStats Stats { get; } = new();

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

    public bool WaitForWindow(int vcpu, out long windowEndNs)
    {
        windowEndNs = 0;
        var state = ThisThread();
        // Take what is pending: expiries are stale by now (the clock decides below), a kick from another
        // thread means the runner has a request to look at first.
        if (TakePending()) return false;
        var table = Table;
        var now = Sched.Now();
        var lead = _kickAtWindowEnd ? _kickLeadNs : 0;
        var (start, end, cpu) = NextWindow(table, vcpu, now, lead);
        if (cpu < 0)
        {
            // No window at all: sleep a major frame and look again (the table may have changed).
            CloseWindow(state);
            SleepUntil(state, now + table.MajorFrameNs);
            return false;
        }
        if (!state.Fifo && _fifoPriority > 0)
        {
            state.Fifo = HostThread.SetFifo(0, _fifoPriority) == 0;
        }
        if (cpu != state.Cpu && HostThread.SetAffinity(0, [cpu]) == 0) state.Cpu = cpu;
        if (end != state.WindowEnd) CloseWindow(state);
        if (start > now)
        {
            if (start - _wakeLeadNs > now && !SleepUntil(state, start - _wakeLeadNs)) return false;
            while (Sched.Now() < start) Thread.SpinWait(20); // the last few µs, on the window's CPU
            var woke = Sched.Now();
            Stats.WindowStarted(woke - start);
            if (woke >= KickAt(start, end, lead))
            {
                // Woken after the whole window had passed (an overloaded host): skip it rather than overrun.
                Stats.WindowSkipped();
                return false;
            }
        }
        if (end != state.WindowEnd) OpenWindow(state, end, KickAt(start, end, lead));
        if (_kickAtWindowEnd && state.ArmedAt != state.KickAt) Arm(state, state.KickAt);
        windowEndNs = end;
        return true;
    }

    private static ThreadState ThisThread()
    {
        var state = t_state ??= new ThreadState();
        if (state.Initialised) return state;
        Libc.BlockKickSignal(); // a vCPU thread has it blocked already; the benchmark's host threads do not
        _ = Sched.SetTimerSlack(1); // SCHED_FIFO sleeps get no slack anyway; this covers the others
        state.Timer = Sched.CreateThreadTimer(Sched.GetTid(), Libc.VcpuKickSignal);
        state.Initialised = true;
        return state;
    }

    private static void Arm(ThreadState state, long atNs)
    {
        Sched.ArmTimer(state.Timer, atNs);
        state.ArmedAt = atNs;
    }

    /// <summary>Takes every pending kick signal; true if one came from another thread (a kick, not an expiry).</summary>
    private static bool TakePending()
    {
        var kicked = false;
        while (Libc.TakeKickSignal(TimeSpan.Zero, out var code))
            if (code != Libc.SI_TIMER) kicked = true;
        return kicked;
    }

    /// <summary>Sleeps until CLOCK_MONOTONIC reaches <paramref name="deadlineNs"/>: true, or false when a
    /// kick from another thread came first.</summary>
    private static bool SleepUntil(ThreadState state, long deadlineNs)
    {
        Arm(state, deadlineNs);
        while (true)
        {
            if (!Libc.TakeKickSignal(null, out var code) || code != Libc.SI_TIMER) return false;
            if (Sched.Now() >= deadlineNs)
            {
                state.ArmedAt = 0;
                return true;
            }
        }
    }

    /// <summary>KVM_RUN returned: the first return after the window's kick was due measures the kick latency.</summary>
    public void LeftGuest(int vcpu)
    {
        if (t_state is not { WindowEnd: > 0, KickSeen: false } state) return;
        var now = Sched.Now();
        if (now < state.KickAt) return;
        state.KickSeen = true;
        Stats.Kicked(now - state.KickAt);
    }

    private void OpenWindow(ThreadState state, long end, long kickAt)
    {
        state.WindowEnd = end;
        state.KickAt = kickAt;
        state.OpenedAt = Sched.Now();
        state.CpuAtOpen = Sched.Now(Sched.CLOCK_THREAD_CPUTIME_ID);
        state.KickSeen = false;
        // Between windows the thread only waits, wakes (and spins the wake lead): what that cost is CPU time outside any window.
        if (state.CpuAtClose > 0) Stats.BetweenWindows(state.CpuAtOpen - state.CpuAtClose);
    }

    /// <summary>Accounts the window the thread last ran in: the CPU time it used from entering the window
    /// until now (about to sleep or enter its next window), beyond the window time it had.</summary>
    private void CloseWindow(ThreadState state)
    {
        if (state.WindowEnd == 0) return;
        var had = Math.Max(0, state.WindowEnd - state.OpenedAt);
        state.CpuAtClose = Sched.Now(Sched.CLOCK_THREAD_CPUTIME_ID);
        var used = state.CpuAtClose - state.CpuAtOpen;
        Stats.WindowEnded(had, Math.Max(0, used - had));
        state.WindowEnd = 0;
    }

    /// <summary>When the kick for a window [start, end) goes out: <paramref name="leadNs"/> before its end,
    /// but never more than a quarter of the window early.</summary>
    public static long KickAt(long start, long end, long leadNs) => end - Math.Min(leadNs, (end - start) / 4);

    /// <summary>The window of <paramref name="vcpu"/> that is open at <paramref name="now"/>, else the next one; cpu -1 if it has none.
    /// With a kick lead a window counts as over once its kick is due (<see cref="KickAt"/>).</summary>
    public static (long Start, long End, int Cpu) NextWindow(GateTable table, int vcpu, long now, long leadNs = 0)
    {
        var frame = now < table.EpochNs ? 0 : (now - table.EpochNs) / table.MajorFrameNs;
        for (var k = frame; k <= frame + 1; k++)
        {
            var frameStart = table.EpochNs + k * table.MajorFrameNs;
            (long, long, int)? best = null;
            for (var i = 0; i < table.Windows.Count; i++) // no enumerator: this runs on every return from the guest
            {
                var w = table.Windows[i];
                if (w.Vcpu != vcpu) continue;
                var s = frameStart + w.OffsetNs;
                var e = s + w.LengthNs;
                if (KickAt(s, e, leadNs) <= now) continue;
                if (best is null || s < best.Value.Item1) best = (s, e, w.Cpu);
            }
            if (best is { } b) return b;
        }
        return (0, 0, -1);
    }
}
