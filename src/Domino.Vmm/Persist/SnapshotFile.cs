using System.Buffers.Binary;
using System.Diagnostics;
using Domino.Vmm.Memory;
using Microsoft.Win32.SafeHandles;

namespace Domino.Vmm.Persist;

/// <summary>One RAM region's place in a state file and which of its pages are stored.</summary>
public sealed class MemoryImageRegion
{
    public required ulong Gpa { get; init; }
    public required ulong Size { get; init; }
    /// <summary>Page-aligned file offset of the region's first page; page n is at FileOffset + n*4096.</summary>
    public required long FileOffset { get; init; }
    /// <summary>Bit n set = page n holds data in the file; clear = a zero page, left as a hole.</summary>
    public required ulong[] Present { get; init; }
    public required long PresentPages { get; init; }
    /// <summary>CRC-32C over the present pages in order.</summary>
    public required uint DataCrc { get; init; }

    public long Pages => (long)(Size / SnapshotFile.PageSize);
}

/// <summary>Figures of one save or restore, for <c>-v</c> and benchmarks.</summary>
public sealed record PersistReport(long Bytes, long PagesWritten, long PagesSkipped, TimeSpan Elapsed, string? Detail = null)
{
    /// <summary>Where the time went, step by step (restore fills it; empty otherwise).</summary>
    public IReadOnlyList<PersistPhase> Phases { get; init; } = [];

    /// <summary>Restore: the VM was built in a <see cref="VmShell"/>'s KVM objects made ahead.</summary>
    public bool InShell { get; init; }
}

/// <summary>
/// A domain's saved state on disk (format version 1):
/// <code>
/// 0      header, 64 bytes: "DOMINOSV", u32 version, u32 header length, u64 state offset, u64 state
///        length, u64 memory-index offset, u64 memory-index length, u64 file length, u32 CPU hash,
///        u32 CRC-32C of the preceding 60 bytes
/// 64     state sections (see <see cref="VmSnapshot.Encode"/>): CONF, CPUF, CHIP, VCPU..., DEV ..., END
/// ...    memory index section "MIDX": per region gpa, size, file offset, present-page bitmap, data CRC
/// 4K-aligned
///        memory image: each region's pages at their own offset; zero pages are holes (a sparse
///        file), so the image can be mapped MAP_PRIVATE and faulted in on demand
/// </code>
/// Files are written to a temporary name and renamed, so a reader never sees half a file and a
/// VM still mapping an older file at the same path keeps its own inode.
/// </summary>
public sealed class SnapshotFile : IDisposable
{
    public const int PageSize = 4096;
    public const uint FormatVersion = 1;
    public const int HeaderLength = 64;
    private static readonly byte[] s_magic = "DOMINOSV"u8.ToArray();
    private const uint TagMemoryIndex = 0x5844494D; // "MIDX"
    private const long MaxRunPages = 1 << 16; // 256 MiB per write

    private SnapshotFile(string path, SafeFileHandle file, VmSnapshot state, IReadOnlyList<MemoryImageRegion> regions, long length)
    {
        Path = path;
        Handle = file;
        State = state;
        Regions = regions;
        Length = length;
    }

    public string Path { get; }
    public SafeFileHandle Handle { get; }
    public VmSnapshot State { get; }
    public IReadOnlyList<MemoryImageRegion> Regions { get; }
    public long Length { get; }

    public long PresentPages => Regions.Sum(r => r.PresentPages);

    /// <summary>Writes <paramref name="state"/> and the RAM in <paramref name="memory"/> to <paramref name="path"/>.</summary>
    public static PersistReport Write(string path, VmSnapshot state, GuestMemory memory, IProgress<double>? progress = null, bool sync = true)
    {
        var clock = Stopwatch.StartNew();
        var meta = state.Encode();
        var regions = memory.Regions;
        var bitmapBytes = regions.Sum(r => BitmapWords(r.Size) * 8);
        var indexLength = 12 + 8 + regions.Count * (8 * 4 + 4 + 4) + bitmapBytes;
        var indexOffset = HeaderLength + meta.Length;
        var memoryStart = Align(indexOffset + indexLength);
        var dir = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))!;
        var temp = System.IO.Path.Combine(dir, $".{System.IO.Path.GetFileName(path)}.{Environment.ProcessId}.tmp");
        long written = 0, skipped = 0;
        try
        {
            using (var file = File.OpenHandle(temp, FileMode.Create, FileAccess.ReadWrite, FileShare.None))
            {
                RandomAccess.Write(file, meta, HeaderLength);
                var image = new List<MemoryImageRegion>();
                var offset = memoryStart;
                var total = (double)memory.TotalSize;
                var done = 0.0;
                foreach (var r in regions)
                {
                    var pages = (long)(r.Size / PageSize);
                    var present = new ulong[BitmapWords(r.Size)];
                    uint crc = 0;
                    long count = 0;
                    var runStart = -1L;
                    void Flush(long first, long end)
                    {
                        var span = memory.GetSpan(r.Gpa + (ulong)first * PageSize, (int)((end - first) * PageSize));
                        crc = Crc32C.Append(crc, span);
                        RandomAccess.Write(file, span, offset + first * PageSize);
                    }
                    for (long p = 0; p < pages; p++)
                    {
                        if (!IsZeroPage(memory, r.Gpa + (ulong)p * PageSize))
                        {
                            present[p >> 6] |= 1UL << (int)(p & 63);
                            count++;
                            if (runStart < 0) runStart = p;
                            if (p - runStart + 1 == MaxRunPages) { Flush(runStart, p + 1); runStart = -1; }
                        }
                        else if (runStart >= 0)
                        {
                            Flush(runStart, p);
                            runStart = -1;
                        }
                        if ((p & 0x3FFF) == 0) progress?.Report((done + (double)p * PageSize) / total);
                    }
                    if (runStart >= 0) Flush(runStart, pages);
                    done += r.Size;
                    written += count;
                    skipped += pages - count;
                    image.Add(new MemoryImageRegion { Gpa = r.Gpa, Size = r.Size, FileOffset = offset, Present = present, PresentPages = count, DataCrc = crc });
                    offset += (long)r.Size;
                }
                var fileLength = offset;
                var index = EncodeIndex(image);
                if (index.Length != indexLength) throw new InvalidOperationException($"memory index is {index.Length} bytes, {indexLength} planned");
                RandomAccess.Write(file, index, indexOffset);
                RandomAccess.SetLength(file, fileLength);
                var header = new byte[HeaderLength];
                s_magic.CopyTo(header, 0);
                BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(8), FormatVersion);
                BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(12), HeaderLength);
                BinaryPrimitives.WriteInt64LittleEndian(header.AsSpan(16), HeaderLength);
                BinaryPrimitives.WriteInt64LittleEndian(header.AsSpan(24), meta.Length);
                BinaryPrimitives.WriteInt64LittleEndian(header.AsSpan(32), indexOffset);
                BinaryPrimitives.WriteInt64LittleEndian(header.AsSpan(40), indexLength);
                BinaryPrimitives.WriteInt64LittleEndian(header.AsSpan(48), fileLength);
                BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(56), state.Cpu.Hash);
                BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(60), Crc32C.Compute(header.AsSpan(0, 60)));
                RandomAccess.Write(file, header, 0);
                if (sync) RandomAccess.FlushToDisk(file);
                progress?.Report(1.0);
            }
            File.Move(temp, path, overwrite: true);
        }
        catch
        {
            try { File.Delete(temp); } catch (IOException) { }
            throw;
        }
        return new PersistReport(memoryStart + written * PageSize, written, skipped, clock.Elapsed);
    }

    /// <summary>
    /// Opens and checks a state file: header, version, every state section's CRC, the memory index
    /// and the file's length. Touches nothing else; the memory image's CRC is checked by
    /// <see cref="VerifyMemory"/>.
    /// </summary>
    public static SnapshotFile Open(string path)
    {
        SafeFileHandle file;
        try
        {
            file = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new SnapshotException($"{path}: cannot open: {e.Message}");
        }
        try
        {
            var length = RandomAccess.GetLength(file);
            if (length < HeaderLength) throw new SnapshotException($"{path}: {length} bytes is too short for a Domino state file (truncated?)");
            var header = new byte[HeaderLength];
            RandomAccess.Read(file, header, 0);
            if (!header.AsSpan(0, 8).SequenceEqual(s_magic)) throw new SnapshotException($"{path}: not a Domino state file (bad magic)");
            var version = BinaryPrimitives.ReadUInt32LittleEndian(header.AsSpan(8));
            var crc = BinaryPrimitives.ReadUInt32LittleEndian(header.AsSpan(60));
            if (Crc32C.Compute(header.AsSpan(0, 60)) != crc) throw new SnapshotException($"{path}: header is corrupt (CRC-32C mismatch)");
            if (version > FormatVersion) throw new SnapshotException($"{path}: state format version {version} is newer than this Domino reads ({FormatVersion}); restore it with a newer Domino");
            if (version == 0) throw new SnapshotException($"{path}: state format version 0 is not valid");
            var metaOffset = BinaryPrimitives.ReadInt64LittleEndian(header.AsSpan(16));
            var metaLength = BinaryPrimitives.ReadInt64LittleEndian(header.AsSpan(24));
            var indexOffset = BinaryPrimitives.ReadInt64LittleEndian(header.AsSpan(32));
            var indexLength = BinaryPrimitives.ReadInt64LittleEndian(header.AsSpan(40));
            var fileLength = BinaryPrimitives.ReadInt64LittleEndian(header.AsSpan(48));
            if (length < fileLength) throw new SnapshotException($"{path}: file is {length} bytes, its header says {fileLength} (truncated)");
            if (length > fileLength) throw new SnapshotException($"{path}: file is {length} bytes, its header says {fileLength} (trailing data)");
            if (metaOffset < HeaderLength || metaLength is < 0 or > 64 << 20 || metaOffset + metaLength > length ||
                indexOffset < metaOffset + metaLength || indexLength is < 0 or > 256 << 20 || indexOffset + indexLength > length)
                throw new SnapshotException($"{path}: header offsets are out of range (corrupt)");
            var meta = new byte[metaLength];
            RandomAccess.Read(file, meta, metaOffset);
            var state = VmSnapshot.Decode(meta);
            var index = new byte[indexLength];
            RandomAccess.Read(file, index, indexOffset);
            var regions = DecodeIndex(index, length);
            var map = MemoryMap.ForSize((ulong)state.Config.MemoryMiB << 20);
            var expected = new List<(ulong, ulong)> { (0, map.BelowFourGiBEnd) };
            if (map.AboveFourGiBSize > 0) expected.Add((MemoryMap.FourGiB, map.AboveFourGiBSize));
            if (!regions.Select(r => (r.Gpa, r.Size)).SequenceEqual(expected))
                throw new SnapshotException($"{path}: memory image regions do not match the config's {state.Config.MemoryMiB} MiB");
            return new SnapshotFile(path, file, state, regions, length);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>Reads every stored page and checks each region's CRC-32C.</summary>
    public void VerifyMemory()
    {
        var buffer = new byte[1 << 20];
        foreach (var r in Regions)
        {
            uint crc = 0;
            foreach (var (first, count) in Runs(r.Present, r.Pages))
            {
                for (long p = first; p < first + count;)
                {
                    var n = (int)Math.Min(count - (p - first), buffer.Length / PageSize);
                    var span = buffer.AsSpan(0, n * PageSize);
                    RandomAccess.Read(Handle, span, r.FileOffset + p * PageSize);
                    crc = Crc32C.Append(crc, span);
                    p += n;
                }
            }
            if (crc != r.DataCrc)
                throw new SnapshotException($"{Path}: memory at 0x{r.Gpa:x}+0x{r.Size:x} is corrupt (CRC-32C 0x{crc:x8}, recorded 0x{r.DataCrc:x8})");
        }
    }

    /// <summary>Runs of set bits as (first page, count).</summary>
    public static IEnumerable<(long First, long Count)> Runs(ulong[] bitmap, long pages)
    {
        long start = -1;
        for (long p = 0; p < pages; p++)
        {
            var set = (bitmap[p >> 6] & (1UL << (int)(p & 63))) != 0;
            if (set && start < 0) start = p;
            else if (!set && start >= 0)
            {
                yield return (start, p - start);
                start = -1;
            }
            if (!set && bitmap[p >> 6] == 0 && (p & 63) == 0) p += 63; // skip empty words
        }
        if (start >= 0) yield return (start, pages - start);
    }

    internal static bool IsZeroPage(GuestMemory memory, ulong gpa) =>
        memory.GetSpan(gpa, PageSize).IndexOfAnyExcept((byte)0) < 0;

    private static long BitmapWords(ulong size) => (long)((size / PageSize + 63) / 64);

    private static long Align(long v) => (v + PageSize - 1) & ~(long)(PageSize - 1);

    private static byte[] EncodeIndex(List<MemoryImageRegion> regions)
    {
        var w = new PersistWriter();
        w.U32(PageSize);
        w.I32(regions.Count);
        foreach (var r in regions)
        {
            w.U64(r.Gpa); w.U64(r.Size); w.U64((ulong)r.FileOffset); w.U64((ulong)r.PresentPages); w.U32(r.DataCrc);
            var bits = new byte[r.Present.Length * 8];
            for (var i = 0; i < r.Present.Length; i++) BinaryPrimitives.WriteUInt64LittleEndian(bits.AsSpan(i * 8), r.Present[i]);
            w.Bytes(bits);
        }
        var s = new SectionWriter();
        s.Add(TagMemoryIndex, w.ToArray());
        return s.ToArray();
    }

    private static List<MemoryImageRegion> DecodeIndex(byte[] data, long fileLength)
    {
        var sections = SectionWriter.Read(data).ToList();
        if (sections.Count != 1 || sections[0].Tag != TagMemoryIndex) throw new SnapshotException("memory index section missing or malformed");
        var r = new PersistReader(sections[0].Body, "memory index");
        var pageSize = r.U32();
        if (pageSize != PageSize) throw new SnapshotException($"memory index: page size {pageSize}, expected {PageSize}");
        var n = r.I32();
        if (n is < 1 or > 8) throw new SnapshotException($"memory index: {n} regions is not plausible");
        var regions = new List<MemoryImageRegion>();
        for (var i = 0; i < n; i++)
        {
            var gpa = r.U64(); var size = r.U64(); var offset = (long)r.U64(); var present = (long)r.U64(); var crc = r.U32();
            var bits = r.Bytes();
            if (size % PageSize != 0 || offset % PageSize != 0 || offset < 0 || offset + (long)size > fileLength)
                throw new SnapshotException($"memory index: region 0x{gpa:x}+0x{size:x} at file offset {offset} lies outside the file (truncated or corrupt)");
            if (bits.Length != BitmapWords(size) * 8) throw new SnapshotException($"memory index: region 0x{gpa:x} bitmap has {bits.Length} bytes");
            var words = new ulong[bits.Length / 8];
            for (var k = 0; k < words.Length; k++) words[k] = BinaryPrimitives.ReadUInt64LittleEndian(bits.AsSpan(k * 8));
            regions.Add(new MemoryImageRegion { Gpa = gpa, Size = size, FileOffset = offset, Present = words, PresentPages = present, DataCrc = crc });
        }
        r.End();
        return regions;
    }

    public void Dispose() => Handle.Dispose();
}
