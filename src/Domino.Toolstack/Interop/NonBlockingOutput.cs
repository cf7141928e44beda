using System.Runtime.InteropServices;

namespace Domino.Toolstack.Interop;

/// <summary>
/// The writing end of a pipe or a stream socket, written without ever blocking: its own close-on-exec
/// copy of the descriptor, in non-blocking mode. A write takes what fits now; a separate wait blocks
/// until more fits. The copy is this object's, so a close of the original by its owner cannot leave a
/// write aimed at a number the process has reused since.
/// </summary>
/// <remarks>
/// O_NONBLOCK belongs to the open file description, which the copy shares with the original: the
/// original's own writes then see EAGAIN instead of blocking, so its owner writes through this object
/// once it exists. (A socket that .NET drives asynchronously is non-blocking already.)
/// </remarks>
public sealed partial class NonBlockingOutput : IDisposable
{
    private const int F_GETFL = 3, F_SETFL = 4, F_DUPFD_CLOEXEC = 1030, O_NONBLOCK = 0x800;
    private const int EINTR = 4, EAGAIN = 11;
    private const short POLLOUT = 0x4;

    private readonly int _fd;
    private readonly Lock _sync = new();
    private bool _closed;

    /// <summary>Takes a copy of <paramref name="fd"/> (the caller keeps the original) and makes it non-blocking.</summary>
    public NonBlockingOutput(int fd)
    {
        _fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        if (_fd < 0) throw new IOException($"cannot copy fd {fd}: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
        var flags = fcntl(_fd, F_GETFL, 0);
        if (flags < 0 || fcntl(_fd, F_SETFL, flags | O_NONBLOCK) < 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            _ = close(_fd);
            throw new IOException($"cannot make fd {fd} non-blocking: {Marshal.GetPInvokeErrorMessage(errno)}");
        }
    }

    /// <summary>
    /// Writes as much of <paramref name="bytes"/> as fits now and returns how much that was (0: full).
    /// Throws <see cref="IOException"/> when the reader is gone (EPIPE, ECONNRESET) or the object is disposed.
    /// </summary>
    public int TryWrite(ReadOnlySpan<byte> bytes)
    {
        var written = 0;
        // Under the lock, so the copy cannot be closed (and its number reused) between the check and the write.
        lock (_sync)
        {
            ObjectDisposedException.ThrowIf(_closed, this);
            while (written < bytes.Length)
            {
                var n = write(_fd, bytes[written..], bytes.Length - written);
                if (n > 0) { written += (int)n; continue; }
                var errno = n < 0 ? Marshal.GetLastPInvokeError() : EAGAIN;
                if (errno == EINTR) continue;
                if (errno == EAGAIN) break;
                throw new IOException($"write failed: {Marshal.GetPInvokeErrorMessage(errno)}");
            }
        }
        return written;
    }

    /// <summary>
    /// Blocks until a write would take something, the reader is gone (the next write says so), or
    /// <paramref name="timeoutMs"/> passes (-1: no limit); true unless the time passed. Its caller
    /// must not dispose the object meanwhile (a closed number can be reused while poll(2) waits on it).
    /// </summary>
    public bool WaitWritable(int timeoutMs)
    {
        lock (_sync) ObjectDisposedException.ThrowIf(_closed, this);
        Span<Libc.PollFd> fds = [new Libc.PollFd { fd = _fd, events = POLLOUT }];
        return Libc.Poll(fds, timeoutMs) > 0;
    }

    public void Dispose()
    {
        lock (_sync)
        {
            if (_closed) return;
            _closed = true;
            _ = close(_fd);
        }
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int fcntl(int fd, int cmd, int arg);

    [LibraryImport("libc", SetLastError = true)]
    private static partial nint write(int fd, ReadOnlySpan<byte> buffer, nint count);

    [LibraryImport("libc")]
    private static partial int close(int fd);
}
