namespace Domino.Toolstack.Interop;

/// <summary>
/// A stream over a pipe, a socket or a connection: it has no length and no position, and says so
/// once here rather than in each such stream. Subclasses say whether they read and write.
/// </summary>
public abstract class UnseekableStream : Stream
{
    public override bool CanSeek => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Flush() { }
}
