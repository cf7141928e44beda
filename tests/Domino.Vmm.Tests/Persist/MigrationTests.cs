using Domino.Vmm.Persist;

namespace Domino.Vmm.Tests.Persist;

/// <summary>Live migration between two VMs in this process over loopback TCP, and its failure paths.</summary>
public sealed class MigrationTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);

    private static (Task<VirtualMachine> Target, ConsoleCapture Console) StartTarget(Stream stream, Func<IncomingDomain, string?>? admit = null)
    {
        var console = new ConsoleCapture();
        var task = Task.Run(() =>
        {
            var channel = new MigrationChannel(stream);
            var hello = LiveMigration.ReceiveHello(channel, admit);
            return LiveMigration.ReceiveMigration(channel, hello, new RestoreOptions { ConsoleOutput = console });
        });
        return (task, console);
    }

    [SkippableFact]
    public void Counter_migrates_and_continues_on_the_target()
    {
        KvmGate.RequireKvm();
        using var net = new Loopback();
        var source = new ConsoleCapture();
        using var vm = CounterGuest.Boot("counter", $"every={CounterGuest.Every}", source);
        vm.Start();
        CounterGuest.WaitForValues(source, 2, Wait);
        var (target, targetConsole) = StartTarget(net.Target);
        var report = LiveMigration.Send(vm, "counter", net.Source);
        vm.Stop();
        using var moved = target.Result;
        CounterGuest.WaitForValues(targetConsole, 2, Wait);
        var values = CounterGuest.Values(source.Text + targetConsole.Text);
        CounterGuest.AssertContinues(values, CounterGuest.Every);
        Assert.True(report.Downtime < TimeSpan.FromSeconds(2), report.ToString());
        // The downtime is accounted for step by step, in order, and the steps add up to it.
        Assert.Equal(["pause and last pages", "device and vCPU state", "target loads state", "handover recorded", "target starts guest"],
            report.DowntimeSteps.Select(s => s.Step));
        var sum = report.DowntimeSteps.Aggregate(TimeSpan.Zero, (t, s) => t + s.Elapsed);
        Assert.InRange(sum.TotalMilliseconds, report.Downtime.TotalMilliseconds * 0.9, report.Downtime.TotalMilliseconds + 0.001);
    }

    [SkippableFact]
    public void Busy_guest_migrates_with_memory_intact()
    {
        KvmGate.RequireKvm();
        using var net = new Loopback();
        var source = new ConsoleCapture();
        using var vm = CounterGuest.Boot("dirty", "mib=32 every=5", source, memoryMiB: 96);
        vm.Start();
        CounterGuest.WaitForValues(source, 2, Wait);
        var (target, targetConsole) = StartTarget(net.Target);
        var report = LiveMigration.Send(vm, "dirty", net.Source, new MigrationOptions { MaxRounds = 8 });
        vm.Stop();
        using var moved = target.Result;
        var seen = CounterGuest.Values(targetConsole.Text).Count;
        CounterGuest.WaitForValues(targetConsole, seen + 3, Wait);
        Assert.DoesNotContain("MISMATCH", targetConsole.Text);
        CounterGuest.AssertContinues(CounterGuest.Values(source.Text + targetConsole.Text), 5);
        Assert.True(report.Rounds >= 2, report.ToString());
    }

    [SkippableFact]
    public void Refused_by_target_leaves_source_running()
    {
        KvmGate.RequireKvm();
        using var net = new Loopback();
        var source = new ConsoleCapture();
        using var vm = CounterGuest.Boot("counter", $"every={CounterGuest.Every}", source);
        vm.Start();
        var (target, _) = StartTarget(net.Target, _ => "a domain named 'counter' already exists");
        var e = Assert.Throws<MigrationException>(() => LiveMigration.Send(vm, "counter", net.Source));
        Assert.Contains("already exists", e.Message);
        Assert.Throws<AggregateException>(() => target.Wait(Wait));
        StillCounting(vm, source);
    }

    [SkippableFact]
    public void Target_dying_mid_stream_leaves_source_running()
    {
        KvmGate.RequireKvm();
        using var net = new Loopback();
        var source = new ConsoleCapture();
        using var vm = CounterGuest.Boot("counter", $"every={CounterGuest.Every}", source);
        vm.Start();
        var (target, _) = StartTarget(new CutAfter(net.Target, 40_000, net.KillTarget));
        Assert.Throws<MigrationException>(() => LiveMigration.Send(vm, "counter", net.Source));
        Assert.Throws<AggregateException>(() => target.Wait(Wait));
        StillCounting(vm, source);
    }

    [SkippableFact]
    public void Source_failing_mid_stream_leaves_target_clean_and_source_running()
    {
        KvmGate.RequireKvm();
        using var net = new Loopback();
        var source = new ConsoleCapture();
        using var vm = CounterGuest.Boot("counter", $"every={CounterGuest.Every}", source);
        vm.Start();
        var (target, _) = StartTarget(net.Target);
        var options = new MigrationOptions { BeforeRound = r => { if (r == 1) throw new IOException("test: connection dropped"); } };
        var e = Assert.Throws<MigrationException>(() => LiveMigration.Send(vm, "counter", net.Source, options));
        Assert.Contains("keeps running", e.Message);
        var error = Assert.Throws<AggregateException>(() => target.Wait(Wait));
        Assert.Contains("aborted by the source", error.InnerException!.Message);
        StillCounting(vm, source);
    }

    // ---- the handover: never two running copies ---------------------------------------------------

    /// <summary>Migrates a counting guest through a proxy that cuts the link where <paramref name="decide"/> says.</summary>
    private static (Exception? SourceError, VirtualMachine Source, ConsoleCapture SourceConsole, Task<VirtualMachine> Target, ConsoleCapture TargetConsole) MigrateThrough(
        RecordProxy proxy, Action? beforeGo = null)
    {
        var source = new ConsoleCapture();
        var vm = CounterGuest.Boot("counter", $"every={CounterGuest.Every}", source);
        vm.Start();
        CounterGuest.WaitForValues(source, 1, Wait);
        var (target, targetConsole) = StartTarget(proxy.Target);
        Exception? error = null;
        try
        {
            LiveMigration.Send(vm, "counter", proxy.Source, new MigrationOptions { BeforeGo = beforeGo });
        }
        catch (MigrationException e)
        {
            error = e;
        }
        return (error, vm, source, target, targetConsole);
    }

    private static void AssertTargetCleanedUp(Task<VirtualMachine> target)
    {
        var e = Assert.Throws<AggregateException>(() => target.Wait(Wait));
        Assert.IsAssignableFrom<MigrationException>(e.InnerException);
    }

    [SkippableFact]
    public void Link_lost_before_the_target_is_ready_resumes_the_source_and_the_target_discards()
    {
        KvmGate.RequireKvm();
        using var proxy = new RecordProxy((fromSource, type) => !fromSource && type == StreamRecord.Ack ? RecordProxy.Action.DropAndCut : RecordProxy.Action.Forward);
        var (error, vm, console, target, _) = MigrateThrough(proxy);
        using (vm)
        {
            Assert.IsNotType<MigrationOutcomeUnknownException>(error);
            Assert.Contains("keeps running", error!.Message);
            AssertTargetCleanedUp(target);
            StillCounting(vm, console);
        }
    }

    [SkippableFact]
    public void Handover_failing_after_ready_before_go_resumes_the_source_and_the_target_discards()
    {
        KvmGate.RequireKvm();
        using var proxy = new RecordProxy((_, _) => RecordProxy.Action.Forward);
        // The target holds the final state, paused; the source cannot record the handover and the link goes.
        var (error, vm, console, target, _) = MigrateThrough(proxy, beforeGo: () =>
        {
            proxy.Cut();
            throw new IOException("test: the handover could not be recorded");
        });
        using (vm)
        {
            Assert.IsNotType<MigrationOutcomeUnknownException>(error);
            AssertTargetCleanedUp(target);
            StillCounting(vm, console);
        }
    }

    [SkippableFact]
    public void Go_lost_on_the_way_leaves_the_source_paused_and_nothing_running()
    {
        KvmGate.RequireKvm();
        using var proxy = new RecordProxy((fromSource, type) => fromSource && type == StreamRecord.Go ? RecordProxy.Action.DropAndCut : RecordProxy.Action.Forward);
        var (error, vm, console, target, _) = MigrateThrough(proxy);
        using (vm)
        {
            // The source cannot tell a lost Go from a lost Started: it must not resume on its own.
            Assert.IsType<MigrationOutcomeUnknownException>(error);
            Assert.Equal(VmState.Paused, vm.State);
            AssertTargetCleanedUp(target); // it never got Go
            var seen = CounterGuest.Values(console.Text).Count;
            Thread.Sleep(300);
            Assert.Equal(VmState.Paused, vm.State);
            Assert.Equal(seen, CounterGuest.Values(console.Text).Count);
            // The user checks the target, finds nothing, and unpauses here.
            vm.Resume();
            StillCounting(vm, console);
        }
    }

    [SkippableFact]
    public void Link_lost_after_go_leaves_the_source_paused_and_the_target_running()
    {
        KvmGate.RequireKvm();
        using var proxy = new RecordProxy((fromSource, type) => !fromSource && type == StreamRecord.Started ? RecordProxy.Action.DropAndCut : RecordProxy.Action.Forward);
        var (error, vm, console, target, targetConsole) = MigrateThrough(proxy);
        using (vm)
        {
            Assert.IsType<MigrationOutcomeUnknownException>(error);
            Assert.Contains("stays paused here", error!.Message);
            using var moved = target.Result; // got Go: runs, though the source never heard
            Assert.Equal(VmState.Running, moved.State);
            Assert.Equal(VmState.Paused, vm.State);
            CounterGuest.WaitForValues(targetConsole, 1, Wait);
            CounterGuest.AssertContinues(CounterGuest.Values(console.Text + targetConsole.Text), CounterGuest.Every);
            Assert.Equal(VmState.Paused, vm.State); // never two running copies
        }
    }

    [SkippableFact]
    public void Target_failing_to_start_after_go_says_so_and_the_source_resumes()
    {
        KvmGate.RequireKvm();
        // The target answers Go with an Error record (it could not start and discarded the guest).
        using var proxy = new RecordProxy((_, _) => RecordProxy.Action.Forward);
        var source = new ConsoleCapture();
        using var vm = CounterGuest.Boot("counter", $"every={CounterGuest.Every}", source);
        vm.Start();
        CounterGuest.WaitForValues(source, 1, Wait);
        var target = Task.Run(() =>
        {
            var channel = new MigrationChannel(proxy.Target);
            LiveMigration.ReceiveHello(channel);
            channel.Send(StreamRecord.Ready, []);
            while (channel.Receive().Type != StreamRecord.State) { }
            channel.Send(StreamRecord.Ack, []);
            channel.Expect(StreamRecord.Go);
            channel.SendError("target failed: test: vCPU would not start");
        });
        var e = Assert.Throws<MigrationException>(() => LiveMigration.Send(vm, "counter", proxy.Source));
        Assert.IsNotType<MigrationOutcomeUnknownException>(e);
        Assert.Contains("could not start", e.Message);
        target.Wait(Wait);
        StillCounting(vm, source);
    }

    private static void StillCounting(VirtualMachine vm, ConsoleCapture console)
    {
        Assert.Equal(VmState.Running, vm.State);
        var seen = CounterGuest.Values(console.Text).Count;
        CounterGuest.WaitForValues(console, seen + 2, Wait);
        CounterGuest.AssertContinues(CounterGuest.Values(console.Text), CounterGuest.Every);
    }
}
