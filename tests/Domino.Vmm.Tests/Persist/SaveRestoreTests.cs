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
    public void Counter_restored_into_a_prepared_shell_continues_and_the_shell_serves_once()
    {
        KvmGate.RequireKvm();
        var path = Path.Combine(_dir, "shell.state");
        var before = new ConsoleCapture();
        using (var vm = CounterGuest.Boot("counter", $"every={CounterGuest.Every}", before))
        {
            vm.Start();
            CounterGuest.WaitForValues(before, 2, TimeSpan.FromSeconds(20));
            vm.Pause();
            vm.SaveToFile(path);
        }
        const int mib = 128, vcpus = 1; // CounterGuest.Boot's defaults

        // A shell the saved VM does not fit is left alone: the restore makes its own KVM objects.
        using var wrong = VmShell.Create(mib * 2, vcpus);
        using (var fallback = VirtualMachine.RestoreFromFile(path, new RestoreOptions { Shell = wrong }, out var fromScratch))
        {
            Assert.True(wrong.IsAvailable);
            Assert.False(fromScratch.InShell);
            Assert.False(fallback.InShell);
            Assert.Contains(fromScratch.Phases, p => p.Step == "KVM_CREATE_VM");
        }

        using var shell = VmShell.Create(mib, vcpus);
        var after = new ConsoleCapture();
        using (var restored = VirtualMachine.RestoreFromFile(path, new RestoreOptions { ConsoleOutput = after, Shell = shell }, out var report))
        {
            Assert.False(shell.IsAvailable);
            Assert.True(report.InShell);
            Assert.Contains(report.Phases, p => p.Step == "take VM shell");
            Assert.DoesNotContain(report.Phases, p => p.Step == "KVM_CREATE_VM");
            restored.Start();
            CounterGuest.WaitForValues(after, 2, TimeSpan.FromSeconds(20));
            restored.Pause();
        }
        CounterGuest.AssertContinues(CounterGuest.Values(before.Text + after.Text), CounterGuest.Every);
        Assert.Throws<InvalidOperationException>(() => VirtualMachine.RestoreFromFile(path, new RestoreOptions { Shell = shell }, out _));
    }

    [Fact]
    public void Saved_config_reads_what_earlier_versions_wrote_and_round_trips()
    {
        // As System.Text.Json with camelCase wrote it before the config was written by hand.
        var old = """{"kernelPath":"/k.elf","commandLine":"every=5","memoryMiB":128,"vcpus":2,"disks":[{"path":"/d.img","readOnly":true}],"virtioConsole":true}"""u8;
        var c = SavedVmConfig.FromJson(old);
        Assert.Equal(("/k.elf", "every=5", 128, 2, true), (c.KernelPath, c.CommandLine, c.MemoryMiB, c.Vcpus, c.VirtioConsole));
        Assert.Equal(new DiskConfig("/d.img", true), Assert.Single(c.Disks));
        var again = SavedVmConfig.FromJson(c.ToJson());
        Assert.Equal(c with { Disks = [] }, again with { Disks = [] });
        Assert.Equal(c.Disks, again.Disks);
        Assert.Equal(128, SavedVmConfig.FromJson("""{"future":[1,{"x":2}],"kernelPath":"k","memoryMiB":128,"vcpus":1}"""u8).MemoryMiB);
        Assert.Contains("required", Assert.Throws<SnapshotException>(() => SavedVmConfig.FromJson("""{"kernelPath":"k"}"""u8)).Message);
        Assert.Contains("not valid JSON", Assert.Throws<SnapshotException>(() => SavedVmConfig.FromJson("""{"kernelPath":"""u8)).Message);
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

/// <summary>
/// Guests that finish on their own (smp, blk): saved while paused at some point of their run and
/// restored, they must still finish with PASS — vCPUs in every MP state (APs waiting for SIPI or
/// running) and a virtio-blk transport in whatever negotiation state it had.
/// </summary>
public sealed class FinishingGuestSaveRestoreTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("domino-persist-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private void SaveRestoreAndFinish(VmConfig config, TimeSpan runBeforeSave, string pass)
    {
        var path = Path.Combine(_dir, "guest.state");
        var before = new ConsoleCapture();
        using (var vm = VirtualMachine.Build(new VmConfig
        {
            KernelPath = config.KernelPath, CommandLine = config.CommandLine, Vcpus = config.Vcpus, Disks = config.Disks, ConsoleOutput = before, MemoryMiB = 64,
        }))
        {
            if (runBeforeSave > TimeSpan.Zero)
            {
                vm.Start();
                Thread.Sleep(runBeforeSave);
                if (vm.Exited.IsCompleted) return; // finished before the save: nothing to test this run
                vm.Pause();
            }
            vm.SaveToFile(path);
        }
        var after = new ConsoleCapture();
        using var restored = VirtualMachine.RestoreFromFile(path, new RestoreOptions { ConsoleOutput = after }, out _);
        restored.Start();
        Assert.Equal(VmExitReason.Poweroff, restored.WaitForExit(TimeSpan.FromSeconds(60)).Reason);
        Assert.EndsWith(pass, before.Text + after.Text);
    }

    [SkippableTheory]
    [InlineData(0)]
    [InlineData(30)]
    public void Smp_with_four_vcpus_finishes_after_restore(int msBeforeSave)
    {
        KvmGate.RequireKvm();
        SaveRestoreAndFinish(new VmConfig { KernelPath = GuestKit.Guest("smp"), Vcpus = 4 }, TimeSpan.FromMilliseconds(msBeforeSave), "smp: PASS\n");
    }

    [SkippableTheory]
    [InlineData(0)]
    [InlineData(20)]
    public void Blk_finishes_after_restore(int msBeforeSave)
    {
        KvmGate.RequireKvm();
        var image = new byte[1 << 20];
        "DOMINO-SECTOR-0!"u8.CopyTo(image);
        var disk = Path.Combine(_dir, "blk.img");
        File.WriteAllBytes(disk, image);
        SaveRestoreAndFinish(new VmConfig { KernelPath = GuestKit.Guest("blk"), Disks = [new DiskConfig(disk, false)] }, TimeSpan.FromMilliseconds(msBeforeSave), "blk: PASS\n");
        Assert.Equal("DOMINO-BLK-WRITE"u8.ToArray(), File.ReadAllBytes(disk).AsSpan(512, 16).ToArray());
    }
}
