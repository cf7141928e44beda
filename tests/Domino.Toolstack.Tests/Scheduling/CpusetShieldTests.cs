using Domino.Toolstack.Domains;
using Domino.Toolstack.Interop;
using Domino.Toolstack.Scheduling;
using Domino.Toolstack.Scheduling.Host;
using Xunit;

namespace Domino.Toolstack.Tests.Scheduling;

/// <summary>The host confinement for exclusive pools, against a cpuset hierarchy in a temp directory.</summary>
public sealed class CpusetShieldTests : IDisposable
{
    // Root tasks: 1 init, 2 kthreadd, 10/11 per-CPU kernel threads, 100-102 processes.
    private readonly FakeCpusetTree _tree = new("0-3", [1, 2, 10, 11, 100, 101, 102]);
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "domino-shield-" + Guid.NewGuid().ToString("N")[..10]);
    private readonly List<string> _log = [];
    private static readonly IReadOnlySet<string> Pool = new HashSet<string> { "domino/pool1" };

    public CpusetShieldTests()
    {
        _tree.PerCpu.UnionWith([10, 11]);
        _tree.MakeGroup("domino", "0-3");
        _tree.MakeGroup("domino/pool0", "0-2");
        _tree.MakeGroup("domino/pool1", "3");
        _tree.Attach("domino/pool1", 102); // the exclusive pool's vCPU thread
    }

    public void Dispose()
    {
        _tree.Dispose();
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    private string RecordPath => Path.Combine(_dir, "domino-host.json");

    private static ShieldOwner Me(string stateDir = "/state/a") => new(Environment.ProcessId, Libc.ProcessStartTicks(Environment.ProcessId)!.Value, stateDir);

    /// <summary>A daemon that has died: this pid with a start time it never had.</summary>
    private static ShieldOwner Dead(string stateDir = "/state/a") => new(Environment.ProcessId, -1, stateDir);

    private CpusetShield Shield(ShieldOwner owner) => new(_tree, RecordPath, owner, neverMove: new HashSet<int> { 2 }, log: _log.Add);

    [Fact]
    public void Apply_moves_every_movable_root_task_into_the_host_group_and_leaves_kernel_threads()
    {
        var sweep = Shield(Me()).Apply(CpuSet.Range(0, 3), new CpuSet([3]), Pool);

        Assert.Equal(3, sweep.Moved);
        Assert.Equal("0-2", _tree.Read("domino-host", "cpuset.cpus"));
        Assert.Equal("0", _tree.Read("domino-host", "cpuset.mems"));
        Assert.Equal([1, 100, 101], _tree.Tasks("domino-host"));
        Assert.Equal([2, 10, 11], _tree.Tasks(""));     // kthreadd and per-CPU threads stay
        Assert.Equal(3, sweep.KernelThreadsLeft);
        Assert.Equal([102], _tree.Tasks("domino/pool1")); // the pool's own thread stays on its cpu
        var record = Assert.IsType<ShieldRecord>(Shield(Me()).Record());
        Assert.Equal((Environment.ProcessId, "/state/a", "0-2", "3"), (record.OwnerPid, record.StateDir, record.HostCpus, record.ExclusiveCpus));
    }

    [Fact]
    public void Tasks_of_another_cpuset_that_reaches_an_exclusive_cpu_are_moved_and_go_back_there()
    {
        _tree.MakeGroup("other", "2-3");  // another program's cpuset, on the exclusive cpu
        _tree.MakeGroup("quiet", "0-1");  // one that stays off it
        _tree.Spawn(200, "other");
        _tree.Spawn(201, "quiet");
        _tree.Spawn(202, "domino/pool0");
        var shield = Shield(Me());

        shield.Apply(CpuSet.Range(0, 3), new CpuSet([3]), Pool);
        Assert.Contains(200, _tree.Tasks("domino-host"));
        Assert.Equal([201], _tree.Tasks("quiet"));
        Assert.Equal([202], _tree.Tasks("domino/pool0"));
        Assert.Equal("other", shield.Record()!.MovedFrom[200]);

        shield.Release();
        Assert.Equal([200], _tree.Tasks("other"));
        Assert.Equal([1, 2, 10, 11, 100, 101], _tree.Tasks("").Order());
        Assert.False(_tree.Exists("domino-host"));
        Assert.False(File.Exists(RecordPath));
        Assert.Contains(_log, l => l.Contains("the host has every CPU again", StringComparison.Ordinal));
    }

    [Fact]
    public void A_thread_that_pinned_itself_keeps_its_pinning_within_the_host_cpus_and_whole_on_give_back()
    {
        Assert.Equal(0, _tree.SetAffinity(100, new CpuSet([1, 3])));
        Assert.Equal(0, _tree.SetAffinity(101, new CpuSet([3]))); // only on the cpu that becomes exclusive
        var shield = Shield(Me());

        shield.Apply(CpuSet.Range(0, 3), new CpuSet([3]), Pool);
        Assert.Equal(new CpuSet([1]), _tree.Affinity(100));
        Assert.Equal(CpuSet.Range(0, 3), _tree.Affinity(101)); // nothing of its own is left: the host's cpus
        Assert.Equal(CpuSet.Range(0, 3), _tree.Affinity(1));   // never pinned: the group's cpus
        shield.Apply(CpuSet.Range(0, 2), CpuSet.Range(2, 2), Pool); // new cpus for the group
        Assert.Equal(new CpuSet([1]), _tree.Affinity(100));

        shield.Release();
        Assert.Equal(new CpuSet([1, 3]), _tree.Affinity(100));
        Assert.Equal(new CpuSet([3]), _tree.Affinity(101));
        Assert.Equal(CpuSet.Range(0, 4), _tree.Affinity(1));
    }

    [Fact]
    public void A_sweep_catches_tasks_that_reached_the_root_later_and_is_quiet_otherwise()
    {
        var shield = Shield(Me());
        Assert.Equal(0, shield.Sweep().Moved); // nothing applied yet
        shield.Apply(CpuSet.Range(0, 3), new CpuSet([3]), Pool);
        Assert.Equal(0, shield.Sweep().Moved);
        _tree.Spawn(300);               // a kernel thread forked by kthreadd, or a task put back by another tool
        _tree.Spawn(301, "domino-host"); // a child of a confined process: confined already
        Assert.Equal(1, shield.Sweep().Moved);
        Assert.Equal([1, 100, 101, 300, 301], _tree.Tasks("domino-host").Order());
    }

    [Fact]
    public void The_record_forgets_threads_that_have_exited()
    {
        _tree.MakeGroup("other", "3");
        _tree.Spawn(200, "other");
        _tree.Spawn(201, "other");
        var shield = Shield(Me());
        shield.Apply(CpuSet.Range(0, 3), new CpuSet([3]), Pool);
        Assert.Equal([200, 201], shield.Record()!.MovedFrom.Keys.Order());

        _tree.Exit(200);
        _tree.Spawn(202, "other");
        shield.Sweep();
        Assert.Equal([201, 202], shield.Record()!.MovedFrom.Keys.Order());
    }

    [Fact]
    public void Giving_back_part_of_the_cpus_widens_the_group_and_keeps_its_tasks()
    {
        var shield = Shield(Me());
        shield.Apply(CpuSet.Range(0, 2), CpuSet.Range(2, 2), Pool);
        Assert.Equal("0-1", _tree.Read("domino-host", "cpuset.cpus"));
        shield.Apply(CpuSet.Range(0, 3), new CpuSet([3]), Pool);
        Assert.Equal("0-2", _tree.Read("domino-host", "cpuset.cpus"));
        Assert.Equal([1, 100, 101], _tree.Tasks("domino-host"));
    }

    [Fact]
    public void After_a_crash_the_same_daemon_re_adopts_the_confinement()
    {
        _tree.MakeGroup("other", "3");
        _tree.Spawn(200, "other");
        Shield(Dead()).Apply(CpuSet.Range(0, 3), new CpuSet([3]), Pool); // the daemon then crashes: nothing given back

        var restarted = Shield(Me());
        _tree.Spawn(400); // started while no daemon was watching
        var sweep = restarted.Apply(CpuSet.Range(0, 3), new CpuSet([3]), Pool);

        Assert.Equal(1, sweep.Moved);
        var record = restarted.Record()!;
        Assert.Equal(Me().StartTicks, record.OwnerStartTicks);
        Assert.Equal("other", record.MovedFrom[200]); // still knows where its tasks came from
        restarted.Release();
        Assert.Equal([200], _tree.Tasks("other"));
        Assert.False(_tree.Exists("domino-host"));
    }

    [Fact]
    public void A_daemon_without_exclusive_pools_gives_back_what_a_dead_one_left()
    {
        Shield(Dead("/state/a")).Apply(CpuSet.Range(0, 3), new CpuSet([3]), Pool);

        Shield(Me("/state/b")).Release();

        Assert.False(_tree.Exists("domino-host"));
        Assert.Equal([1, 2, 10, 11, 100, 101], _tree.Tasks("").Order());
        Assert.Contains(_log, l => l.Contains("left confined (that daemon is no longer running)", StringComparison.Ordinal));
    }

    private Dictionary<string, string> LoadBalance() =>
        new[] { "", "domino", "domino/pool0", "domino/pool1", "domino-host", "other", "calm", "later" }.Where(g => _tree.Exists(g))
            .ToDictionary(g => g, g => _tree.Read(g, "cpuset.sched_load_balance"));

    [Fact]
    public void An_exclusive_pool_becomes_a_scheduling_root_domain_until_the_cpus_are_given_back()
    {
        _tree.MakeGroup("other", "0-3"); // another tool's cpuset reaching the pool's cpu
        _tree.MakeGroup("calm", "0-1");  // and one that does not
        var shield = Shield(Me());
        shield.Apply(CpuSet.Range(0, 3), new CpuSet([3]), Pool);

        // What reaches cpu 3 stops balancing, except the pool and the host group: the kernel builds one
        // root domain of the host's cpus 0-2 (with Pool-0's and the calm group's) and one of cpu 3.
        Assert.Equal(new Dictionary<string, string>
        {
            [""] = "0", ["domino"] = "0", ["other"] = "0",
            ["domino/pool0"] = "1", ["domino/pool1"] = "1", ["domino-host"] = "1", ["calm"] = "1",
        }, LoadBalance());
        Assert.Equal(new Dictionary<string, string> { [""] = "1", ["domino"] = "1", ["other"] = "1" }, shield.Record()!.LoadBalance);

        shield.Apply(CpuSet.Range(0, 3), new CpuSet([3]), Pool); // again: what the cpusets had is not forgotten
        _tree.MakeGroup("later", "2-3");                        // made after: the next sweep catches it
        shield.Sweep();
        Assert.Equal("0", _tree.Read("later", "cpuset.sched_load_balance"));
        Assert.Equal(new Dictionary<string, string> { [""] = "1", ["domino"] = "1", ["other"] = "1", ["later"] = "1" }, shield.Record()!.LoadBalance);

        shield.Release();
        Assert.All(LoadBalance().Values, v => Assert.Equal("1", v));
    }

    [Fact]
    public void Load_balancing_a_dead_daemon_turned_off_is_turned_back_on_and_a_host_setting_kept()
    {
        _tree.Write("domino", "cpuset.sched_load_balance", "0"); // the host's own choice: not Domino's to change back
        Shield(Dead("/state/a")).Apply(CpuSet.Range(0, 3), new CpuSet([3]), Pool);
        Assert.Equal("0", _tree.Read("", "cpuset.sched_load_balance"));

        Shield(Me("/state/b")).Release();

        Assert.Equal("1", _tree.Read("", "cpuset.sched_load_balance"));
        Assert.Equal("0", _tree.Read("domino", "cpuset.sched_load_balance"));
    }

    [Fact]
    public void Without_exclusive_cpus_nothing_stops_balancing()
    {
        Shield(Me()).Apply(CpuSet.Range(0, 4), CpuSet.Empty, new HashSet<string>());
        Assert.All(LoadBalance().Values, v => Assert.Equal("1", v));
    }

    [Fact]
    public void A_confinement_another_running_daemon_holds_is_refused_and_left_alone()
    {
        Shield(Me("/state/a")).Apply(CpuSet.Range(0, 3), new CpuSet([3]), Pool);
        var other = Shield(new ShieldOwner(1, Libc.ProcessStartTicks(1) ?? 0, "/state/b")); // pid 1 is alive

        var refused = Assert.Throws<ToolstackException>(() => other.Apply(CpuSet.Range(0, 2), CpuSet.Range(2, 2), Pool));
        Assert.Equal($"the host's processes are already confined to cpus 0-2 (cpuset {Path.Combine(_tree.Mount, "domino-host")}) by another Domino daemon pid {Environment.ProcessId} (state dir /state/a): make its pools non-exclusive there, or stop that daemon", refused.Message);
        other.Release();
        Assert.Equal("0-2", _tree.Read("domino-host", "cpuset.cpus"));
        Assert.Equal([1, 100, 101], _tree.Tasks("domino-host"));
    }

    [Fact]
    public void Tasks_the_kernel_refuses_to_move_are_reported_by_name()
    {
        _tree.Deadline.Add(101);
        var sweep = Shield(Me()).Apply(CpuSet.Range(0, 3), new CpuSet([3]), Pool);
        var refused = Assert.Single(sweep.Refused);
        Assert.StartsWith("thread 101", refused, StringComparison.Ordinal);
        Assert.EndsWith("(root): Device or resource busy", refused, StringComparison.Ordinal);
        Assert.Contains(_log, l => l.Contains("may still run on exclusive cpus 3", StringComparison.Ordinal));
    }

    [Fact]
    public void No_cpu_for_the_host_is_refused()
    {
        var e = Assert.Throws<ToolstackException>(() => Shield(Me()).Apply(CpuSet.Empty, CpuSet.Range(0, 4), Pool));
        Assert.Equal("exclusive cpus: the host's processes need at least one CPU outside the exclusive pools (exclusive cpus: 0-3)", e.Message);
        Assert.False(_tree.Exists("domino-host"));
    }

    [Fact]
    public void A_group_whose_record_was_lost_is_given_back()
    {
        Shield(Me()).Apply(CpuSet.Range(0, 3), new CpuSet([3]), Pool);
        File.Delete(RecordPath);
        Shield(Me("/state/b")).Release();
        Assert.False(_tree.Exists("domino-host"));
        Assert.Equal([1, 2, 10, 11, 100, 101], _tree.Tasks("").Order());
    }
}
