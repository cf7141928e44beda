using Domino.Vmm.Persist;

namespace Domino.Vmm.Tests.Persist;

/// <summary>Remus checkpointing to an in-process backup, and failover when the primary dies.</summary>
public sealed class RemusTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);

    [SkippableFact]
    public void Backup_resumes_from_last_checkpoint_and_console_is_never_repeated()
    {
        KvmGate.RequireKvm();
        using var net = new Loopback();
        var primaryScreen = new ConsoleCapture();
        var buffered = new EpochConsoleBuffer(primaryScreen);
        var backupScreen = new ConsoleCapture();
        var commits = 0L;
        var backup = Task.Run(() =>
        {
            var channel = new MigrationChannel(net.Target);
            var hello = LiveMigration.ReceiveHello(channel);
            net.Target.ReadTimeout = 1000; // heartbeat timeout, once the primary has introduced itself
            return RemusBackup.Run(channel, hello, new RestoreOptions { ConsoleOutput = backupScreen }, n => Interlocked.Exchange(ref commits, n));
        });
        // The VM writes its console through the epoch buffer.
        var vm = VirtualMachine.Build(new VmConfig { KernelPath = GuestKit.Guest("counter"), CommandLine = $"every={CounterGuest.Every}", MemoryMiB = 128, ConsoleOutput = buffered });
        vm.Start();
        using var cancel = new CancellationTokenSource();
        var primary = new RemusPrimary(vm, "counter", net.Source, buffered, TimeSpan.FromMilliseconds(100));
        var protect = Task.Run(() => primary.Run(cancel.Token));
        Assert.True(SpinWait.SpinUntil(() => Interlocked.Read(ref commits) >= 3 || protect.IsCompleted, Wait) && !protect.IsCompleted,
            $"{commits} checkpoints committed; protection: {protect.Exception?.InnerException?.ToString() ?? protect.Status.ToString()}; backup: {backup.Exception?.InnerException?.Message ?? backup.Status.ToString()}");
        CounterGuest.WaitForValues(primaryScreen, 3, Wait);
        // The primary dies: its VM is gone and its connection drops without a goodbye.
        vm.Dispose();
        net.KillSource();
        Assert.ThrowsAny<Exception>(() => protect.Wait(Wait));
        using var survivor = backup.Result;
        Assert.NotNull(survivor);
        CounterGuest.WaitForValues(backupScreen, 2, Wait);
        // What the screen shows, primary then backup, counts on without a gap or a repeat.
        CounterGuest.AssertContinues(CounterGuest.Values(primaryScreen.Text + backupScreen.Text), CounterGuest.Every);
        Assert.True(primary.Stats.Checkpoints >= 2);
    }

    [SkippableFact]
    public void Standing_down_the_backup_does_not_fail_over()
    {
        KvmGate.RequireKvm();
        using var net = new Loopback();
        var backup = Task.Run(() =>
        {
            var channel = new MigrationChannel(net.Target);
            var hello = LiveMigration.ReceiveHello(channel);
            net.Target.ReadTimeout = 2000;
            return RemusBackup.Run(channel, hello, new RestoreOptions());
        });
        var screen = new ConsoleCapture();
        using var vm = CounterGuest.Boot("counter", $"every={CounterGuest.Every}", screen);
        vm.Start();
        using var cancel = new CancellationTokenSource();
        var primary = new RemusPrimary(vm, "counter", net.Source, null, TimeSpan.FromMilliseconds(50));
        var protect = Task.Run(() => primary.Run(cancel.Token));
        SpinWait.SpinUntil(() => primary.Stats.Checkpoints >= 3, Wait);
        cancel.Cancel();
        protect.Wait(Wait);
        Assert.Null(backup.Result);
        Assert.Equal(VmState.Running, vm.State);
    }
}
