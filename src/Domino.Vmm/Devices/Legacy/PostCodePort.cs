namespace Domino.Vmm.Devices.Legacy;

/// <summary>
/// Port 0x80, the PC's POST-code / I/O-delay port: guests write to it to wait a moment (Linux's
/// outb_p) or to report progress. Writes are counted and dropped; reads return 0xFF as on a PC.
/// </summary>
public sealed class PostCodePort : IBusDevice
{
    public const ushort Port = 0x80;
    private long _writes;

    public long Writes => Interlocked.Read(ref _writes);

    public void Read(ulong offset, Span<byte> data) => data.Fill(0xFF);

    public void Write(ulong offset, ReadOnlySpan<byte> data) => Interlocked.Increment(ref _writes);
}
