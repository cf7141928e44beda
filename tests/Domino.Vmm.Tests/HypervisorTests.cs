using Domino.Vmm.Hypervisor;
using Domino.Vmm.Vcpu;

namespace Domino.Vmm.Tests;

public class HypervisorTests
{
    [Fact]
    public void Missing_device_says_kvm_is_not_available_and_how_to_fix_it()
    {
        var e = Assert.Throws<HypervisorUnavailableException>(() => KvmHypervisor.Open("/nonexistent/kvm"));
        Assert.Equal("/nonexistent/kvm not found: KVM is not available on this host (load kvm_intel/kvm_amd or enable nested virtualization)", e.Message);
    }

    [Fact]
    public void A_file_that_is_not_kvm_is_refused()
    {
        var path = TestKernels.ToTempFile([0], "not-kvm");
        var e = Assert.Throws<HypervisorUnavailableException>(() => KvmHypervisor.Open(path));
        Assert.Contains(path, e.Message);
    }

    [SkippableFact]
    public void Kvm_reports_api_12_and_a_kvm_run_page()
    {
        KvmGate.RequireKvm();
        using var kvm = KvmHypervisor.Open();
        Assert.True(kvm.VcpuMmapSize >= 4096);
        using var vm = kvm.CreateVm();
        vm.CreateIrqchipAndPit();
        using var vcpu = vm.CreateVcpu(0);
        vcpu.SetCpuid(1);
        var regs = vcpu.GetRegisters();
        regs.Rip = 0x1234;
        vcpu.SetRegisters(regs);
        Assert.Equal(0x1234UL, vcpu.GetRegisters().Rip);
        vcpu.SetMsr(0x174, 0x10); // IA32_SYSENTER_CS
        Assert.Equal(0x10UL, vcpu.GetMsr(0x174));
        Assert.Equal(0u, vcpu.GetMpState()); // the BSP is runnable
        using var ap = vm.CreateVcpu(1);
        ap.WaitForStartupIpi();
        Assert.Equal(1u, ap.GetMpState());   // KVM_MP_STATE_UNINITIALIZED
    }

    [Theory]
    [InlineData(VcpuState.Created, VcpuState.Running, true)]
    [InlineData(VcpuState.Running, VcpuState.Paused, true)]
    [InlineData(VcpuState.Paused, VcpuState.Running, true)]
    [InlineData(VcpuState.Paused, VcpuState.Stopped, true)]
    [InlineData(VcpuState.Stopped, VcpuState.Running, false)]
    [InlineData(VcpuState.Stopped, VcpuState.Stopped, false)]
    [InlineData(VcpuState.Running, VcpuState.Created, false)]
    public void Vcpu_state_transitions(VcpuState from, VcpuState to, bool valid) =>
        Assert.Equal(valid, VcpuTransitions.IsValid(from, to));
}
