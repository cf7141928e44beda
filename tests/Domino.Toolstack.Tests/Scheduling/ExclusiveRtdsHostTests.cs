using System.Globalization;
using Domino.Toolstack.Interop;
using Domino.Toolstack.Scheduling;
using Domino.Toolstack.Scheduling.Host;
using Domino.Toolstack.Scheduling.Rtds;
using Domino.Vmm.Scheduling;
using Xunit;

namespace Domino.Toolstack.Tests.Scheduling;

/// <summary>
/// An exclusive rtds pool of the host's last CPU on this host's real cgroup v1 cpusets (as root): the
/// host is confined to the other CPUs and load balancing turned off around the pool for well under a
/// second, SCHED_DEADLINE must admit a thread pinned to the pool alone (once a thread that slept
/// elsewhere has run there), and everything is put back.
/// Its groups and record are its own; <c>finally</c> gives the CPUs back whatever happened.
/// </summary>
public sealed class ExclusiveRtdsHostTests
{
    private const string Mount = "/sys/fs/cgroup/cpuset";

    [SkippableFact]
    public void An_exclusive_rtds_pool_smaller_than_the_host_admits_its_vcpu_and_takes_new_parameters_in_place()
    {
        Skip.IfNot(CgroupHostScheduler.Available(), $"NOT RUN: host enforcement needs root and cgroup v1 ({CgroupHostScheduler.Unavailable()})");
        var all = CpusetShield.ParseList(File.ReadAllText(Path.Combine(Mount, "cpuset.cpus")).Trim());
        Skip.If(all.Count < 2, "NOT RUN: an exclusive pool needs a CPU left for the host, and this host has one");
        var balanced = File.ReadAllText(Path.Combine(Mount, "cpuset.sched_load_balance")).Trim();

        var me = Environment.ProcessId;
        var tag = string.Create(CultureInfo.InvariantCulture, $"{me}");
        var record = Path.Combine(Path.GetTempPath(), $"domino-rtds-test-{tag}.json");
        var shield = new CpusetShield(new CgroupCpusetTree(Mount), record,
            new ShieldOwner(me, Libc.ProcessStartTicks(me)!.Value, "/test"), group: $"domino-host-test-{tag}");
        var host = new CgroupHostScheduler(group: $"domino-rtds-test-{tag}", shield: shield);
        var rtCpus = new CpuSet([all.Cpus[^1]]);
        var hostCpus = new CpuSet(all.Cpus.Take(all.Count - 1));
        var pool0 = new HostPool(0, "Pool-0", SchedulerKind.Credit, hostCpus);
        var rt = new HostPool(1, "rt", SchedulerKind.Rtds, rtCpus);

        // A vCPU thread that sleeps, as a paused one does; it last ran on a host CPU, outside the pool.
        var vcpu = new ParkedThread(() => HostThread.SetAffinity(0, [.. hostCpus.Cpus]));
        var tid = vcpu.Tid;
        vcpu.RunFor(TimeSpan.FromMilliseconds(20));
        var uuid = Guid.NewGuid();
        HostDomain Domain(RtdsParams r) => new(uuid, "rt-test", rt, 256, 0, [new HostVcpu(0, new VcpuThread(0, me, tid), rtCpus, r)]);
        try
        {
            host.ApplyPool(pool0);
            host.ApplyPool(rt);
            host.ConfineHost(new HostConfinement(hostCpus, rtCpus, [rt]));
            Assert.Equal("0", File.ReadAllText(Path.Combine(Mount, "cpuset.sched_load_balance")).Trim());

            // Asleep on a host CPU: the kernel checks SCHED_DEADLINE against that CPU's root domain, so
            // the thread is pinned to the pool now and gets its reservation once it has run there.
            host.ApplyDomain(Domain(new RtdsParams(10_000, 6000, Extratime: false)));
            Assert.Equal(rtCpus.Cpus, HostThread.GetAffinity(tid));
            Assert.NotEqual(HostThread.SchedDeadline, HostThread.GetPolicy(tid));
            vcpu.RunFor(TimeSpan.FromMilliseconds(20));
            host.SweepHost();
            Assert.Equal(HostThread.SchedDeadline, HostThread.GetPolicy(tid));
            Assert.Equal(all.Cpus[^1], HostThread.LastCpu(me, tid));

            // New parameters, as 'sched-rtds -e 1' gives them, set in place: leaving SCHED_DEADLINE first would keep
            // the old 60 % reserved beside the new 60 % until the 0-lag time, and admission would refuse.
            host.ApplyDomain(Domain(new RtdsParams(10_000, 6000, Extratime: true)));
            Assert.Equal(HostThread.SchedDeadline, HostThread.GetPolicy(tid));
        }
        finally
        {
            vcpu.Dispose();
            host.RemoveDomain(uuid);
            host.ConfineHost(null);
            host.RemovePool(1);
            host.RemovePool(0);
            host.RemoveGroups();
        }
        Assert.Equal(balanced, File.ReadAllText(Path.Combine(Mount, "cpuset.sched_load_balance")).Trim());
        Assert.False(File.Exists(record));
    }
}
