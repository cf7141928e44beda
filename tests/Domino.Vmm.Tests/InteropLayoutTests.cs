using System.Runtime.InteropServices;
using Domino.Vmm.Interop;

namespace Domino.Vmm.Tests;

/// <summary>The interop structs must have exactly the kernel's sizes: the ioctl numbers encode them.</summary>
public class InteropLayoutTests
{
    [Fact]
    public void Kvm_struct_sizes_match_the_kernel()
    {
        Assert.Equal(32, Marshal.SizeOf<kvm_userspace_memory_region>());
        Assert.Equal(144, Marshal.SizeOf<kvm_regs>());
        Assert.Equal(24, Marshal.SizeOf<kvm_segment>());
        Assert.Equal(16, Marshal.SizeOf<kvm_dtable>());
        Assert.Equal(312, Marshal.SizeOf<kvm_sregs>());
        Assert.Equal(416, Marshal.SizeOf<kvm_fpu>());
        Assert.Equal(1024, Marshal.SizeOf<kvm_lapic_state>());
        Assert.Equal(64, Marshal.SizeOf<kvm_pit_config>());
        Assert.Equal(40, Marshal.SizeOf<kvm_cpuid_entry2>());
        Assert.Equal(16, Marshal.SizeOf<kvm_msr_entry>());
        Assert.Equal(32, Marshal.SizeOf<kvm_irqfd>());
        Assert.Equal(kvm_run.UnionOffset, Marshal.SizeOf<kvm_run>());
        Assert.Equal(408, (int)Marshal.OffsetOf<kvm_fpu>(nameof(kvm_fpu.mxcsr)));
        Assert.Equal(16, (int)Marshal.OffsetOf<kvm_run_mmio>(nameof(kvm_run_mmio.len)));
        Assert.Equal(24, Marshal.SizeOf<kvm_run_memory_fault>());
    }

    [Fact]
    public void Ioctl_numbers_match_the_kernel_headers()
    {
        Assert.Equal((nuint)0xAE00, Interop.Interop.Kvm.KVM_GET_API_VERSION);
        Assert.Equal((nuint)0xAE80, Interop.Interop.Kvm.KVM_RUN);
        Assert.Equal((nuint)0x4020AE46, Interop.Interop.Kvm.KVM_SET_USER_MEMORY_REGION);
        Assert.Equal((nuint)0x8090AE81, Interop.Interop.Kvm.KVM_GET_REGS);
        Assert.Equal((nuint)0x4138AE84, Interop.Interop.Kvm.KVM_SET_SREGS);
        Assert.Equal((nuint)0xC008AE05, Interop.Interop.Kvm.KVM_GET_SUPPORTED_CPUID);
        Assert.Equal((nuint)0x4008AE90, Interop.Interop.Kvm.KVM_SET_CPUID2);
        Assert.Equal((nuint)0x4008AE61, Interop.Interop.Kvm.KVM_IRQ_LINE);
        Assert.Equal((nuint)0x4040AE77, Interop.Interop.Kvm.KVM_CREATE_PIT2);
        Assert.Equal((nuint)0x4004AE8B, Interop.Interop.Kvm.KVM_SET_SIGNAL_MASK);
    }
}
