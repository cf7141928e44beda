using System.Runtime.InteropServices;
using System.Threading.Tasks.Sources;

namespace Domino.Toolstack.Interop;

/// <summary>
/// The reading end of a pipe, read by a thread of its own that completes each <see cref="ReadAsync(Memory{byte}, CancellationToken)"/>
/// on itself: the code awaiting the bytes runs as soon as they are there, one thread woken. A pipe
/// read the usual way wakes two (the socket engine's poller, which then queues the continuation for a
/// pool thread), and on a host whose CPUs are busy each wake can wait a scheduler slice. The thread
/// waits in poll(2) on the pipe and on an eventfd, so a cancellation or a dispose wakes it at once.
/// One read at a time, as a stream allows.
/// </summary>
public sealed partial class InlineReadStream : UnseekableStream, IValueTaskSource<int>
{
    private const int O_CLOEXEC = 0x80000, F_DUPFD_CLOEXEC = 1030, EINTR = 4;

    private readonly int _fd;
    private readonly int _wake;
    private readonly Thread _thread;
    private readonly ManualResetEventSlim _requested = new(false, spinCount: 0);
    private readonly Lock _sync = new();
    private ManualResetValueTaskSourceCore<int> _core; // continuations run on the completing thread: this one's
    private Memory<byte> _buffer;
    private CancellationToken _ct;
    private CancellationTokenRegistration _registration;
    private bool _pending, _closed;
    private volatile bool _disposed;

    /// <summary>Reads a copy of <paramref name="fd"/> (the caller keeps and closes the original).</summary>
    public InlineReadStream(int fd, string threadName = "pipe-reader")
    {
        _fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        if (_fd < 0) throw new IOException($"cannot copy fd {fd}: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
        _wake = eventfd(0, O_CLOEXEC);
        if (_wake < 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            _ = close(_fd);
            throw new IOException($"cannot make an eventfd: {Marshal.GetPInvokeErrorMessage(errno)}");
        }
        _thread = new Thread(Run) { Name = threadName, IsBackground = true };
        _thread.Start();
    }

    public override bool CanRead => true;
    public override bool CanWrite => false;

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken ct = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (ct.IsCancellationRequested) return ValueTask.FromCanceled<int>(ct);
        if (buffer.IsEmpty) return ValueTask.FromResult(0);
        lock (_sync)
        {
            if (_pending) throw new InvalidOperationException("a read is already pending");
            _pending = true;
            _core.Reset();
            _buffer = buffer;
            _ct = ct;
            _registration = ct.CanBeCanceled ? ct.UnsafeRegister(static s => ((InlineReadStream)s!).Wake(), this) : default;
        }
        _requested.Set();
        return new ValueTask<int>(this, _core.Version);
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken ct) => ReadAsync(buffer.AsMemory(offset, count), ct).AsTask();

    /// <summary>Waits for a read; not on the reading thread itself (in code that awaited this stream), which is the one that would complete it.</summary>
    public override int Read(byte[] buffer, int offset, int count)
    {
        if (Thread.CurrentThread == _thread) throw new InvalidOperationException("a synchronous read on the stream's own reading thread would wait for itself");
        return ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();
    }

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    private void Run()
    {
        Span<Libc.PollFd> fds = stackalloc Libc.PollFd[2];
        try
        {
            while (true)
            {
                _requested.Wait();
                _requested.Reset();
                if (_disposed) break;
                while (true)
                {
                    fds[0] = new Libc.PollFd { fd = _fd, events = Libc.POLLIN };
                    fds[1] = new Libc.PollFd { fd = _wake, events = Libc.POLLIN };
                    Libc.Poll(fds, -1);
                    if (Libc.Readable(fds[1])) DrainWake();
                    if (_disposed) break;
                    if (_ct.IsCancellationRequested) { Complete(0, new OperationCanceledException(_ct)); break; }
                    if (!Libc.Readable(fds[0])) continue;
                    nint n;
                    do n = read(_fd, _buffer.Span, _buffer.Length);
                    while (n < 0 && Marshal.GetLastPInvokeError() == EINTR);
                    if (n < 0) Complete(0, new IOException($"read from a pipe failed: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}"));
                    else Complete((int)n, null);
                    break;
                }
            }
            Complete(0, new ObjectDisposedException(nameof(InlineReadStream)));
        }
        catch (IOException e) { Complete(0, e); } // poll(2) itself failed
        finally
        {
            lock (_sync)
            {
                _closed = true;
                _ = close(_fd);
                _ = close(_wake);
            }
        }
    }

    /// <summary>Ends the pending read; its continuation runs here, on this thread, before this returns.</summary>
    private void Complete(int n, Exception? error)
    {
        CancellationTokenRegistration registration;
        lock (_sync)
        {
            if (!_pending) return;
            _pending = false;
            _buffer = default;
            registration = _registration;
            _registration = default;
        }
        registration.Dispose();
        if (error is null) _core.SetResult(n);
        else _core.SetException(error);
    }

    private void Wake()
    {
        Span<byte> one = stackalloc byte[8];
        BitConverter.TryWriteBytes(one, 1UL);
        // Under the lock: once the thread has closed the eventfd its number may belong to something else.
        lock (_sync)
            if (!_closed) _ = write(_wake, one, one.Length);
    }

    private void DrainWake()
    {
        Span<byte> counter = stackalloc byte[8];
        _ = read(_wake, counter, counter.Length);
    }

    int IValueTaskSource<int>.GetResult(short token) => _core.GetResult(token);
    ValueTaskSourceStatus IValueTaskSource<int>.GetStatus(short token) => _core.GetStatus(token);
    void IValueTaskSource<int>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);

    /// <summary>Stops the thread (a pending read fails); it closes its descriptors as it goes.</summary>
    protected override void Dispose(bool disposing)
    {
        if (disposing && !_disposed)
        {
            _disposed = true;
            _requested.Set();
            Wake();
        }
        base.Dispose(disposing);
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int fcntl(int fd, int cmd, int arg);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int eventfd(uint initval, int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial nint read(int fd, Span<byte> buffer, nint count);

    [LibraryImport("libc", SetLastError = true)]
    private static partial nint write(int fd, ReadOnlySpan<byte> buffer, nint count);

    [LibraryImport("libc")]
    private static partial int close(int fd);
}
