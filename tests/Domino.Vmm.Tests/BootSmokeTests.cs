namespace Domino.Vmm.Tests;

/// <summary>Boots the hand-assembled kernels through each entry protocol.</summary>
[Collection(KvmGuestsCollection.Name)]
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

    [SkippableTheory]
    [InlineData(2)]
    [InlineData(4)]
    public void Application_processors_start_with_init_sipi_sipi(int vcpus)
    {
        KvmGate.RequireKvm();
        var exit = Boot(TestKernels.PvhElf32(TestKernels.SmpCode(vcpus)), "smp.elf", out var console, vcpus);
        Assert.Equal($"{vcpus}\n", console);
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

/// <summary>How the VMM lays out and announces virtio-mmio devices.</summary>
[Collection(KvmGuestsCollection.Name)]
public class VirtioWiringTests
{
    [SkippableFact]
    public void Disks_then_console_get_consecutive_windows_and_gsis_announced_on_the_command_line()
    {
        KvmGate.RequireKvm();
        var kernel = TestKernels.ToTempFile(TestKernels.PvhElf32(TestKernels.HelloCode("x")), "k.elf");
        var disk1 = TestKernels.ToTempFile(new byte[1 << 20], "disk1.img");
        var disk2 = TestKernels.ToTempFile(new byte[1 << 20], "disk2.img");
        using var vm = VirtualMachine.Build(new VmConfig
        {
            KernelPath = kernel,
            CommandLine = "console=ttyS0",
            MemoryMiB = 64,
            Disks = [new DiskConfig(disk1, false), new DiskConfig(disk2, true)],
            VirtioConsole = true,
        });
        Assert.Equal("console=ttyS0 virtio_mmio.device=4K@0xd0000000:5 virtio_mmio.device=4K@0xd0001000:6 virtio_mmio.device=4K@0xd0002000:7",
            vm.Boot.CommandLine);
        Span<byte> word = stackalloc byte[4];
        uint[] expectedIds = [2, 2, 3];
        for (var i = 0; i < 3; i++)
        {
            vm.MmioBus.Read(0xD000_0000UL + (ulong)i * 0x1000, word);
            Assert.Equal(0x74726976u, BitConverter.ToUInt32(word)); // "virt"
            vm.MmioBus.Read(0xD000_0008UL + (ulong)i * 0x1000, word);
            Assert.Equal(expectedIds[i], BitConverter.ToUInt32(word));
        }
        vm.MmioBus.Read(0xD000_3000, word);
        Assert.Equal(0xFFFFFFFFu, BitConverter.ToUInt32(word));
    }

    [Fact]
    public void Missing_disk_is_a_configuration_error_before_kvm()
    {
        var kernel = TestKernels.ToTempFile(TestKernels.PvhElf32(TestKernels.HelloCode("x")), "k.elf");
        var e = Assert.Throws<VmConfigException>(() => VirtualMachine.Build(new VmConfig { KernelPath = kernel, Disks = [new DiskConfig("/nonexistent/disk.img", false)] }));
        Assert.Contains("/nonexistent/disk.img", e.Message);
    }
}
