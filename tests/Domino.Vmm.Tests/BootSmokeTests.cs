namespace Domino.Vmm.Tests;

/// <summary>Boots the hand-assembled kernels through each entry protocol.</summary>
public class BootSmokeTests
{
    private static GuestExit Boot(byte[] image, string name, out string console, int vcpus = 1)
    {
        var path = TestKernels.ToTempFile(image, name);
        var output = new ConsoleCapture();
        using var vm = VirtualMachine.Build(new VmConfig { KernelPath = path, MemoryMiB = 64, Vcpus = vcpus, ConsoleOutput = output });
        vm.Start();
        var exit = vm.WaitForExit(TimeSpan.FromSeconds(20));
        console = output.Text;
        return exit;
    }

    [SkippableFact]
    public void Pvh_elf32_prints_and_powers_off()
    {
        KvmGate.RequireKvm();
        var exit = Boot(TestKernels.PvhElf32(TestKernels.HelloCode("hello via PVH\n")), "pvh32.elf", out var console);
        Assert.Equal("hello via PVH\n", console);
        Assert.Equal(VmExitReason.Poweroff, exit.Reason);
    }

    [SkippableFact]
    public void Plain_elf64_boots_in_long_mode()
    {
        KvmGate.RequireKvm();
        var exit = Boot(TestKernels.Elf64(TestKernels.HelloCode("hello from long mode\n")), "plain64.elf", out var console);
        Assert.Equal("hello from long mode\n", console);
        Assert.Equal(VmExitReason.Poweroff, exit.Reason);
    }
}
