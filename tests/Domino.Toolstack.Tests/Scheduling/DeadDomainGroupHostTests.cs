using System.Globalization;
using Domino.Toolstack.Scheduling;
using Domino.Toolstack.Scheduling.Host;
using Xunit;

namespace Domino.Toolstack.Tests.Scheduling;

/// <summary>
/// Domain cpu groups left by a daemon that went with its domains, on this host's real cgroup v1 cpu
/// hierarchy (as root), in a group root of the test's own.
/// </summary>
public sealed class DeadDomainGroupHostTests
{
    private const string CpuMount = "/sys/fs/cgroup/cpu";

    [SkippableFact]
    public void Empty_domain_groups_are_removed_and_a_group_with_a_thread_in_it_stays()
    {
        Skip.IfNot(CgroupHostScheduler.Available(), $"NOT RUN: host enforcement needs root and cgroup v1 ({CgroupHostScheduler.Unavailable()})");

        var group = string.Create(CultureInfo.InvariantCulture, $"domino-dead-test-{Environment.ProcessId}");
        var root = Path.Combine(CpuMount, group);
        var host = new CgroupHostScheduler(group: group) { DeadGroupAge = TimeSpan.Zero };
        var dead = Path.Combine(root, Guid.NewGuid().ToString());
        var live = Path.Combine(root, Guid.NewGuid().ToString());
        var other = Path.Combine(root, "not-a-domain");
        var vcpu = new ParkedThread();
        var tid = vcpu.Tid;
        try
        {
            foreach (var d in new[] { dead, live, other }) Directory.CreateDirectory(d);
            File.WriteAllText(Path.Combine(live, "tasks"), tid.ToString(CultureInfo.InvariantCulture));

            host.PrepareProcess(Environment.ProcessId, new HostPool(0, "Pool-0", SchedulerKind.Credit, CpuSet.Range(0, 1)), null);

            Assert.False(Directory.Exists(dead));
            Assert.True(Directory.Exists(live));
            Assert.True(Directory.Exists(other));
        }
        finally
        {
            File.WriteAllText(Path.Combine(CpuMount, "tasks"), tid.ToString(CultureInfo.InvariantCulture));
            vcpu.Dispose();
            foreach (var d in new[] { dead, live, other }) if (Directory.Exists(d)) Directory.Delete(d);
            host.RemoveGroups();
            if (Directory.Exists(root)) Directory.Delete(root);
        }
    }
}
