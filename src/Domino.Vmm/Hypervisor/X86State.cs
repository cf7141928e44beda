namespace Domino.Vmm.Hypervisor;

/// <summary>x86-64 general registers of one vCPU (mirrors kvm_regs).</summary>
public struct X86Registers
{
    public ulong Rax, Rbx, Rcx, Rdx, Rsi, Rdi, Rsp, Rbp;
    public ulong R8, R9, R10, R11, R12, R13, R14, R15;
    public ulong Rip, Rflags;
}

/// <summary>A segment register's hidden state (mirrors kvm_segment).</summary>
public struct X86Segment
{
    public ulong Base;
    public uint Limit;
    public ushort Selector;
    public byte Type, Present, Dpl, Db, S, L, G, Avl, Unusable;

    /// <summary>Decodes a GDT descriptor into the segment state the CPU would load for <paramref name="selector"/>.</summary>
    public static X86Segment FromDescriptor(ushort selector, ulong d)
    {
        var limit = (uint)((d & 0xFFFF) | ((d >> 32) & 0xF0000));
        var g = (byte)((d >> 55) & 1);
        return new X86Segment
        {
            Base = ((d >> 16) & 0xFFFFFF) | ((d >> 32) & 0xFF000000),
            Limit = g == 1 ? (limit << 12) | 0xFFF : limit,
            Selector = selector,
            Type = (byte)((d >> 40) & 0xF),
            S = (byte)((d >> 44) & 1),
            Dpl = (byte)((d >> 45) & 3),
            Present = (byte)((d >> 47) & 1),
            Avl = (byte)((d >> 52) & 1),
            L = (byte)((d >> 53) & 1),
            Db = (byte)((d >> 54) & 1),
            G = g,
        };
    }
}

/// <summary>x86 control, segment and descriptor-table state of one vCPU (mirrors kvm_sregs).</summary>
public struct X86SpecialRegisters
{
    public X86Segment Cs, Ds, Es, Fs, Gs, Ss, Tr, Ldt;
    public ulong GdtBase, IdtBase;
    public ushort GdtLimit, IdtLimit;
    public ulong Cr0, Cr2, Cr3, Cr4, Cr8, Efer, ApicBase;
}
