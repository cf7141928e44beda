using System.Globalization;
using System.Text.RegularExpressions;
using Domino.Vmm.Memory;

namespace Domino.Vmm.Tests;

/// <summary>Boots each guest of the guest kit in-process and checks its console and how it ended.</summary>
[Collection(KvmGuestsCollection.Name)]
public partial class GuestKitBootTests
{
    [SkippableFact]
    public void Hello_boots_under_pvh_and_powers_off()
    {
        KvmGate.RequireKvm();
        var (exit, console, vm) = GuestKit.Boot(GuestKit.Guest("hello"), cmdline: "greeting=yes");
        Assert.Contains("Hello from the Domino guest kit", console);
        Assert.Contains("hello: cmdline=greeting=yes", console);
        Assert.EndsWith("hello: PASS\n", console);
        Assert.Equal(VmExitReason.Poweroff, exit.Reason);
        Assert.Equal(Boot.BootProtocol.Pvh, vm.Boot.Protocol);
    }

    [SkippableFact]
    public void Hello64_boots_in_long_mode_with_boot_params()
    {
        KvmGate.RequireKvm();
        var (exit, console, vm) = GuestKit.Boot(GuestKit.Guest("hello64"), cmdline: "mode=64");
        Assert.Contains("Hello from 64-bit mode", console);
        Assert.Contains("hello64: cmdline=mode=64", console);
        Assert.EndsWith("hello64: PASS\n", console);
        Assert.Equal(VmExitReason.Poweroff, exit.Reason);
        Assert.Equal(Boot.BootProtocol.Elf64, vm.Boot.Protocol);
    }

    [SkippableTheory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(4)]
    public void Smp_starts_every_vcpu_listed_in_the_madt(int vcpus)
    {
        KvmGate.RequireKvm();
        var (exit, console, _) = GuestKit.Boot(GuestKit.Guest("smp"), vcpus: vcpus);
        Assert.Contains($"smp: madt lists {vcpus} cpus, lapic=0xfee00000", console);
        for (var i = 1; i < vcpus; i++) Assert.Contains($"smp: cpu {i} up", console);
        Assert.Contains($"smp: {vcpus} of {vcpus} cpus up", console);
        Assert.EndsWith("smp: PASS\n", console);
        Assert.Equal(VmExitReason.Poweroff, exit.Reason);
    }

    [GeneratedRegex(@"memmap: entry (\d+) base=0x([0-9a-f]+) size=0x([0-9a-f]+) type=(\d+)")]
    private static partial Regex MemmapLine();

    [SkippableTheory]
    [InlineData(64)]
    [InlineData(256)]
    public void Memmap_sees_exactly_the_map_domino_built(int memoryMiB)
    {
        KvmGate.RequireKvm();
        var (exit, console, vm) = GuestKit.Boot(GuestKit.Guest("memmap"), memoryMiB: memoryMiB);
        var printed = MemmapLine().Matches(console)
            .Select(m => new E820Entry(ulong.Parse(m.Groups[2].Value, NumberStyles.HexNumber), ulong.Parse(m.Groups[3].Value, NumberStyles.HexNumber), (E820Type)uint.Parse(m.Groups[4].Value, CultureInfo.InvariantCulture)))
            .ToList();
        Assert.Equal(vm.MemoryMap.E820, printed);
        var ramKiB = vm.MemoryMap.E820.Where(e => e.Type == E820Type.Ram).Sum(e => (long)(e.Size >> 10));
        Assert.Contains($"memmap: ram={ramKiB} KiB", console);
        Assert.EndsWith("memmap: PASS\n", console);
        Assert.Equal(VmExitReason.Poweroff, exit.Reason);
    }

    /// <summary>RAM above the 3-4 GiB MMIO hole is a second KVM slot; the map shows both. (memmap touching
    /// 4.5 GiB takes over a minute on this host, so here the map is checked with hello's fast boot.)</summary>
    [SkippableFact]
    public void Guest_with_more_than_3_GiB_gets_ram_above_4_GiB()
    {
        KvmGate.RequireKvm();
        var (exit, console, vm) = GuestKit.Boot(GuestKit.Guest("hello"), memoryMiB: 4608);
        Assert.Equal(VmExitReason.Poweroff, exit.Reason);
        Assert.EndsWith("hello: PASS\n", console);
        Assert.Equal(new E820Entry(0x1_0000_0000, 0x6000_0000, E820Type.Ram), vm.MemoryMap.E820[^1]);
        Assert.Equal(0xC000_0000UL, vm.MemoryMap.BelowFourGiBEnd);
    }

    [SkippableFact]
    public void Echo_returns_console_input_until_quit()
    {
        KvmGate.RequireKvm();
        var input = new MemoryStream("first line\nsecond line\nquit\n"u8.ToArray());
        var (exit, console, _) = GuestKit.Boot(GuestKit.Guest("echo"), input: input);
        Assert.Contains("echo: ready", console);
        Assert.Contains("first line\nsecond line\nquit\n", console);
        Assert.EndsWith("echo: PASS\n", console);
        Assert.Equal(VmExitReason.Poweroff, exit.Reason);
    }

    [SkippableFact]
    public void Reboot_through_the_i8042_is_a_reboot()
    {
        KvmGate.RequireKvm();
        var (exit, console, _) = GuestKit.Boot(GuestKit.Guest("reboot"));
        Assert.Contains("reboot: resetting", console);
        Assert.DoesNotContain("trying the ACPI reset register", console);
        Assert.Equal(VmExitReason.Reboot, exit.Reason);
        Assert.Contains("i8042", exit.Detail);
    }

    /// <summary>
    /// A triple fault resets a PC, so it ends the guest as a reboot (as Xen's default triple-fault
    /// action does); the detail names it and the faulting vCPU's registers come with it.
    /// </summary>
    [SkippableFact]
    public void Crash_by_triple_fault_reports_the_registers()
    {
        KvmGate.RequireKvm();
        var (exit, console, _) = GuestKit.Boot(GuestKit.Guest("crash"));
        Assert.Contains("crash: triple fault", console);
        Assert.Equal(VmExitReason.Reboot, exit.Reason);
        Assert.Contains("triple fault", exit.Detail);
        Assert.NotNull(exit.Vcpu);
        var regs = exit.Vcpu!.Format();
        Assert.Contains("rip ", regs);
        Assert.Contains("cr0 ", regs);
        Assert.Equal(0x500UL, exit.Vcpu.SpecialRegisters.Efer & 0x500); // died in long mode
        Assert.Equal([0x0F, 0x0B], exit.Vcpu.CodeAtRip![..2]);             // on its ud2, found through its page tables
        Assert.Contains("code at rip: 0f 0b", regs);
    }

    [SkippableFact]
    public void Hostile_guest_cannot_hurt_the_vmm()
    {
        KvmGate.RequireKvm();
        var disk = TestKernels.ToTempFile(new byte[1 << 20], "hostile.img");
        var output = new ConsoleCapture();
        using var vm = VirtualMachine.Build(new VmConfig
        {
            KernelPath = GuestKit.Guest("hostile"),
            MemoryMiB = 128,
            Disks = [new DiskConfig(disk, false)],
            ConsoleOutput = output,
        });
        vm.Start();
        var exit = vm.WaitForExit(TimeSpan.FromSeconds(60));
        var console = output.Text;
        Assert.Contains("hostile: ports done", console);
        Assert.Contains("hostile: mmio done", console);
        foreach (var step in new[] { "desc-outside-ram", "desc-len-huge", "desc-loop", "desc-next-out-of-range", "avail-head-out-of-range", "avail-idx-ahead" })
            Assert.Contains($"hostile: {step} done", console);
        Assert.EndsWith("hostile: PASS\n", console);
        Assert.Equal(VmExitReason.Poweroff, exit.Reason);
        Assert.True(vm.PioBus.UnknownReads > 0 && vm.PioBus.UnknownWrites > 0, "unclaimed port accesses were not counted");
        Assert.True(vm.MmioBus.UnknownReads > 0 && vm.MmioBus.UnknownWrites > 0, "unclaimed MMIO accesses were not counted");
    }

    [SkippableFact]
    public void Compute_runs_its_ring3_loop_to_the_known_result()
    {
        KvmGate.RequireKvm();
        var (exit, console, _) = GuestKit.Boot(GuestKit.Guest("compute"), cmdline: "iters=1000000");
        Assert.Contains("compute: result=0x33283e15d002a231", console);
        Assert.EndsWith("compute: PASS\n", console);
        Assert.Equal(VmExitReason.Poweroff, exit.Reason);
    }

    [SkippableFact]
    public void Pio_exits_are_all_seen()
    {
        KvmGate.RequireKvm();
        var (exit, console, _) = GuestKit.Boot(GuestKit.Guest("pio"), cmdline: "count=20000");
        Assert.Contains("pio: 20000 exits", console);
        Assert.EndsWith("pio: PASS\n", console);
        Assert.Equal(VmExitReason.Poweroff, exit.Reason);
    }

    [SkippableFact]
    public void Blk_reads_and_writes_a_virtio_disk()
    {
        KvmGate.RequireKvm();
        var image = new byte[1 << 20];
        "DOMINO-SECTOR-0!"u8.CopyTo(image);
        var disk = TestKernels.ToTempFile(image, "blk.img");
        var output = new ConsoleCapture();
        using (var vm = VirtualMachine.Build(new VmConfig { KernelPath = GuestKit.Guest("blk"), Disks = [new DiskConfig(disk, false)], ConsoleOutput = output }))
        {
            vm.Start();
            Assert.Equal(VmExitReason.Poweroff, vm.WaitForExit(TimeSpan.FromSeconds(60)).Reason);
        }
        Assert.Contains("blk: virtio-mmio v2 at 0xd0000000 irq 5", output.Text);
        Assert.Contains("blk: sector0=DOMINO-SECTOR-0!", output.Text);
        Assert.Contains("blk: capacity=2048", output.Text);
        Assert.Contains("blk: sector1 write verified", output.Text);
        Assert.EndsWith("blk: PASS\n", output.Text);
        Assert.Equal("DOMINO-BLK-WRITE"u8.ToArray(), File.ReadAllBytes(disk).AsSpan(512, 16).ToArray());
    }

    [SkippableFact]
    public void Vconsole_talks_over_a_virtio_console()
    {
        KvmGate.RequireKvm();
        var output = new ConsoleCapture();
        using var vm = VirtualMachine.Build(new VmConfig { KernelPath = GuestKit.Guest("vconsole"), VirtioConsole = true, ConsoleOutput = output });
        vm.Start();
        Assert.Equal(VmExitReason.Poweroff, vm.WaitForExit(TimeSpan.FromSeconds(60)).Reason);
        Assert.Contains("vconsole: hello over virtio\n", output.Text);
        Assert.EndsWith("vconsole: PASS\n", output.Text);
    }

    [SkippableFact]
    public void Counter_runs_until_stopped()
    {
        KvmGate.RequireKvm();
        var output = new ConsoleCapture();
        using var vm = VirtualMachine.Build(new VmConfig { KernelPath = GuestKit.Guest("counter"), CommandLine = "every=1000000", ConsoleOutput = output });
        vm.Start();
        Assert.True(output.WaitFor("counter: 3000000", TimeSpan.FromSeconds(30)), output.Text);
        vm.Pause();
        vm.Resume();
        Assert.True(output.WaitFor("counter: 5000000", TimeSpan.FromSeconds(30)), output.Text);
        vm.Stop("enough counting");
        Assert.Equal(new GuestExit(VmExitReason.Stopped, "enough counting"), vm.Exited.Result);
    }
}
