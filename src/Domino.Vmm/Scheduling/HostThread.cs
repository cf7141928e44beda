using Domino.Vmm.Interop;
using static Domino.Vmm.Interop.Interop;

namespace Domino.Vmm.Scheduling;

/// <summary>
/// What the toolstack and the VMM may do to a host thread that runs a vCPU: pin it, give it a Linux
/// scheduling policy (CFS, SCHED_FIFO, SCHED_DEADLINE), read its clocks. Errors come back as errno
/// values so callers can name the domain and vCPU in their own messages.
/// </summary>
public static class HostThread
{
    public const int EPERM = 1;
    public const int ESRCH = 3;
    public const int EBUSY = 16;
    public const int EINVAL = 22;

    /// <summary>The policy number <see cref="GetPolicy"/> gives a SCHED_DEADLINE thread.</summary>
    public const int SchedDeadline = 6;

    /// <summary>The calling thread's kernel thread id.</summary>
    public static int CurrentTid() => Sched.GetTid();

    /// <summary>CLOCK_MONOTONIC in nanoseconds.</summary>
    public static long MonotonicNs() => Sched.Now();

    /// <summary>CPU time the calling thread has used, in nanoseconds.</summary>
    public static long CurrentThreadCpuNs() => Sched.Now(Sched.CLOCK_THREAD_CPUTIME_ID);

    /// <summary>Restricts thread <paramref name="tid"/> (0 = caller) to <paramref name="cpus"/>; 0 or an errno.</summary>
    public static int SetAffinity(int tid, ReadOnlySpan<int> cpus) => Sched.SetAffinity(tid, cpus);

    public static int[] GetAffinity(int tid) => Sched.GetAffinity(tid);

    /// <summary>Back to the default time-sharing policy (CFS/EEVDF, nice 0).</summary>
    public static int SetFair(int tid) => Sched.SetAttr(tid, new Sched.sched_attr { sched_policy = Sched.SCHED_OTHER });

    /// <summary>SCHED_FIFO at <paramref name="priority"/> (1..99).</summary>
    public static int SetFifo(int tid, int priority) =>
        Sched.SetAttr(tid, new Sched.sched_attr { sched_policy = Sched.SCHED_FIFO, sched_priority = (uint)priority });

    /// <summary>
    /// SCHED_DEADLINE: <paramref name="runtimeNs"/> every <paramref name="periodNs"/> with an implicit
    /// deadline (deadline = period), as RTDS gives a vCPU its budget every period. With
    /// <paramref name="reclaim"/> the thread may also use bandwidth others leave idle (GRUB).
    /// </summary>
    public static int SetDeadline(int tid, long runtimeNs, long periodNs, bool reclaim) =>
        Sched.SetAttr(tid, new Sched.sched_attr
        {
            sched_policy = Sched.SCHED_DEADLINE,
            sched_flags = reclaim ? Sched.SCHED_FLAG_RECLAIM : 0,
            sched_runtime = (ulong)runtimeNs,
            sched_deadline = (ulong)periodNs,
            sched_period = (ulong)periodNs,
        });

    /// <summary>The thread's policy (0 other, 1 fifo, 6 deadline), or -1 if it is gone.</summary>
    public static int GetPolicy(int tid) => Sched.GetAttr(tid, out var a) == 0 ? (int)a.sched_policy : -1;

    /// <summary>The CPU a thread last ran on (proc(5) stat field 39), or -1.</summary>
    public static int LastCpu(int pid, int tid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/task/{tid}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return fields.Length > 36 && int.TryParse(fields[36], out var cpu) ? cpu : -1;
        }
        catch (IOException) { return -1; }
        catch (UnauthorizedAccessException) { return -1; }
    }

    /// <summary>CPU time a thread has used, in nanoseconds (schedstat's first field), or -1.</summary>
    public static long CpuNs(int pid, int tid)
    {
        try
        {
            var text = File.ReadAllText($"/proc/{pid}/task/{tid}/schedstat");
            return long.TryParse(text.AsSpan(0, text.IndexOf(' ')), out var ns) ? ns : -1;
        }
        catch (IOException) { return -1; }
        catch (UnauthorizedAccessException) { return -1; }
    }

    public static string Describe(int errno) => System.Runtime.InteropServices.Marshal.GetPInvokeErrorMessage(errno);
}
