using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Win32.SafeHandles;

namespace Domino.Toolstack.Interop;

/// <summary>
/// A connected Unix stream socket as a blocking <see cref="Stream"/>, made of socket(2), connect(2),
/// read(2) and write(2). For short-lived clients: the first System.Net.Sockets.Socket of a process
/// costs it about 25 ms of CPU before it connects (two assemblies, an EventSource set up by reflection,
/// IPv4 and IPv6 probes, the epoll engine and its thread), more than the rest of a domino list.
/// Disposing shuts the socket down before closing it, so a read blocked in another thread ends.
/// </summary>
public sealed partial class UnixSocketStream : DescriptorStream
{
    private const int AF_UNIX = 1, SOCK_STREAM = 1, SOCK_CLOEXEC = 0x80000, SHUT_WR = 1, SHUT_RDWR = 2;
    private const int SunPathLength = 108; // struct sockaddr_un: sa_family_t sun_family; char sun_path[108]

    private readonly FileDescriptor _fd;

    private UnixSocketStream(FileDescriptor fd) => _fd = fd;

    /// <summary>Connects to the socket at <paramref name="path"/>; an <see cref="IOException"/> names the path and the reason.</summary>
    public static UnixSocketStream Connect(string path)
    {
        var name = Encoding.UTF8.GetBytes(path);
        if (name.Length >= SunPathLength) throw new IOException($"cannot connect to {path}: the path is longer than {SunPathLength - 1} bytes");
        Span<byte> address = stackalloc byte[2 + SunPathLength];
        address.Clear();
        BitConverter.TryWriteBytes(address, (ushort)AF_UNIX);
        name.CopyTo(address[2..]);

        var fd = new FileDescriptor(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
        if (fd.IsInvalid) throw Error(path, Marshal.GetLastPInvokeError());
        int result;
        while ((result = connect(fd, address[..(2 + name.Length + 1)], 2 + name.Length + 1)) < 0 && Marshal.GetLastPInvokeError() == EINTR) { }
        if (result < 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            fd.Dispose();
            throw Error(path, errno);
        }
        return new UnixSocketStream(fd);
    }

    private static IOException Error(string path, int errno) => new($"cannot connect to {path}: {Marshal.GetPInvokeErrorMessage(errno)}");

    protected override string What => "the socket";

    protected override nint ReadOnce(Span<byte> buffer) => read(_fd, buffer, buffer.Length);

    protected override nint WriteOnce(ReadOnlySpan<byte> buffer) => write(_fd, buffer, buffer.Length);

    /// <summary>Shuts down the sending side (shutdown(2) SHUT_WR): the peer reads end of file, and this side can still read.</summary>
    public void ShutdownSend() => _ = shutdown(_fd, SHUT_WR);

    /// <summary>
    /// Shuts down both sides without closing (shutdown(2) SHUT_RDWR): a read or a <see cref="WaitReadable"/>
    /// blocked in another thread returns, and so does every later one, as at end of file.
    /// </summary>
    public void Shutdown() => _ = shutdown(_fd, SHUT_RDWR);

    /// <summary>
    /// Waits (poll(2)) until this socket or <paramref name="other"/> (a descriptor, or -1 for none) has
    /// something to read, end of file or an error included, or <paramref name="timeoutMs"/> passes (-1:
    /// no limit). Both false means the time passed or a signal interrupted the wait.
    /// </summary>
    public (bool Socket, bool Other) WaitReadable(int other, int timeoutMs)
    {
        var added = false;
        _fd.DangerousAddRef(ref added);
        try
        {
            // Sound: the reference taken above keeps the descriptor open (and its number ours) during the wait.
            Span<Libc.PollFd> fds = [new() { fd = (int)_fd.DangerousGetHandle(), events = Libc.POLLIN }, new() { fd = other, events = Libc.POLLIN }];
            if (Libc.Poll(fds, timeoutMs) <= 0) return (false, false);
            return (Libc.Readable(fds[0]), other >= 0 && Libc.Readable(fds[1]));
        }
        finally
        {
            if (added) _fd.DangerousRelease();
        }
    }

    public override bool CanRead => true;
    public override bool CanWrite => true;

    protected override void Dispose(bool disposing)
    {
        if (disposing && !_fd.IsClosed)
        {
            // close(2) alone would leave a read blocked in another thread waiting; shutdown(2) ends it, and
            // the handle closes the descriptor once that read has returned.
            _ = shutdown(_fd, SHUT_RDWR);
            _fd.Dispose();
        }
        base.Dispose(disposing);
    }

    /// <summary>Owns the descriptor: close(2) runs once, after any read or write using it has returned.</summary>
    private sealed class FileDescriptor : SafeHandleMinusOneIsInvalid
    {
        public FileDescriptor(int fd) : base(ownsHandle: true) => SetHandle(fd);

        protected override bool ReleaseHandle() => close((int)handle) == 0;
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int socket(int domain, int type, int protocol);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int connect(FileDescriptor fd, ReadOnlySpan<byte> address, int length);

    [LibraryImport("libc", SetLastError = true)]
    private static partial nint read(FileDescriptor fd, Span<byte> buffer, nint count);

    [LibraryImport("libc", SetLastError = true)]
    private static partial nint write(FileDescriptor fd, ReadOnlySpan<byte> buffer, nint count);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int shutdown(FileDescriptor fd, int how);

    [LibraryImport("libc")]
    private static partial int close(int fd);
}
