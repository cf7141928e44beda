using System.Buffers.Binary;
using System.Text;
using Domino.Vmm.Devices.Acpi;
using Domino.Vmm.Devices.Legacy;
using Domino.Vmm.Memory;

namespace Domino.Vmm.Acpi;

/// <summary>
/// A minimal ACPI table set: RSDP (v2) → XSDT → FADT (hardware-reduced, sleep control and reset
/// register at the VMM's port 0x600) → DSDT (<c>_S5</c>, the power button, the Generic Event Device
/// that presses it, the i8042 keyboard), and a MADT with every vCPU's local APIC, the IOAPIC and the
/// ISA interrupt overrides. Checksums make each table sum to 0.
/// </summary>
public static class AcpiTables
{
    public const ulong IoApicAddress = 0xFEC0_0000;
    public const ulong LocalApicAddress = 0xFEE0_0000;
    private const string OemId = "DOMINO";
    private const string OemTableId = "DOMINOVM";
    private const uint FadtHwReducedAcpi = 1 << 20, FadtResetRegSup = 1 << 10;
    private const ushort FadtBootArch8042 = 1 << 1;

    /// <summary>Writes the tables at <paramref name="rsdpAddress"/> upwards and returns the RSDP address.</summary>
    public static ulong Write(GuestMemory memory, ulong rsdpAddress, int vcpuCount)
    {
        var tables = Build(rsdpAddress, vcpuCount);
        foreach (var (address, bytes) in tables) memory.Write(address, bytes);
        return rsdpAddress;
    }

    /// <summary>Builds every table with its final guest-physical address (RSDP first).</summary>
    public static List<(ulong Address, byte[] Bytes)> Build(ulong rsdpAddress, int vcpuCount)
    {
        if (vcpuCount is < 1 or > 254) throw new ArgumentOutOfRangeException(nameof(vcpuCount), "1 to 254 vCPUs");
        var dsdt = Dsdt();
        var madt = Madt(vcpuCount);
        var next = Align(rsdpAddress + 36);
        var dsdtAt = next; next = Align(next + (ulong)dsdt.Length);
        var fadt = Fadt(dsdtAt);
        var fadtAt = next; next = Align(next + (ulong)fadt.Length);
        var madtAt = next; next = Align(next + (ulong)madt.Length);
        var xsdt = Xsdt([fadtAt, madtAt]);
        var xsdtAt = next; next += (ulong)xsdt.Length;
        if (next > MemoryMap.HighMemoryStart) throw new InvalidOperationException("ACPI tables overflow the legacy BIOS area");
        return [(rsdpAddress, Rsdp(xsdtAt)), (dsdtAt, dsdt), (fadtAt, fadt), (madtAt, madt), (xsdtAt, xsdt)];
    }

    private static ulong Align(ulong a) => (a + 15) & ~15UL;

    /// <summary>Sum of all bytes modulo 256; a valid table sums to 0.</summary>
    public static byte Sum(ReadOnlySpan<byte> bytes)
    {
        byte s = 0;
        foreach (var b in bytes) s += b;
        return s;
    }

    internal static byte[] Rsdp(ulong xsdt)
    {
        var t = new byte[36];
        Encoding.ASCII.GetBytes("RSD PTR ").CopyTo(t, 0);
        Encoding.ASCII.GetBytes(OemId).CopyTo(t, 9);
        t[15] = 2; // revision: ACPI 2.0+
        BinaryPrimitives.WriteUInt32LittleEndian(t.AsSpan(20), 36);
        BinaryPrimitives.WriteUInt64LittleEndian(t.AsSpan(24), xsdt);
        t[8] = (byte)-Sum(t.AsSpan(0, 20));   // ACPI 1.0 checksum over the first 20 bytes
        t[32] = (byte)-Sum(t);                  // extended checksum over all 36
        return t;
    }

    private static byte[] Header(string signature, int length, byte revision)
    {
        var t = new byte[length];
        Encoding.ASCII.GetBytes(signature).CopyTo(t, 0);
        BinaryPrimitives.WriteUInt32LittleEndian(t.AsSpan(4), (uint)length);
        t[8] = revision;
        Encoding.ASCII.GetBytes(OemId).CopyTo(t, 10);
        Encoding.ASCII.GetBytes(OemTableId).CopyTo(t, 16);
        BinaryPrimitives.WriteUInt32LittleEndian(t.AsSpan(24), 1);
        Encoding.ASCII.GetBytes("DOMI").CopyTo(t, 28);
        BinaryPrimitives.WriteUInt32LittleEndian(t.AsSpan(32), 1);
        return t;
    }

    private static byte[] Finish(byte[] t)
    {
        t[9] = 0;
        t[9] = (byte)-Sum(t);
        return t;
    }

    internal static byte[] Xsdt(ulong[] entries)
    {
        var t = Header("XSDT", 36 + 8 * entries.Length, 1);
        for (var i = 0; i < entries.Length; i++) BinaryPrimitives.WriteUInt64LittleEndian(t.AsSpan(36 + 8 * i), entries[i]);
        return Finish(t);
    }

    /// <summary>
    /// DSDT, as ASL:
    /// <code>
    /// Name (_S5, Package () { 5, 0, 0, 0 })               // SLP_TYP 5 for soft-off
    /// Scope (\_SB) {
    ///     Device (PWRB) { Name (_HID, EISAID ("PNP0C0C")) Name (_UID, 0) }   // control-method power button
    ///     Device (GED) {                                                       // Generic Event Device
    ///         Name (_HID, "ACPI0013") Name (_UID, 0)
    ///         Name (_CRS, ResourceTemplate () { Interrupt (ResourceConsumer, Edge, ActiveHigh, Exclusive) { 3 } })
    ///         OperationRegion (GDST, SystemMemory, 0xFEA00000, 1)
    ///         Field (GDST, ByteAcc, NoLock, WriteAsZeros) { GDAT, 8 }
    ///         Method (_EVT, 1, Serialized) {                                   // Linux's evged calls it on the interrupt
    ///             Local0 = GDAT                                                // reading clears the pending events
    ///             If ((Local0 &amp; 8) == 8) { Notify (\_SB.PWRB, 0x80) }        // power button pressed
    ///         }
    ///     }
    ///     Device (PS2K) {                                                      // the i8042 and its keyboard
    ///         Name (_HID, EISAID ("PNP0303"))
    ///         Name (_CRS, ResourceTemplate () { IO (Decode16, 0x60, 0x60, 1, 1) IO (Decode16, 0x64, 0x64, 1, 1) IRQNoFlags () { 1 } })
    ///     }
    /// }
    /// </code>
    /// </summary>
    internal static byte[] Dsdt()
    {
        const byte PowerButtonPressed = 0x80; // ACPI 6.5 §5.6.6: Notify value for a control-method power button
        var powerButton = (ulong)GedEvent.PowerButton;
        byte[] aml =
        [
            .. Aml.Name("_S5_", Aml.PackageOf(Aml.Integer(AcpiPmDevice.S5SleepType), Aml.Zero, Aml.Zero, Aml.Zero)),
            .. Aml.Scope("\\_SB_",
                Aml.Device("PWRB",
                    Aml.Name("_HID", Aml.EisaId("PNP0C0C")),
                    Aml.Name("_UID", Aml.Zero)),
                Aml.Device("GED_",
                    Aml.Name("_HID", Aml.String("ACPI0013")),
                    Aml.Name("_UID", Aml.Zero),
                    Aml.Name("_CRS", Aml.ResourceTemplate(Aml.ExtendedInterrupt(AcpiGedDevice.Gsi, edge: true, activeLow: false, shared: false))),
                    Aml.OperationRegion("GDST", Aml.SystemMemory, AcpiGedDevice.Address, AcpiGedDevice.RegisterLength),
                    Aml.Field("GDST", Aml.ByteAcc | Aml.NoLock | Aml.WriteAsZeros, ("GDAT", 8)),
                    Aml.Method("_EVT", 1, serialized: true,
                        Aml.Store(Aml.Path("GDAT"), Aml.Local0),
                        Aml.If(Aml.LEqual(Aml.And(Aml.Local0, Aml.Integer(powerButton)), Aml.Integer(powerButton)),
                            Aml.Notify("\\_SB_.PWRB", PowerButtonPressed)))),
                Aml.Device("PS2K",
                    Aml.Name("_HID", Aml.EisaId("PNP0303")),
                    Aml.Name("_CRS", Aml.ResourceTemplate(
                        Aml.IoPort(I8042.DataPort, 1),
                        Aml.IoPort(I8042.CommandPort, 1),
                        Aml.IrqNoFlags((int)I8042.KeyboardIrq))))),
        ];
        var t = Header("DSDT", 36 + aml.Length, 2);
        aml.CopyTo(t, 36);
        return Finish(t);
    }

    /// <summary>FADT revision 6 (276 bytes), hardware-reduced, with sleep control/status and reset registers.</summary>
    internal static byte[] Fadt(ulong dsdt)
    {
        var t = Header("FACP", 276, 6);
        var s = t.AsSpan();
        BinaryPrimitives.WriteUInt32LittleEndian(s[40..], (uint)dsdt);
        BinaryPrimitives.WriteUInt16LittleEndian(s[109..], FadtBootArch8042); // IAPC_BOOT_ARCH: an i8042 is there
        BinaryPrimitives.WriteUInt32LittleEndian(s[112..], FadtHwReducedAcpi | FadtResetRegSup);
        WriteIoGas(s[116..], AcpiPmDevice.Port);               // RESET_REG
        s[128] = AcpiPmDevice.ResetValue;                      // RESET_VALUE
        s[131] = 0;                                            // FADT minor version
        BinaryPrimitives.WriteUInt64LittleEndian(s[140..], dsdt); // X_DSDT
        WriteIoGas(s[244..], AcpiPmDevice.Port);               // SLEEP_CONTROL_REG
        WriteIoGas(s[256..], AcpiPmDevice.Port);               // SLEEP_STATUS_REG
        Encoding.ASCII.GetBytes("DOMINO").CopyTo(s[268..]);    // hypervisor vendor identity
        return Finish(t);
    }

    /// <summary>Generic Address Structure: 8-bit system I/O register.</summary>
    private static void WriteIoGas(Span<byte> g, ushort port)
    {
        g[0] = 1;  // SystemIO
        g[1] = 8;  // bit width
        g[2] = 0;  // bit offset
        g[3] = 1;  // byte access
        BinaryPrimitives.WriteUInt64LittleEndian(g[4..], port);
    }

    /// <summary>MADT: LAPIC per vCPU (APIC ID = vCPU index), IOAPIC id 0 at GSI 0, IRQ0→GSI2 and SCI-style overrides.</summary>
    internal static byte[] Madt(int vcpus)
    {
        var entries = new List<byte[]>();
        for (var i = 0; i < vcpus; i++)
        {
            var e = new byte[8];
            e[0] = 0; e[1] = 8; e[2] = (byte)i; e[3] = (byte)i;
            BinaryPrimitives.WriteUInt32LittleEndian(e.AsSpan(4), 1); // enabled
            entries.Add(e);
        }
        var ioapic = new byte[12];
        ioapic[0] = 1; ioapic[1] = 12; ioapic[2] = (byte)vcpus; // IOAPIC id after the LAPIC ids
        BinaryPrimitives.WriteUInt32LittleEndian(ioapic.AsSpan(4), (uint)IoApicAddress);
        BinaryPrimitives.WriteUInt32LittleEndian(ioapic.AsSpan(8), 0);
        entries.Add(ioapic);
        var iso = new byte[10];
        iso[0] = 2; iso[1] = 10; iso[2] = 0; iso[3] = 0; // ISA IRQ 0 (PIT) -> GSI 2
        BinaryPrimitives.WriteUInt32LittleEndian(iso.AsSpan(4), 2);
        entries.Add(iso);

        var length = 44 + entries.Sum(e => e.Length);
        var t = Header("APIC", length, 4);
        BinaryPrimitives.WriteUInt32LittleEndian(t.AsSpan(36), (uint)LocalApicAddress);
        BinaryPrimitives.WriteUInt32LittleEndian(t.AsSpan(40), 1); // PCAT_COMPAT: dual 8259s present
        var pos = 44;
        foreach (var e in entries)
        {
            e.CopyTo(t, pos);
            pos += e.Length;
        }
        return Finish(t);
    }
}
