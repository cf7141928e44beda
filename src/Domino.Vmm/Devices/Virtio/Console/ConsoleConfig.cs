using System.Buffers.Binary;

namespace Domino.Vmm.Devices.Virtio.Console;

/// <summary>Virtio-console feature bits (virtio 1.2 §5.3.3).</summary>
public static class ConsoleFeatures
{
    public const ulong Size = 1UL << 0;
    public const ulong Multiport = 1UL << 1;
    public const ulong EmergencyWrite = 1UL << 2;
}

/// <summary><c>struct virtio_console_config</c> (§5.3.4): cols, rows, max_nr_ports, emerg_wr.</summary>
public readonly record struct ConsoleConfig(ushort Columns, ushort Rows)
{
    public const int ColumnsOffset = 0;
    public const int RowsOffset = 2;
    public const int MaxPortsOffset = 4;
    public const int EmergencyWriteOffset = 8;
    public const int Length = 12;

    public byte[] ToBytes()
    {
        var bytes = new byte[Length];
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(ColumnsOffset), Columns);
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(RowsOffset), Rows);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(MaxPortsOffset), 1);
        return bytes;
    }
}
