namespace Domino.Vmm.Tests;

/// <summary>`domino vmm` as a user runs it: console on stdout, how the guest ended in the exit status.</summary>
[Collection(KvmGuestsCollection.Name)]
public class CliProcessTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    [SkippableFact]
    public void Hello_prints_and_exits_0()
    {
        KvmGate.RequireKvm();
        var (code, stdout, stderr) = DominoProcess.Run("", Timeout, "vmm", "--kernel", GuestKit.Guest("hello"));
        Assert.Contains("hello: PASS", stdout);
        Assert.Contains("powered off", stderr);
        Assert.Equal(0, code);
    }

    [Fact]
    public void Non_kernel_file_is_refused_with_status_1()
    {
        var junk = TestKernels.ToTempFile("just some text\n"u8.ToArray(), "notakernel");
        var (code, stdout, stderr) = DominoProcess.Run("", Timeout, "vmm", "--kernel", junk);
        Assert.Equal(1, code);
        Assert.Contains("not a bootable kernel", stderr);
        Assert.Contains(junk, stderr);
        Assert.Equal("", stdout);
    }

    [Fact]
    public void Bad_vcpu_count_is_a_usage_error()
    {
        var kernel = TestKernels.ToTempFile(TestKernels.PvhElf32(TestKernels.HelloCode("x")), "k.elf");
        var (code, _, stderr) = DominoProcess.Run("", Timeout, "vmm", "--kernel", kernel, "--vcpus", "0");
        Assert.Equal(1, code);
        Assert.Contains("vcpus=0", stderr);
    }

    [Fact]
    public void Missing_kernel_option_is_a_usage_error()
    {
        var (code, _, _) = DominoProcess.Run("", Timeout, "vmm");
        Assert.Equal(1, code);
    }

    [SkippableFact]
    public void Guest_fault_without_an_idt_ends_with_registers_on_stderr()
    {
        KvmGate.RequireKvm();
        // lidt with a zero limit, then int3: no IDT -> #GP -> #DF -> triple fault.
        byte[] code = [0x0F, 0x01, 0x1D, .. BitConverter.GetBytes((uint)TestKernels.LoadAddress + 16), 0xCC, 0xF4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        var kernel = TestKernels.ToTempFile(TestKernels.PvhElf32(code), "triple.elf");
        var (exit, stdout, stderr) = DominoProcess.Run("", Timeout, "vmm", "--kernel", kernel);
        // Hardware KVM reports the triple fault (reboot, 3); a software KVM may fail to emulate the
        // exception delivery instead (crash, 4). Either way the registers are printed.
        Assert.True(exit is 3 or 4, $"exit status {exit}: {stderr}");
        Assert.Matches("triple fault|KVM internal error", stderr);
        Assert.Contains("rip ", stderr);
        Assert.Equal("", stdout);
    }

    [SkippableFact]
    public void Reboot_exits_3()
    {
        KvmGate.RequireKvm();
        var (code, stdout, stderr) = DominoProcess.Run("", Timeout, "vmm", "--kernel", GuestKit.Guest("reboot"));
        Assert.Contains("reboot: resetting", stdout);
        Assert.Contains("guest rebooted: i8042 reset", stderr);
        Assert.Equal(3, code);
    }

    [SkippableFact]
    public void Triple_fault_exits_3_with_registers_on_stderr()
    {
        KvmGate.RequireKvm();
        var (code, stdout, stderr) = DominoProcess.Run("", Timeout, "vmm", "--kernel", GuestKit.Guest("crash"));
        Assert.Contains("crash: triple fault", stdout);
        Assert.Contains("triple fault on vCPU 0", stderr);
        Assert.Matches(@"rip [0-9a-f]{16}", stderr);
        Assert.Matches(@"efer [0-9a-f]+", stderr);
        Assert.Equal(3, code);
    }

    [SkippableFact]
    public void Stdin_is_the_guest_console_input()
    {
        KvmGate.RequireKvm();
        var (code, stdout, _) = DominoProcess.Run("ping\nquit\n", Timeout, "vmm", "--kernel", GuestKit.Guest("echo"));
        Assert.Contains("ping\nquit\n", stdout);
        Assert.EndsWith("echo: PASS\n", stdout);
        Assert.Equal(0, code);
    }

    [SkippableFact]
    public void Vcpus_and_a_read_only_disk_reach_the_guest()
    {
        KvmGate.RequireKvm();
        var disk = TestKernels.ToTempFile(new byte[1 << 20], "ro.img");
        var (code, stdout, _) = DominoProcess.Run("", Timeout, "vmm", "--kernel", GuestKit.Guest("smp"), "--vcpus", "2", "--memory", "64");
        Assert.Contains("smp: 2 of 2 cpus up", stdout);
        Assert.Equal(0, code);
        (code, stdout, _) = DominoProcess.Run("", Timeout, "vmm", "--kernel", GuestKit.Guest("blk"), "--disk", disk + ",ro");
        Assert.Contains("blk: write refused (read-only)", stdout);
        Assert.Equal(0, code);
    }

    [Fact]
    public void Bad_disk_spec_is_a_usage_error()
    {
        var kernel = TestKernels.ToTempFile(TestKernels.PvhElf32(TestKernels.HelloCode("x")), "k.elf");
        var (code, _, stderr) = DominoProcess.Run("", Timeout, "vmm", "--kernel", kernel, "--disk", "/tmp/x.img,rw,extra");
        Assert.Equal(1, code);
        Assert.Contains("expected FILE[,ro]", stderr);
    }
}
