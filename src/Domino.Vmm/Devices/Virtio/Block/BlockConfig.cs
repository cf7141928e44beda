using System.Buffers.Binary;

namespace Domino.Vmm.Devices.Virtio.Block;

/// <summary>Virtio-blk feature bits, request types and status codes (virtio 1.2 §5.2).</summary>
public static class BlockFeatures
{
    public const ulong SizeMax = 1UL << 1;
    public const ulong SegMax = 1UL << 2;
    public const ulong ReadOnly = 1UL << 5;
    public const ulong BlkSize = 1UL << 6;
    public const ulong Flush = 1UL << 9;
}

public static class BlockRequestType
{
    public const uint In = 0;
    public const uint Out = 1;
    public const uint Flush = 4;
    public const uint GetId = 8;
}

public static class BlockStatus
{
    public const byte Ok = 0;
    public const byte IoError = 1;
    public const byte Unsupported = 2;
}

/// <summary>
/// <c>struct virtio_blk_config</c> (§5.2.4), up to and including blk_size; later fields belong to
/// features we do not offer and read as zero.
/// </summary>
public readonly record struct BlockConfig(ulong Capacity, uint SegMax)
{
    public const int CapacityOffset = 0;
    public const int SizeMaxOffset = 8;
    public const int SegMaxOffset = 12;
    public const int GeometryOffset = 16;
    public const int BlkSizeOffset = 20;
    public const int Length = 24;

    public byte[] ToBytes()
    {
        var bytes = new byte[Length];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(CapacityOffset), Capacity);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(SegMaxOffset), SegMax);
        return bytes;
    }
}
