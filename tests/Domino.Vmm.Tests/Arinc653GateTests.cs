using Domino.Vmm.Scheduling;
using Domino.Vmm.Vcpu;
using static Domino.Vmm.Interop.Interop;

namespace Domino.Vmm.Tests;

/// <summary>The ARINC653 gate's waits, kicks and figures, on host threads (no KVM needed).</summary>
public class Arinc653GateTests
{
    /// <summary>A table whose only window opens 5 s from now: a wait for it ends early only by a kick.</summary>
    private static GateTable FarWindow() =>
        new(10_000_000_000, Sched.Now(), [new GateWindow(0, Math.Max(0, Environment.ProcessorCount - 1), 5_000_000_000, 1_000_000_000)]);

    /// <summary>Runs <paramref name="body"/> on a fresh thread (gates block the kick signal in the threads they serve).</summary>
    private static T OnThread<T>(Func<T> body)
    {
        T result = default!;
        Exception? error = null;
        var thread = new Thread(() =>
        {
            try { result = body(); }
            catch (Exception e) { error = e; }
        });
        thread.Start();
        Assert.True(thread.Join(TimeSpan.FromSeconds(30)), "the gate thread did not come back");
        if (error is not null) throw error;
        return result;
    }

    /// <summary>Waits once for <see cref="FarWindow"/> on a fresh thread after <paramref name="kick"/> (given
    /// that thread) has arranged a kick; returns whether the window opened and how long the wait took.</summary>
    private static (bool Opened, double Seconds) WaitForFarWindow(Func<nuint, IDisposable?> kick)
    {
        var gate = new Arinc653Gate(FarWindow(), kickAtWindowEnd: true, fifoPriority: 0);
        return OnThread(() =>
        {
            using var kicker = kick(Libc.PthreadSelf());
            var t0 = Sched.Now();
            var opened = gate.WaitForWindow(0, out _);
            return (opened, (Sched.Now() - t0) / 1e9);
        });
    }

    [Fact]
    public void A_kick_while_waiting_ends_the_wait()
    {
        var (opened, seconds) = WaitForFarWindow(self => new Timer(_ => Libc.PthreadKill(self, Libc.VcpuKickSignal), null, 100, Timeout.Infinite));
        Assert.False(opened);
        Assert.True(seconds < 4, $"the wait lasted {seconds:0.0} s: the kick did not end it");
    }

    /// <summary>The race a do-nothing handler loses: a kick that lands before the wait begins must still end it.</summary>
    [Fact]
    public void A_kick_sent_before_the_wait_still_ends_it()
    {
        var (opened, seconds) = WaitForFarWindow(self =>
        {
            Libc.BlockKickSignal(); // as a vCPU thread has it from KvmVcpu.BindToCurrentThread
            Libc.PthreadKill(self, Libc.VcpuKickSignal);
            return null;
        });
        Assert.False(opened);
        Assert.True(seconds < 4, $"the wait lasted {seconds:0.0} s: the early kick was lost");
    }

    [Fact]
    public void A_window_opens_at_its_start_and_is_accounted_when_its_thread_comes_back()
    {
        // Wide windows: a time-sharing thread on a loaded host may wake late, and a window it wakes after is skipped.
        Arinc653Gate? gate = null;
        var (opened, start, woke, end) = OnThread(() =>
        {
            var start = Sched.Now() + 20_000_000;
            gate = new Arinc653Gate(new GateTable(200_000_000, start, [new GateWindow(0, 0, 0, 100_000_000)]), kickAtWindowEnd: false, fifoPriority: 0);
            var ok = gate.WaitForWindow(0, out var windowEnd);
            var at = Sched.Now();
            while (Sched.Now() < windowEnd) { } // run through the window, as the benchmark's threads do
            gate.WaitForWindow(0, out _); // accounts the first window, then waits for the next frame's
            return (ok, start, at, windowEnd);
        });
        Assert.True(opened, "the first window was skipped");
        Assert.True(woke >= start, "the window opened before its start");
        Assert.Equal(start + 100_000_000, end);
        var report = gate!.Stats.Take();
        Assert.Equal(1, report.Windows);
        Assert.NotEmpty(report.StartLateness);
        Assert.All(report.StartLateness, late => Assert.True(late >= 0));
        Assert.Single(report.Overrun);
        Assert.Empty(report.KickLatency); // host threads are not in KVM_RUN: nothing to kick
    }

    [Fact]
    public void With_a_kick_lead_a_window_is_over_once_its_kick_is_due()
    {
        var table = new GateTable(10_000_000, 0, [new GateWindow(0, 1, 0, 1_000_000), new GateWindow(0, 1, 5_000_000, 100_000)]);
        Assert.Equal(950_000, Arinc653Gate.KickAt(0, 1_000_000, 50_000));
        Assert.Equal(5_075_000, Arinc653Gate.KickAt(5_000_000, 5_100_000, 50_000)); // a short window: at most a quarter early
        Assert.Equal((0L, 1_000_000L, 1), Arinc653Gate.NextWindow(table, 0, 940_000, 50_000));
        Assert.Equal((5_000_000L, 5_100_000L, 1), Arinc653Gate.NextWindow(table, 0, 950_000, 50_000));
        Assert.Equal((0L, 1_000_000L, 1), Arinc653Gate.NextWindow(table, 0, 950_000)); // no lead: still open
        Assert.Equal((10_000_000L, 11_000_000L, 1), Arinc653Gate.NextWindow(table, 0, 5_080_000, 50_000)); // the next frame's
        Assert.Equal(-1, Arinc653Gate.NextWindow(table, 1, 0).Cpu);
    }

    [Fact]
    public void Stats_summarise_nearest_rank_percentiles_and_start_afresh()
    {
        var stats = new GateStats();
        for (var i = 1; i <= 100; i++) stats.WindowStarted(i * 1000);
        stats.WindowEnded(1_000_000, 10_000);
        stats.WindowEnded(1_000_000, 30_000);
        stats.Kicked(5_000);
        stats.WindowSkipped();
        stats.BetweenWindows(5_000);
        var r = stats.Take();
        Assert.Equal(2, r.Windows);
        Assert.Equal(1, r.Skipped);
        Assert.Equal(0.02, r.OverrunShare, 6);
        Assert.Equal(0.0025, r.BetweenShare, 6);
        Assert.Equal(50_000, GateStats.Percentile(r.StartLateness, 0.5));
        Assert.Equal(99_000, GateStats.Percentile(r.StartLateness, 0.99));
        Assert.Equal("p50 50.0 / p99 99.0 / max 100.0 µs", GateStats.Summary(r.StartLateness));
        Assert.Contains("2 windows", r.ToString());
        Assert.Contains("in all 2.00 % of window time", r.ToString());
        var empty = stats.Take();
        Assert.Equal(0, empty.Windows);
        Assert.Empty(empty.StartLateness);
        Assert.Equal("none", GateStats.Summary(empty.KickLatency));
    }
}

/// <summary>Kicks and windows on a real vCPU running the compute guest (a ring-3 loop that never exits on its own).</summary>
[Collection(KvmGuestsCollection.Name)]
public class Arinc653GateKvmTests
{
    /// <summary>Boots the compute guest and returns once it has entered its endless loop.</summary>
    private static VirtualMachine ComputeGuest()
    {
        KvmGate.RequireKvm();
        var kernel = GuestKit.Guest("compute");
        var output = new ConsoleCapture();
        var vm = VirtualMachine.Build(new VmConfig { KernelPath = kernel, CommandLine = "iters=1000000000000", MemoryMiB = 16, ConsoleOutput = output });
        vm.Start();
        Assert.True(output.WaitFor("compute: iters=", TimeSpan.FromSeconds(20)), $"the compute guest did not start: {output.Text}");
        Thread.Sleep(200); // past the last console write: from here on KVM_RUN returns only when kicked
        return vm;
    }

    /// <summary>A gate that lets the vCPU in once with the kick signal already sent to its thread (as a
    /// window-end expiry landing between the gate and KVM_RUN would be), then keeps it out.</summary>
    private sealed class KickedBeforeRunGate : IVcpuGate
    {
        public readonly ManualResetEventSlim Returned = new();
        private bool _entered;

        public bool WaitForWindow(int vcpu, out long windowEndNs)
        {
            windowEndNs = long.MaxValue;
            if (_entered)
            {
                Thread.Sleep(1);
                return false;
            }
            _entered = true;
            Libc.PthreadKill(Libc.PthreadSelf(), Libc.VcpuKickSignal); // no immediate_exit: only the signal
            return true;
        }

        public void LeftGuest(int vcpu) => Returned.Set();
    }

    [SkippableFact]
    public void A_kick_signal_sent_just_before_KVM_RUN_still_makes_it_return()
    {
        using var vm = ComputeGuest();
        var gate = new KickedBeforeRunGate();
        vm.SetGate(gate);
        Assert.True(gate.Returned.Wait(TimeSpan.FromSeconds(10)),
            "KVM_RUN did not return: a kick signal that arrived before KVM_RUN was entered was lost");
    }

    [SkippableFact]
    public void Every_window_of_a_compute_guest_ends_with_a_kick()
    {
        using var vm = ComputeGuest();
        var cpu = Math.Max(0, Environment.ProcessorCount - 1);
        // 2 ms in every 10 ms; without the window-end kick the vCPU would stay in its first window for good.
        var gate = new Arinc653Gate(new GateTable(10_000_000, Interop.Interop.Sched.Now(), [new GateWindow(0, cpu, 0, 2_000_000)]), kickAtWindowEnd: true);
        gate.Stats.Take();
        vm.SetGate(gate);
        Thread.Sleep(1000);
        var r = gate.Stats.Take(); // the gate stays until the VM is disposed: a gated thread runs at SCHED_FIFO
        Assert.True(r.Windows >= 10, $"only {r.Windows} of about 100 windows ran in 1 s: {r}");
        Assert.True(r.KickLatency.Length >= r.Windows - 1, $"windows ended without KVM_RUN returning: {r}");
    }
}
