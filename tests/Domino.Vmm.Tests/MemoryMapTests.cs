using Domino.Vmm.Memory;

namespace Domino.Vmm.Tests;

public class MemoryMapTests
{
    [Fact]
    public void Small_guest_has_low_ram_hole_and_ram_from_1_MiB()
    {
        var m = MemoryMap.ForSize(256UL << 20);
        Assert.Equal(
            [new E820Entry(0, 0xA0000, E820Type.Ram), new E820Entry(0xA0000, 0x60000, E820Type.Reserved), new E820Entry(0x100000, (256UL << 20) - 0x100000, E820Type.Ram)],
            m.E820);
        Assert.Equal(0UL, m.AboveFourGiBSize);
    }

    [Fact]
    public void Large_guest_skips_the_mmio_hole_below_4_GiB()
    {
        var m = MemoryMap.ForSize(4UL << 30);
        Assert.Equal(0xC000_0000UL, m.BelowFourGiBEnd);
        Assert.Equal(new E820Entry(0x1_0000_0000, 1UL << 30, E820Type.Ram), m.E820[^1]);
        Assert.DoesNotContain(m.E820, e => e.Address < 0x1_0000_0000 && e.End > 0xC000_0000);
    }

    [Theory]
    [InlineData(1UL << 20)]
    [InlineData((64UL << 20) + 5)]
    public void Bad_sizes_are_refused(ulong size) => Assert.Throws<ArgumentOutOfRangeException>(() => MemoryMap.ForSize(size));

    [Fact]
    public void Guest_memory_rejects_out_of_range_accesses()
    {
        using var ram = GuestRam.Create(MemoryMap.ForSize(16 << 20), null);
        ram.Memory.Write(0x1000, 0xDEADBEEFu);
        Assert.Equal(0xDEADBEEFu, ram.Memory.Read<uint>(0x1000));
        Assert.Throws<GuestMemoryException>(() => ram.Memory.GetSpan((16 << 20) - 2, 4));
        Assert.Throws<GuestMemoryException>(() => ram.Memory.GetSpan(ulong.MaxValue - 1, 4));
    }
}
