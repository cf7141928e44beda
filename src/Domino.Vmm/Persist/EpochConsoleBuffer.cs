namespace Domino.Vmm.Persist;

/// <summary>
/// Console output held back per checkpoint epoch (Remus's output buffering, applied to the
/// console): while <see cref="Buffering"/>, bytes the guest writes are kept; <see cref="Seal"/>
/// closes the current epoch at a checkpoint, and <see cref="Release"/> lets an epoch's bytes out
/// once the backup has acknowledged that checkpoint. Output the backup might replay after a
/// failover is therefore never shown by the primary.
/// </summary>
public sealed class EpochConsoleBuffer(Stream inner) : Stream
{
    private readonly Lock _lock = new();
    private readonly Queue<(long Epoch, byte[] Bytes)> _sealed = new();
    private MemoryStream _current = new();
    private long _epoch;
    private bool _buffering;

    public bool Buffering { get { lock (_lock) return _buffering; } }

    /// <summary>Starts holding output back.</summary>
    public void StartBuffering()
    {
        lock (_lock) _buffering = true;
    }

    /// <summary>Ends the current epoch (call with the guest paused at a checkpoint); returns its number.</summary>
    public long Seal()
    {
        lock (_lock)
        {
            _sealed.Enqueue((++_epoch, _current.ToArray()));
            _current = new MemoryStream();
            return _epoch;
        }
    }

    /// <summary>Writes out every sealed epoch up to and including <paramref name="epoch"/>.</summary>
    public void Release(long epoch)
    {
        lock (_lock)
        {
            while (_sealed.TryPeek(out var e) && e.Epoch <= epoch)
            {
                _sealed.Dequeue();
                WriteInner(e.Bytes);
            }
        }
    }

    /// <summary>
    /// Stops buffering. <paramref name="releaseHeld"/>: true when the guest keeps running here (the
    /// backup is gone), so what it printed is real; false when the guest dies here and the backup
    /// takes over from its last checkpoint, so unacknowledged output is dropped.
    /// </summary>
    public void StopBuffering(bool releaseHeld)
    {
        lock (_lock)
        {
            if (releaseHeld)
            {
                while (_sealed.TryDequeue(out var e)) WriteInner(e.Bytes);
                WriteInner(_current.ToArray());
            }
            else _sealed.Clear();
            _current = new MemoryStream();
            _buffering = false;
        }
    }

    private void WriteInner(byte[] bytes)
    {
        if (bytes.Length == 0) return;
        try
        {
            inner.Write(bytes);
            inner.Flush();
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException)
        {
            // console reader went away
        }
    }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        lock (_lock)
        {
            if (_buffering) _current.Write(buffer);
            else WriteInner(buffer.ToArray());
        }
    }

    public override void Flush() { }
    public override bool CanRead => false;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
}
