using Domino.Vmm.Hypervisor;

namespace Domino.Vmm.Tests;

/// <summary>How each kind of exit ends the guest, on the fake hypervisor (no KVM needed).</summary>
public class ExitReasonTests
{
    private static (GuestExit Exit, string Console, FakeHypervisor Hv) Run(params FakeExit[] script)
    {
        var kernel = TestKernels.ToTempFile(TestKernels.PvhElf32(TestKernels.HelloCode("x")), "k.elf");
        var output = new ConsoleCapture();
        var hv = new FakeHypervisor(script);
        using var vm = VirtualMachine.Build(VmResources.Validate(new VmConfig { KernelPath = kernel, MemoryMiB = 16, ConsoleOutput = output }), () => hv);
        vm.Start();
        var exit = vm.WaitForExit(TimeSpan.FromSeconds(10));
        return (exit, output.Text, hv);
    }

    private static FakeExit Out(ushort port, byte value) => new(VmExitKind.IoOut, port, [value]);

    [Fact]
    public void Debug_exit_write_is_a_poweroff()
    {
        var (exit, console, hv) = Run(Out(0x3F8, (byte)'o'), Out(0x3F8, (byte)'k'), Out(0xF4, 0));
        Assert.Equal(VmExitReason.Poweroff, exit.Reason);
        Assert.Equal("ok", console);
        Assert.Contains(hv.Vm!.Slots, s => s.Gpa == 0 && s.Size == 16 << 20);
        Assert.Equal(0x100000UL, hv.Vm.Vcpus[0].Registers.Rip);
    }

    [Fact]
    public void Acpi_s5_is_a_poweroff_and_acpi_reset_a_reboot()
    {
        Assert.Equal(VmExitReason.Poweroff, Run(Out(0x600, (5 << 2) | (1 << 5))).Exit.Reason);
        Assert.Equal(VmExitReason.Reboot, Run(Out(0x600, 1)).Exit.Reason);
    }

    [Fact]
    public void I8042_reset_is_a_reboot() => Assert.Equal(VmExitReason.Reboot, Run(Out(0x64, 0xFE)).Exit.Reason);

    [Fact]
    public void Triple_fault_is_a_reboot_with_registers()
    {
        var exit = Run(new FakeExit(VmExitKind.Shutdown)).Exit;
        Assert.Equal(VmExitReason.Reboot, exit.Reason);
        Assert.Contains("triple fault", exit.Detail);
        Assert.NotNull(exit.Vcpu);
    }

    [Theory]
    [InlineData(SystemEventType.Shutdown, VmExitReason.Poweroff)]
    [InlineData(SystemEventType.Reset, VmExitReason.Reboot)]
    [InlineData(SystemEventType.Crash, VmExitReason.Crash)]
    public void System_events_map_to_their_reasons(SystemEventType type, VmExitReason expected) =>
        Assert.Equal(expected, Run(new FakeExit(VmExitKind.SystemEvent, Event: type, Suberror: (uint)type)).Exit.Reason);

    [Fact]
    public void Internal_error_is_a_crash_naming_the_suberror_with_registers()
    {
        var exit = Run(new FakeExit(VmExitKind.InternalError, Suberror: 1)).Exit;
        Assert.Equal(VmExitReason.Crash, exit.Reason);
        Assert.Contains("KVM internal error, suberror 1 (emulation failure)", exit.Detail);
        Assert.NotNull(exit.Vcpu);
    }

    [Fact]
    public void Entry_failure_and_unknown_exits_are_crashes()
    {
        Assert.Contains("entry failure", Run(new FakeExit(VmExitKind.FailEntry, Address: 0x80000021)).Exit.Detail);
        var unknown = Run(new FakeExit(VmExitKind.Unknown, RawReason: 99)).Exit;
        Assert.Equal(VmExitReason.Crash, unknown.Reason);
        Assert.Contains("unhandled KVM exit reason 99", unknown.Detail);
    }

    [Fact]
    public void Unclaimed_accesses_do_not_end_the_guest()
    {
        var (exit, _, _) = Run(
            new FakeExit(VmExitKind.IoIn, 0x1234, new byte[4]),
            new FakeExit(VmExitKind.MmioWrite, 0xC000_0000, new byte[8]),
            new FakeExit(VmExitKind.MmioRead, 0xFEB0_0000, new byte[2]),
            Out(0xF4, 0));
        Assert.Equal(VmExitReason.Poweroff, exit.Reason);
    }

    [Theory]
    [InlineData(VmExitKind.MmioWrite, 0x100_0000UL, "wrote 8 bytes at guest-physical 0x1000000")]   // the first byte past 16 MiB
    [InlineData(VmExitKind.MmioRead, 0xBFFF_FFF8UL, "read 8 bytes at guest-physical 0xbffffff8")]   // just below the MMIO hole
    [InlineData(VmExitKind.MmioRead, 0x1_0000_0000UL, "read 8 bytes at guest-physical 0x100000000")] // RAM's range above 4 GiB
    public void An_access_to_RAM_s_range_past_the_guest_s_RAM_is_a_crash_naming_it(VmExitKind kind, ulong gpa, string expected)
    {
        var (exit, _, _) = Run(new FakeExit(kind, gpa, new byte[8]), Out(0xF4, 0));
        Assert.Equal(VmExitReason.Crash, exit.Reason);
        Assert.Contains(expected, exit.Detail);
        Assert.Contains("beyond its RAM (16 MiB of RAM, ending at 0x1000000)", exit.Detail);
        Assert.NotNull(exit.Vcpu);
    }

    [Fact]
    public void A_memory_fault_is_a_crash_naming_the_address_when_KVM_gives_it()
    {
        var known = Run(new FakeExit(VmExitKind.MemoryFault, 0x200_0000, new byte[0x1000])).Exit;
        Assert.Equal(VmExitReason.Crash, known.Reason);
        Assert.Contains("touched guest-physical 0x2000000 (+0x1000), beyond its RAM (16 MiB of RAM, ending at 0x1000000; KVM_EXIT_MEMORY_FAULT)", known.Detail);
        var unknown = Run(new FakeExit(VmExitKind.MemoryFault, VmExit.UnknownAddress)).Exit;
        Assert.Equal(VmExitReason.Crash, unknown.Reason);
        Assert.Contains("this KVM does not report the address", unknown.Detail);
    }

    [Fact]
    public void Uart_interrupts_reach_the_interrupt_line()
    {
        var (_, _, hv) = Run(Out(0x3F9, 0x02), Out(0xF4, 0)); // IER = THRE: the line rises at once
        Assert.Contains((4u, true), hv.Vm!.IrqLines);
    }

    [Fact]
    public void Only_the_boot_cpu_gets_the_entry_state_and_aps_wait_for_sipi()
    {
        var kernel = TestKernels.ToTempFile(TestKernels.PvhElf32(TestKernels.HelloCode("x")), "k.elf");
        var hv = new FakeHypervisor(Out(0xF4, 0));
        using var vm = VirtualMachine.Build(VmResources.Validate(new VmConfig { KernelPath = kernel, MemoryMiB = 16, Vcpus = 3 }), () => hv);
        vm.Start();
        Assert.Equal(VmExitReason.Poweroff, vm.WaitForExit(TimeSpan.FromSeconds(10)).Reason);
        var vcpus = hv.Vm!.Vcpus;
        Assert.Equal(3, vcpus.Count);
        Assert.False(vcpus[0].WaitingForSipi);
        Assert.Equal(0x6000UL, vcpus[0].Registers.Rbx);
        Assert.All(vcpus.Skip(1), v => Assert.True(v.WaitingForSipi));
        Assert.All(vcpus.Skip(1), v => Assert.Equal(0UL, v.Registers.Rip));
    }
}

/// <summary>Host requests to a running VM on the fake hypervisor: NMIs go through the vCPU's own thread.</summary>
public class HostRequestTests
{
    [Fact]
    public void An_nmi_is_injected_on_the_vcpu_thread_and_paused_vcpus_get_it_on_resume()
    {
        var kernel = TestKernels.ToTempFile(TestKernels.PvhElf32(TestKernels.HelloCode("x")), "k.elf");
        var hv = new FakeHypervisor();
        using var vm = VirtualMachine.Build(VmResources.Validate(new VmConfig { KernelPath = kernel, MemoryMiB = 16, Vcpus = 2 }), () => hv);
        var vcpu1 = hv.Vm!.Vcpus[1];
        vm.InjectNmi(1); // built, not started: waits
        Thread.Sleep(50);
        Assert.Equal(0, vcpu1.Nmis);
        vm.Start();
        SpinWait.SpinUntil(() => vcpu1.Nmis == 1, TimeSpan.FromSeconds(5));
        Assert.Equal(1, vcpu1.Nmis);
        Assert.NotEqual(Environment.CurrentManagedThreadId, vcpu1.NmiThread);
        Assert.Equal(0, hv.Vm.Vcpus[0].Nmis);
        vm.Pause();
        vm.InjectNmi(1);
        Thread.Sleep(50);
        Assert.Equal(1, vcpu1.Nmis);
        vm.Resume();
        SpinWait.SpinUntil(() => vcpu1.Nmis == 2, TimeSpan.FromSeconds(5));
        Assert.Equal(2, vcpu1.Nmis);
        Assert.Throws<ArgumentOutOfRangeException>(() => vm.InjectNmi(2));
        vm.Stop();
        Assert.Throws<InvalidOperationException>(() => vm.InjectNmi());
        Assert.Throws<InvalidOperationException>(vm.PressPowerButton);
        Assert.Throws<InvalidOperationException>(vm.SendCtrlAltDel);
    }

    [Fact]
    public void A_keyboard_that_is_never_read_refuses_ctrl_alt_del_once_full()
    {
        var kernel = TestKernels.ToTempFile(TestKernels.PvhElf32(TestKernels.HelloCode("x")), "k.elf");
        var hv = new FakeHypervisor();
        using var vm = VirtualMachine.Build(VmResources.Validate(new VmConfig { KernelPath = kernel, MemoryMiB = 16 }), () => hv);
        vm.SendCtrlAltDel();
        Assert.Contains((1u, true), hv.Vm!.IrqLines); // IRQ 1: keys waiting
        vm.SendCtrlAltDel();
        var e = Assert.Throws<InvalidOperationException>(vm.SendCtrlAltDel);
        Assert.Contains("i8042 output buffer is full", e.Message);
        vm.PressPowerButton();
        Assert.Equal(Devices.Acpi.GedEvent.PowerButton, vm.Ged.Pending);
        Assert.Equal([(3u, true), (3u, false)], hv.Vm.IrqLines.Where(l => l.Gsi == 3)); // the GED's edge
        vm.HardReset();
        Assert.Equal(VmExitReason.Reboot, vm.WaitForExit(TimeSpan.FromSeconds(5)).Reason);
    }
}
