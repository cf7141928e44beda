using System.Globalization;
using Domino.Toolstack.Domains;
using Domino.Toolstack.Interop;
using Domino.Toolstack.Scheduling;
using Domino.Toolstack.Scheduling.Host;
using Xunit;

namespace Domino.Toolstack.Tests.Scheduling;

/// <summary>Exclusive pools: the scheduling service's rules over the in-memory host, and the cgroup host scheduler over a fake cpuset tree.</summary>
public sealed class ExclusivePoolTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "domino-excl-" + Guid.NewGuid().ToString("N")[..10]);

    public ExclusivePoolTests() => Directory.CreateDirectory(_dir);

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    private string StateDir(string name)
    {
        var d = Path.Combine(_dir, name);
        Directory.CreateDirectory(d);
        return d;
    }

    // ---- rules, over the in-memory host ----------------------------------------------------------

    [Fact]
    public void An_exclusive_pool_keeps_the_host_off_its_cpus_until_it_shares_them_again_or_goes()
    {
        var host = new InMemoryHostScheduler();
        using var s = new SchedulingService(StateDir("a"), host, CpuSet.Range(0, 4));
        s.RemoveCpus("Pool-0", "2-3");
        Assert.Null(host.Confinement);

        var info = s.CreatePool("rt", SchedulerKind.Arinc653, "3", exclusive: true);
        Assert.True(info.Exclusive);
        Assert.Equal((CpuSet.Range(0, 3), new CpuSet([3])), (host.Confinement!.HostCpus, host.Confinement.ExclusiveCpus));
        Assert.Equal("rt", Assert.Single(host.Confinement.ExclusivePools).Name);

        s.AddCpus("rt", "2");   // a CPU the pool takes is taken from the host too
        Assert.Equal(CpuSet.Range(0, 2), host.Confinement!.HostCpus);
        s.RemoveCpus("rt", "2"); // and one it frees goes back
        Assert.Equal(CpuSet.Range(0, 3), host.Confinement!.HostCpus);

        s.SetExclusive("rt", false);
        Assert.Null(host.Confinement);
        Assert.False(s.Pool("rt").Exclusive);
        s.SetExclusive("rt", true);
        Assert.NotNull(host.Confinement);
        s.DestroyPool("rt");
        Assert.Null(host.Confinement);
        Assert.Equal(["host cpus=0-2 exclusive=3", "host cpus=0-1 exclusive=2-3", "host cpus=0-2 exclusive=3", "host cpus all", "host cpus=0-2 exclusive=3", "host cpus all"],
            host.Log.Where(l => l.StartsWith("host ", StringComparison.Ordinal)));
    }

    [Fact]
    public void Pool0_is_never_exclusive_and_keeps_a_cpu_while_another_pool_is()
    {
        using var s = new SchedulingService(null, new InMemoryHostScheduler(), CpuSet.Range(0, 2));
        Assert.Equal("pool 'Pool-0' cannot be exclusive: it is where the host's processes and the daemon run (as dom0 runs in Xen's Pool-0); make another pool exclusive",
            Assert.Throws<ToolstackException>(() => s.SetExclusive("Pool-0", true)).Message);

        s.RemoveCpus("Pool-0", "1");
        s.CreatePool("rt", SchedulerKind.Arinc653, "1", exclusive: true);
        Assert.Equal("pool 'Pool-0' must keep at least one CPU while pool 'rt' owns its CPUs exclusively: the host's processes and the daemon run on Pool-0's CPUs (share 'rt' again first with 'domino cpupool-exclusive rt 0')",
            Assert.Throws<ToolstackException>(() => s.RemoveCpus("Pool-0", "0")).Message);

        s.SetExclusive("rt", false);
        s.RemoveCpus("Pool-0", "0");
        Assert.Equal("pool 'rt' cannot own its CPUs exclusively while Pool-0 has none: the host's processes and the daemon run on Pool-0's CPUs; give it one first with 'domino cpupool-cpu-add Pool-0 CPU'",
            Assert.Throws<ToolstackException>(() => s.SetExclusive("rt", true)).Message);
        Assert.False(s.Pool("rt").Exclusive);
    }

    [Fact]
    public void A_host_that_cannot_confine_refuses_with_the_reason_and_nothing_changes()
    {
        var host = new InMemoryHostScheduler { ConfinementRefusal = "exclusive cpus: the daemon is not root, so it cannot move tasks between cpusets: run 'domino daemon' as root" };
        using var s = new SchedulingService(StateDir("a"), host, CpuSet.Range(0, 2));
        s.RemoveCpus("Pool-0", "1");

        var e = Assert.Throws<ToolstackException>(() => s.CreatePool("rt", SchedulerKind.Arinc653, "1", exclusive: true));
        Assert.Equal(host.ConfinementRefusal, e.Message);
        Assert.Equal(["Pool-0"], s.Pools().Select(p => p.Name));
        Assert.Null(host.Pool(1));

        s.CreatePool("rt", SchedulerKind.Arinc653, "1");
        Assert.Throws<ToolstackException>(() => s.SetExclusive("rt", true));
        Assert.False(s.Pool("rt").Exclusive);
        Assert.Null(host.Confinement);
    }

    [Fact]
    public void A_restarted_daemon_confines_the_host_again_and_a_clean_stop_gives_the_cpus_back()
    {
        var state = StateDir("a");
        using (var s = new SchedulingService(state, new InMemoryHostScheduler(), CpuSet.Range(0, 2)))
        {
            s.RemoveCpus("Pool-0", "1");
            s.CreatePool("rt", SchedulerKind.Arinc653, "1", exclusive: true);
        }
        var host = new InMemoryHostScheduler();
        using var again = new SchedulingService(state, host, CpuSet.Range(0, 2));
        Assert.True(again.Pool("rt").Exclusive);
        Assert.Equal(new CpuSet([0]), host.Confinement!.HostCpus);
        again.ReleaseHost();
        Assert.Null(host.Confinement);
    }

    // ---- the cgroup host scheduler over a fake cpuset tree ---------------------------------------

    private sealed class Host
    {
        public Host(FakeCpusetTree tree, string record, ShieldOwner owner, string dir)
        {
            CpuMount = Path.Combine(dir, "cpu");
            Directory.CreateDirectory(CpuMount);
            File.WriteAllText(Path.Combine(CpuMount, "cpu.shares"), "1024\n");
            Scheduler = new CgroupHostScheduler(tree.Mount, CpuMount, shield: new CpusetShield(tree, record, owner, neverMove: new HashSet<int> { 2 }, log: Log.Add), log: Log.Add);
        }

        public string CpuMount { get; }
        public CgroupHostScheduler Scheduler { get; }
        public List<string> Log { get; } = [];
    }

    private static ShieldOwner Me(string stateDir) => new(Environment.ProcessId, Libc.ProcessStartTicks(Environment.ProcessId)!.Value, stateDir);

    private static ShieldOwner Dead(string stateDir) => new(Environment.ProcessId, -1, stateDir);

    [Fact]
    public void Cgroup_host_confines_the_host_keeps_its_pools_apart_re_adopts_after_a_crash_and_gives_back()
    {
        using var tree = new FakeCpusetTree("0-3", [1, 2, 10, 100, 101]);
        tree.PerCpu.Add(10);
        var record = Path.Combine(_dir, "domino-host.json");
        var state = StateDir("a");

        // A daemon makes cpu 3 an exclusive arinc653 pool; its vCPU thread (500) lives in the pool's cpuset.
        var first = new Host(tree, record, Dead(state), _dir); // "dead": it is about to crash
        var s = new SchedulingService(state, first.Scheduler, CpuSet.Range(0, 4));
        s.RemoveCpus("Pool-0", "3");
        s.CreatePool("a653", SchedulerKind.Arinc653, "3", exclusive: true);
        Assert.Equal("0-2", tree.Read("domino-host", "cpuset.cpus"));
        Assert.Equal("0-2", tree.Read("domino/pool0", "cpuset.cpus"));
        Assert.Equal("3", tree.Read("domino/pool1", "cpuset.cpus"));
        Assert.Equal([1, 100, 101], tree.Tasks("domino-host"));
        Assert.Equal([2, 10], tree.Tasks(""));
        tree.Spawn(500, "domino/pool1");

        // Another daemon sharing the group names widens Pool-0's cpuset onto cpu 3 and puts a thread there.
        Assert.Equal(0, tree.Write("domino/pool0", "cpuset.cpus", "0-3"));
        tree.Spawn(600, "domino/pool0");
        tree.Spawn(700);
        s.SweepHost();
        Assert.Equal("0-2", tree.Read("domino/pool0", "cpuset.cpus"));
        Assert.Equal([600], tree.Tasks("domino/pool0"));
        Assert.Equal([500], tree.Tasks("domino/pool1"));
        Assert.Contains(700, tree.Tasks("domino-host"));
        Assert.Contains(first.Log, l => l.Contains("had cpus '0-3', not pool 'Pool-0''s 0-2: restored", StringComparison.Ordinal));

        // It crashes (nothing given back); restarted on the same state dir, it re-adopts the confinement.
        s.Dispose();
        tree.Spawn(800);
        var second = new Host(tree, record, Me(state), _dir);
        using var again = new SchedulingService(state, second.Scheduler, CpuSet.Range(0, 4));
        Assert.Contains(800, tree.Tasks("domino-host"));
        Assert.Equal(Me(state).StartTicks, second.Scheduler.Shield.Record()!.OwnerStartTicks);

        // Its domain ends (the vCPU thread exits); destroying the exclusive pool gives the host every CPU back.
        tree.Exit(500);
        again.DestroyPool("a653");
        Assert.False(tree.Exists("domino-host"));
        Assert.Equal([1, 2, 10, 100, 101, 700, 800], tree.Tasks("").Order());
        Assert.False(File.Exists(record));
    }

    [Fact]
    public void Cgroup_host_a_daemon_of_another_state_dir_gives_back_what_a_crashed_one_left()
    {
        using var tree = new FakeCpusetTree("0-1", [1, 2, 100]);
        var record = Path.Combine(_dir, "domino-host.json");
        var crashed = new SchedulingService(StateDir("a"), new Host(tree, record, Dead(StateDir("a")), _dir).Scheduler, CpuSet.Range(0, 2));
        crashed.RemoveCpus("Pool-0", "1");
        crashed.CreatePool("a653", SchedulerKind.Arinc653, "1", exclusive: true);
        Assert.Equal([1, 100], tree.Tasks("domino-host"));

        var other = new Host(tree, record, Me(StateDir("b")), _dir);
        using var s = new SchedulingService(StateDir("b"), other.Scheduler, CpuSet.Range(0, 2));

        Assert.False(tree.Exists("domino-host"));
        Assert.Equal([1, 2, 100], tree.Tasks("").Order());
        Assert.Contains(other.Log, l => l.Contains(string.Create(CultureInfo.InvariantCulture, $"daemon pid {Environment.ProcessId}"), StringComparison.Ordinal));
    }
}
