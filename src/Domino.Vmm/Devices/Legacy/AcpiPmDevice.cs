namespace Domino.Vmm.Devices.Legacy;

/// <summary>
/// The hardware-reduced ACPI sleep control / reset register at port 0x600 that the FADT points
/// to: SLP_EN (bit 5) with SLP_TYP 5 (bits 2-4, the DSDT's _S5 value) powers off; the FADT reset
/// value 1 resets.
/// </summary>
public sealed class AcpiPmDevice(IGuestEvents events) : IBusDevice
{
    public const ushort Port = 0x600;
    public const byte S5SleepType = 5;
    public const byte ResetValue = 1;
    private const byte SlpEn = 1 << 5;

    public void Read(ulong offset, Span<byte> data) => data.Clear();

    public void Write(ulong offset, ReadOnlySpan<byte> data)
    {
        if (offset != 0 || data.IsEmpty) return;
        var v = data[0];
        if (v == ResetValue) events.Reboot("ACPI reset register");
        else if ((v & SlpEn) != 0 && ((v >> 2) & 7) == S5SleepType) events.PowerOff("ACPI S5 (sleep control register)");
    }
}
