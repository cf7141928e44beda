using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Domino.Vmm.Memory;

/// <summary>One contiguous range of guest-physical RAM backed by host memory.</summary>
/// <param name="Gpa">Guest-physical start address.</param>
/// <param name="Size">Length in bytes.</param>
/// <param name="Host">Host virtual address of the first byte; owned by whoever created the region.</param>
public readonly record struct GuestRegion(ulong Gpa, ulong Size, nint Host)
{
    public ulong End => Gpa + Size;
    public bool Contains(ulong gpa, ulong length) => gpa >= Gpa && length <= Size && gpa - Gpa <= Size - length;
}

/// <summary>Raised when a guest-supplied address or length falls outside guest RAM.</summary>
public sealed class GuestMemoryException(ulong gpa, ulong length)
    : Exception($"guest-physical range 0x{gpa:x}+0x{length:x} is outside guest RAM")
{
    public ulong Gpa { get; } = gpa;
    public ulong Length { get; } = length;
}

/// <summary>
/// Bounds-checked access to guest RAM. Every address and length may come from the guest, so every
/// accessor checks that the whole range lies inside one region before touching host memory.
/// The regions' host memory is owned by the creator (the VM), which outlives this view.
/// </summary>
public sealed class GuestMemory
{
    private readonly GuestRegion[] _regions;

    public GuestMemory(IEnumerable<GuestRegion> regions)
    {
        _regions = regions.OrderBy(r => r.Gpa).ToArray();
        for (var i = 1; i < _regions.Length; i++)
        {
            if (_regions[i].Gpa < _regions[i - 1].End)
                throw new ArgumentException($"guest regions overlap at 0x{_regions[i].Gpa:x}", nameof(regions));
        }
    }

    public IReadOnlyList<GuestRegion> Regions => _regions;

    /// <summary>Total bytes of RAM across all regions.</summary>
    public ulong TotalSize => _regions.Aggregate(0UL, (sum, r) => sum + r.Size);

    public bool IsValid(ulong gpa, ulong length) => FindRegion(gpa, length) >= 0;

    /// <summary>A span over guest RAM; throws <see cref="GuestMemoryException"/> when out of bounds.</summary>
    // SAFETY: builds a span only after the bounds check below; see the comment at the pointer use.
    public unsafe Span<byte> GetSpan(ulong gpa, int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        var i = FindRegion(gpa, (ulong)length);
        if (i < 0) throw new GuestMemoryException(gpa, (ulong)length);
        var r = _regions[i];
        // SAFETY: FindRegion proved [gpa, gpa+length) lies inside region r, whose host mapping is
        // r.Size bytes long and stays mapped for the VM's lifetime.
        return new Span<byte>((byte*)r.Host + (gpa - r.Gpa), length);
    }

    public void Read(ulong gpa, Span<byte> destination) => GetSpan(gpa, destination.Length).CopyTo(destination);

    public void Write(ulong gpa, ReadOnlySpan<byte> source) => source.CopyTo(GetSpan(gpa, source.Length));

    public T Read<T>(ulong gpa) where T : unmanaged =>
        MemoryMarshal.Read<T>(GetSpan(gpa, Unsafe.SizeOf<T>()));

    public void Write<T>(ulong gpa, T value) where T : unmanaged =>
        MemoryMarshal.Write(GetSpan(gpa, Unsafe.SizeOf<T>()), in value);

    public void Fill(ulong gpa, int length, byte value) => GetSpan(gpa, length).Fill(value);

    private int FindRegion(ulong gpa, ulong length)
    {
        for (var i = 0; i < _regions.Length; i++)
        {
            if (_regions[i].Contains(gpa, length)) return i;
        }
        return -1;
    }
}
