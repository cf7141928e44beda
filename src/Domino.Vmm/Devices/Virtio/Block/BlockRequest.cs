using System.Buffers.Binary;
using System.Text;
using Domino.Vmm.Devices.Virtio.Queue;

namespace Domino.Vmm.Devices.Virtio.Block;

/// <summary>
/// One virtio-blk request (§5.2.6): a 16-byte header (type, reserved, sector) in the readable
/// bytes, data after it (OUT) or in the writable bytes (IN, GET_ID), and a status byte as the very
/// last writable byte. Framing is not assumed (§2.6.4): the header and data may span descriptors.
/// </summary>
public sealed class BlockRequest
{
    public const int HeaderLength = 16;
    public const int SerialLength = 20;

    private BlockRequest(DescriptorChain chain, uint type, ulong sector)
    {
        Chain = chain;
        Type = type;
        Sector = sector;
    }

    public DescriptorChain Chain { get; }
    public uint Type { get; }
    public ulong Sector { get; }

    /// <summary>Where the status byte goes: the last writable byte.</summary>
    private ulong StatusOffset => Chain.WritableLength - 1;

    /// <summary>
    /// Parse a chain; null with <paramref name="error"/> when it cannot be a block request at all
    /// (no header or no status byte), which is a driver bug rather than an I/O error.
    /// </summary>
    public static BlockRequest? Parse(DescriptorChain chain, out string? error)
    {
        error = null;
        if (chain.ReadableLength < HeaderLength)
        {
            error = $"block request at descriptor {chain.Head} has {chain.ReadableLength} device-readable bytes, less than the {HeaderLength}-byte header";
            return null;
        }
        if (chain.WritableLength == 0)
        {
            error = $"block request at descriptor {chain.Head} has no device-writable status byte";
            return null;
        }
        Span<byte> header = stackalloc byte[HeaderLength];
        chain.ReadFrom(0, header);
        return new BlockRequest(chain,
            BinaryPrimitives.ReadUInt32LittleEndian(header),
            BinaryPrimitives.ReadUInt64LittleEndian(header[8..]));
    }

    /// <summary>Carry out the request and write the status byte last; returns the used length.</summary>
    public uint Execute(DiskImage disk, byte[] serial)
    {
        var written = 0UL;
        byte status;
        try
        {
            status = Type switch
            {
                BlockRequestType.In => ReadSectors(disk, out written),
                BlockRequestType.Out => WriteSectors(disk),
                BlockRequestType.Flush => Flush(disk),
                BlockRequestType.GetId => GetId(serial, out written),
                _ => BlockStatus.Unsupported,
            };
        }
        catch (IOException)
        {
            // The host failed us (or the image shrank); the guest sees an I/O error, nothing more.
            status = BlockStatus.IoError;
            written = 0;
        }
        Chain.WriteTo(StatusOffset, [status]);
        return (uint)Math.Min(written + 1, uint.MaxValue);
    }

    private byte ReadSectors(DiskImage disk, out ulong written)
    {
        written = 0;
        var length = Chain.WritableLength - 1;
        if (!InRange(disk, length)) return BlockStatus.IoError;
        var offset = checked((long)(Sector * DiskImage.SectorSize));
        foreach (var (gpa, n) in Chain.Segments(writable: true, 0, length))
        {
            // The device's DMA into guest RAM: marked for a running migration when the read ends.
            using var buffer = Chain.Memory.BeginWrite(gpa, n);
            disk.Read(offset, buffer.Span);
            offset += n;
        }
        written = length;
        return BlockStatus.Ok;
    }

    private byte WriteSectors(DiskImage disk)
    {
        if (disk.IsReadOnly) return BlockStatus.IoError;
        var length = Chain.ReadableLength - HeaderLength;
        if (!InRange(disk, length)) return BlockStatus.IoError;
        var offset = checked((long)(Sector * DiskImage.SectorSize));
        foreach (var (gpa, n) in Chain.Segments(writable: false, HeaderLength, length))
        {
            disk.Write(offset, Chain.Memory.GetSpan(gpa, n));
            offset += n;
        }
        return BlockStatus.Ok;
    }

    private static byte Flush(DiskImage disk)
    {
        if (!disk.IsReadOnly) disk.Flush();
        return BlockStatus.Ok;
    }

    private byte GetId(byte[] serial, out ulong written)
    {
        // §5.2.6: 20 bytes, NUL-padded, not NUL-terminated when all 20 are used.
        var length = (int)Math.Min(Chain.WritableLength - 1, SerialLength);
        written = (ulong)Chain.WriteTo(0, serial.AsSpan(0, length));
        return BlockStatus.Ok;
    }

    /// <summary>Data is whole sectors and [Sector, Sector + sectors) lies within the disk.</summary>
    private bool InRange(DiskImage disk, ulong length)
    {
        if (length % DiskImage.SectorSize != 0) return false;
        var sectors = length / DiskImage.SectorSize;
        return Sector <= disk.CapacitySectors && sectors <= disk.CapacitySectors - Sector;
    }

    /// <summary>The 20-byte GET_ID answer for <paramref name="serial"/>: ASCII, truncated, NUL-padded.</summary>
    public static byte[] EncodeSerial(string serial)
    {
        var bytes = new byte[SerialLength];
        Encoding.ASCII.GetBytes(serial.AsSpan(0, Math.Min(serial.Length, SerialLength)), bytes);
        return bytes;
    }
}
