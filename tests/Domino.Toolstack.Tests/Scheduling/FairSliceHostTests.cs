using System.Globalization;
using Domino.Toolstack.Scheduling;
using Domino.Toolstack.Scheduling.Credit;
using Domino.Toolstack.Scheduling.Host;
using Domino.Vmm.Scheduling;
using Xunit;

namespace Domino.Toolstack.Tests.Scheduling;

/// <summary>
/// A credit pool's time slice on this host's real threads: the cgroup host scheduler gives a vCPU
/// thread the pool's slice as its EEVDF slice (sched_setattr), and the kernel keeps it. Runs as root
/// with cgroup v1, in a cpu and cpuset group of its own that it removes again.
/// </summary>
public sealed class FairSliceHostTests
{
    /// <summary>Whether this kernel keeps a slice per thread (Linux 6.12 and later): tried on a scratch thread.</summary>
    private static bool KernelKeepsSlices()
    {
        long kept = -1;
        var t = new Thread(() =>
        {
            HostThread.SetFair(0, 7_000_000);
            kept = HostThread.FairSliceNs(0);
        });
        t.Start();
        t.Join();
        return kept == 7_000_000;
    }

    [SkippableFact]
    public void A_vcpu_thread_of_a_credit_pool_runs_with_the_pool_slice_and_follows_a_change()
    {
        Skip.IfNot(CgroupHostScheduler.Available(), $"NOT RUN: host enforcement needs root and cgroup v1 ({CgroupHostScheduler.Unavailable()})");
        Skip.IfNot(KernelKeepsSlices(), "NOT RUN: this kernel keeps no EEVDF slice per thread (sched_setattr's sched_runtime for SCHED_OTHER needs Linux 6.12)");

        using var release = new ManualResetEventSlim();
        using var ready = new ManualResetEventSlim();
        var tid = 0;
        var vcpu = new Thread(() =>
        {
            tid = HostThread.CurrentTid();
            ready.Set();
            release.Wait();
        }) { IsBackground = true };
        vcpu.Start();
        ready.Wait();

        var host = new CgroupHostScheduler(group: string.Create(CultureInfo.InvariantCulture, $"domino-slice-test-{Environment.ProcessId}"));
        var cpus = CpuSet.Range(0, Environment.ProcessorCount);
        var uuid = Guid.NewGuid();
        HostDomain Domain(HostPool pool) => new(uuid, "slice", pool, CreditParams.DefaultWeight, 0,
            [new HostVcpu(0, new VcpuThread(0, Environment.ProcessId, tid), cpus, null)]);
        try
        {
            var pool = new HostPool(0, "Pool-0", SchedulerKind.Credit, cpus, CreditParams.SliceNs(CreditParams.DefaultTsliceMs));
            host.ApplyPool(pool);
            host.ApplyDomain(Domain(pool));
            Assert.Equal(30_000_000L, HostThread.FairSliceNs(tid));

            host.ApplyDomain(Domain(pool with { SliceNs = CreditParams.SliceNs(5) }));
            Assert.Equal(5_000_000L, HostThread.FairSliceNs(tid));

            // Moved to a credit2 pool's default: the kernel's own slice again, whatever it is, not the 5 ms.
            host.ApplyDomain(Domain(pool with { Scheduler = SchedulerKind.Credit2, SliceNs = 0 }));
            Assert.NotEqual(5_000_000L, HostThread.FairSliceNs(tid));
        }
        finally
        {
            release.Set();
            vcpu.Join();
            host.RemoveDomain(uuid);
            host.RemovePool(0);
            host.RemoveGroups();
        }
    }
}
