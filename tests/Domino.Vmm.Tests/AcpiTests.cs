using System.Buffers.Binary;
using System.Text;
using Domino.Vmm.Acpi;
using Domino.Vmm.Boot;

namespace Domino.Vmm.Tests;

public class AcpiTests
{
    private static Dictionary<string, (ulong Address, byte[] Bytes)> Tables(int vcpus) =>
        AcpiTables.Build(BootLayout.Rsdp, vcpus).ToDictionary(t => Encoding.ASCII.GetString(t.Bytes, 0, 4), t => t);

    [Theory]
    [InlineData(1)]
    [InlineData(4)]
    [InlineData(64)]
    public void Every_table_checksums_to_zero(int vcpus)
    {
        foreach (var (sig, (_, bytes)) in Tables(vcpus))
        {
            if (sig == "RSD ")
            {
                Assert.Equal(0, AcpiTables.Sum(bytes.AsSpan(0, 20)));
                Assert.Equal(0, AcpiTables.Sum(bytes));
            }
            else
            {
                Assert.Equal((uint)bytes.Length, BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(4)));
                Assert.True(AcpiTables.Sum(bytes) == 0, $"{sig} checksum");
            }
        }
    }

    [Fact]
    public void Rsdp_points_to_xsdt_which_lists_fadt_and_madt()
    {
        var t = Tables(2);
        var rsdp = t["RSD "].Bytes;
        Assert.Equal("RSD PTR ", Encoding.ASCII.GetString(rsdp, 0, 8));
        Assert.Equal(2, rsdp[15]);
        Assert.Equal(t["XSDT"].Address, BinaryPrimitives.ReadUInt64LittleEndian(rsdp.AsSpan(24)));
        var xsdt = t["XSDT"].Bytes;
        var entries = Enumerable.Range(0, (xsdt.Length - 36) / 8).Select(i => BinaryPrimitives.ReadUInt64LittleEndian(xsdt.AsSpan(36 + 8 * i))).ToList();
        Assert.Equal([t["FACP"].Address, t["APIC"].Address], entries);
        var fadt = t["FACP"].Bytes;
        Assert.Equal(t["DSDT"].Address, BinaryPrimitives.ReadUInt64LittleEndian(fadt.AsSpan(140)));
        Assert.NotEqual(0u, BinaryPrimitives.ReadUInt32LittleEndian(fadt.AsSpan(112)) & (1u << 20)); // HW_REDUCED_ACPI
        Assert.Equal(0x600UL, BinaryPrimitives.ReadUInt64LittleEndian(fadt.AsSpan(244 + 4)));         // sleep control
    }

    [Fact]
    public void Madt_lists_every_vcpu_and_the_ioapic()
    {
        var madt = Tables(4)["APIC"].Bytes;
        var lapicIds = new List<int>();
        var ioapics = 0;
        for (var pos = 44; pos < madt.Length; pos += madt[pos + 1])
        {
            if (madt[pos] == 0) lapicIds.Add(madt[pos + 3]);
            if (madt[pos] == 1)
            {
                ioapics++;
                Assert.Equal(0xFEC00000u, BinaryPrimitives.ReadUInt32LittleEndian(madt.AsSpan(pos + 4)));
            }
        }
        Assert.Equal([0, 1, 2, 3], lapicIds);
        Assert.Equal(1, ioapics);
    }

    [Fact]
    public void Dsdt_carries_the_S5_package()
    {
        var dsdt = Tables(1)["DSDT"].Bytes;
        Assert.Contains("_S5_", Encoding.ASCII.GetString(dsdt));
    }
}
