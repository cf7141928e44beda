using System.Runtime.InteropServices;

// Kernel struct and field names are kept as in include/uapi/linux/kvm.h and arch/x86/include/uapi/asm/kvm.h.
#pragma warning disable IDE1006, CA1707, CA1051, CS0649

namespace Domino.Vmm.Interop;

[StructLayout(LayoutKind.Sequential)]
internal struct kvm_userspace_memory_region
{
    public uint slot;
    public uint flags;
    public ulong guest_phys_addr;
    public ulong memory_size;
    public ulong userspace_addr;
}

[StructLayout(LayoutKind.Sequential)]
internal struct kvm_irq_level
{
    public uint irq;
    public uint level;
}

[StructLayout(LayoutKind.Sequential)]
// SAFETY: unsafe only for the kernel layout\'s fixed-size arrays; the struct holds no pointers.
internal unsafe struct kvm_irqfd
{
    public uint fd;
    public uint gsi;
    public uint flags;
    public uint resamplefd;
    public fixed byte pad[16];
}

[StructLayout(LayoutKind.Sequential)]
// SAFETY: unsafe only for the kernel layout\'s fixed-size arrays; the struct holds no pointers.
internal unsafe struct kvm_pit_config
{
    public uint flags;
    public fixed uint pad[15];
}

[StructLayout(LayoutKind.Sequential)]
internal struct kvm_regs
{
    public ulong rax, rbx, rcx, rdx;
    public ulong rsi, rdi, rsp, rbp;
    public ulong r8, r9, r10, r11;
    public ulong r12, r13, r14, r15;
    public ulong rip, rflags;
}

[StructLayout(LayoutKind.Sequential)]
internal struct kvm_segment
{
    public ulong @base;
    public uint limit;
    public ushort selector;
    public byte type;
    public byte present, dpl, db, s, l, g, avl;
    public byte unusable;
    public byte padding;
}

[StructLayout(LayoutKind.Sequential)]
// SAFETY: unsafe only for the kernel layout\'s fixed-size arrays; the struct holds no pointers.
internal unsafe struct kvm_dtable
{
    public ulong @base;
    public ushort limit;
    public fixed ushort padding[3];
}

[StructLayout(LayoutKind.Sequential)]
// SAFETY: unsafe only for the kernel layout\'s fixed-size arrays; the struct holds no pointers.
internal unsafe struct kvm_sregs
{
    public kvm_segment cs, ds, es, fs, gs, ss;
    public kvm_segment tr, ldt;
    public kvm_dtable gdt, idt;
    public ulong cr0, cr2, cr3, cr4, cr8;
    public ulong efer;
    public ulong apic_base;
    public fixed ulong interrupt_bitmap[4]; // (KVM_NR_INTERRUPTS + 63) / 64
}

[StructLayout(LayoutKind.Sequential)]
// SAFETY: unsafe only for the kernel layout\'s fixed-size arrays; the struct holds no pointers.
internal unsafe struct kvm_fpu
{
    public fixed byte fpr[128];
    public ushort fcw;
    public ushort fsw;
    public byte ftwx;
    public byte pad1;
    public ushort last_opcode;
    public ulong last_ip;
    public ulong last_dp;
    public fixed byte xmm[256];
    public uint mxcsr;
    public uint pad2;
}

[StructLayout(LayoutKind.Sequential)]
// SAFETY: unsafe only for the kernel layout\'s fixed-size arrays; the struct holds no pointers.
internal unsafe struct kvm_lapic_state
{
    public fixed byte regs[1024]; // KVM_APIC_REG_SIZE
}

[StructLayout(LayoutKind.Sequential)]
internal struct kvm_mp_state
{
    public uint mp_state;
}

/// <summary>Header of kvm_signal_mask; the kernel's sigset_t (<c>len</c> = 8 bytes on x86-64) follows.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct kvm_signal_mask
{
    public uint len;
}

/// <summary>Header of the variable-length kvm_cpuid2; <see cref="kvm_cpuid_entry2"/>[nent] follows.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct kvm_cpuid2
{
    public uint nent;
    public uint padding;
}

[StructLayout(LayoutKind.Sequential)]
// SAFETY: unsafe only for the kernel layout\'s fixed-size arrays; the struct holds no pointers.
internal unsafe struct kvm_cpuid_entry2
{
    public uint function;
    public uint index;
    public uint flags;
    public uint eax, ebx, ecx, edx;
    public fixed uint padding[3];
}

/// <summary>Header of the variable-length kvm_msrs; <see cref="kvm_msr_entry"/>[nmsrs] follows.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct kvm_msrs
{
    public uint nmsrs;
    public uint pad;
}

[StructLayout(LayoutKind.Sequential)]
internal struct kvm_msr_entry
{
    public uint index;
    public uint reserved;
    public ulong data;
}

/// <summary>
/// The fixed head of the shared kvm_run page. The exit-specific union starts at
/// <see cref="UnionOffset"/>; its variants are the structs below, read at that offset.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
// SAFETY: unsafe only for the kernel layout\'s fixed-size arrays; the struct holds no pointers.
internal unsafe struct kvm_run
{
    public const int UnionOffset = 32;

    public byte request_interrupt_window;
    public byte immediate_exit;
    public fixed byte padding1[6];
    public uint exit_reason;
    public byte ready_for_interrupt_injection;
    public byte if_flag;
    public ushort flags;
    public ulong cr8;
    public ulong apic_base;
}

[StructLayout(LayoutKind.Sequential)]
internal struct kvm_run_io
{
    public byte direction;
    public byte size;
    public ushort port;
    public uint count;
    public ulong data_offset; // from the start of kvm_run
}

[StructLayout(LayoutKind.Sequential)]
// SAFETY: unsafe only for the kernel layout\'s fixed-size arrays; the struct holds no pointers.
internal unsafe struct kvm_run_mmio
{
    public ulong phys_addr;
    public fixed byte data[8];
    public uint len;
    public byte is_write;
}

/// <summary>KVM_EXIT_MEMORY_FAULT: guest-physical range KVM could not map to host memory.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct kvm_run_memory_fault
{
    public ulong flags;
    public ulong gpa;
    public ulong size;
}

[StructLayout(LayoutKind.Sequential)]
internal struct kvm_run_fail_entry
{
    public ulong hardware_entry_failure_reason;
    public uint cpu;
}

[StructLayout(LayoutKind.Sequential)]
// SAFETY: unsafe only for the kernel layout\'s fixed-size arrays; the struct holds no pointers.
internal unsafe struct kvm_run_internal
{
    public uint suberror;
    public uint ndata;
    public fixed ulong data[16];
}

[StructLayout(LayoutKind.Sequential)]
// SAFETY: unsafe only for the kernel layout\'s fixed-size arrays; the struct holds no pointers.
internal unsafe struct kvm_run_system_event
{
    public uint type;
    public uint ndata;
    public fixed ulong data[16];
}
