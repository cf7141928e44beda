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
/// A write into guest RAM by the host (a device model, the loader): write through <see cref="Span"/>,
/// then end it (<c>using</c>); the pages count as written when it ends, so a dirty-page fetch that
/// runs before the bytes land cannot clear the mark and miss them.
/// </summary>
public readonly ref struct GuestWrite
{
    private readonly GuestMemory _memory;
    private readonly ulong _gpa;

    internal GuestWrite(GuestMemory memory, ulong gpa, Span<byte> span)
    {
        _memory = memory;
        _gpa = gpa;
        Span = span;
    }

    public Span<byte> Span { get; }

    public void Dispose() => _memory.MarkDirty(_gpa, (ulong)Span.Length);
}

/// <summary>
/// Bounds-checked access to guest RAM. Every address and length may come from the guest, so every
/// accessor checks that the whole range lies inside one region before touching host memory.
/// The regions' host memory is owned by the creator (the VM), which outlives this view.
/// <para>
/// KVM's dirty log sees only the guest's own stores. What the host writes into guest RAM (virtio
/// buffers and used rings, anything a device model fills) goes through the write methods here,
/// which, while <see cref="StartHostDirtyTracking"/> is on, mark the pages in a host-side bitmap
/// that a migration round merges with KVM's (<see cref="TakeHostDirty"/>).
/// </para>
/// </summary>
public sealed class GuestMemory
{
    public const int PageSize = 4096;

    private readonly GuestRegion[] _regions;

    /// <summary>Per region, one bit per page the host wrote since the last take; null while not tracking.</summary>
    private ulong[][]? _hostDirty;

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

    /// <summary>A read-only view of guest RAM; throws <see cref="GuestMemoryException"/> when out of bounds. Write with <see cref="BeginWrite"/>.</summary>
    public ReadOnlySpan<byte> GetSpan(ulong gpa, int length) => Bounded(gpa, length);

    /// <summary>
    /// A writable view of guest RAM whose pages are marked written when the returned
    /// <see cref="GuestWrite"/> is disposed; throws <see cref="GuestMemoryException"/> when out of bounds.
    /// </summary>
    public GuestWrite BeginWrite(ulong gpa, int length) => new(this, gpa, Bounded(gpa, length));

    // SAFETY: builds a span only after the bounds check below; see the comment at the pointer use.
    private unsafe Span<byte> Bounded(ulong gpa, int length)
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

    public void Write(ulong gpa, ReadOnlySpan<byte> source)
    {
        using var w = BeginWrite(gpa, source.Length);
        source.CopyTo(w.Span);
    }

    public T Read<T>(ulong gpa) where T : unmanaged =>
        MemoryMarshal.Read<T>(GetSpan(gpa, Unsafe.SizeOf<T>()));

    public void Write<T>(ulong gpa, T value) where T : unmanaged
    {
        using var w = BeginWrite(gpa, Unsafe.SizeOf<T>());
        MemoryMarshal.Write(w.Span, in value);
    }

    public void Fill(ulong gpa, int length, byte value)
    {
        using var w = BeginWrite(gpa, length);
        w.Span.Fill(value);
    }

    /// <summary>Whether host writes are being recorded (a migration or Remus is running).</summary>
    public bool TracksHostWrites => Volatile.Read(ref _hostDirty) is not null;

    /// <summary>Starts recording the pages the host writes, with an empty bitmap.</summary>
    public void StartHostDirtyTracking()
    {
        var maps = new ulong[_regions.Length][];
        for (var i = 0; i < maps.Length; i++) maps[i] = new ulong[BitmapWords(_regions[i].Size)];
        Volatile.Write(ref _hostDirty, maps);
    }

    public void StopHostDirtyTracking() => Volatile.Write(ref _hostDirty, null);

    /// <summary>Marks the pages of [gpa, gpa+length) as written by the host (a no-op unless tracking).</summary>
    public void MarkDirty(ulong gpa, ulong length)
    {
        var maps = Volatile.Read(ref _hostDirty);
        if (maps is null || length == 0) return;
        var i = FindRegion(gpa, length);
        if (i < 0) return;
        var map = maps[i];
        var first = (gpa - _regions[i].Gpa) / PageSize;
        var last = (gpa - _regions[i].Gpa + length - 1) / PageSize;
        // Device threads and the migration thread race on words: set bits atomically.
        for (var p = first; p <= last; p++) Interlocked.Or(ref map[p >> 6], 1UL << (int)(p & 63));
    }

    /// <summary>
    /// ORs the pages the host wrote in region <paramref name="region"/> since the last take into
    /// <paramref name="bitmap"/> (one bit per page, as KVM_GET_DIRTY_LOG fills it) and clears them.
    /// </summary>
    public void TakeHostDirty(int region, Span<ulong> bitmap)
    {
        var maps = Volatile.Read(ref _hostDirty);
        if (maps is null) return;
        var map = maps[region];
        if (bitmap.Length < map.Length) throw new ArgumentException($"bitmap has {bitmap.Length} words, region {region} needs {map.Length}", nameof(bitmap));
        for (var w = 0; w < map.Length; w++)
        {
            if (Volatile.Read(ref map[w]) != 0) bitmap[w] |= Interlocked.Exchange(ref map[w], 0);
        }
    }

    private static int BitmapWords(ulong size) => (int)((size / PageSize + 63) / 64);

    private int FindRegion(ulong gpa, ulong length)
    {
        for (var i = 0; i < _regions.Length; i++)
        {
            if (_regions[i].Contains(gpa, length)) return i;
        }
        return -1;
    }
}
