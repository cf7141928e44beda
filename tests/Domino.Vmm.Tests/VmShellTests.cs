using System.Text.RegularExpressions;
using Domino.Vmm.Memory;
using Domino.Vmm.Persist;
using Domino.Vmm.Tests.Persist;
using Domino.Vmm.Vcpu;

namespace Domino.Vmm.Tests;

/// <summary>
/// A VM shell made before its guest is known (<see cref="VmShell.CreateForAnyGuest"/>): one memory slot
/// over all RAM below the MMIO hole, of which the guest gets its own size. Real KVM.
/// </summary>
[Collection(KvmGuestsAloneCollection.Name)]
public sealed partial class VmShellTests : IDisposable
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);
    private readonly string _dir = Directory.CreateTempSubdirectory("domino-shell-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static VmConfig Config(string guest, int memoryMiB, string cmdline = "", int vcpus = 1, ConsoleCapture? console = null) => new()
    {
        KernelPath = GuestKit.Guest(guest),
        CommandLine = cmdline,
        MemoryMiB = memoryMiB,
        Vcpus = vcpus,
        ConsoleOutput = console,
    };

    private static (GuestExit Exit, string Console) Run(VmConfig config, VmShell? shell)
    {
        var console = (ConsoleCapture)config.ConsoleOutput!;
        using var vm = VirtualMachine.Build(config, shell);
        vm.Start();
        return (vm.WaitForExit(Wait), console.Text);
    }

    [SkippableFact]
    public void Fits_every_guest_up_to_the_MMIO_hole_and_no_guest_above_4_GiB()
    {
        KvmGate.RequireKvm();
        using var shell = VmShell.CreateForAnyGuest();
        Assert.True(shell.ForAnyGuest);
        Assert.Equal(3072, shell.MemoryMiB);
        Assert.True(shell.Fits(8, 1));
        Assert.True(shell.Fits(128, 1));
        Assert.True(shell.Fits(3072, 8));
        Assert.False(shell.Fits(3073, 1));
        Assert.False(shell.Fits(4096, 1));
        Assert.False(shell.Fits(128, 0));

        using var smaller = VmShell.CreateForAnyGuest(64);
        Assert.True(smaller.Fits(64, 2));
        Assert.False(smaller.Fits(65, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => VmShell.CreateForAnyGuest(3073));

        using var sized = VmShell.Create(128, 1);
        Assert.True(sized.Fits(128, 1));
        Assert.False(sized.Fits(64, 1));
        Assert.False(sized.Fits(128, 2));

        // A guest that does not fit is built from scratch and leaves the shell for another.
        using (var big = VirtualMachine.Build(Config("hello", 4096, console: new ConsoleCapture()), shell))
        {
            Assert.False(big.InShell);
            Assert.Equal(2, big.Memory.Regions.Count);
        }
        Assert.True(shell.IsAvailable);
        using (var small = VirtualMachine.Build(Config("hello", 64, vcpus: 2, console: new ConsoleCapture()), shell))
            Assert.True(small.InShell);
        Assert.False(shell.IsAvailable);
        Assert.Throws<InvalidOperationException>(() => VirtualMachine.Build(Config("hello", 64, console: new ConsoleCapture()), shell));
    }

    [SkippableFact]
    public void Taking_a_shell_for_any_guest_gives_the_guest_its_own_RAM_and_KVM_the_whole_slot()
    {
        KvmGate.RequireKvm();
        using var shell = VmShell.CreateForAnyGuest();
        using var vm = VirtualMachine.Build(Config("hello", 48, console: new ConsoleCapture()), shell);
        Assert.False(shell.IsAvailable);
        var region = Assert.Single(vm.Memory.Regions);
        Assert.Equal((0UL, 48UL << 20), (region.Gpa, region.Size));
        var slot = Assert.Single(vm.Ram.Slots);
        Assert.Equal((0UL, MemoryMap.MmioHoleStart, region.Host), (slot.Gpa, slot.Size, slot.Host));

        // Every host-side accessor stops at the guest's RAM, though the slot goes on to 3 GiB.
        Assert.True(vm.Memory.IsValid((48UL << 20) - 8, 8));
        Assert.False(vm.Memory.IsValid((48UL << 20) - 4, 8));
        Assert.False(vm.Memory.IsValid(48UL << 20, 1));
        Assert.Throws<GuestMemoryException>(() => vm.Memory.GetSpan(48UL << 20, 1).ToArray());
        Assert.Throws<GuestMemoryException>(() => vm.Memory.Write(64UL << 20, 1UL));
        Assert.Throws<GuestMemoryException>(() => vm.Memory.Read<ulong>(MemoryMap.MmioHoleStart - 8));

        // The guest is told its own size.
        Assert.Equal(48UL << 20, vm.MemoryMap.Size);
        Assert.Equal((48UL << 20) - MemoryMap.HighMemoryStart, vm.MemoryMap.E820.Single(e => e.Address == MemoryMap.HighMemoryStart).Size);
    }

    [GeneratedRegex(@"^(memmap|smp): .*$", RegexOptions.Multiline)]
    private static partial Regex GuestLines();

    [SkippableTheory]
    [InlineData("memmap", 16, 1)]
    [InlineData("memmap", 200, 1)]
    [InlineData("smp", 64, 3)]
    public void A_boot_in_a_shell_for_any_guest_is_the_same_as_a_boot_without_one(string guest, int memoryMiB, int vcpus)
    {
        KvmGate.RequireKvm();
        var plain = Run(Config(guest, memoryMiB, vcpus: vcpus, console: new ConsoleCapture()), shell: null);
        using var shell = VmShell.CreateForAnyGuest();
        var shelled = Run(Config(guest, memoryMiB, vcpus: vcpus, console: new ConsoleCapture()), shell);

        Assert.True(plain.Exit.Reason == VmExitReason.Poweroff && plain.Console.Contains($"{guest}: PASS"), plain.Console);
        Assert.True(shelled.Exit.Reason == VmExitReason.Poweroff, shelled.Exit + "\n" + shelled.Console);
        string Lines(string console) => string.Join('\n', GuestLines().Matches(console)
            .Select(m => m.Value).Where(l => !l.StartsWith("smp: cpu ", StringComparison.Ordinal)).Order());
        Assert.Equal(Lines(plain.Console), Lines(shelled.Console));
        if (guest == "memmap") Assert.Contains($"memmap: ram={(memoryMiB << 10) - 384} KiB", shelled.Console); // the 384 KiB legacy hole is not RAM
    }

    [SkippableTheory]
    [InlineData("op=write ring=3")]
    [InlineData("op=read ring=3")]
    [InlineData("op=write ring=0")]
    [InlineData("op=read ring=0")]
    public void A_guest_touching_the_slot_past_its_RAM_crashes_alone_as_it_would_without_a_shell(string cmdline)
    {
        KvmGate.RequireKvm();
        // A neighbour in this process keeps counting throughout.
        var neighbourConsole = new ConsoleCapture();
        using var neighbour = CounterGuest.Boot("counter", $"every={CounterGuest.Every}", neighbourConsole);
        neighbour.Start();

        using var shell = VmShell.CreateForAnyGuest();
        var shelled = Run(Config("wild", 32, cmdline, console: new ConsoleCapture()), shell);
        var plain = Run(Config("wild", 32, cmdline, console: new ConsoleCapture()), shell: null);

        foreach (var (exit, console) in new[] { shelled, plain })
        {
            Assert.True(exit.Reason == VmExitReason.Crash, $"{exit}\n{console}");
            Assert.Contains("wild: ram ends at 0x2000000", console);
            Assert.DoesNotContain("survived", console);
            Assert.True(exit.Detail.Contains("beyond its RAM (32 MiB of RAM, ending at 0x2000000", StringComparison.Ordinal), exit.ToString());
            Assert.NotNull(exit.Vcpu);
        }
        // Without a shell nothing is mapped there: KVM hands the access to the VMM, which names the address.
        // In a shell KVM maps the access through the slot and fails; it names the address where it reports it.
        Assert.True(plain.Exit.Detail.Contains("guest-physical 0x2000000", StringComparison.Ordinal), plain.Exit.Detail);
        Assert.True(shelled.Exit.Detail.Contains("guest-physical 0x2000000", StringComparison.Ordinal)
            || shelled.Exit.Detail.Contains("this KVM does not report the address", StringComparison.Ordinal), shelled.Exit.Detail);
        var seen = CounterGuest.Values(neighbourConsole.Text).Count;
        CounterGuest.WaitForValues(neighbourConsole, seen + 2, Wait);
        Assert.Equal(VmState.Running, neighbour.State);
    }

    [SkippableFact]
    public void Counter_restored_into_a_shell_for_any_guest_continues_and_saves_only_its_RAM()
    {
        KvmGate.RequireKvm();
        var path = Path.Combine(_dir, "counter.state");
        var before = new ConsoleCapture();
        using (var vm = CounterGuest.Boot("counter", $"every={CounterGuest.Every}", before, memoryMiB: 128, vcpus: 2))
        {
            vm.Start();
            CounterGuest.WaitForValues(before, 2, Wait);
            vm.Pause();
            vm.SaveToFile(path);
        }
        using var shell = VmShell.CreateForAnyGuest();
        var after = new ConsoleCapture();
        var again = Path.Combine(_dir, "again.state");
        using (var restored = VirtualMachine.RestoreFromFile(path, new RestoreOptions { ConsoleOutput = after, Shell = shell }, out var report))
        {
            Assert.False(shell.IsAvailable);
            Assert.True(report.InShell);
            Assert.Contains(report.Phases, p => p.Step == "take VM shell");
            Assert.DoesNotContain(report.Phases, p => p.Step is "KVM_CREATE_VM" or "guest RAM mapped");
            Assert.Equal(2, restored.VcpuCount);
            restored.Start();
            CounterGuest.WaitForValues(after, 2, Wait);
            restored.Pause();
            var saved = restored.SaveToFile(again);
            Assert.Equal(128L << 20 >> 12, saved.PagesWritten + saved.PagesSkipped);
        }
        CounterGuest.AssertContinues(CounterGuest.Values(before.Text + after.Text), CounterGuest.Every);
        using var file = SnapshotFile.Open(again);
        var image = Assert.Single(file.Regions);
        Assert.Equal(128L << 20 >> 12, image.Pages);
    }

    [Fact]
    public void A_parked_thread_runs_the_work_it_is_given_once_and_ends_unused_when_disposed()
    {
        using var done = new ManualResetEventSlim();
        var parked = new ParkedThread();
        var ranOn = 0;
        parked.Run(() => { ranOn = Environment.CurrentManagedThreadId; done.Set(); }, "worker");
        Assert.True(done.Wait(Wait));
        Assert.Equal(parked.Thread.ManagedThreadId, ranOn);
        Assert.Equal("worker", parked.Thread.Name);
        Assert.Throws<InvalidOperationException>(() => parked.Run(() => { }, "again"));
        Assert.True(parked.Thread.Join(Wait));

        var idle = new ParkedThread();
        idle.Dispose();
        Assert.True(idle.Thread.Join(Wait));

        // Given work without a wake, it waits; the wake (once) runs it.
        var waiting = new ParkedThread();
        using var ran = new ManualResetEventSlim();
        waiting.Give(ran.Set, "later");
        Assert.False(ran.Wait(200));
        Assert.NotEqual(0, waiting.Tid);
        waiting.Wake();
        waiting.Wake();
        Assert.True(ran.Wait(Wait));
        Assert.True(waiting.Thread.Join(Wait));
    }

    /// <summary>How many of this process's threads have the kernel name <paramref name="comm"/>.</summary>
    private static int ThreadsNamed(string comm) =>
        Directory.GetDirectories("/proc/self/task").Count(t =>
        {
            try { return File.ReadAllText(Path.Combine(t, "comm")).TrimEnd('\n') == comm; }
            catch (IOException) { return false; }
        });

    [SkippableFact]
    public void A_VM_built_in_a_shell_runs_on_the_shells_threads_and_a_disposed_shell_leaves_none()
    {
        KvmGate.RequireKvm();
        var console = new ConsoleCapture();
        var parkedBefore = ThreadsNamed("parked");
        using (var shell = VmShell.CreateForAnyGuest())
        {
            Assert.Equal(parkedBefore + 2, ThreadsNamed("parked")); // one vCPU, console input
            using var input = new BlockingInput();
            using var vm = VirtualMachine.Build(new VmConfig
            {
                KernelPath = GuestKit.Guest("counter"), CommandLine = $"every={CounterGuest.Every}", MemoryMiB = 32, ConsoleOutput = console, ConsoleInput = input,
            }, shell);
            vm.Start();
            CounterGuest.WaitForValues(console, 1, Wait);
            Assert.Equal(parkedBefore, ThreadsNamed("parked"));
            Assert.True(ThreadsNamed("console-input") >= 1 && ThreadsNamed("vcpu0") >= 1);
            vm.Stop();
        }
        using (VmShell.CreateForAnyGuest()) Assert.Equal(parkedBefore + 2, ThreadsNamed("parked"));
        var deadline = DateTime.UtcNow + Wait;
        while (ThreadsNamed("parked") > parkedBefore && DateTime.UtcNow < deadline) Thread.Sleep(10);
        Assert.Equal(parkedBefore, ThreadsNamed("parked"));
    }

    /// <summary>Console input that never comes until disposed (keeps the input thread alive while the test looks).</summary>
    private sealed class BlockingInput : Stream
    {
        private readonly ManualResetEventSlim _closed = new();

        public override int Read(byte[] buffer, int offset, int count)
        {
            _closed.Wait();
            return 0;
        }

        protected override void Dispose(bool disposing)
        {
            _closed.Set();
            base.Dispose(disposing);
        }

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    [SkippableFact]
    public void Restore_warm_up_saves_and_restores_a_VM_without_a_guest_and_leaves_no_file()
    {
        KvmGate.RequireKvm();
        var scratch = Path.Combine(_dir, "warm.state");
        Assert.True(VirtualMachine.WarmUpRestore(scratch));
        Assert.False(File.Exists(scratch));
        Assert.Empty(Directory.GetFiles(_dir));
    }

    [SkippableFact]
    public void Dirty_log_of_a_shell_for_any_guest_covers_its_RAM_and_a_migration_between_shells_keeps_memory_intact()
    {
        KvmGate.RequireKvm();
        using var sourceShell = VmShell.CreateForAnyGuest();
        var source = new ConsoleCapture();
        using var vm = VirtualMachine.Build(Config("dirty", 96, "mib=32 every=5", console: source), sourceShell);
        vm.Start();
        CounterGuest.WaitForValues(source, 2, Wait);

        // One bit per page of RAM, though KVM logs the whole 3 GiB slot; the guest's stores show.
        vm.Ram.SetDirtyLogging(vm.KvmVm, true);
        Thread.Sleep(200);
        var bitmap = vm.Ram.FetchDirtyBitmap(vm.KvmVm, 0);
        vm.Ram.SetDirtyLogging(vm.KvmVm, false);
        Assert.Equal((96 << 20 >> 12) / 64, bitmap.Length);
        var dirtyArea = bitmap.AsSpan((16 << 20 >> 12) / 64, (32 << 20 >> 12) / 64).ToArray();
        Assert.Contains(dirtyArea, w => w != 0);

        using var net = new Loopback();
        using var targetShell = VmShell.CreateForAnyGuest();
        var targetConsole = new ConsoleCapture();
        var target = Task.Run(() =>
        {
            var channel = new MigrationChannel(net.Target);
            var hello = LiveMigration.ReceiveHello(channel);
            return LiveMigration.ReceiveMigration(channel, hello, new RestoreOptions { ConsoleOutput = targetConsole, Shell = targetShell });
        });
        var report = LiveMigration.Send(vm, "dirty", net.Source, new MigrationOptions { MaxRounds = 8 });
        vm.Stop();
        using var moved = target.Result;
        Assert.False(targetShell.IsAvailable);
        var seen = CounterGuest.Values(targetConsole.Text).Count;
        CounterGuest.WaitForValues(targetConsole, seen + 3, Wait);
        Assert.DoesNotContain("MISMATCH", targetConsole.Text);
        CounterGuest.AssertContinues(CounterGuest.Values(source.Text + targetConsole.Text), 5);
        Assert.True(report.Rounds >= 1, report.ToString());
    }
}
