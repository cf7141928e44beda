namespace Domino.Vmm.Devices.Legacy;

/// <summary>
/// Just enough of the i8042 keyboard controller for a guest to reset the machine: command 0xFE on
/// port 0x64 pulses the CPU reset line. Port 0x60 reads 0; the status register reads "system flag
/// set, buffers empty". Registered twice: at 0x60 (data) and 0x64 (status/command).
/// </summary>
public sealed class I8042(IGuestEvents events) : IBusDevice
{
    public const ushort DataPort = 0x60;
    public const ushort CommandPort = 0x64;
    private const byte StatusSystemFlag = 0x04;
    private const byte CommandPulseReset = 0xFE;

    /// <summary>The data port's view of the same controller.</summary>
    public IBusDevice Data { get; } = new DataPortDevice();

    public void Read(ulong offset, Span<byte> data)
    {
        data.Clear();
        if (!data.IsEmpty) data[0] = StatusSystemFlag;
    }

    public void Write(ulong offset, ReadOnlySpan<byte> data)
    {
        if (!data.IsEmpty && data[0] == CommandPulseReset) events.Reboot("i8042 reset (0xFE to port 0x64)");
    }

    private sealed class DataPortDevice : IBusDevice
    {
        public void Read(ulong offset, Span<byte> data) => data.Clear();

        public void Write(ulong offset, ReadOnlySpan<byte> data) { }
    }
}
