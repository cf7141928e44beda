namespace Domino.Vmm.Tests;

/// <summary>
/// What the host sends a running guest, on real KVM: the ACPI power button, Ctrl-Alt-Del on the
/// i8042 keyboard, an NMI, a hard reset. guests/control answers each as Linux would, and the VM
/// ends the way the guest chose.
/// </summary>
[Collection(KvmGuestsCollection.Name)]
public class GuestControlTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(30);

    private sealed class Running : IDisposable
    {
        public Running(int vcpus = 1)
        {
            Vm = VirtualMachine.Build(new VmConfig
            {
                KernelPath = GuestKit.Guest("control"), CommandLine = "", Vcpus = vcpus, MemoryMiB = 64, ConsoleOutput = Console,
            });
            Vm.Start();
            Assert.True(Console.WaitFor("control: ready\n", Limit), "no ready line: " + Console.Text);
        }

        public ConsoleCapture Console { get; } = new();
        public VirtualMachine Vm { get; }

        public void Dispose() => Vm.Dispose();
    }

    [SkippableFact]
    public void The_guest_finds_the_ged_and_the_keyboard_through_acpi()
    {
        KvmGate.RequireKvm();
        using var g = new Running();
        Assert.Contains("control: ged at 0xfea00000 gsi 3\n", g.Console.Text);
        Assert.Contains("control: i8042 command byte 0x45 (scancode set 1)\n", g.Console.Text);
        Assert.Equal(VmState.Running, g.Vm.State);
    }

    [SkippableFact]
    public void Pressing_the_power_button_makes_the_guest_power_off_through_acpi_s5()
    {
        KvmGate.RequireKvm();
        using var g = new Running();
        g.Vm.PressPowerButton();
        var exit = g.Vm.WaitForExit(Limit);
        Assert.Contains("control: power button (ged events 0x08, 1 interrupts), powering off through ACPI S5\n", g.Console.Text);
        Assert.Equal(VmExitReason.Poweroff, exit.Reason);
        Assert.Equal("ACPI S5 (sleep control register)", exit.Detail);
        Assert.Equal(Devices.Acpi.GedEvent.None, g.Vm.Ged.Pending); // the guest read the register
        Assert.Throws<InvalidOperationException>(g.Vm.PressPowerButton);
    }

    [SkippableFact]
    public void Ctrl_alt_del_makes_the_guest_reset_through_the_i8042()
    {
        KvmGate.RequireKvm();
        using var g = new Running();
        g.Vm.SendCtrlAltDel();
        var exit = g.Vm.WaitForExit(Limit);
        Assert.Matches(@"control: ctrl-alt-del \(\d+ keyboard interrupts\), resetting through the i8042\n", g.Console.Text);
        Assert.Equal(VmExitReason.Reboot, exit.Reason);
        Assert.Equal("i8042 reset (0xFE to port 0x64)", exit.Detail);
    }

    [SkippableFact]
    public void Nmis_reach_the_guest_which_keeps_running()
    {
        KvmGate.RequireKvm();
        using var g = new Running();
        g.Vm.InjectNmi();
        Assert.True(g.Console.WaitFor("control: nmi 1\n", Limit), g.Console.Text);
        g.Vm.InjectNmi(0);
        Assert.True(g.Console.WaitFor("control: nmi 2\n", Limit), g.Console.Text);
        Assert.Equal(VmState.Running, g.Vm.State);
        Assert.False(g.Vm.Exited.IsCompleted);
        Assert.Throws<ArgumentOutOfRangeException>(() => g.Vm.InjectNmi(1));
        // Still answering: the power button ends it.
        g.Vm.PressPowerButton();
        Assert.Equal(VmExitReason.Poweroff, g.Vm.WaitForExit(Limit).Reason);
    }

    [SkippableFact]
    public void A_power_button_pressed_while_paused_is_seen_after_resume()
    {
        KvmGate.RequireKvm();
        using var g = new Running();
        g.Vm.Pause();
        g.Vm.PressPowerButton();
        g.Vm.InjectNmi();
        Thread.Sleep(200);
        Assert.False(g.Vm.Exited.IsCompleted);
        Assert.DoesNotContain("control: power button", g.Console.Text);
        g.Vm.Resume();
        Assert.Equal(VmExitReason.Poweroff, g.Vm.WaitForExit(Limit).Reason);
        Assert.Contains("control: nmi 1\n", g.Console.Text);
    }

    [SkippableFact]
    public void A_hard_reset_ends_the_guest_as_a_reboot_without_asking_it()
    {
        KvmGate.RequireKvm();
        using var g = new Running();
        g.Vm.HardReset("xl trigger reset");
        var exit = g.Vm.WaitForExit(Limit);
        Assert.Equal(VmExitReason.Reboot, exit.Reason);
        Assert.Equal("xl trigger reset", exit.Detail);
        Assert.DoesNotContain("resetting", g.Console.Text);
    }
}
