using System.Runtime.InteropServices;

namespace Domino.Toolstack.Interop;

/// <summary>The few libc calls the toolstack needs that .NET does not expose.</summary>
public static partial class Libc
{
    private const int ESRCH = 3;

    [LibraryImport("libc", SetLastError = true)]
    private static partial int kill(int pid, int sig);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int setsid();

    [LibraryImport("libc")]
    private static partial uint umask(uint mask);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int open([MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int fsync(int fd);

    [LibraryImport("libc")]
    private static partial int close(int fd);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int dup2(int oldfd, int newfd);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int fcntl(int fd, int cmd, int arg);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int open([MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags, int mode);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int execv(string path, string?[] argv);

    /// <summary>
    /// Replaces this process with <paramref name="path"/> run with <paramref name="args"/> (execv(2):
    /// same pid, same open standard streams, same signal targets). Returns only when that fails, with
    /// an exception naming the program and the reason.
    /// </summary>
    public static Exception Exec(string path, IEnumerable<string> args)
    {
        string?[] argv = [path, .. args, null]; // argv[0] is the program; execv wants a NULL-terminated list
        _ = execv(path, argv);
        return new IOException($"cannot run {path}: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
    }

    /// <summary>
    /// Points stdin at /dev/null and stdout/stderr at <paramref name="logPath"/>, so a process does not
    /// hold on to the pipes or terminal of whoever started it (and never gets EPIPE when that one dies).
    /// </summary>
    public static void DetachStdio(string logPath)
    {
        const int O_RDONLY = 0, O_WRONLY = 1, O_CREAT = 0x40, O_APPEND = 0x400;
        var devNull = open("/dev/null", O_RDONLY);
        if (devNull >= 0) { _ = dup2(devNull, 0); _ = close(devNull); }
        var log = open(logPath, O_WRONLY | O_CREAT | O_APPEND, 0b110_000_000); // 0600
        if (log >= 0) { _ = dup2(log, 1); _ = dup2(log, 2); _ = close(log); }
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int sched_setaffinity(int pid, nint cpusetsize, ReadOnlySpan<ulong> mask);

    /// <summary>Pins one thread (a tid, e.g. a QEMU vCPU thread) to <paramref name="cpus"/>; false with errno when the kernel refuses.</summary>
    public static bool SetThreadAffinity(int tid, IEnumerable<int> cpus, out int errno)
    {
        Span<ulong> mask = stackalloc ulong[16]; // cpu_set_t: 1024 CPUs
        mask.Clear();
        foreach (var c in cpus)
            if (c is >= 0 and < 1024) mask[c / 64] |= 1UL << (c % 64);
        var ok = sched_setaffinity(tid, mask.Length * sizeof(ulong), mask) == 0;
        errno = ok ? 0 : Marshal.GetLastPInvokeError();
        return ok;
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial nint write(int fd, ReadOnlySpan<byte> buf, nint count);

    public const short POLLIN = 0x1, POLLERR = 0x8, POLLHUP = 0x10, POLLNVAL = 0x20;

    /// <summary>struct pollfd (poll(2)): a descriptor (negative ones are skipped), the events asked for, those that came.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct PollFd
    {
        public int fd;
        public short events;
        public short revents;
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int poll(Span<PollFd> fds, nuint nfds, int timeout);

    /// <summary>poll(2): how many descriptors are ready; 0 when the time passed or a signal interrupted the wait.</summary>
    public static int Poll(Span<PollFd> fds, int timeoutMs)
    {
        const int EINTR = 4;
        var n = poll(fds, (nuint)fds.Length, timeoutMs);
        if (n >= 0) return n;
        var errno = Marshal.GetLastPInvokeError();
        return errno == EINTR ? 0 : throw new IOException($"poll failed: {Marshal.GetPInvokeErrorMessage(errno)}");
    }

    /// <summary>Whether a read of the descriptor would not block: data, end of file, an error, or a descriptor that is not open.</summary>
    public static bool Readable(PollFd fd) => (fd.revents & (POLLIN | POLLERR | POLLHUP | POLLNVAL)) != 0;

    /// <summary>
    /// Writes <paramref name="value"/> to an existing file in one write(2) and returns the errno (0 on
    /// success): cgroup files answer a refused value with the write's errno (EINVAL, EBUSY, ...), which
    /// callers tell apart.
    /// </summary>
    public static int WriteFile(string path, string value)
    {
        const int O_WRONLY = 1, O_CLOEXEC = 0x80000;
        var fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0) return Marshal.GetLastPInvokeError();
        var bytes = System.Text.Encoding.ASCII.GetBytes(value);
        var n = write(fd, bytes, bytes.Length);
        var errno = n < 0 ? Marshal.GetLastPInvokeError() : 0;
        _ = close(fd);
        return errno;
    }

    /// <summary>
    /// A close-on-exec copy of file descriptor <paramref name="fd"/> (fcntl F_DUPFD_CLOEXEC), which
    /// outlives a later dup2 over <paramref name="fd"/>; -1 when <paramref name="fd"/> is not open.
    /// </summary>
    public static int Duplicate(int fd)
    {
        const int F_DUPFD_CLOEXEC = 1030;
        return fcntl(fd, F_DUPFD_CLOEXEC, 3);
    }

    /// <summary>Writes <paramref name="text"/> to <paramref name="fd"/> in one write(2) and closes it; errors are ignored (the reader may be gone).</summary>
    public static void WriteAndClose(int fd, string text)
    {
        if (fd < 0) return;
        var bytes = System.Text.Encoding.ASCII.GetBytes(text);
        _ = write(fd, bytes, bytes.Length);
        _ = close(fd);
    }

    [LibraryImport("libc")]
    private static partial nint signal(int signum, nint handler);

    /// <summary>Writes to a pipe whose reader is gone fail with EPIPE instead of killing the process (SIGPIPE ignored).</summary>
    public static void IgnoreBrokenPipes()
    {
        const int SIGPIPE = 13;
        _ = signal(SIGPIPE, 1 /* SIG_IGN */);
    }

    public static void Close(int fd)
    {
        if (fd >= 0) _ = close(fd);
    }

    public const int SIGKILL = 9;
    public const int SIGTERM = 15;

    /// <summary>True if a process with this pid exists (it may belong to someone else: check its start time too).</summary>
    public static bool ProcessExists(int pid) => kill(pid, 0) == 0 || Marshal.GetLastPInvokeError() != ESRCH;

    public static bool Signal(int pid, int signal) => kill(pid, signal) == 0;

    /// <summary>Leaves the caller's session and process group, so terminal hang-ups and Ctrl-C do not reach us.</summary>
    public static void NewSession() => _ = setsid();

    public static uint SetUmask(uint mask) => umask(mask);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int rename(string oldpath, string newpath);

    /// <summary>
    /// Creates or truncates <paramref name="path"/> (mode 0666 less the umask), writes all of
    /// <paramref name="content"/>, fsyncs it when <paramref name="durable"/>, and closes it: four system
    /// calls where a FileStream makes seven (it also locks, stats and truncates the file separately).
    /// </summary>
    public static void WriteNewFile(string path, ReadOnlySpan<byte> content, bool durable)
    {
        const int O_WRONLY = 1, O_CREAT = 0x40, O_TRUNC = 0x200, O_CLOEXEC = 0x80000, EINTR = 4;
        var fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0x1b6 /* 0666 */);
        if (fd < 0) throw FileError("create", path, Marshal.GetLastPInvokeError());
        try
        {
            while (!content.IsEmpty)
            {
                var n = write(fd, content, content.Length);
                if (n < 0)
                {
                    var errno = Marshal.GetLastPInvokeError();
                    if (errno == EINTR) continue;
                    throw FileError("write", path, errno);
                }
                content = content[(int)n..];
            }
            if (durable && fsync(fd) != 0) throw FileError("fsync", path, Marshal.GetLastPInvokeError());
        }
        finally { _ = close(fd); }
    }

    /// <summary>rename(2): replaces <paramref name="to"/> with <paramref name="from"/> in one step.</summary>
    public static void Rename(string from, string to)
    {
        if (rename(from, to) != 0) throw FileError("rename", $"{from} to {to}", Marshal.GetLastPInvokeError());
    }

    private static Exception FileError(string what, string path, int errno)
    {
        const int EACCES = 13, EPERM = 1;
        var message = $"cannot {what} {path}: {Marshal.GetPInvokeErrorMessage(errno)}";
        return errno is EACCES or EPERM ? new UnauthorizedAccessException(message) : new IOException(message);
    }

    public static void FsyncDirectory(string dir)
    {
        const int O_RDONLY = 0, O_DIRECTORY = 0x10000;
        var fd = open(dir, O_RDONLY | O_DIRECTORY);
        if (fd < 0) return;
        _ = fsync(fd);
        _ = close(fd);
    }

    /// <summary>A process's start time in clock ticks since boot (proc(5) stat field 22), or null if it is gone.</summary>
    public static long? ProcessStartTicks(int pid)
    {
        string stat;
        try { stat = File.ReadAllText($"/proc/{pid}/stat"); }
        catch (IOException) { return null; }
        catch (UnauthorizedAccessException) { return null; }
        // The command name (field 2) may hold spaces and parentheses: count fields after its closing ')'.
        var rest = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return rest.Length > 19 && long.TryParse(rest[19], out var ticks) ? ticks : null;
    }

    /// <summary>True if <paramref name="pid"/> is alive and is the same process that started at <paramref name="startTicks"/>.</summary>
    public static bool IsSameProcess(int pid, long? startTicks)
    {
        var now = ProcessStartTicks(pid);
        if (now is null) return false;
        if (IsZombie(pid)) return false;
        return startTicks is null || now == startTicks;
    }

    private static bool IsZombie(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[stat.LastIndexOf(')') + 2] is 'Z' or 'X';
        }
        catch (IOException) { return true; }
    }
}
