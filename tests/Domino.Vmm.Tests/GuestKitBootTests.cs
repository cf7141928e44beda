namespace Domino.Vmm.Tests;

/// <summary>Boots each guest of the guest kit in-process and checks its console and how it ended.</summary>
public class GuestKitBootTests
{
    [SkippableFact]
    public void Hello_boots_under_pvh_and_powers_off()
    {
        KvmGate.RequireKvm();
        var (exit, console, vm) = GuestKit.Boot(GuestKit.Guest("hello"));
        Assert.Contains("Hello from the Domino guest kit", console);
        Assert.Contains("hello: PASS", console);
        Assert.Equal(VmExitReason.Poweroff, exit.Reason);
        Assert.Equal(Boot.BootProtocol.Pvh, vm.Boot.Protocol);
    }

    [SkippableFact]
    public void Hello64_boots_in_long_mode_with_boot_params()
    {
        KvmGate.RequireKvm();
        var (exit, console, vm) = GuestKit.Boot(GuestKit.Guest("hello64"));
        Assert.Contains("Hello from 64-bit mode", console);
        Assert.Contains("hello64: PASS", console);
        Assert.Equal(VmExitReason.Poweroff, exit.Reason);
        Assert.Equal(Boot.BootProtocol.Elf64, vm.Boot.Protocol);
    }
}
