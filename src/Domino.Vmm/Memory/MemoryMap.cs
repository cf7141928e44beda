namespace Domino.Vmm.Memory;

/// <summary>E820 / hvm_memmap_table_entry region types.</summary>
public enum E820Type : uint
{
    Ram = 1,
    Reserved = 2,
    Acpi = 3,
    Nvs = 4,
    Unusable = 5,
}

/// <summary>One entry of the memory map the guest is given.</summary>
public readonly record struct E820Entry(ulong Address, ulong Size, E820Type Type)
{
    public ulong End => Address + Size;

    public override string ToString() => $"[mem 0x{Address:x16}-0x{End - 1:x16}] {Type}";
}

/// <summary>
/// Domino's guest-physical layout (x86 PC conventions):
/// <code>
/// 0x0000_0000 - 0x0009_FFFF  RAM (low 640 KiB: boot structures, page tables, command line)
/// 0x000A_0000 - 0x000F_FFFF  reserved (legacy VGA/BIOS hole; backed, holds the ACPI tables at 0xE0000)
/// 0x0010_0000 - min(size,3G) RAM (kernel at 1 MiB)
/// 0xC000_0000 - 0xFFFF_FFFF  MMIO hole: virtio-mmio at 0xD000_0000, IOAPIC 0xFEC0_0000, LAPIC 0xFEE0_0000
/// 0x1_0000_0000 -            RAM above 4 GiB for the rest
/// </code>
/// </summary>
public sealed class MemoryMap
{
    public const ulong LowRamEnd = 0xA0000;          // 640 KiB
    public const ulong HighMemoryStart = 0x100000;    // 1 MiB
    public const ulong MmioHoleStart = 0xC000_0000;   // 3 GiB
    public const ulong FourGiB = 0x1_0000_0000;
    public const ulong MinimumSize = 8UL << 20;

    private MemoryMap(ulong size)
    {
        Size = size;
        BelowFourGiBEnd = Math.Min(size, MmioHoleStart);
        AboveFourGiBSize = size - BelowFourGiBEnd;
        var e820 = new List<E820Entry>
        {
            new(0, LowRamEnd, E820Type.Ram),
            new(LowRamEnd, HighMemoryStart - LowRamEnd, E820Type.Reserved),
            new(HighMemoryStart, BelowFourGiBEnd - HighMemoryStart, E820Type.Ram),
        };
        if (AboveFourGiBSize > 0) e820.Add(new(FourGiB, AboveFourGiBSize, E820Type.Ram));
        E820 = e820;
    }

    /// <summary>Total guest RAM in bytes (including the backed legacy hole).</summary>
    public ulong Size { get; }

    /// <summary>End of the RAM mapped from guest-physical 0; everything below it is one host mapping.</summary>
    public ulong BelowFourGiBEnd { get; }

    public ulong AboveFourGiBSize { get; }

    /// <summary>The map as the guest sees it (hvm_start_info memmap and boot_params e820_table).</summary>
    public IReadOnlyList<E820Entry> E820 { get; }

    /// <summary>
    /// True for a guest-physical address in RAM's ranges (below the MMIO hole, or from 4 GiB up) past
    /// the end of this guest's RAM: nothing is there, no device and no memory. A guest that touches it
    /// has gone wrong, and a VM shell's memory slot may cover it (see <see cref="VmShell"/>).
    /// </summary>
    public bool IsBeyondRam(ulong gpa) =>
        gpa >= BelowFourGiBEnd && gpa < MmioHoleStart || gpa >= FourGiB + AboveFourGiBSize;

    /// <summary>Where RAM ends, for messages: "128 MiB of RAM, ending at 0x8000000".</summary>
    public string DescribeRam() => AboveFourGiBSize == 0
        ? $"{Size >> 20} MiB of RAM, ending at 0x{BelowFourGiBEnd:x}"
        : $"{Size >> 20} MiB of RAM, ending at 0x{BelowFourGiBEnd:x} below 4 GiB and 0x{FourGiB + AboveFourGiBSize:x} above";

    public static MemoryMap ForSize(ulong bytes)
    {
        if (bytes < MinimumSize)
            throw new ArgumentOutOfRangeException(nameof(bytes), $"guest memory {bytes >> 20} MiB is too small (minimum {MinimumSize >> 20} MiB)");
        if ((bytes & 0xFFFFF) != 0)
            throw new ArgumentOutOfRangeException(nameof(bytes), "guest memory must be a whole number of MiB");
        return new MemoryMap(bytes);
    }
}
