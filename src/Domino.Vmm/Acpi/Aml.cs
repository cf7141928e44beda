using System.Buffers.Binary;
using System.Text;

namespace Domino.Vmm.Acpi;

/// <summary>
/// An encoder for the few ACPI Machine Language terms the DSDT needs (ACPI 6.5 §20.2: names,
/// scopes, devices, methods, integers, strings, packages, buffers with resource templates,
/// operation regions and fields, Store, And, LEqual, If, Notify). Each method returns the
/// term's bytes; callers nest them as ASL nests its terms.
/// </summary>
public static class Aml
{
    private const byte ZeroOp = 0x00, OneOp = 0x01, OnesOp = 0xFF;
    private const byte NameOp = 0x08, BytePrefix = 0x0A, WordPrefix = 0x0B, DWordPrefix = 0x0C, StringPrefix = 0x0D, QWordPrefix = 0x0E;
    private const byte ScopeOp = 0x10, BufferOp = 0x11, PackageOp = 0x12, MethodOp = 0x14;
    private const byte DualNamePrefix = 0x2E, MultiNamePrefix = 0x2F, RootChar = 0x5C, ExtOpPrefix = 0x5B;
    private const byte OpRegionOp = 0x80, FieldOp = 0x81, DeviceOp = 0x82; // after ExtOpPrefix
    private const byte StoreOp = 0x70, AndOp = 0x7B, NotifyOp = 0x86, LEqualOp = 0x93, IfOp = 0xA0;

    public static readonly byte[] Zero = [ZeroOp];
    public static readonly byte[] One = [OneOp];
    public static readonly byte[] Ones = [OnesOp];
    public static readonly byte[] Local0 = [0x60];
    public static readonly byte[] Local1 = [0x61];
    public static readonly byte[] Arg0 = [0x68];

    /// <summary>Operation region spaces (§19.6.100).</summary>
    public const byte SystemMemory = 0x00, SystemIO = 0x01;

    /// <summary>Field flags (§19.6.48): access type in bits 0-3, lock rule bit 4, update rule bits 5-6.</summary>
    public const byte ByteAcc = 1, NoLock = 0, Preserve = 0, WriteAsZeros = 2 << 5;

    /// <summary><c>Name (NAME, value)</c>.</summary>
    public static byte[] Name(string path, byte[] value) => [NameOp, .. NameString(path), .. value];

    /// <summary><c>Scope (PATH) { body }</c>.</summary>
    public static byte[] Scope(string path, params byte[][] body) => [ScopeOp, .. Package([.. NameString(path), .. Concat(body)])];

    /// <summary><c>Device (PATH) { body }</c>.</summary>
    public static byte[] Device(string path, params byte[][] body) => [ExtOpPrefix, DeviceOp, .. Package([.. NameString(path), .. Concat(body)])];

    /// <summary><c>Method (NAME, args, Serialized|NotSerialized) { body }</c>, sync level 0.</summary>
    public static byte[] Method(string name, int args, bool serialized, params byte[][] body)
    {
        if (args is < 0 or > 7) throw new ArgumentOutOfRangeException(nameof(args), "a method takes 0 to 7 arguments");
        var flags = (byte)(args | (serialized ? 1 << 3 : 0));
        return [MethodOp, .. Package([.. NameString(name), flags, .. Concat(body)])];
    }

    /// <summary>The shortest encoding of an integer: Zero, One, Ones or a Byte/Word/DWord/QWord constant.</summary>
    public static byte[] Integer(ulong value)
    {
        switch (value)
        {
            case 0: return Zero;
            case 1: return One;
            case ulong.MaxValue: return Ones;
            case <= byte.MaxValue: return [BytePrefix, (byte)value];
            case <= ushort.MaxValue:
            {
                var b = new byte[3];
                b[0] = WordPrefix;
                BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(1), (ushort)value);
                return b;
            }
            case <= uint.MaxValue:
                return DWord((uint)value);
            default:
            {
                var b = new byte[9];
                b[0] = QWordPrefix;
                BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(1), value);
                return b;
            }
        }
    }

    private static byte[] DWord(uint value)
    {
        var b = new byte[5];
        b[0] = DWordPrefix;
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(1), value);
        return b;
    }

    /// <summary>A string constant (ASCII, no NUL inside).</summary>
    public static byte[] String(string s)
    {
        foreach (var c in s)
            if (c is < (char)1 or > (char)0x7F) throw new ArgumentException($"AML strings are 7-bit ASCII without NUL: '{s}'", nameof(s));
        return [StringPrefix, .. Encoding.ASCII.GetBytes(s), 0];
    }

    /// <summary><c>EISAID ("PNP0C0C")</c>: three letters packed 5 bits each, then four hex digits, as a DWord.</summary>
    public static byte[] EisaId(string id)
    {
        if (id.Length != 7 || !id[..3].All(c => c is >= 'A' and <= 'Z') || !id[3..].All(Uri.IsHexDigit))
            throw new ArgumentException($"an EISA id is three capital letters and four hex digits, not '{id}'", nameof(id));
        var letters = (ushort)(((id[0] - 0x40) << 10) | ((id[1] - 0x40) << 5) | (id[2] - 0x40));
        var number = Convert.ToUInt16(id[3..], 16);
        // Both halves are stored big-endian: "PNP0A03" is the bytes 41 D0 0A 03.
        return [DWordPrefix, (byte)(letters >> 8), (byte)letters, (byte)(number >> 8), (byte)number];
    }

    /// <summary><c>Package () { elements }</c>.</summary>
    public static byte[] PackageOf(params byte[][] elements)
    {
        if (elements.Length > 255) throw new ArgumentOutOfRangeException(nameof(elements), "a package holds at most 255 elements");
        return [PackageOp, .. Package([(byte)elements.Length, .. Concat(elements)])];
    }

    /// <summary><c>ResourceTemplate () { descriptors }</c>: a buffer of resource descriptors closed by an end tag.</summary>
    public static byte[] ResourceTemplate(params byte[][] descriptors)
    {
        byte[] bytes = [.. Concat(descriptors), 0x79, 0x00]; // End Tag, checksum 0 = "treat as correct"
        return [BufferOp, .. Package([.. Integer((ulong)bytes.Length), .. bytes])];
    }

    /// <summary>Extended Interrupt Descriptor (§6.4.3.6): consumer, one GSI.</summary>
    public static byte[] ExtendedInterrupt(uint gsi, bool edge, bool activeLow, bool shared)
    {
        var d = new byte[9];
        d[0] = 0x89;
        BinaryPrimitives.WriteUInt16LittleEndian(d.AsSpan(1), 6);
        d[3] = (byte)(1 | (edge ? 2 : 0) | (activeLow ? 4 : 0) | (shared ? 8 : 0));
        d[4] = 1; // interrupt table length
        BinaryPrimitives.WriteUInt32LittleEndian(d.AsSpan(5), gsi);
        return d;
    }

    /// <summary>I/O Port Descriptor (§6.4.2.5): 16-bit decode, one fixed range.</summary>
    public static byte[] IoPort(ushort port, byte length)
    {
        var d = new byte[8];
        d[0] = 0x47;
        d[1] = 1; // decodes 16 address bits
        BinaryPrimitives.WriteUInt16LittleEndian(d.AsSpan(2), port);
        BinaryPrimitives.WriteUInt16LittleEndian(d.AsSpan(4), port);
        d[6] = 1;
        d[7] = length;
        return d;
    }

    /// <summary>IRQ Descriptor without flags (§6.4.2.1): an ISA IRQ, edge, active high.</summary>
    public static byte[] IrqNoFlags(int irq)
    {
        if (irq is < 0 or > 15) throw new ArgumentOutOfRangeException(nameof(irq), "ISA IRQs are 0 to 15");
        var mask = (ushort)(1 << irq);
        return [0x22, (byte)mask, (byte)(mask >> 8)];
    }

    /// <summary><c>OperationRegion (NAME, space, offset, length)</c>.</summary>
    public static byte[] OperationRegion(string name, byte space, ulong offset, ulong length) =>
        [ExtOpPrefix, OpRegionOp, .. NameString(name), space, .. Integer(offset), .. Integer(length)];

    /// <summary><c>Field (REGION, flags) { NAME, bits, ... }</c>.</summary>
    public static byte[] Field(string region, byte flags, params (string Name, int Bits)[] fields)
    {
        var list = new List<byte>();
        foreach (var (name, bits) in fields)
        {
            list.AddRange(NameSeg(name));
            list.AddRange(PkgLengthOf(bits, includesItself: false));
        }
        return [ExtOpPrefix, FieldOp, .. Package([.. NameString(region), flags, .. list])];
    }

    /// <summary><c>Store (source, target)</c>.</summary>
    public static byte[] Store(byte[] source, byte[] target) => [StoreOp, .. source, .. target];

    /// <summary><c>And (a, b, target)</c>; without a target the result is only returned.</summary>
    public static byte[] And(byte[] a, byte[] b, byte[]? target = null) => [AndOp, .. a, .. b, .. target ?? Zero];

    /// <summary><c>LEqual (a, b)</c>.</summary>
    public static byte[] LEqual(byte[] a, byte[] b) => [LEqualOp, .. a, .. b];

    /// <summary><c>If (predicate) { body }</c>.</summary>
    public static byte[] If(byte[] predicate, params byte[][] body) => [IfOp, .. Package([.. predicate, .. Concat(body)])];

    /// <summary><c>Notify (object, value)</c>.</summary>
    public static byte[] Notify(string path, ulong value) => [NotifyOp, .. NameString(path), .. Integer(value)];

    /// <summary>A reference to a named object (as an operand).</summary>
    public static byte[] Path(string path) => NameString(path);

    /// <summary>
    /// A NameString: an optional leading <c>\</c> (root), then dot-separated segments of up to four
    /// characters ([A-Z_] then [A-Z0-9_], padded with '_').
    /// </summary>
    public static byte[] NameString(string path)
    {
        var bytes = new List<byte>();
        var rest = path;
        if (rest.StartsWith('\\'))
        {
            bytes.Add(RootChar);
            rest = rest[1..];
        }
        var segments = rest.Split('.');
        if (segments.Length > 255) throw new ArgumentException($"too many segments in AML name '{path}'", nameof(path));
        if (segments.Length == 2) bytes.Add(DualNamePrefix);
        else if (segments.Length > 2) bytes.AddRange([MultiNamePrefix, (byte)segments.Length]);
        foreach (var s in segments) bytes.AddRange(NameSeg(s));
        return [.. bytes];
    }

    private static byte[] NameSeg(string segment)
    {
        if (segment.Length is < 1 or > 4 || !(segment[0] is (>= 'A' and <= 'Z') or '_') ||
            !segment.All(c => c is (>= 'A' and <= 'Z') or (>= '0' and <= '9') or '_'))
            throw new ArgumentException($"'{segment}' is not an AML name segment (1-4 of A-Z, 0-9, _; not starting with a digit)", nameof(segment));
        return Encoding.ASCII.GetBytes(segment.PadRight(4, '_'));
    }

    /// <summary>PkgLength followed by <paramref name="body"/>: the length counts itself and the body.</summary>
    private static byte[] Package(byte[] body) => [.. PkgLengthOf(body.Length, includesItself: true), .. body];

    /// <summary>
    /// PkgLength encoding (§20.2.4): one byte for values below 64; otherwise the lead byte holds the
    /// count of following bytes in bits 6-7 and the low nibble, each following byte eight more bits.
    /// </summary>
    internal static byte[] PkgLengthOf(int length, bool includesItself)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        for (var n = 1; n <= 4; n++)
        {
            var total = includesItself ? length + n : length;
            var limit = n == 1 ? 1 << 6 : 1 << (4 + 8 * (n - 1));
            if (total >= limit) continue;
            if (n == 1) return [(byte)total];
            var b = new byte[n];
            b[0] = (byte)(((n - 1) << 6) | (total & 0xF));
            for (var i = 1; i < n; i++) b[i] = (byte)(total >> (4 + 8 * (i - 1)));
            return b;
        }
        throw new ArgumentOutOfRangeException(nameof(length), "an AML package is at most 2^28 bytes");
    }

    private static IEnumerable<byte> Concat(byte[][] parts) => parts.SelectMany(p => p);
}
