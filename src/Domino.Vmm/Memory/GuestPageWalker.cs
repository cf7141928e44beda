using Domino.Vmm.Hypervisor;

namespace Domino.Vmm.Memory;

/// <summary>
/// Translates a vCPU's linear addresses to guest-physical ones by walking its page tables in guest
/// RAM, for diagnostics (the instruction bytes in a crash report). Every table read is bounds
/// checked; anything unusual (not present, outside RAM, a paging mode not handled) gives null.
/// </summary>
public static class GuestPageWalker
{
    private const ulong CR0_PG = 1UL << 31, CR4_PAE = 1 << 5, EFER_LMA = 1 << 10;
    private const ulong Present = 1, PageSize = 1 << 7;
    private const ulong AddressMask = 0x000F_FFFF_FFFF_F000;

    public static ulong? Translate(GuestMemory memory, in X86SpecialRegisters s, ulong linear)
    {
        if ((s.Cr0 & CR0_PG) == 0) return linear & 0xFFFF_FFFF;
        if ((s.Efer & EFER_LMA) == 0 || (s.Cr4 & CR4_PAE) == 0) return null; // legacy 32-bit paging: not needed here
        var table = s.Cr3 & AddressMask;
        for (var level = 3; level >= 0; level--)
        {
            var index = (linear >> (12 + 9 * level)) & 0x1FF;
            var entryAddress = table + index * 8;
            if (!memory.IsValid(entryAddress, 8)) return null;
            var entry = memory.Read<ulong>(entryAddress);
            if ((entry & Present) == 0) return null;
            if (level is 1 or 2 && (entry & PageSize) != 0)
            {
                var pageMask = (1UL << (12 + 9 * level)) - 1;
                return (entry & AddressMask & ~pageMask) | (linear & pageMask);
            }
            table = entry & AddressMask;
        }
        return table | (linear & 0xFFF);
    }

    /// <summary>Up to <paramref name="length"/> bytes at the vCPU's rip, stopping at a page boundary; null if unmapped.</summary>
    public static byte[]? ReadCode(GuestMemory memory, in X86Registers r, in X86SpecialRegisters s, int length = 16)
    {
        var linear = s.Cs.Base + r.Rip;
        if (Translate(memory, s, linear) is not { } gpa) return null;
        var n = (int)Math.Min((ulong)length, 0x1000 - (gpa & 0xFFF));
        return memory.IsValid(gpa, (ulong)n) ? memory.GetSpan(gpa, n).ToArray() : null;
    }
}
