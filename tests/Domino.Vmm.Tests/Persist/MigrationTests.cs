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

    private static void StillCounting(VirtualMachine vm, ConsoleCapture console)
    {
        Assert.Equal(VmState.Running, vm.State);
        var seen = CounterGuest.Values(console.Text).Count;
        CounterGuest.WaitForValues(console, seen + 2, Wait);
        CounterGuest.AssertContinues(CounterGuest.Values(console.Text), CounterGuest.Every);
    }
}
