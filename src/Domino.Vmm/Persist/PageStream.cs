using System.Buffers.Binary;
using System.Numerics;
using Domino.Vmm.Memory;

namespace Domino.Vmm.Persist;

/// <summary>
/// Encodes guest pages into <see cref="StreamRecord.Pages"/> bodies and applies them. A body is a
/// sequence of runs {u64 gpa, u32 page count, u32 flags}; flag 1 = the pages are zero and no data
/// follows, else count*4096 bytes of data follow.
/// </summary>
public static class PageStream
{
    public const int PageSize = 4096;
    private const uint FlagZero = 1;
    private const int MaxBody = 4 << 20;
    private const int RunHeader = 16;

    /// <summary>Every page of <paramref name="memory"/> that is not zero, as pages records handed to <paramref name="sink"/>.</summary>
    public static long EncodeNonZero(GuestMemory memory, Action<byte[]> sink)
    {
        var encoder = new Encoder(memory, sink);
        foreach (var r in memory.Regions)
        {
            var pages = (long)(r.Size / PageSize);
            for (long p = 0; p < pages; p++)
            {
                var gpa = r.Gpa + (ulong)p * PageSize;
                if (!SnapshotFile.IsZeroPage(memory, gpa)) encoder.Add(gpa, zero: false);
            }
        }
        encoder.Flush();
        return encoder.Pages;
    }

    /// <summary>The pages set in the per-region dirty bitmaps; zero pages are sent as zero runs.</summary>
    public static long EncodeDirty(GuestMemory memory, IReadOnlyList<ulong[]> bitmaps, Action<byte[]> sink)
    {
        var encoder = new Encoder(memory, sink);
        for (var i = 0; i < bitmaps.Count; i++)
        {
            var r = memory.Regions[i];
            var bitmap = bitmaps[i];
            for (var w = 0; w < bitmap.Length; w++)
            {
                var word = bitmap[w];
                while (word != 0)
                {
                    var bit = BitOperations.TrailingZeroCount(word);
                    word &= word - 1;
                    var gpa = r.Gpa + ((ulong)w * 64 + (ulong)bit) * PageSize;
                    if (gpa >= r.End) continue;
                    encoder.Add(gpa, SnapshotFile.IsZeroPage(memory, gpa));
                }
            }
        }
        encoder.Flush();
        return encoder.Pages;
    }

    public static long CountDirty(IReadOnlyList<ulong[]> bitmaps)
    {
        long n = 0;
        foreach (var b in bitmaps) foreach (var w in b) n += BitOperations.PopCount(w);
        return n;
    }

    /// <summary>Writes one pages record into <paramref name="memory"/>; every run is bounds-checked.</summary>
    public static long Apply(GuestMemory memory, ReadOnlySpan<byte> body)
    {
        long pages = 0;
        while (!body.IsEmpty)
        {
            if (body.Length < RunHeader) throw new SnapshotException("pages record: truncated run header");
            var gpa = BinaryPrimitives.ReadUInt64LittleEndian(body);
            var count = BinaryPrimitives.ReadUInt32LittleEndian(body[8..]);
            var flags = BinaryPrimitives.ReadUInt32LittleEndian(body[12..]);
            body = body[RunHeader..];
            var bytes = (long)count * PageSize;
            if (gpa % PageSize != 0 || count == 0 || bytes > MaxBody || !memory.IsValid(gpa, (ulong)bytes))
                throw new SnapshotException($"pages record: run 0x{gpa:x}+{count} pages is not inside guest RAM");
            if ((flags & FlagZero) != 0)
            {
                memory.Fill(gpa, (int)bytes, 0);
            }
            else
            {
                if (body.Length < bytes) throw new SnapshotException("pages record: truncated page data");
                memory.Write(gpa, body[..(int)bytes]);
                body = body[(int)bytes..];
            }
            pages += count;
        }
        return pages;
    }

    /// <summary>Coalesces consecutive pages of the same kind into runs, cutting records at 4 MiB.</summary>
    private sealed class Encoder(GuestMemory memory, Action<byte[]> sink)
    {
        private readonly MemoryStream _body = new();
        private ulong _runGpa;
        private uint _runCount;
        private bool _runZero;

        public long Pages { get; private set; }

        public void Add(ulong gpa, bool zero)
        {
            Pages++;
            if (_runCount > 0 && gpa == _runGpa + (ulong)_runCount * PageSize && zero == _runZero &&
                _body.Length + RunHeader + (zero ? 0 : (_runCount + 1) * PageSize) <= MaxBody)
            {
                _runCount++;
                return;
            }
            EndRun();
            if (_body.Length + RunHeader + PageSize > MaxBody) Flush();
            _runGpa = gpa;
            _runCount = 1;
            _runZero = zero;
        }

        private void EndRun()
        {
            if (_runCount == 0) return;
            Span<byte> head = stackalloc byte[RunHeader];
            BinaryPrimitives.WriteUInt64LittleEndian(head, _runGpa);
            BinaryPrimitives.WriteUInt32LittleEndian(head[8..], _runCount);
            BinaryPrimitives.WriteUInt32LittleEndian(head[12..], _runZero ? FlagZero : 0);
            _body.Write(head);
            if (!_runZero) _body.Write(memory.GetSpan(_runGpa, (int)(_runCount * PageSize)));
            _runCount = 0;
        }

        public void Flush()
        {
            EndRun();
            if (_body.Length == 0) return;
            sink(_body.ToArray());
            _body.SetLength(0);
        }
    }
}
