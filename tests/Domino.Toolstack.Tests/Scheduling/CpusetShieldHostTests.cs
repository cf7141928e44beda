using System.Globalization;
using Domino.Toolstack.Interop;
using Domino.Toolstack.Scheduling;
using Domino.Toolstack.Scheduling.Host;
using Xunit;

namespace Domino.Toolstack.Tests.Scheduling;

/// <summary>
/// The host confinement on this host's real cgroup v1 cpuset hierarchy (as root). To stay harmless to
/// everything else running, it gives its group every CPU and keeps none exclusive: every process on the
/// machine is moved into the group and back, which is the kernel behaviour under test, but no task
/// loses a CPU meanwhile. Its group and record are its own, and <c>finally</c> puts every task back.
/// Narrowing the host to fewer CPUs is exercised by bench/sched-vmm.sh, not here.
/// </summary>
public sealed class CpusetShieldHostTests
{
    private const string Mount = "/sys/fs/cgroup/cpuset";

    [SkippableFact]
    public void Every_movable_task_of_the_root_cpuset_moves_into_the_group_and_back()
    {
        Skip.If(Environment.UserName != "root", "NOT ROOT: moving tasks between cpusets needs root");
        Skip.If(!File.Exists(Path.Combine(Mount, "cpuset.cpus")), $"NO cgroup v1 cpuset controller at {Mount}");

        var tree = new CgroupCpusetTree(Mount);
        var group = string.Create(CultureInfo.InvariantCulture, $"domino-host-test-{Environment.ProcessId}");
        var record = Path.Combine(Path.GetTempPath(), $"{group}.json");
        var shield = new CpusetShield(tree, record, new ShieldOwner(Environment.ProcessId, Libc.ProcessStartTicks(Environment.ProcessId)!.Value, "/test"), group);
        var all = CpusetShield.ParseList(tree.Read("", "cpuset.cpus"));
        var me = Environment.ProcessId;
        // A thread of ours pinned to one CPU: a cgroup v1 move resets that, so the confinement must put it back.
        var pin = new CpuSet([all.Cpus[^1]]);
        var pinned = new ParkedThread(() => Vmm.Scheduling.HostThread.SetAffinity(0, [.. pin.Cpus]));
        var pinnedTid = pinned.Tid;
        try
        {
            var sweep = shield.Apply(all, CpuSet.Empty, new HashSet<string>());
            Assert.True(sweep.Moved > 0);
            Assert.Equal(group, tree.GroupOf(me));
            Assert.Equal(group, tree.GroupOf(pinnedTid));
            Assert.Equal(pin, tree.Affinity(pinnedTid));
            Assert.Equal(all.ToString(), tree.Read(group, "cpuset.cpus"));
            shield.Sweep();
            // What stays in the root is what the kernel keeps there: kernel threads, and tasks it refused.
            var stragglers = tree.Tasks("").Where(t => !IsKernelThread(t) && !sweep.Refused.Any(r => r.StartsWith($"thread {t} ", StringComparison.Ordinal))).ToList();
            Assert.True(stragglers.Count == 0, $"user tasks left in the root cpuset: {string.Join(", ", stragglers)}");

            shield.Release();
            Assert.False(tree.Exists(group));
            Assert.Equal("", tree.GroupOf(me));
            Assert.Equal(pin, tree.Affinity(pinnedTid));
            Assert.False(File.Exists(record));
        }
        finally
        {
            if (tree.Exists(group))
            {
                for (var pass = 0; pass < 5 && tree.Tasks(group).Count > 0; pass++)
                    foreach (var tid in tree.Tasks(group)) _ = tree.Attach("", tid);
                tree.Remove(group);
            }
            foreach (var f in new[] { record, record + ".lock" })
                try { File.Delete(f); } catch (IOException) { }
            pinned.Dispose();
        }
    }

    /// <summary>PF_KTHREAD in proc(5) stat's flags (field 9); a task that has gone counts as nothing to move.</summary>
    private static bool IsKernelThread(int tid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{tid}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return (uint.Parse(fields[6], CultureInfo.InvariantCulture) & 0x00200000) != 0;
        }
        catch (IOException) { return true; }
    }
}
