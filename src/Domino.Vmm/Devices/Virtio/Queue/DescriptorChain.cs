using Domino.Vmm.Memory;

namespace Domino.Vmm.Devices.Virtio.Queue;

/// <summary>One validated buffer of a descriptor chain: already proved to lie inside guest RAM.</summary>
public readonly record struct Descriptor(ulong Address, uint Length, bool IsWriteOnly);

/// <summary>
/// A descriptor chain popped from an available ring, flattened through any indirect table.
/// Device-readable buffers come first, then device-writable ones (§2.7.4.2, checked on pop), so
/// the chain reads as two byte streams: what the driver sent and where the device may answer.
/// </summary>
public sealed class DescriptorChain
{
    /// <summary>Largest span handed out at once, so lengths fit in an <see cref="int"/>.</summary>
    private const int MaxSegment = 1 << 20;

    private readonly GuestMemory _memory;
    private readonly Descriptor[] _descriptors;
    private readonly int _firstWritable;

    internal DescriptorChain(GuestMemory memory, ushort head, Descriptor[] descriptors)
    {
        _memory = memory;
        Head = head;
        _descriptors = descriptors;
        _firstWritable = Array.FindIndex(descriptors, d => d.IsWriteOnly);
        if (_firstWritable < 0) _firstWritable = descriptors.Length;
        for (var i = 0; i < descriptors.Length; i++)
        {
            if (i < _firstWritable) ReadableLength += descriptors[i].Length;
            else WritableLength += descriptors[i].Length;
        }
    }

    /// <summary>The guest RAM the descriptors point into; every descriptor is a valid range of it.</summary>
    public GuestMemory Memory => _memory;

    /// <summary>Index of the head descriptor; what goes back in the used ring.</summary>
    public ushort Head { get; }

    public IReadOnlyList<Descriptor> Descriptors => _descriptors;

    /// <summary>Total bytes the driver offers for the device to read.</summary>
    public ulong ReadableLength { get; }

    /// <summary>Total bytes the device may write.</summary>
    public ulong WritableLength { get; }

    /// <summary>Copy readable bytes starting at stream offset <paramref name="offset"/>; returns bytes copied.</summary>
    public int ReadFrom(ulong offset, Span<byte> destination)
    {
        var done = 0;
        foreach (var (gpa, length) in Segments(writable: false, offset, (ulong)destination.Length))
        {
            _memory.Read(gpa, destination.Slice(done, length));
            done += length;
        }
        return done;
    }

    /// <summary>Copy into writable bytes starting at stream offset <paramref name="offset"/>; returns bytes copied.</summary>
    public int WriteTo(ulong offset, ReadOnlySpan<byte> source)
    {
        var done = 0;
        foreach (var (gpa, length) in Segments(writable: true, offset, (ulong)source.Length))
        {
            _memory.Write(gpa, source.Slice(done, length));
            done += length;
        }
        return done;
    }

    /// <summary>
    /// The guest-physical pieces of <paramref name="length"/> bytes starting at stream offset
    /// <paramref name="offset"/> of the readable or writable stream, each at most 1 MiB; stops
    /// early where the stream ends. Callers turn each piece into a span with <see cref="GuestMemory.GetSpan"/>.
    /// </summary>
    public IEnumerable<(ulong Gpa, int Length)> Segments(bool writable, ulong offset, ulong length)
    {
        var (from, to) = writable ? (_firstWritable, _descriptors.Length) : (0, _firstWritable);
        for (var i = from; i < to && length > 0; i++)
        {
            var d = _descriptors[i];
            if (offset >= d.Length)
            {
                offset -= d.Length;
                continue;
            }
            var gpa = d.Address + offset;
            var available = d.Length - offset;
            offset = 0;
            while (available > 0 && length > 0)
            {
                var piece = (int)Math.Min(Math.Min(available, length), MaxSegment);
                yield return (gpa, piece);
                gpa += (ulong)piece;
                available -= (ulong)piece;
                length -= (ulong)piece;
            }
        }
    }
}
