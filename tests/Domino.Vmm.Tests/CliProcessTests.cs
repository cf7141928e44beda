using Domino.Testing;
namespace Domino.Vmm.Tests;

/// <summary>
/// The foreground VMM as a user runs it, both as `domino vmm` and as the native `domino-vmm`:
/// console on stdout, how the guest ended in the exit status.
/// </summary>
[Collection(KvmGuestsCollection.Name)]
public class CliProcessTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    public static TheoryData<VmmProgram> Programs => [VmmProgram.Cli, VmmProgram.Native];

    [SkippableTheory, MemberData(nameof(Programs))]
    public void Hello_prints_and_exits_0(VmmProgram program)
    {
        KvmGate.RequireKvm();
        var (code, stdout, stderr) = DominoProcess.RunVmm(program, "", Timeout, "--kernel", GuestKit.Guest("hello"));
        Assert.Contains("hello: PASS", stdout);
        Assert.Contains("powered off", stderr);
        Assert.Equal(0, code);
    }

    [Theory, MemberData(nameof(Programs))]
    public void Non_kernel_file_is_refused_with_status_1(VmmProgram program)
    {
        var junk = TestKernels.ToTempFile("just some text\n"u8.ToArray(), "notakernel");
        var (code, stdout, stderr) = DominoProcess.RunVmm(program, "", Timeout, "--kernel", junk);
        Assert.Equal(1, code);
        Assert.Contains("not a bootable kernel", stderr);
        Assert.Contains(junk, stderr);
        Assert.Equal("", stdout);
    }

    [Theory, MemberData(nameof(Programs))]
    public void Bad_vcpu_count_is_a_usage_error(VmmProgram program)
    {
        var kernel = TestKernels.ToTempFile(TestKernels.PvhElf32(TestKernels.HelloCode("x")), "k.elf");
        var (code, _, stderr) = DominoProcess.RunVmm(program, "", Timeout, "--kernel", kernel, "--vcpus", "0");
        Assert.Equal(1, code);
        Assert.Contains("vcpus=0", stderr);
    }

    [Theory, MemberData(nameof(Programs))]
    public void Missing_kernel_option_is_a_usage_error(VmmProgram program)
    {
        var (code, _, _) = DominoProcess.RunVmm(program, "", Timeout);
        Assert.Equal(1, code);
    }

    [SkippableTheory, MemberData(nameof(Programs))]
    public void Guest_fault_without_an_idt_ends_with_registers_on_stderr(VmmProgram program)
    {
        KvmGate.RequireKvm();
        // lidt with a zero limit, then int3: no IDT -> #GP -> #DF -> triple fault.
        byte[] code = [0x0F, 0x01, 0x1D, .. BitConverter.GetBytes((uint)TestKernels.LoadAddress + 16), 0xCC, 0xF4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        var kernel = TestKernels.ToTempFile(TestKernels.PvhElf32(code), "triple.elf");
        var (exit, stdout, stderr) = DominoProcess.RunVmm(program, "", Timeout, "--kernel", kernel);
        // Hardware KVM reports the triple fault (reboot, 3); a software KVM may fail to emulate the
        // exception delivery instead (crash, 4). Either way the registers are printed.
        Assert.True(exit is 3 or 4, $"exit status {exit}: {stderr}");
        Assert.Matches("triple fault|KVM internal error", stderr);
        Assert.Contains("rip ", stderr);
        Assert.Equal("", stdout);
    }

    [SkippableTheory, MemberData(nameof(Programs))]
    public void Reboot_exits_3(VmmProgram program)
    {
        KvmGate.RequireKvm();
        var (code, stdout, stderr) = DominoProcess.RunVmm(program, "", Timeout, "--kernel", GuestKit.Guest("reboot"));
        Assert.Contains("reboot: resetting", stdout);
        Assert.Contains("guest rebooted: i8042 reset", stderr);
        Assert.Equal(3, code);
    }

    [SkippableTheory, MemberData(nameof(Programs))]
    public void Triple_fault_exits_3_with_registers_on_stderr(VmmProgram program)
    {
        KvmGate.RequireKvm();
        var (code, stdout, stderr) = DominoProcess.RunVmm(program, "", Timeout, "--kernel", GuestKit.Guest("crash"));
        Assert.Contains("crash: triple fault", stdout);
        Assert.Contains("triple fault on vCPU 0", stderr);
        Assert.Matches(@"rip [0-9a-f]{16}", stderr);
        Assert.Matches(@"efer [0-9a-f]+", stderr);
        Assert.Equal(3, code);
    }

    [SkippableTheory, MemberData(nameof(Programs))]
    public void Stdin_is_the_guest_console_input(VmmProgram program)
    {
        KvmGate.RequireKvm();
        var (code, stdout, _) = DominoProcess.RunVmm(program, "ping\nquit\n", Timeout, "--kernel", GuestKit.Guest("echo"));
        Assert.Contains("ping\nquit\n", stdout);
        Assert.EndsWith("echo: PASS\n", stdout);
        Assert.Equal(0, code);
    }

    [SkippableTheory, MemberData(nameof(Programs))]
    public void Vcpus_and_a_read_only_disk_reach_the_guest(VmmProgram program)
    {
        KvmGate.RequireKvm();
        var disk = TestKernels.ToTempFile(new byte[1 << 20], "ro.img");
        var (code, stdout, _) = DominoProcess.RunVmm(program, "", Timeout, "--kernel", GuestKit.Guest("smp"), "--vcpus", "2", "--memory", "64");
        Assert.Contains("smp: 2 of 2 cpus up", stdout);
        Assert.Equal(0, code);
        (code, stdout, _) = DominoProcess.RunVmm(program, "", Timeout, "--kernel", GuestKit.Guest("blk"), "--disk", disk + ",ro");
        Assert.Contains("blk: write refused (read-only)", stdout);
        Assert.Equal(0, code);
    }

    [Theory, MemberData(nameof(Programs))]
    public void Bad_disk_spec_is_a_usage_error(VmmProgram program)
    {
        var kernel = TestKernels.ToTempFile(TestKernels.PvhElf32(TestKernels.HelloCode("x")), "k.elf");
        var (code, _, stderr) = DominoProcess.RunVmm(program, "", Timeout, "--kernel", kernel, "--disk", "/tmp/x.img,rw,extra");
        Assert.Equal(1, code);
        Assert.Contains("expected FILE[,ro]", stderr);
    }

    [SkippableTheory, MemberData(nameof(Programs))]
    public void Misbehaving_guests_end_only_themselves_and_say_how(VmmProgram program)
    {
        KvmGate.RequireKvm();
        var (code, stdout, stderr) = DominoProcess.RunVmm(program, "", Timeout, "--kernel", GuestKit.Guest("hostile"), "--memory", "64");
        Assert.Contains("hostile: PASS", stdout);
        Assert.Equal(0, code);
        (code, stdout, stderr) = DominoProcess.RunVmm(program, "", Timeout, "--kernel", GuestKit.Guest("wild"), "--memory", "32", "--cmdline", "op=write ring=3");
        Assert.Contains("wild: ram ends at 0x2000000", stdout);
        Assert.DoesNotContain("survived", stdout);
        Assert.Contains("guest crashed:", stderr);
        Assert.Contains("beyond its RAM (32 MiB of RAM, ending at 0x2000000", stderr);
        Assert.Matches(@"rip [0-9a-f]{16}", stderr);
        Assert.Equal(4, code);
    }

    [SkippableFact]
    public void The_domino_script_runs_vmm_as_the_native_domino_vmm()
    {
        KvmGate.RequireKvm();
        _ = NativeBuild.Vmm; // built and current
        var (code, stdout, stderr) = DominoProcess.RunProgram(Path.Combine(GuestKit.Root, "domino"), "", Timeout, "vmm", "--kernel", GuestKit.Guest("hello"), "--memory", "64");
        Assert.Contains("hello: PASS", stdout);
        Assert.StartsWith("domino-vmm: guest powered off", stderr);
        Assert.Equal(0, code);
    }
}
