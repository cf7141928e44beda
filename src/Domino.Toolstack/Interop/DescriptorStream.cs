using System.Runtime.InteropServices;

namespace Domino.Toolstack.Interop;

/// <summary>
/// A blocking stream over a file descriptor, made of read(2) and write(2): reads return what has come
/// (0 at the end), writes write everything, both retry when a signal interrupts them, and a failure is
/// an <see cref="IOException"/> naming the descriptor and errno. Subclasses make the calls.
/// </summary>
public abstract class DescriptorStream : UnseekableStream
{
    protected const int EINTR = 4;

    /// <summary>What the descriptor is, for messages: "the socket", "fd 1".</summary>
    protected abstract string What { get; }

    /// <summary>One read(2): the count, or -1 with errno set.</summary>
    protected abstract nint ReadOnce(Span<byte> buffer);

    /// <summary>One write(2): the count, or -1 with errno set.</summary>
    protected abstract nint WriteOnce(ReadOnlySpan<byte> buffer);

    public override int Read(Span<byte> buffer)
    {
        while (true)
        {
            var n = ReadOnce(buffer);
            if (n >= 0) return (int)n;
            var errno = Marshal.GetLastPInvokeError();
            if (errno != EINTR) throw new IOException($"read from {What} failed: {Marshal.GetPInvokeErrorMessage(errno)}");
        }
    }

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        while (!buffer.IsEmpty)
        {
            var n = WriteOnce(buffer);
            if (n < 0)
            {
                var errno = Marshal.GetLastPInvokeError();
                if (errno == EINTR) continue;
                throw new IOException($"write to {What} failed: {Marshal.GetPInvokeErrorMessage(errno)}");
            }
            buffer = buffer[(int)n..];
        }
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));
    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));
}
