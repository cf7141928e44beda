using System.Buffers.Binary;
using System.Text;

namespace Domino.Vmm.Persist;

/// <summary>Little-endian encoder for device and vCPU state (the body of one snapshot section).</summary>
public sealed class PersistWriter
{
    private readonly MemoryStream _buffer = new();

    public int Length => (int)_buffer.Length;

    public void U8(byte v) => _buffer.WriteByte(v);

    public void Bool(bool v) => _buffer.WriteByte(v ? (byte)1 : (byte)0);

    public void U16(ushort v) { Span<byte> b = stackalloc byte[2]; BinaryPrimitives.WriteUInt16LittleEndian(b, v); _buffer.Write(b); }

    public void U32(uint v) { Span<byte> b = stackalloc byte[4]; BinaryPrimitives.WriteUInt32LittleEndian(b, v); _buffer.Write(b); }

    public void U64(ulong v) { Span<byte> b = stackalloc byte[8]; BinaryPrimitives.WriteUInt64LittleEndian(b, v); _buffer.Write(b); }

    public void I32(int v) => U32(unchecked((uint)v));

    /// <summary>A length-prefixed byte string.</summary>
    public void Bytes(ReadOnlySpan<byte> v)
    {
        U32((uint)v.Length);
        _buffer.Write(v);
    }

    public void String(string v) => Bytes(Encoding.UTF8.GetBytes(v));

    public byte[] ToArray() => _buffer.ToArray();
}

/// <summary>Decoder matching <see cref="PersistWriter"/>; running past the end is a <see cref="SnapshotException"/>.</summary>
public sealed class PersistReader(ReadOnlyMemory<byte> data, string what)
{
    private int _pos;

    public bool AtEnd => _pos == data.Length;

    private ReadOnlySpan<byte> Take(int n)
    {
        if (n < 0 || data.Length - _pos < n)
            throw new SnapshotException($"{what}: section ends after {data.Length} bytes, {n} more expected at offset {_pos} (truncated or from another version)");
        var s = data.Span.Slice(_pos, n);
        _pos += n;
        return s;
    }

    public byte U8() => Take(1)[0];

    public bool Bool() => Take(1)[0] != 0;

    public ushort U16() => BinaryPrimitives.ReadUInt16LittleEndian(Take(2));

    public uint U32() => BinaryPrimitives.ReadUInt32LittleEndian(Take(4));

    public ulong U64() => BinaryPrimitives.ReadUInt64LittleEndian(Take(8));

    public int I32() => unchecked((int)U32());

    public byte[] Bytes() => Take(checked((int)U32())).ToArray();

    public string String() => Encoding.UTF8.GetString(Take(checked((int)U32())));

    /// <summary>Refuses trailing bytes: a section longer than its reader expects is from another version.</summary>
    public void End()
    {
        if (!AtEnd) throw new SnapshotException($"{what}: {data.Length - _pos} unexpected bytes at the end of the section");
    }
}
