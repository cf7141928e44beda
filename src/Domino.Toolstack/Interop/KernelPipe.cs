using System.Runtime.InteropServices;

namespace Domino.Toolstack.Interop;

/// <summary>
/// A pipe(2) inside this process: bytes offered on one thread are read, in order, by a blocking read
/// on another, and neither side spins while it waits (a BlockingCollection's taker, for one, calls
/// sched_yield dozens of times before it sleeps). Offering never blocks: what does not fit in the
/// pipe's buffer is left out, and the count says so. Disposing closes the writing end; the reader then
/// reads the end (0) and its end is closed with that read.
/// </summary>
public sealed partial class KernelPipe : DescriptorStream
{
    private const int O_CLOEXEC = 0x80000, O_NONBLOCK = 0x800, F_SETFL = 4;

    private readonly int _readEnd;
    private readonly int _writeEnd;
    private readonly Lock _writing = new();
    private int _readClosed;
    private bool _writeClosed;

    public KernelPipe()
    {
        Span<int> fds = stackalloc int[2];
        if (pipe2(fds, O_CLOEXEC) != 0)
            throw new IOException($"cannot make a pipe: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
        (_readEnd, _writeEnd) = (fds[0], fds[1]);
        // O_NONBLOCK belongs to an open file description, and each end is its own: the reader still blocks.
        _ = fcntl(_writeEnd, F_SETFL, O_NONBLOCK);
    }

    protected override string What => "a pipe";

    /// <summary>Writes as much of <paramref name="bytes"/> as fits now; returns how much that was (0 once disposed).</summary>
    public int Offer(ReadOnlySpan<byte> bytes)
    {
        var written = 0;
        // Under the lock, so the end cannot be closed (and its number reused) between the check and the write.
        lock (_writing)
        {
            while (written < bytes.Length && !_writeClosed)
            {
                var n = write(_writeEnd, bytes[written..], bytes.Length - written);
                if (n > 0) { written += (int)n; continue; }
                if (n < 0 && Marshal.GetLastPInvokeError() == EINTR) continue;
                break; // EAGAIN (full) or the end is gone
            }
        }
        return written;
    }

    /// <summary>Blocks until bytes come; 0 once the writing end is closed and everything before it has been read.</summary>
    public override int Read(Span<byte> buffer)
    {
        if (buffer.IsEmpty) return 0;
        var n = base.Read(buffer);
        if (n == 0 && Interlocked.Exchange(ref _readClosed, 1) == 0) _ = close(_readEnd);
        return n;
    }

    protected override nint ReadOnce(Span<byte> buffer) => Volatile.Read(ref _readClosed) != 0 ? 0 : read(_readEnd, buffer, buffer.Length);

    protected override nint WriteOnce(ReadOnlySpan<byte> buffer) => throw new NotSupportedException("offer bytes with Offer");

    public override bool CanRead => true;
    public override bool CanWrite => false;

    protected override void Dispose(bool disposing)
    {
        // The read end stays open until the reader sees the end: a close under a thread blocked in
        // read(2) would not wake it, and the number could be reused by the time it returns.
        lock (_writing)
        {
            if (!_writeClosed) _ = close(_writeEnd);
            _writeClosed = true;
        }
        base.Dispose(disposing);
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int pipe2(Span<int> fds, int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int fcntl(int fd, int cmd, int arg);

    [LibraryImport("libc", SetLastError = true)]
    private static partial nint read(int fd, Span<byte> buffer, nint count);

    [LibraryImport("libc", SetLastError = true)]
    private static partial nint write(int fd, ReadOnlySpan<byte> buffer, nint count);

    [LibraryImport("libc")]
    private static partial int close(int fd);
}
