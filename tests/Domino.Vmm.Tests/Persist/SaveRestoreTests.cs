using Domino.Vmm.Persist;

namespace Domino.Vmm.Tests.Persist;

/// <summary>Save a running guest to a state file, restore it into a new VM, and check it carries on.</summary>
public sealed class SaveRestoreTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("domino-persist-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [SkippableTheory]
    [InlineData(true)]
    [InlineData(false)]
    public void Counter_continues_counting_after_restore(bool mapOnDemand)
    {
        KvmGate.RequireKvm();
        var path = Path.Combine(_dir, "counter.state");
        var before = new ConsoleCapture();
        PersistReport saved;
        using (var vm = CounterGuest.Boot("counter", $"every={CounterGuest.Every}", before))
        {
            vm.Start();
            CounterGuest.WaitForValues(before, 3, TimeSpan.FromSeconds(20));
            vm.Pause();
            saved = vm.SaveToFile(path);
        }
        Assert.True(saved.PagesSkipped > saved.PagesWritten * 10, $"zero pages should dominate: {saved}");
        var lastBefore = CounterGuest.Values(before.Text)[^1];

        var after = new ConsoleCapture();
        using (var restored = VirtualMachine.RestoreFromFile(path, new RestoreOptions { ConsoleOutput = after, MapMemoryOnDemand = mapOnDemand }, out _))
        {
            restored.Start();
            CounterGuest.WaitForValues(after, 2, TimeSpan.FromSeconds(20));
            restored.Pause();
        }
        // A line cut by the pause finishes on the restored VM's console.
        var values = CounterGuest.Values(before.Text + after.Text);
        var firstAfter = values[CounterGuest.Values(before.Text).Count];
        Assert.Equal(lastBefore + CounterGuest.Every, firstAfter);
        CounterGuest.AssertContinues(values, CounterGuest.Every);
    }

    [SkippableFact]
    public void Restored_guest_can_be_saved_again_to_the_same_path()
    {
        KvmGate.RequireKvm();
        var path = Path.Combine(_dir, "again.state");
        var console = new ConsoleCapture();
        using (var vm = CounterGuest.Boot("counter", $"every={CounterGuest.Every}", console))
        {
            vm.Start();
            CounterGuest.WaitForValues(console, 2, TimeSpan.FromSeconds(20));
            vm.Pause();
            vm.SaveToFile(path);
        }
        for (var round = 0; round < 2; round++)
        {
            using var vm = VirtualMachine.RestoreFromFile(path, new RestoreOptions { ConsoleOutput = console }, out _);
            var seen = CounterGuest.Values(console.Text).Count;
            vm.Start();
            CounterGuest.WaitForValues(console, seen + 2, TimeSpan.FromSeconds(20));
            vm.Pause();
            // The VM maps the old file privately; saving over it replaces the inode, not the pages under the guest.
            vm.SaveToFile(path);
        }
        CounterGuest.AssertContinues(CounterGuest.Values(console.Text), CounterGuest.Every);
    }

    [SkippableFact]
    public void Dirty_guest_memory_survives_save_and_restore()
    {
        KvmGate.RequireKvm();
        var path = Path.Combine(_dir, "dirty.state");
        var console = new ConsoleCapture();
        using (var vm = CounterGuest.Boot("dirty", "mib=16 every=20", console, memoryMiB: 64))
        {
            vm.Start();
            CounterGuest.WaitForValues(console, 2, TimeSpan.FromSeconds(20));
            vm.Pause();
            vm.SaveToFile(path);
        }
        var seen = CounterGuest.Values(console.Text).Count;
        using (var vm = VirtualMachine.RestoreFromFile(path, new RestoreOptions { ConsoleOutput = console }, out _))
        {
            vm.Start();
            CounterGuest.WaitForValues(console, seen + 2, TimeSpan.FromSeconds(20));
            vm.Pause();
        }
        Assert.DoesNotContain("MISMATCH", console.Text);
        CounterGuest.AssertContinues(CounterGuest.Values(console.Text), 20);
    }
}
