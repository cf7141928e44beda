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
        // Name (_S5_, Package (4) { 5, Zero, Zero, Zero })
        Assert.True(Contains(dsdt, [0x08, .. "_S5_"u8, 0x12, 0x07, 0x04, 0x0A, 0x05, 0x00, 0x00, 0x00]));
    }

    [Fact]
    public void Dsdt_declares_the_power_button_and_the_ged_that_presses_it()
    {
        var dsdt = Tables(1)["DSDT"].Bytes;
        Assert.True(Contains(dsdt, [.. "PWRB"u8, 0x08, .. "_HID"u8, 0x0C, 0x41, 0xD0, 0x0C, 0x0C]), "Device (PWRB) with _HID EISAID (PNP0C0C)");
        Assert.True(Contains(dsdt, [0x08, .. "_HID"u8, 0x0D, .. "ACPI0013"u8, 0x00]), "the GED's _HID");
        // Interrupt (ResourceConsumer, Edge, ActiveHigh, Exclusive) { 3 }, then the end tag.
        Assert.True(Contains(dsdt, [0x89, 0x06, 0x00, 0x03, 0x01, 0x03, 0x00, 0x00, 0x00, 0x79, 0x00]), "the GED's interrupt");
        // OperationRegion (GDST, SystemMemory, 0xFEA00000, One)
        Assert.True(Contains(dsdt, [0x5B, 0x80, .. "GDST"u8, 0x00, 0x0C, 0x00, 0x00, 0xA0, 0xFE, 0x01]), "the GED's register");
        // Notify (\_SB.PWRB, 0x80)
        Assert.True(Contains(dsdt, [0x86, 0x5C, 0x2E, .. "_SB_"u8, .. "PWRB"u8, 0x0A, 0x80]), "the _EVT's Notify");
        Assert.Equal(Devices.Acpi.AcpiGedDevice.Address, 0xFEA0_0000UL);
        Assert.Equal(3u, Devices.Acpi.AcpiGedDevice.Gsi);
    }

    [Fact]
    public void Dsdt_declares_the_i8042_keyboard_and_the_fadt_says_it_is_there()
    {
        var t = Tables(1);
        Assert.True(Contains(t["DSDT"].Bytes, [0x0C, 0x41, 0xD0, 0x03, 0x03]), "EISAID (PNP0303)");
        Assert.True(Contains(t["DSDT"].Bytes, [0x47, 0x01, 0x60, 0x00, 0x60, 0x00, 0x01, 0x01, 0x47, 0x01, 0x64, 0x00, 0x64, 0x00, 0x01, 0x01, 0x22, 0x02, 0x00]),
            "IO 0x60, IO 0x64, IRQ 1");
        Assert.Equal(2, BinaryPrimitives.ReadUInt16LittleEndian(t["FACP"].Bytes.AsSpan(109)) & 2); // IAPC_BOOT_ARCH 8042
    }

    [Theory]
    [InlineData(0, false, new byte[] { 0x00 })]
    [InlineData(62, true, new byte[] { 0x3F })]
    [InlineData(63, true, new byte[] { 0x41, 0x04 })]
    [InlineData(4093, true, new byte[] { 0x4F, 0xFF })]
    [InlineData(4094, true, new byte[] { 0x81, 0x00, 0x01 })]
    [InlineData(8, false, new byte[] { 0x08 })]
    public void Pkg_length_uses_the_shortest_encoding(int length, bool includesItself, byte[] expected) =>
        Assert.Equal(expected, Aml.PkgLengthOf(length, includesItself));

    [Fact]
    public void Aml_terms_encode_as_the_spec_says()
    {
        Assert.Equal([0x0C, 0x41, 0xD0, 0x0A, 0x03], Aml.EisaId("PNP0A03"));
        Assert.Equal([0x0A, 0x80], Aml.Integer(0x80));
        Assert.Equal([0x0B, 0x34, 0x12], Aml.Integer(0x1234));
        Assert.Equal([0x0E, 1, 0, 0, 0, 1, 0, 0, 0], Aml.Integer(0x1_0000_0001));
        Assert.Equal([0x5C, 0x2F, 3, .. "_SB_"u8, .. "PCI0"u8, .. "ISA_"u8], Aml.NameString("\\_SB.PCI0.ISA"));
        Assert.Equal([0x5B, 0x82, 0x0B, .. "ABC_"u8, 0x08, .. "_UID"u8, 0x00], Aml.Device("ABC", Aml.Name("_UID", Aml.Zero)));
        Assert.Throws<ArgumentException>(() => Aml.NameString("1ABC"));
        Assert.Throws<ArgumentException>(() => Aml.NameString("TOOLONG"));
        Assert.Throws<ArgumentException>(() => Aml.EisaId("pnp0c0c"));
        Assert.Throws<ArgumentException>(() => Aml.String("a\0b"));
    }

    /// <summary>
    /// ACPICA's disassembler (iasl, Debian's acpica-tools, installed by scripts/setup) reads the DSDT
    /// back as the ASL it was meant to be: the same parser family Linux uses.
    /// </summary>
    [SkippableFact]
    public void Iasl_disassembles_the_dsdt_to_the_intended_asl()
    {
        var iasl = new[] { "/usr/bin/iasl", "/usr/local/bin/iasl" }.FirstOrDefault(File.Exists);
        if (iasl is null)
        {
            const string reason = "NO iasl: install acpica-tools (scripts/setup does) to check the DSDT with ACPICA";
            if (KvmGate.Required) Assert.Fail(reason + " (DOMINO_REQUIRE_KVM=1: CI runs every check)");
            Skip.If(true, reason);
        }
        var dir = Directory.CreateTempSubdirectory("domino-dsdt-");
        try
        {
            var dat = Path.Combine(dir.FullName, "dsdt.dat");
            File.WriteAllBytes(dat, Tables(1)["DSDT"].Bytes);
            var psi = new System.Diagnostics.ProcessStartInfo(iasl, ["-d", dat]) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = dir.FullName };
            using var p = System.Diagnostics.Process.Start(psi)!;
            var output = p.StandardOutput.ReadToEnd() + p.StandardError.ReadToEnd();
            p.WaitForExit();
            Assert.True(p.ExitCode == 0, output);
            var asl = File.ReadAllText(Path.Combine(dir.FullName, "dsdt.dsl"));
            Assert.Contains("Name (_S5, Package (0x04)", asl);
            Assert.Contains("Device (PWRB)", asl);
            Assert.Contains("Name (_HID, EisaId (\"PNP0C0C\")", asl);
            Assert.Contains("Device (GED)", asl);
            Assert.Contains("Name (_HID, \"ACPI0013\"", asl);
            Assert.Contains("Interrupt (ResourceConsumer, Edge, ActiveHigh, Exclusive, ,, )", asl);
            Assert.Contains("OperationRegion (GDST, SystemMemory, 0xFEA00000, One)", asl);
            Assert.Contains("Field (GDST, ByteAcc, NoLock, WriteAsZeros)", asl);
            Assert.Contains("Method (_EVT, 1, Serialized)", asl);
            Assert.Contains("If (((Local0 & 0x08) == 0x08))", asl);
            Assert.Contains("Notify (\\_SB.PWRB, 0x80)", asl);
            Assert.Contains("Name (_HID, EisaId (\"PNP0303\")", asl);
            Assert.Contains("IRQNoFlags ()", asl);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    private static bool Contains(byte[] haystack, byte[] needle) => haystack.AsSpan().IndexOf(needle) >= 0;
}
