using Domino.Toolstack.Scheduling.Credit;
using Domino.Toolstack.Scheduling.Rtds;

namespace Domino.Toolstack.Scheduling.Host;

/// <summary>A host thread that runs one vCPU: its process and kernel thread id.</summary>
public sealed record VcpuThread(int Vcpu, int Pid, int Tid);

/// <summary>A CPU pool as the host sees it: a set of CPUs its domains' vCPU threads are confined to.</summary>
public sealed record HostPool(int Id, string Name, SchedulerKind Scheduler, CpuSet Cpus);

/// <summary>
/// The host's own processes kept off the exclusive pools' CPUs (Xen: a CPU moved out of Pool-0 is no
/// longer used by dom0): they may use <paramref name="HostCpus"/>, every CPU no exclusive pool owns.
/// </summary>
public sealed record HostConfinement(CpuSet HostCpus, CpuSet ExclusiveCpus, IReadOnlyList<HostPool> ExclusivePools);

/// <summary>One vCPU's desired host placement: the CPUs its thread may use now, and its RTDS reservation if any.</summary>
public sealed record HostVcpu(int Vcpu, VcpuThread? Thread, CpuSet Mask, RtdsParams? Rtds);

/// <summary>Everything the host must enforce for one domain.</summary>
public sealed record HostDomain(Guid Uuid, string Name, HostPool Pool, int Weight, int Cap, IReadOnlyList<HostVcpu> Vcpus)
{
    /// <summary>The cgroup v1 cpu values for credit/credit2 domains: cpu.shares and cpu.cfs_quota_us.</summary>
    public (long Shares, long QuotaUs)? CpuGroup => CpuGroupFor(Pool.Scheduler, Weight, Cap);

    /// <summary>The cgroup v1 cpu values of a domain with <paramref name="weight"/> and <paramref name="cap"/> under <paramref name="scheduler"/>; null where it has no cpu group.</summary>
    public static (long Shares, long QuotaUs)? CpuGroupFor(SchedulerKind scheduler, int weight, int cap) => scheduler.IsProportional()
        ? (CreditParams.Shares(weight), CreditParams.QuotaUs(cap))
        : null;
}

/// <summary>The Linux policy a vCPU thread gets under each pool scheduler.</summary>
public enum ThreadPolicy
{
    /// <summary>CFS in the domain's cpu cgroup (credit, credit2).</summary>
    Fair,
    /// <summary>SCHED_DEADLINE with the vCPU's RTDS budget and period (rtds).</summary>
    Deadline,
    /// <summary>Runs only inside its ARINC653 windows; the VMM's gate sets SCHED_FIFO itself (arinc653).</summary>
    Gated,
}

/// <summary>
/// Host enforcement of pools and scheduling parameters (libvirt's split of policy from mechanism):
/// the scheduling service decides, an implementation applies. <see cref="CgroupHostScheduler"/> uses
/// cgroup v1 and sched_setattr; <see cref="InMemoryHostScheduler"/> keeps the same state in memory.
/// Failures are <see cref="Domains.ToolstackException"/>s naming the domain, the vCPU and the fix.
/// </summary>
public interface IHostScheduler
{
    string Name { get; }

    /// <summary>Creates or updates a pool's CPU confinement.</summary>
    void ApplyPool(HostPool pool);

    void RemovePool(int poolId);

    /// <summary>Brings a domain's vCPU threads and groups to the desired state (idempotent).</summary>
    void ApplyDomain(HostDomain domain);

    void RemoveDomain(Guid uuid);

    /// <summary>
    /// Puts a process that will run a domain it does not know yet (a spare VMM process) where a new
    /// domain of <paramref name="pool"/> with default parameters will have its vCPU threads, so that
    /// the threads are in place before the domain starts and <see cref="ApplyDomain"/> has nothing to
    /// move: on cgroup v1 each first task move after a quiet spell waits for an RCU grace period,
    /// milliseconds on a busy host. Called off any request's path; best effort.
    /// </summary>
    void PrepareProcess(int pid, HostPool pool, (long Shares, long QuotaUs)? cpuGroup);

    /// <summary>
    /// Confines the host's processes (everything but the exclusive pools' vCPU threads) to
    /// <see cref="HostConfinement.HostCpus"/>; null gives them every CPU back. Idempotent; after a
    /// crash the next daemon re-adopts (or, with no exclusive pool, undoes) what the last one left.
    /// </summary>
    void ConfineHost(HostConfinement? confinement);

    /// <summary>
    /// Run periodically: moves host tasks that reached the exclusive CPUs since the confinement was
    /// applied, and gives SCHED_DEADLINE to rtds vCPU threads that were asleep outside their pool.
    /// </summary>
    void SweepHost();

    /// <summary>Changes the CPUs one vCPU thread may use right now (the soft-affinity balancer).</summary>
    void SetMask(VcpuThread thread, CpuSet mask);

    /// <summary>Fraction of the last interval each host CPU was idle, by CPU number.</summary>
    IReadOnlyDictionary<int, double> CpuIdle();

    /// <summary>Fraction of the last interval the thread spent runnable but waiting for a CPU.</summary>
    double WaitFraction(VcpuThread thread);

    public static ThreadPolicy PolicyFor(SchedulerKind kind) => kind switch
    {
        SchedulerKind.Rtds => ThreadPolicy.Deadline,
        SchedulerKind.Arinc653 => ThreadPolicy.Gated,
        _ => ThreadPolicy.Fair,
    };
}
