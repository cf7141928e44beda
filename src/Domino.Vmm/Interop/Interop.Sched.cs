using System.Runtime.InteropServices;

#pragma warning disable CS8981 // struct names are the kernel's own (timespec, sigevent)

namespace Domino.Vmm.Interop;

internal static partial class Interop
{
    /// <summary>
    /// Scheduling syscalls for vCPU threads: affinity, sched_setattr (SCHED_DEADLINE, SCHED_FIFO),
    /// absolute sleeps and per-thread POSIX timers. Raw imports are private; callers use the wrappers.
    /// </summary>
    // SAFETY: the class is unsafe only so its private imports can take pointers; each wrapper passes
    // pointers to locals or stack buffers of the size it declares, justified at the call.
    internal static unsafe partial class Sched
    {
        private const string Lib = "libc";

        public const int SCHED_OTHER = 0;
        public const int SCHED_FIFO = 1;
        public const int SCHED_DEADLINE = 6;
        public const ulong SCHED_FLAG_RECLAIM = 0x02;

        public const int CLOCK_MONOTONIC = 1;
        public const int CLOCK_THREAD_CPUTIME_ID = 3;
        public const int TIMER_ABSTIME = 1;
        private const int SIGEV_THREAD_ID = 4;

        // x86-64 syscall numbers: glibc has no sched_setattr wrapper before 2.41.
        private const long SYS_sched_setattr = 314;
        private const long SYS_sched_getattr = 315;

        /// <summary>include/uapi/linux/sched/types.h, SCHED_ATTR_SIZE_VER0 (48 bytes).</summary>
        [StructLayout(LayoutKind.Sequential)]
        public struct sched_attr
        {
            public uint size;
            public uint sched_policy;
            public ulong sched_flags;
            public int sched_nice;
            public uint sched_priority;
            public ulong sched_runtime;
            public ulong sched_deadline;
            public ulong sched_period;
        }

        [StructLayout(LayoutKind.Sequential)]
        public struct timespec
        {
            public long tv_sec;
            public long tv_nsec;
        }

        [StructLayout(LayoutKind.Sequential)]
        private struct itimerspec
        {
            public timespec it_interval;
            public timespec it_value;
        }

        /// <summary>struct sigevent as glibc lays it out on x86-64: 64 bytes, the thread id at offset 16.</summary>
        [StructLayout(LayoutKind.Explicit, Size = 64)]
        private struct sigevent
        {
            [FieldOffset(0)] public nint sigev_value;
            [FieldOffset(8)] public int sigev_signo;
            [FieldOffset(12)] public int sigev_notify;
            [FieldOffset(16)] public int sigev_notify_thread_id;
        }

        [LibraryImport(Lib, EntryPoint = "syscall", SetLastError = true)]
        private static partial long syscall_setattr(long number, int pid, sched_attr* attr, uint flags);

        [LibraryImport(Lib, EntryPoint = "syscall", SetLastError = true)]
        private static partial long syscall_getattr(long number, int pid, sched_attr* attr, uint size, uint flags);

        [LibraryImport(Lib, EntryPoint = "sched_setaffinity", SetLastError = true)]
        private static partial int sched_setaffinity_raw(int pid, nuint cpusetsize, ulong* mask);

        [LibraryImport(Lib, EntryPoint = "sched_getaffinity", SetLastError = true)]
        private static partial int sched_getaffinity_raw(int pid, nuint cpusetsize, ulong* mask);

        [LibraryImport(Lib, EntryPoint = "clock_gettime")]
        private static partial int clock_gettime_raw(int clock, timespec* ts);

        // clock_nanosleep returns the error number itself; it does not set errno.
        [LibraryImport(Lib, EntryPoint = "clock_nanosleep")]
        private static partial int clock_nanosleep_raw(int clock, int flags, timespec* request, timespec* remain);

        [LibraryImport(Lib, EntryPoint = "timer_create", SetLastError = true)]
        private static partial int timer_create_raw(int clock, sigevent* sev, nint* timer);

        [LibraryImport(Lib, EntryPoint = "timer_settime", SetLastError = true)]
        private static partial int timer_settime_raw(nint timer, int flags, itimerspec* value, itimerspec* old);

        [LibraryImport(Lib, EntryPoint = "timer_delete", SetLastError = true)]
        private static partial int timer_delete_raw(nint timer);

        [LibraryImport(Lib, EntryPoint = "gettid")]
        private static partial int gettid_raw();

        [LibraryImport(Lib, EntryPoint = "prctl", SetLastError = true)]
        private static partial int prctl_raw(int option, nuint arg2, nuint arg3, nuint arg4, nuint arg5);

        private const int PR_SET_TIMERSLACK = 29;

        /// <summary>prctl(PR_SET_TIMERSLACK): how late the kernel may fire this thread's timers to merge wake-ups
        /// (default 50 µs; 1 ns is the least, 0 would restore the default). Returns 0 or an errno.</summary>
        public static int SetTimerSlack(long ns) =>
            prctl_raw(PR_SET_TIMERSLACK, (nuint)ns, 0, 0, 0) == 0 ? 0 : Marshal.GetLastPInvokeError();

        private const int MaskWords = 16; // 1024 CPUs, glibc's CPU_SETSIZE

        public static int GetTid() => gettid_raw();

        /// <summary>sched_setattr(2) on a thread (0 = the caller); returns 0 or an errno.</summary>
        public static int SetAttr(int tid, in sched_attr attr)
        {
            var a = attr;
            a.size = (uint)sizeof(sched_attr);
            // SAFETY: a is a fully initialised local of the size it declares; the kernel only reads it.
            return syscall_setattr(SYS_sched_setattr, tid, &a, 0) == 0 ? 0 : Marshal.GetLastPInvokeError();
        }

        /// <summary>sched_getattr(2); returns 0 or an errno.</summary>
        public static int GetAttr(int tid, out sched_attr attr)
        {
            sched_attr a = default;
            // SAFETY: a is a local of the size passed; the kernel writes at most that many bytes.
            var r = syscall_getattr(SYS_sched_getattr, tid, &a, (uint)sizeof(sched_attr), 0);
            attr = a;
            return r == 0 ? 0 : Marshal.GetLastPInvokeError();
        }

        /// <summary>sched_setaffinity(2) for a thread; returns 0 or an errno.</summary>
        public static int SetAffinity(int tid, ReadOnlySpan<int> cpus)
        {
            var mask = stackalloc ulong[MaskWords];
            foreach (var cpu in cpus)
            {
                if ((uint)cpu >= MaskWords * 64) return 22; // EINVAL
                mask[cpu / 64] |= 1UL << (cpu % 64);
            }
            // SAFETY: mask is a stack buffer of exactly the size passed.
            return sched_setaffinity_raw(tid, MaskWords * 8, mask) == 0 ? 0 : Marshal.GetLastPInvokeError();
        }

        /// <summary>sched_getaffinity(2) for a thread, as a sorted CPU list (empty on error).</summary>
        public static int[] GetAffinity(int tid)
        {
            var mask = stackalloc ulong[MaskWords];
            // SAFETY: mask is a stack buffer of exactly the size passed.
            if (sched_getaffinity_raw(tid, MaskWords * 8, mask) != 0) return [];
            var cpus = new List<int>();
            for (var i = 0; i < MaskWords * 64; i++)
                if ((mask[i / 64] & (1UL << (i % 64))) != 0) cpus.Add(i);
            return [.. cpus];
        }

        public static long Now(int clock = CLOCK_MONOTONIC)
        {
            timespec ts;
            // SAFETY: ts is a local the kernel fills in.
            _ = clock_gettime_raw(clock, &ts);
            return ts.tv_sec * 1_000_000_000L + ts.tv_nsec;
        }

        /// <summary>Sleeps until CLOCK_MONOTONIC reaches <paramref name="deadlineNs"/>; returns 0, or EINTR if a signal (a vCPU kick) came first.</summary>
        public static int SleepUntil(long deadlineNs)
        {
            var ts = new timespec { tv_sec = deadlineNs / 1_000_000_000L, tv_nsec = deadlineNs % 1_000_000_000L };
            // SAFETY: ts is a fully initialised local; with TIMER_ABSTIME remain is unused.
            return clock_nanosleep_raw(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, null);
        }

        /// <summary>A CLOCK_MONOTONIC timer that sends <paramref name="signal"/> to thread <paramref name="tid"/> when it expires.</summary>
        public static nint CreateThreadTimer(int tid, int signal)
        {
            var sev = new sigevent { sigev_signo = signal, sigev_notify = SIGEV_THREAD_ID, sigev_notify_thread_id = tid };
            nint timer;
            // SAFETY: sev and timer are locals; the kernel copies sev and writes timer.
            if (timer_create_raw(CLOCK_MONOTONIC, &sev, &timer) != 0)
                throw new KvmException("timer_create(SIGEV_THREAD_ID)", Marshal.GetLastPInvokeError());
            return timer;
        }

        /// <summary>Arms a timer to fire at absolute CLOCK_MONOTONIC time <paramref name="atNs"/> and then every
        /// <paramref name="intervalNs"/> (0: once); <paramref name="atNs"/> 0 disarms it.</summary>
        public static void ArmTimer(nint timer, long atNs, long intervalNs = 0)
        {
            var spec = new itimerspec
            {
                it_value = new timespec { tv_sec = atNs / 1_000_000_000L, tv_nsec = atNs % 1_000_000_000L },
                it_interval = new timespec { tv_sec = intervalNs / 1_000_000_000L, tv_nsec = intervalNs % 1_000_000_000L },
            };
            // SAFETY: spec is a fully initialised local; old is not requested.
            _ = timer_settime_raw(timer, atNs == 0 ? 0 : TIMER_ABSTIME, &spec, null);
        }

        public static void DeleteTimer(nint timer) => _ = timer_delete_raw(timer);
    }
}
