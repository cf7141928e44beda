using Domino.Toolstack.Domains;
using Domino.Toolstack.Scheduling;
using Domino.Toolstack.Scheduling.Arinc653;
using Domino.Toolstack.Scheduling.Host;
using Xunit;

namespace Domino.Toolstack.Tests.Scheduling;

/// <summary>Pools and scheduler parameters through the domain service, over the test driver and the in-memory host.</summary>
public sealed class SchedulingServiceTests : IDisposable
{
    private readonly ToolstackFixture _f = new();
    private readonly InMemoryHostScheduler _host = new();
    private readonly SchedulingService _s;

    public SchedulingServiceTests()
    {
        _s = new SchedulingService(_f.StateDir, _host, CpuSet.Range(0, 4));
        _f.Service.AttachScheduling(_s);
    }

    public void Dispose()
    {
        _s.Dispose();
        _f.Dispose();
    }

    private Task<DomainInfo> Create(string name, string? pool = null, string? cpus = null, int vcpus = 2, string? schedParams = null) =>
        _f.Service.CreateAsync(ToolstackFixture.Spec(name) with { Vcpus = vcpus, MaxVcpus = vcpus, Cpus = cpus },
            "{\"c_info\":{\"name\":\"" + name + "\"" + (pool is null ? "" : ",\"pool_name\":\"" + pool + "\"") + "},\"b_info\":{\"sched_params\":{" + (schedParams ?? "") + "}}}", false, CancellationToken.None);

    private Guid Uuid(string name) => _f.Service.Lookup(name).Uuid;

    [Fact]
    public void Pool0_holds_every_host_cpu_and_cannot_be_destroyed()
    {
        var p = Assert.Single(_s.Pools());
        Assert.Equal(("Pool-0", "0-3", SchedulerKind.Credit), (p.Name, p.Cpus, p.Scheduler));
        Assert.Equal("pool 'Pool-0' is the default pool and cannot be destroyed", Assert.Throws<ToolstackException>(() => _s.DestroyPool("Pool-0")).Message);
        Assert.Equal(CpuSet.Range(0, 4), _host.Pool(0)!.Cpus);
    }

    [Fact]
    public void A_cpu_belongs_to_at_most_one_pool()
    {
        var e = Assert.Throws<ToolstackException>(() => _s.CreatePool("rt", SchedulerKind.Rtds, "3"));
        Assert.Equal("cpu 3 belongs to pool 'Pool-0' (a CPU is in at most one pool): free it first with 'domino cpupool-cpu-remove Pool-0 3'", e.Message);
        _s.RemoveCpus("Pool-0", "2-3");
        var rt = _s.CreatePool("rt", SchedulerKind.Rtds, "3");
        Assert.Equal("3", rt.Cpus);
        Assert.Equal("2", _s.AddCpus("rt", "2").Cpus.Split(',')[0][..1]);
        Assert.Equal("0-1", _s.Pool("Pool-0").Cpus);
        Assert.Equal(CpuSet.Range(2, 2), _host.Pool(rt.Id)!.Cpus);
        Assert.Contains("cpu 2 belongs to pool 'rt'", Assert.Throws<ToolstackException>(() => _s.AddCpus("Pool-0", "2")).Message);
        Assert.Equal("cpu 0 is not in pool 'rt' (its cpus: 2-3)", Assert.Throws<ToolstackException>(() => _s.RemoveCpus("rt", "0")).Message);
    }

    [Fact]
    public async Task A_pool_with_domains_cannot_be_destroyed_or_emptied()
    {
        _s.RemoveCpus("Pool-0", "3");
        _s.CreatePool("p", SchedulerKind.Credit2, "3");
        await Create("web", pool: "p");
        Assert.Equal("p", _s.PoolOf(Uuid("web")));
        Assert.Contains("still has domain(s) web: move them with 'domino cpupool-migrate DOMAIN Pool-0'", Assert.Throws<ToolstackException>(() => _s.DestroyPool("p")).Message);
        Assert.Contains("must keep at least one CPU", Assert.Throws<ToolstackException>(() => _s.RemoveCpus("p", "3")).Message);
        _s.Migrate(Uuid("web"), "web", "Pool-0");
        _s.DestroyPool("p");
        Assert.Single(_s.Pools());
    }

    [Fact]
    public async Task Weight_and_cap_map_to_shares_and_quota_and_are_range_checked()
    {
        await Create("a", schedParams: "\"weight\":512");
        var d = _host.Domain(Uuid("a"))!;
        Assert.Equal((2048L, -1L), d.CpuGroup);
        _s.SetCredit(SchedulerKind.Credit, Uuid("a"), "a", null, 25);
        Assert.Equal((2048L, 25_000L), _host.Domain(Uuid("a"))!.CpuGroup);
        Assert.Equal("domain 'a': weight 70000 is outside 1..65535 (the default is 256)",
            Assert.Throws<ToolstackException>(() => _s.SetCredit(SchedulerKind.Credit, Uuid("a"), "a", 70000, null)).Message);
        Assert.Contains("cap 300 is outside 0..200", Assert.Throws<ToolstackException>(() => _s.SetCredit(SchedulerKind.Credit, Uuid("a"), "a", null, 300)).Message);
    }

    [Fact]
    public void Credit_pool_parameters_are_range_checked_and_a_rate_limit_may_not_exceed_the_time_slice()
    {
        _s.RemoveCpus("Pool-0", "3");
        _s.CreatePool("c2", SchedulerKind.Credit2, "3");
        var p = _s.SetCreditPool(SchedulerKind.Credit, "Pool-0", 5, 2000);
        Assert.Equal((5, 2000), (p.TsliceMs, p.RatelimitUs));
        Assert.Equal("tslice 0 ms is outside 1..1000 ms", Assert.Throws<ToolstackException>(() => _s.SetCreditPool(SchedulerKind.Credit, "Pool-0", 0, 3000)).Message);
        Assert.Equal("ratelimit 2000 µs is longer than the time slice of pool 'Pool-0' (1 ms): lower -r or raise -t",
            Assert.Throws<ToolstackException>(() => _s.SetCreditPool(SchedulerKind.Credit, "Pool-0", 1, null)).Message);
        Assert.Equal("ratelimit 6000 µs is longer than the time slice of pool 'Pool-0' (5 ms): lower -r or raise -t",
            Assert.Throws<ToolstackException>(() => _s.SetCreditPool(SchedulerKind.Credit, "Pool-0", null, 6000)).Message);
        Assert.Equal((5, 2000), _s.Credit(SchedulerKind.Credit, "Pool-0", null).Single() is var after ? (after.TsliceMs, after.RatelimitUs) : default);
        Assert.Equal("credit2 has no time slice (-t); it takes a rate limit (-r) only",
            Assert.Throws<ToolstackException>(() => _s.SetCreditPool(SchedulerKind.Credit2, "c2", 5, null)).Message);
        Assert.Equal(50_000, _s.SetCreditPool(SchedulerKind.Credit2, "c2", null, 50_000).RatelimitUs); // credit2 has no slice to stay under
    }

    [Fact]
    public async Task A_scheduler_command_aimed_at_another_schedulers_pool_names_the_fix()
    {
        _s.RemoveCpus("Pool-0", "3");
        _s.CreatePool("rt", SchedulerKind.Rtds, "3");
        await Create("ctl", pool: "rt");
        var e = Assert.Throws<ToolstackException>(() => _s.SetCredit(SchedulerKind.Credit, Uuid("ctl"), "ctl", 512, null));
        Assert.Equal("pool 'rt' runs rtds, not credit: use 'domino sched-rtds -d ctl' or move the domain with 'domino cpupool-migrate ctl POOL'", e.Message);
        Assert.Equal("pool 'rt' runs rtds, not credit: use 'domino sched-rtds -c rt'", Assert.Throws<ToolstackException>(() => _s.Credit(SchedulerKind.Credit, "rt", null)).Message);
    }

    [Fact]
    public async Task Rtds_defaults_validation_and_per_vcpu_settings()
    {
        _s.RemoveCpus("Pool-0", "3");
        _s.CreatePool("rt", SchedulerKind.Rtds, "3");
        await Create("ctl", pool: "rt");
        var all = Assert.Single(_s.Rtds("rt", null)).Vcpus;
        Assert.All(all, v => Assert.Equal((10000, 4000, true), (v.PeriodUs, v.BudgetUs, v.Extratime)));
        _s.SetRtds(Uuid("ctl"), "ctl", 1, 2000, 500, false);
        var host = _host.Domain(Uuid("ctl"))!;
        Assert.Equal(new Toolstack.Scheduling.Rtds.RtdsParams(2000, 500, false), host.Vcpus[1].Rtds);
        Assert.Equal(new Toolstack.Scheduling.Rtds.RtdsParams(), host.Vcpus[0].Rtds);
        Assert.Contains("budget 3000 µs exceeds period 2000 µs", Assert.Throws<ToolstackException>(() => _s.SetRtds(Uuid("ctl"), "ctl", 1, null, 3000, null)).Message);
        Assert.Contains("period 5 µs is below the 10 µs minimum", Assert.Throws<ToolstackException>(() => _s.SetRtds(Uuid("ctl"), "ctl", -1, 5, null, null)).Message);
        Assert.Equal("domain 'ctl' has no vcpu 7 (it has 2: 0-1, or all)", Assert.Throws<ToolstackException>(() => _s.SetRtds(Uuid("ctl"), "ctl", 7, 100, 50, null)).Message);
    }

    [Fact]
    public async Task Hard_affinity_is_intersected_with_the_pool_and_refused_outside_it()
    {
        _s.RemoveCpus("Pool-0", "2-3");
        _s.CreatePool("p", SchedulerKind.Credit, "2-3");
        await Create("a", cpus: "1-2");
        Assert.Equal(new CpuSet([1]), _host.Mask(Uuid("a"), 0));
        var e = Assert.Throws<ToolstackException>(() => _s.Pin(Uuid("a"), "a", 0, "3", null));
        Assert.Equal("hard affinity 3: cpus 3 are not in pool 'Pool-0' (its cpus: 0-1): pin within the pool, or move the domain with 'domino cpupool-migrate a POOL'", e.Message);
        _s.Pin(Uuid("a"), "a", -1, "all", "0");
        Assert.Equal(new CpuSet([0]), _host.Mask(Uuid("a"), 1)); // soft preferred while free
        var info = _s.Affinities(Uuid("a"));
        Assert.Equal(("all", "0"), (info[1].Hard, info[1].Soft));
        await Assert.ThrowsAsync<ToolstackException>(() => Create("b", cpus: "3"));
    }

    [Fact]
    public async Task Arinc653_schedules_are_validated_against_the_pool_and_stored()
    {
        _s.RemoveCpus("Pool-0", "2-3");
        _s.CreatePool("a653", SchedulerKind.Arinc653, "2-3");
        await Create("p1", pool: "a653", vcpus: 1);
        await Create("p2", pool: "a653", vcpus: 1);
        const long ms = 1_000_000;
        var bad = new Arinc653Schedule(10 * ms, [new CpuFrames(0, [new("p1", 0, 5 * ms)]), new CpuFrames(2, [new("p3", 0, 0)])]);
        var e = Assert.Throws<ToolstackException>(() => _s.SetArinc653("a653", bad));
        Assert.Contains("cpu 0 is not in pool 'a653'", e.Message);
        Assert.Contains("domain 'p3' is not in pool 'a653'", e.Message);
        Assert.Contains("runtime 0ms must be positive", e.Message);
        var good = new Arinc653Schedule(10 * ms, [new CpuFrames(2, [new("p1", 0, 5 * ms), new("p2", 0, 3 * ms)])]);
        _s.SetArinc653("a653", good);
        Assert.Equal(good.MajorFrameNs, _s.Arinc653("a653").Schedule.MajorFrameNs);
        var gate = _s.GateTableFor(Uuid("p2"), 0)!;
        Assert.Equal(new Vmm.Scheduling.GateWindow(0, 2, 5 * ms, 3 * ms), Assert.Single(gate.Windows));
        Assert.Contains("has windows in pool 'a653''s arinc653 schedule", Assert.Throws<ToolstackException>(() => _s.Migrate(Uuid("p1"), "p1", "Pool-0")).Message);
        await _f.Service.RenameAsync("p1", "q1", CancellationToken.None);
        Assert.True(_s.Arinc653("a653").Schedule.Names("q1"));
    }

    [Fact]
    public async Task Pools_and_parameters_survive_a_daemon_restart()
    {
        _s.RemoveCpus("Pool-0", "3");
        _s.CreatePool("rt", SchedulerKind.Rtds, "3");
        await Create("a", schedParams: "\"weight\":1000");
        await Create("b");
        _s.SetCredit(SchedulerKind.Credit, Uuid("b"), "b", 512, null);
        using var again = new SchedulingService(_f.StateDir, new InMemoryHostScheduler(), CpuSet.Range(0, 4));
        Assert.Equal(["Pool-0", "rt"], again.Pools().Select(p => p.Name));
        // What a restarted daemon does: a domain whose parameters never changed comes back from its config.
        _f.Service.AttachScheduling(again);
        var weights = Assert.Single(again.Credit(SchedulerKind.Credit, null, null)).Domains.ToDictionary(d => d.Name, d => d.Weight);
        Assert.Equal(1000, weights["a"]);
        Assert.Equal(512, weights["b"]);
    }

    [Fact]
    public async Task Destroying_a_domain_releases_its_host_placement()
    {
        await Create("a");
        Assert.NotNull(_host.Domain(Uuid("a")));
        var uuid = Uuid("a");
        await _f.Service.DestroyAsync("a", CancellationToken.None);
        Assert.Null(_host.Domain(uuid));
        Assert.Empty(Assert.Single(_s.Pools()).Domains);
    }

    [Fact]
    public async Task Soft_affinity_balancer_widens_when_contended_and_narrows_when_a_soft_cpu_is_free()
    {
        await Create("a", vcpus: 1);
        var uuid = Uuid("a");
        _s.Threads = u => u == uuid ? [new VcpuThread(0, 1, 4242)] : [];
        _s.Pin(uuid, "a", 0, null, "0");
        Assert.Equal(new CpuSet([0]), _host.Mask(uuid, 0));
        _host.SetIdle(new Dictionary<int, double> { [0] = 0.0, [1] = 0.9, [2] = 0.0, [3] = 0.0 });
        _host.SetWait(4242, 0.6);
        _s.BalanceOnce();
        Assert.Equal(CpuSet.Range(0, 4), _host.Mask(uuid, 0));
        _host.SetIdle(new Dictionary<int, double> { [0] = 0.8 });
        _s.BalanceOnce();
        Assert.Equal(new CpuSet([0]), _host.Mask(uuid, 0));
    }

    [Fact]
    public void Numa_split_renames_pool0_per_node()
    {
        using var s = new SchedulingService(null, new InMemoryHostScheduler(), CpuSet.Range(0, 4),
            new Dictionary<int, CpuSet> { [0] = CpuSet.Range(0, 2), [1] = CpuSet.Range(2, 2) });
        var pools = s.NumaSplit();
        Assert.Equal([("Pool-node0", "0-1"), ("Pool-node1", "2-3")], pools.Select(p => (p.Name, p.Cpus)));
    }
}
