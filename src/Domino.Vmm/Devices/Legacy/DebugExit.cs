namespace Domino.Vmm.Devices.Legacy;

/// <summary>QEMU-style isa-debug-exit at port 0xf4: any write powers the guest off (the value is reported).</summary>
public sealed class DebugExit(IGuestEvents events) : IBusDevice
{
    public const ushort Port = 0xF4;

    public void Read(ulong offset, Span<byte> data) => data.Clear();

    public void Write(ulong offset, ReadOnlySpan<byte> data)
    {
        uint value = 0;
        for (var i = 0; i < data.Length && i < 4; i++) value |= (uint)data[i] << (8 * i);
        events.PowerOff($"debug-exit port 0x{Port:x} (value 0x{value:x})");
    }
}
