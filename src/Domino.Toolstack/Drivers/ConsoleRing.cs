using System.Threading.Channels;
using Domino.Toolstack.Interop;

namespace Domino.Toolstack.Drivers;

/// <summary>
/// A guest console's output: a ring of the most recent bytes (for <c>dmesg</c> and attach replay) and
/// the live readers attached to it: channels, which a task drains, and feeds, which the writer's own
/// thread writes to a descriptor. A reader that falls behind loses output rather than stalling the guest.
/// </summary>
public sealed class ConsoleRing(int capacity = 64 * 1024)
{
    private readonly Lock _sync = new();
    private readonly byte[] _ring = new byte[capacity];
    private long _written;
    private bool _closed;
    private readonly List<Channel<byte[]>> _readers = [];
    private readonly List<ConsoleFeed> _feeds = [];

    public void Write(ReadOnlySpan<byte> data)
    {
        if (data.IsEmpty) return;
        lock (_sync)
        {
            foreach (var b in data.Length > _ring.Length ? data[^_ring.Length..] : data)
                _ring[_written++ % _ring.Length] = b;
            if (data.Length > _ring.Length) _written += data.Length - _ring.Length;
            if (_readers.Count > 0)
            {
                var chunk = data.ToArray();
                foreach (var r in _readers) r.Writer.TryWrite(chunk);
            }
            for (var i = _feeds.Count - 1; i >= 0; i--)
                if (!_feeds[i].Offer(data)) _feeds.RemoveAt(i);
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

    /// <summary>
    /// Attaches a feed: from <see cref="ConsoleFeed.Start"/> on, every write reaches
    /// <paramref name="output"/> on the writing thread, after the history when <paramref name="replay"/>
    /// asks for it (no gap or overlap). The feed owns <paramref name="output"/> from here on.
    /// </summary>
    public ConsoleFeed AttachFeed(NonBlockingOutput output, bool replay)
    {
        var feed = new ConsoleFeed(output, capacity, f => { lock (_sync) _feeds.Remove(f); });
        lock (_sync)
        {
            if (replay && _written > 0) feed.Offer(HistoryLocked());
            if (_closed) feed.Complete();
            else _feeds.Add(feed);
        }
        return feed;
    }

    /// <summary>Ends every attached reader (the guest is gone); feeds end once they have written what they hold.</summary>
    public void Close()
    {
        lock (_sync)
        {
            _closed = true;
            foreach (var r in _readers) r.Writer.TryComplete();
            _readers.Clear();
            foreach (var f in _feeds) f.Complete();
            _feeds.Clear();
        }
    }
}

/// <summary>
/// A console reader that the writing thread itself feeds (<see cref="ConsoleRing.AttachFeed"/>): each
/// write goes straight to the descriptor, so the guest's output reaches the reader on the other end
/// without first waking a thread of this process, which on a busy host can wait a scheduler slice for
/// a CPU. What the descriptor cannot take at once waits in a backlog that a flusher task writes as the
/// reader drains it; while there is a backlog, new output joins it, so order is kept. The backlog holds
/// at most the ring's size: past that, its oldest output is dropped (the guest never waits for a reader).
/// </summary>
public sealed class ConsoleFeed : IDisposable
{
    /// <summary>How long the flusher waits for room before it looks again whether the feed has ended.</summary>
    private const int WaitSliceMs = 200;

    private readonly NonBlockingOutput _output;
    private readonly int _capacity;
    private readonly Action<ConsoleFeed> _detach;
    private readonly Lock _sync = new();
    private readonly LinkedList<byte[]> _backlog = new();
    private readonly SemaphoreSlim _more = new(0);
    private readonly TaskCompletionSource _ended = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _backlogBytes, _headOffset;
    private bool _flushing = true; // until Start, and while a backlog is being written: output joins the backlog
    private bool _started, _complete, _gone;

    internal ConsoleFeed(NonBlockingOutput output, int capacity, Action<ConsoleFeed> detach)
    {
        _output = output;
        _capacity = capacity;
        _detach = detach;
    }

    /// <summary>Completes when the console has ended and everything before was written, the reader has gone, or the feed was disposed.</summary>
    public Task Ended => _ended.Task;

    /// <summary>Bytes dropped because the reader fell further behind than the backlog holds.</summary>
    public long Dropped { get { lock (_sync) return _dropped; } }
    private long _dropped;

    /// <summary>
    /// Lets the output flow: <paramref name="first"/> (a reply that must reach the reader before any
    /// output, say), then what came since the attach, then the rest as it comes. What the descriptor
    /// takes at once is written on the calling thread.
    /// </summary>
    public void Start(ReadOnlySpan<byte> first = default)
    {
        lock (_sync)
        {
            if (_started) return;
            _started = true;
            if (!first.IsEmpty && !_gone)
            {
                _backlog.AddFirst(first.ToArray());
                _backlogBytes += first.Length;
            }
            if (WriteBacklogLocked())
            {
                _flushing = false;
                if (_complete) _ended.TrySetResult();
            }
            else _more.Release();
        }
        _ = Task.Run(FlushAsync);
    }

    /// <summary>New output, on the writing thread under the ring's lock; false once the feed has ended (the ring lets it go).</summary>
    internal bool Offer(ReadOnlySpan<byte> data)
    {
        lock (_sync)
        {
            if (_gone || _complete) return false;
            if (!_flushing)
            {
                int n;
                try { n = _output.TryWrite(data); }
                catch (Exception e) when (e is IOException or ObjectDisposedException)
                {
                    GoneLocked();
                    _more.Release(); // the flusher closes the descriptor
                    return false;
                }
                if (n == data.Length) return true;
                data = data[n..];
                _flushing = true;
                _more.Release();
            }
            Append(data);
            return true;
        }
    }

    /// <summary>The console has ended (under the ring's lock): the feed ends once its backlog is written.</summary>
    internal void Complete()
    {
        lock (_sync)
        {
            _complete = true;
            if (!_flushing) _ended.TrySetResult();
        }
        _more.Release();
    }

    private void Append(ReadOnlySpan<byte> data)
    {
        if (data.Length > _capacity) data = data[^_capacity..];
        _backlog.AddLast(data.ToArray());
        _backlogBytes += data.Length;
        while (_backlogBytes - _headOffset > _capacity)
        {
            var oldest = _backlog.First!.Value;
            _backlog.RemoveFirst();
            _dropped += oldest.Length - _headOffset;
            _backlogBytes -= oldest.Length;
            _headOffset = 0;
        }
    }

    /// <summary>Writes the backlog as the descriptor takes it, then hands writing back to the writing thread; closes the descriptor when the feed ends.</summary>
    private async Task FlushAsync()
    {
        try
        {
            while (!_ended.Task.IsCompleted)
            {
                await _more.WaitAsync().ConfigureAwait(false);
                while (true)
                {
                    lock (_sync)
                    {
                        if (_gone) break;
                        if (WriteBacklogLocked())
                        {
                            _flushing = false;
                            if (_complete) _ended.TrySetResult();
                            break;
                        }
                    }
                    // Full: wait for the reader, in slices, so that a dispose is noticed.
                    _output.WaitWritable(WaitSliceMs);
                }
            }
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException)
        {
            lock (_sync) GoneLocked();
        }
        finally
        {
            _output.Dispose(); // only here: no write or wait on the descriptor is left
            _detach(this);
        }
    }

    /// <summary>True once the backlog is empty (or the reader is gone).</summary>
    private bool WriteBacklogLocked()
    {
        while (_backlog.First is { } head)
        {
            int n;
            try { n = _output.TryWrite(head.Value.AsSpan(_headOffset)); }
            catch (Exception e) when (e is IOException or ObjectDisposedException)
            {
                GoneLocked();
                return true;
            }
            _headOffset += n;
            if (_headOffset < head.Value.Length) return false;
            _backlog.RemoveFirst();
            _backlogBytes -= head.Value.Length;
            _headOffset = 0;
        }
        return true;
    }

    private void GoneLocked()
    {
        _gone = true;
        _backlog.Clear();
        _backlogBytes = _headOffset = 0;
        _ended.TrySetResult();
    }

    /// <summary>Detaches the feed: nothing more is written, and the descriptor is closed.</summary>
    public void Dispose()
    {
        bool started;
        lock (_sync)
        {
            started = _started;
            _started = true; // a Start after this starts nothing
            GoneLocked();
        }
        if (started) _more.Release(); // the flusher closes the descriptor and detaches
        else
        {
            _output.Dispose();
            _detach(this);
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
