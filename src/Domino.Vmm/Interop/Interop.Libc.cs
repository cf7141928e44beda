using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Domino.Vmm.Interop;

/// <summary>A file descriptor owned by the VMM; closed exactly once when released.</summary>
public sealed class SafeFd : SafeHandleMinusOneIsInvalid
{
    public SafeFd() : base(ownsHandle: true) { }

    internal SafeFd(int fd) : base(ownsHandle: true) => SetHandle(fd);

    public int Fd => (int)handle;

    protected override bool ReleaseHandle() => Interop.Libc.Close((int)handle) == 0;
}

/// <summary>An anonymous or file-backed mapping; unmapped exactly once when released.</summary>
public sealed class SafeMmap : SafeHandle
{
    public SafeMmap(nint address, nuint length) : base(invalidHandleValue: -1, ownsHandle: true)
    {
        Length = length;
        SetHandle(address);
    }

    public nuint Length { get; }

    public nint Address => handle;

    public override bool IsInvalid => handle == -1 || handle == 0;

    protected override bool ReleaseHandle() => Interop.Libc.Munmap(handle, Length) == 0;
}

internal static partial class Interop
{
    /// <summary>glibc entry points used by the VMM. Raw imports are private; callers use the wrappers.</summary>
    internal static partial class Libc
    {
        private const string Lib = "libc";

        public const int O_RDWR = 0x2;
        public const int O_CLOEXEC = 0x80000;

        public const int PROT_NONE = 0x0;
        public const int PROT_READ = 0x1;
        public const int PROT_WRITE = 0x2;
        public const int PROT_EXEC = 0x4;
        public const int MAP_SHARED = 0x01;
        public const int MAP_PRIVATE = 0x02;
        public const int MAP_ANONYMOUS = 0x20;
        public const int MAP_NORESERVE = 0x4000;
        private static readonly nint MAP_FAILED = -1;

        public const int EINTR = 4;
        public const int EAGAIN = 11;
        public const int ENOENT = 2;
        public const int EACCES = 13;
        public const int EPERM = 1;
        public const int E2BIG = 7;
        public const int EFAULT = 14;
        public const int EHWPOISON = 133;

        public const int EFD_CLOEXEC = 0x80000;
        public const int EFD_NONBLOCK = 0x800;

        /// <summary>
        /// The real-time signal used to kick a vCPU thread out of KVM_RUN. The .NET runtime uses
        /// SIGRTMIN (34) for thread activation; this one is well clear of it.
        /// </summary>
        public const int VcpuKickSignal = 34 + 8;

        [LibraryImport(Lib, EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
        private static partial int open_raw(string path, int flags);

        [LibraryImport(Lib, EntryPoint = "close", SetLastError = true)]
        private static partial int close_raw(int fd);

        [LibraryImport(Lib, EntryPoint = "ioctl", SetLastError = true)]
        private static partial int ioctl_ptr(int fd, nuint request, nint arg);

        [LibraryImport(Lib, EntryPoint = "mmap", SetLastError = true)]
        private static partial nint mmap_raw(nint addr, nuint length, int prot, int flags, int fd, nint offset);

        [LibraryImport(Lib, EntryPoint = "munmap", SetLastError = true)]
        private static partial int munmap_raw(nint addr, nuint length);

        [LibraryImport(Lib, EntryPoint = "mprotect", SetLastError = true)]
        private static partial int mprotect_raw(nint addr, nuint length, int prot);

        [LibraryImport(Lib, EntryPoint = "eventfd", SetLastError = true)]
        private static partial int eventfd_raw(uint initval, int flags);

        [LibraryImport(Lib, EntryPoint = "write", SetLastError = true)]
        private static partial nint write_raw(int fd, nint buf, nuint count);

        [LibraryImport(Lib, EntryPoint = "pthread_self")]
        private static partial nuint pthread_self_raw();

        [LibraryImport(Lib, EntryPoint = "pthread_kill")]
        private static partial int pthread_kill_raw(nuint thread, int sig);

        [LibraryImport(Lib, EntryPoint = "gettid")]
        private static partial int gettid_raw();

        // SAFETY: both pointers are to fully initialised sigaction_t locals or null (see InstallKickHandler).
        [LibraryImport(Lib, EntryPoint = "sigaction", SetLastError = true)]
        private static unsafe partial int sigaction_raw(int sig, sigaction_t* act, sigaction_t* oldact);

        // SAFETY: set and oldset point to 128-byte glibc sigset_t buffers or are null (see the wrappers).
        [LibraryImport(Lib, EntryPoint = "pthread_sigmask")]
        private static unsafe partial int pthread_sigmask_raw(int how, ulong* set, ulong* oldset);

        // SAFETY: set is a 128-byte sigset_t, info a 128-byte siginfo_t, timeout a timespec or null (see the wrappers).
        [LibraryImport(Lib, EntryPoint = "sigtimedwait", SetLastError = true)]
        private static unsafe partial int sigtimedwait_raw(ulong* set, byte* info, Sched.timespec* timeout);

        [LibraryImport(Lib, EntryPoint = "isatty")]
        private static partial int isatty_raw(int fd);

        [LibraryImport(Lib, EntryPoint = "tcgetattr", SetLastError = true)]
        private static partial int tcgetattr_raw(int fd, out termios termios);

        [LibraryImport(Lib, EntryPoint = "tcsetattr", SetLastError = true)]
        private static partial int tcsetattr_raw(int fd, int optionalActions, in termios termios);

        public const int TCSANOW = 0;
        public const uint ICANON = 0x2, ECHO = 0x8, IEXTEN = 0x8000;
        public const uint ICRNL = 0x100, IXON = 0x400;
        public const int VMIN = 6, VTIME = 5;

#pragma warning disable CS8981 // keeps the C struct's name
        /// <summary>glibc's struct termios on x86-64 (60 bytes).</summary>
        [StructLayout(LayoutKind.Sequential)]
        // SAFETY: unsafe only for the fixed-size control character array.
        public unsafe struct termios
        {
            public uint c_iflag;
            public uint c_oflag;
            public uint c_cflag;
            public uint c_lflag;
            public byte c_line;
            public fixed byte c_cc[32];
            public uint c_ispeed;
            public uint c_ospeed;
        }
#pragma warning restore CS8981

        public static bool TryGetTermios(int fd, out termios t) => tcgetattr_raw(fd, out t) == 0;

        public static bool TrySetTermios(int fd, in termios t) => tcsetattr_raw(fd, TCSANOW, t) == 0;

        /// <summary>glibc's struct sigaction on x86-64: handler, 1024-bit mask, flags, restorer.</summary>
        [StructLayout(LayoutKind.Sequential)]
        // SAFETY: unsafe only for the fixed-size signal mask array.
        private unsafe struct sigaction_t
        {
            public nint sa_handler;
            public fixed ulong sa_mask[16];
            public int sa_flags;
            public nint sa_restorer;
        }

        public static int Errno => Marshal.GetLastPInvokeError();

        public static SafeFd Open(string path, int flags, out int errno)
        {
            var fd = open_raw(path, flags | O_CLOEXEC);
            errno = fd < 0 ? Errno : 0;
            return new SafeFd(fd);
        }

        public static int Close(int fd) => close_raw(fd);

        /// <summary>ioctl with an integer or pointer argument; returns the result or -1 with <paramref name="errno"/>.</summary>
        public static int Ioctl(SafeFd fd, nuint request, nint arg, out int errno)
        {
            var added = false;
            try
            {
                fd.DangerousAddRef(ref added);
                var r = ioctl_ptr(fd.Fd, request, arg);
                errno = r < 0 ? Errno : 0;
                return r;
            }
            finally
            {
                if (added) fd.DangerousRelease();
            }
        }

        public static SafeMmap Mmap(nuint length, int prot, int flags, SafeFd? fd, string what)
        {
            var added = false;
            try
            {
                fd?.DangerousAddRef(ref added);
                var p = mmap_raw(0, length, prot, flags, fd?.Fd ?? -1, 0);
                if (p == MAP_FAILED)
                    throw new KvmException($"mmap({what}, {length} bytes)", Errno);
                return new SafeMmap(p, length);
            }
            finally
            {
                if (added) fd!.DangerousRelease();
            }
        }

        public static int Munmap(nint addr, nuint length) => munmap_raw(addr, length);

        public static void Mprotect(nint addr, nuint length, int prot)
        {
            if (mprotect_raw(addr, length, prot) != 0) throw new KvmException("mprotect", Errno);
        }

        public static SafeFd EventFd(bool nonBlocking)
        {
            var fd = eventfd_raw(0, EFD_CLOEXEC | (nonBlocking ? EFD_NONBLOCK : 0));
            if (fd < 0) throw new KvmException("eventfd", Errno);
            return new SafeFd(fd);
        }

        // SAFETY: passes the address of a local that outlives the write call; see the block below.
        public static unsafe void EventFdSignal(SafeFd fd)
        {
            ulong one = 1;
            var added = false;
            try
            {
                fd.DangerousAddRef(ref added);
                // SAFETY: writes 8 bytes from a local that lives across the call.
                if (write_raw(fd.Fd, (nint)(&one), 8) != 8) throw new KvmException("write(eventfd)", Errno);
            }
            finally
            {
                if (added) fd.DangerousRelease();
            }
        }

        public static nuint PthreadSelf() => pthread_self_raw();

        /// <summary>Sends <paramref name="sig"/> to one thread; returns 0 or an errno (ESRCH when it has exited).</summary>
        public static int PthreadKill(nuint thread, int sig) => pthread_kill_raw(thread, sig);

        public static int GetTid() => gettid_raw();

        public static bool IsATty(int fd) => isatty_raw(fd) == 1;

        private const int SIG_BLOCK = 0;
        private const int SigsetWords = 16; // glibc's sigset_t: 1024 bits
        private const int SiginfoSize = 128;

        /// <summary>si_code of a signal sent by a POSIX timer's expiry (the gate's window timers).</summary>
        public const int SI_TIMER = -2;

        /// <summary>si_code of a signal sent with tgkill / pthread_kill (a vCPU kick from another thread).</summary>
        public const int SI_TKILL = -6;

        /// <summary>
        /// Blocks <see cref="VcpuKickSignal"/> in the calling thread, so a kick arriving outside KVM_RUN stays
        /// pending instead of being consumed by the handler. Returns the kernel's 64-bit signal mask the thread
        /// had before, which never blocks the kick signal: the mask for KVM_SET_SIGNAL_MASK.
        /// </summary>
        // SAFETY: passes two stack buffers of glibc's sigset_t size; see below.
        public static unsafe ulong BlockKickSignal()
        {
            var set = stackalloc ulong[SigsetWords];
            var old = stackalloc ulong[SigsetWords];
            new Span<ulong>(set, SigsetWords).Clear();
            set[0] = 1UL << (VcpuKickSignal - 1);
            // SAFETY: both buffers are 128 bytes, the size of glibc's sigset_t; the kernel reads set and writes old.
            var r = pthread_sigmask_raw(SIG_BLOCK, set, old);
            if (r != 0) throw new KvmException("pthread_sigmask(block vcpu kick signal)", r);
            return old[0] & ~set[0];
        }

        /// <summary>
        /// Takes one pending <see cref="VcpuKickSignal"/> (blocked in this thread), waiting at most until
        /// <paramref name="wait"/> has passed (null: as long as it takes, zero: not at all). False if none came;
        /// else <paramref name="code"/> is its si_code (<see cref="SI_TIMER"/> for a timer's expiry; a kick from
        /// another thread has SI_TKILL, or SI_USER (0) on kernels that report tgkill so).
        /// </summary>
        // SAFETY: passes stack buffers of the sizes sigtimedwait(2) expects; see below.
        public static unsafe bool TakeKickSignal(TimeSpan? wait, out int code)
        {
            code = 0;
            var set = stackalloc ulong[SigsetWords];
            new Span<ulong>(set, SigsetWords).Clear();
            set[0] = 1UL << (VcpuKickSignal - 1);
            var info = stackalloc byte[SiginfoSize];
            var ts = wait is { } w ? new Sched.timespec { tv_sec = w.Ticks / TimeSpan.TicksPerSecond, tv_nsec = w.Ticks % TimeSpan.TicksPerSecond * 100 } : default;
            while (true)
            {
                // SAFETY: set is a 128-byte sigset_t, info a 128-byte siginfo_t, ts a local timespec; all live across the call.
                var r = sigtimedwait_raw(set, info, wait is null ? null : &ts);
                if (r == VcpuKickSignal)
                {
                    code = *(int*)(info + 8); // si_code
                    return true;
                }
                var errno = Errno;
                if (r < 0 && errno == EINTR) continue; // another signal's handler ran (the runtime's own)
                if (r < 0 && errno == EAGAIN) return false;
                throw new KvmException("sigtimedwait(vcpu kick signal)", errno);
            }
        }

        private static readonly Lock s_kickLock = new();
        private static SafeMmap? s_kickHandler;

        /// <summary>
        /// Installs a do-nothing handler for <see cref="VcpuKickSignal"/> once per process. The
        /// handler is a single native <c>ret</c> in an executable page: delivering the signal must
        /// only interrupt KVM_RUN (which returns EINTR), never run managed code inside a signal
        /// context. glibc's sigaction supplies the sa_restorer trampoline.
        /// </summary>
        // SAFETY: writes one byte into a page it just mapped and passes a local struct to sigaction; see below.
        public static unsafe void InstallKickHandler()
        {
            lock (s_kickLock)
            {
                if (s_kickHandler is not null) return;
                var page = Mmap(4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, null, "vcpu kick handler");
                // SAFETY: the page was just mapped read-write and is 4096 bytes long.
                *(byte*)page.Address = 0xC3; // ret
                Mprotect(page.Address, 4096, PROT_READ | PROT_EXEC);
                sigaction_t act = default;
                act.sa_handler = page.Address;
                // SAFETY: act is a fully initialised local; the kernel copies it. The mask is empty.
                if (sigaction_raw(VcpuKickSignal, &act, null) != 0)
                {
                    var errno = Errno;
                    page.Dispose();
                    throw new KvmException("sigaction(vcpu kick signal)", errno);
                }
                s_kickHandler = page; // kept for the life of the process: the handler must stay mapped
            }
        }
    }
}
