using System.Threading.Channels;

namespace Domino.Toolstack.Drivers;

/// <summary>
/// A guest console's output: a ring of the most recent bytes (for <c>dmesg</c> and attach replay) and
/// the live readers attached to it. A reader that falls behind loses chunks rather than stalling the guest.
/// </summary>
public sealed class ConsoleRing(int capacity = 64 * 1024)
{
    private readonly Lock _sync = new();
    private readonly byte[] _ring = new byte[capacity];
    private long _written;
    private readonly List<Channel<byte[]>> _readers = [];

    public void Write(ReadOnlySpan<byte> data)
    {
        if (data.IsEmpty) return;
        lock (_sync)
        {
            foreach (var b in data.Length > _ring.Length ? data[^_ring.Length..] : data)
                _ring[_written++ % _ring.Length] = b;
            if (data.Length > _ring.Length) _written += data.Length - _ring.Length;
            var chunk = data.ToArray();
            foreach (var r in _readers) r.Writer.TryWrite(chunk);
        }
    }

    public byte[] History()
    {
        lock (_sync) return HistoryLocked();
    }

    private byte[] HistoryLocked()
    {
        var n = (int)Math.Min(_written, _ring.Length);
        var result = new byte[n];
        for (var i = 0; i < n; i++) result[i] = _ring[(_written - n + i) % _ring.Length];
        return result;
    }

    /// <summary>Attaches a reader; with <paramref name="replay"/> its first chunk is the history, with no gap or overlap.</summary>
    public ChannelReader<byte[]> Attach(bool replay, out Action detach)
    {
        var channel = Channel.CreateBounded<byte[]>(new BoundedChannelOptions(1024) { FullMode = BoundedChannelFullMode.DropOldest });
        lock (_sync)
        {
            if (replay && _written > 0) channel.Writer.TryWrite(HistoryLocked());
            _readers.Add(channel);
        }
        detach = () =>
        {
            lock (_sync) _readers.Remove(channel);
            channel.Writer.TryComplete();
        };
        return channel.Reader;
    }

    /// <summary>Ends every attached reader (the guest is gone).</summary>
    public void Close()
    {
        lock (_sync)
        {
            foreach (var r in _readers) r.Writer.TryComplete();
            _readers.Clear();
        }
    }
}

/// <summary>A console stream over a <see cref="ConsoleRing"/> reader and an input callback.</summary>
public sealed class RingConsoleStream(ChannelReader<byte[]> output, Action detach, Action<byte[]> input) : Stream
{
    private byte[] _pending = [];
    private int _offset;

    public override bool CanRead => true;
    public override bool CanWrite => true;
    public override bool CanSeek => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken ct = default)
    {
        while (_offset >= _pending.Length)
        {
            if (!await output.WaitToReadAsync(ct).ConfigureAwait(false)) return 0;
            if (output.TryRead(out var chunk)) { _pending = chunk; _offset = 0; }
        }
        var n = Math.Min(buffer.Length, _pending.Length - _offset);
        _pending.AsMemory(_offset, n).CopyTo(buffer);
        _offset += n;
        return n;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken ct) =>
        ReadAsync(buffer.AsMemory(offset, count), ct).AsTask();

    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer, offset, count, default).GetAwaiter().GetResult();

    public override void Write(byte[] buffer, int offset, int count) => input(buffer.AsSpan(offset, count).ToArray());

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken ct = default)
    {
        input(buffer.ToArray());
        return ValueTask.CompletedTask;
    }

    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing) detach();
        base.Dispose(disposing);
    }
}
