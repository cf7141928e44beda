namespace Domino.Vmm.Tests;

/// <summary>`domino vmm` as a user runs it: console on stdout, how the guest ended in the exit status.</summary>
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
}
