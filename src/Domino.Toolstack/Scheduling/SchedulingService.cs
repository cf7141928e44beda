using System.Globalization;
using System.Text.Json;
using Domino.Toolstack.Domains;
using Domino.Toolstack.Scheduling.Api;
using Domino.Toolstack.Scheduling.Arinc653;
using Domino.Toolstack.Scheduling.Credit;
using Domino.Toolstack.Scheduling.Host;
using Domino.Toolstack.Scheduling.Rtds;
using Domino.Toolstack.Store;
using Domino.Vmm.Scheduling;

namespace Domino.Toolstack.Scheduling;

/// <summary>
/// CPU pools and per-domain scheduling: the rules (a CPU is in at most one pool, Pool-0 and pools
/// with domains stay, parameters in range, commands aimed at the pool's own scheduler), the record in
/// STATE/scheduling.json, and the host enforcement through an <see cref="IHostScheduler"/>. Every
/// change is applied to the host before it is recorded; a change the host refuses is rolled back.
/// </summary>
public sealed partial class SchedulingService : IDisposable
{
    public const string DefaultPool = "Pool-0";

    private readonly Lock _sync = new();
    private readonly string? _path;
    private readonly SchedulingRecord _state;
    private readonly Dictionary<(Guid, int), bool> _widened = [];
    private Timer? _balancer;

    /// <param name="stateDir">Where scheduling.json lives; null keeps everything in memory.</param>
    /// <param name="hostCpus">The host's CPUs (default: every online CPU, whatever this process's own affinity).</param>
    /// <param name="nodes">NUMA nodes and their CPUs (default: read from sysfs, else one node).</param>
    public SchedulingService(string? stateDir, IHostScheduler host, CpuSet? hostCpus = null,
        IReadOnlyDictionary<int, CpuSet>? nodes = null, SchedulerKind defaultScheduler = SchedulerKind.Credit, Action<string>? log = null)
    {
        Host = host;
        HostCpus = hostCpus ?? CpuSet.Range(0, Config.Output.HostInfo.OnlineCpus());
        Nodes = nodes ?? ReadNodes(HostCpus);
        Log = log ?? (_ => { });
        _path = stateDir is null ? null : Path.Combine(stateDir, "scheduling.json");
        _state = Load() ?? new SchedulingRecord
        {
            Pools = [new PoolState { Id = 0, Name = DefaultPool, Scheduler = defaultScheduler, Cpus = HostCpus.ToString() }],
        };
        lock (_sync)
        {
            foreach (var p in _state.Pools) Host.ApplyPool(HostPoolOf(p));
            // Re-adopts the confinement a crashed daemon left, or gives back one nobody owns any more.
            try { Host.ConfineHost(ConfinementLocked()); }
            catch (ToolstackException e) { Log($"scheduling: exclusive pools are shared with the host: {e.Message}"); }
            Save();
        }
    }

    public IHostScheduler Host { get; }
    public CpuSet HostCpus { get; }
    public IReadOnlyDictionary<int, CpuSet> Nodes { get; }
    private Action<string> Log { get; }

    /// <summary>Where a domain's vCPU threads are (the driver's answer); empty for guests without host threads.</summary>
    public Func<Guid, IReadOnlyList<VcpuThread>> Threads { get; set; } = _ => [];

    /// <summary>Raised when the windows a domain's VMM must enforce change (null: none, the domain runs freely).</summary>
    public event Action<Guid, GateTable?>? GateTableChanged;

    // ---- domains: admission, start, release ------------------------------------------------------

    /// <summary>The scheduling part of xl.cfg, as libxl JSON carries it (c_info.pool_name, b_info.sched_params).</summary>
    private sealed record ConfigParams(string? Pool, int? Weight, int? Cap, int? PeriodUs, int? BudgetUs, bool? Extratime);

    /// <summary>Checks a new domain's pool, affinity and parameters before anything is created.</summary>
    public void Admit(DomainSpec spec, string? configJson)
    {
        lock (_sync) _ = NewDomainState(Guid.Empty, 0, spec, configJson);
    }

    /// <summary>A domain's vCPUs exist (created, restarted or recovered): record it if new and place its threads.</summary>
    public void Started(Guid uuid, int domId, DomainSpec spec, string? configJson)
    {
        lock (_sync)
        {
            var d = _state.Domains.FirstOrDefault(x => x.Uuid == uuid);
            var known = d is not null;
            if (d is null)
            {
                d = NewDomainState(uuid, domId, spec, configJson);
                _state.Domains.Add(d);
            }
            d.DomId = domId;
            d.Name = spec.Name;
            try { ApplyLocked(d); }
            catch
            {
                _state.Domains.Remove(d);
                throw;
            }
            PublishGate(d);
            // A new domain's state is what its config says: a restarted daemon rebuilds it from there
            // (Reconcile), so the create does not wait for this file; its first change writes it.
            if (known) Save();
        }
    }

    /// <summary>
    /// A VMM process started ahead of a domain (the vmm driver's spare): placed where a Pool-0 domain
    /// with default parameters runs, so a create there finds its vCPU threads in place.
    /// </summary>
    public void PrepareSpare(int pid)
    {
        HostPool pool;
        lock (_sync) pool = HostPoolOf(PoolById(0));
        try { Host.PrepareProcess(pid, pool, HostDomain.CpuGroupFor(pool.Scheduler, CreditParams.DefaultWeight, cap: 0)); }
        catch (Exception e) when (e is ToolstackException or IOException or UnauthorizedAccessException) { Log($"scheduling: preparing VMM process {pid}: {e.Message}"); }
    }

    public void Released(Guid uuid)
    {
        lock (_sync)
        {
            if (_state.Domains.RemoveAll(d => d.Uuid == uuid) == 0) return;
            GateTableChanged?.Invoke(uuid, null);
            foreach (var key in _widened.Keys.Where(k => k.Item1 == uuid).ToList()) _widened.Remove(key);
            try { Host.RemoveDomain(uuid); }
            catch (Exception e) when (e is ToolstackException or IOException) { Log($"scheduling: releasing {uuid}: {e.Message}"); }
            Save();
        }
    }

    public void Renamed(Guid uuid, string oldName, string newName)
    {
        lock (_sync)
        {
            if (_state.Domains.FirstOrDefault(d => d.Uuid == uuid) is { } d) d.Name = newName;
            foreach (var p in _state.Pools)
                if (p.Arinc653 is { } s && s.Names(oldName)) p.Arinc653 = s.RenameDomain(oldName, newName);
            Save();
        }
    }

    /// <summary>A domain the daemon has after recovery, for <see cref="Reconcile"/>; <paramref name="HasVcpus"/> when its guest exists.</summary>
    public sealed record LiveDomain(Guid Uuid, int DomId, DomainSpec Spec, string? ConfigJson, bool HasVcpus);

    /// <summary>
    /// After recovery: forgets domains the daemon no longer has, and takes in those it has that the
    /// saved state lacks (a new domain is recorded here only once its parameters change, since its
    /// config says them), placing their vCPU threads.
    /// </summary>
    public void Reconcile(IEnumerable<LiveDomain> live)
    {
        var domains = live.ToList();
        var keep = domains.Select(d => d.Uuid).ToHashSet();
        lock (_sync)
        {
            foreach (var gone in _state.Domains.Where(d => !keep.Contains(d.Uuid)).Select(d => d.Uuid).ToList())
            {
                _state.Domains.RemoveAll(d => d.Uuid == gone);
                try { Host.RemoveDomain(gone); } catch (Exception e) when (e is ToolstackException or IOException) { }
            }
            foreach (var l in domains.Where(l => l.HasVcpus && _state.Domains.All(d => d.Uuid != l.Uuid)))
            {
                try
                {
                    var d = NewDomainState(l.Uuid, l.DomId, l.Spec, l.ConfigJson);
                    _state.Domains.Add(d);
                    ApplyLocked(d);
                    PublishGate(d);
                }
                catch (Exception e) when (e is ToolstackException or IOException)
                {
                    Log($"scheduling: domain '{l.Spec.Name}': {e.Message}");
                }
            }
            Save();
        }
    }

    private DomainSchedState NewDomainState(Guid uuid, int domId, DomainSpec spec, string? configJson)
    {
        var cfg = ReadConfig(configJson);
        var pool = cfg.Pool is null ? PoolById(0) : FindPool(cfg.Pool);
        var cpus = CpusOf(pool);
        if (cpus.IsEmpty)
            throw Invalid($"domain '{spec.Name}': pool '{pool.Name}' has no CPUs (add some with 'domino cpupool-cpu-add {pool.Name} CPUS')");
        var d = new DomainSchedState { Uuid = uuid, Name = spec.Name, DomId = domId, PoolId = pool.Id };
        if (cfg.Weight is { } w) { CreditParams.ValidateWeight(w, spec.Name); d.Weight = w; }
        if (cfg.Cap is { } c) { CreditParams.ValidateCap(c, spec.EffectiveMaxVcpus, spec.Name); d.Cap = c; }
        var hard = spec.Cpus is null ? null : Normalize(spec.Cpus, $"domain '{spec.Name}': cpus");
        var soft = spec.CpusSoft is null ? null : Normalize(spec.CpusSoft, $"domain '{spec.Name}': cpus_soft");
        for (var v = 0; v < spec.EffectiveMaxVcpus; v++)
        {
            var vs = new VcpuSchedState { Vcpu = v, Hard = hard, Soft = soft };
            if (cfg.PeriodUs is { } p) vs.PeriodUs = p;
            if (cfg.BudgetUs is { } b) vs.BudgetUs = b;
            if (cfg.Extratime is { } x) vs.Extratime = x;
            vs.Rtds.Validate($"domain '{spec.Name}' vcpu {v}");
            d.Vcpus.Add(vs);
        }
        CheckAffinityFits(d, pool, hard, $"domain '{spec.Name}': cpus={spec.Cpus}");
        return d;
    }

    private static ConfigParams ReadConfig(string? json)
    {
        if (string.IsNullOrWhiteSpace(json)) return new(null, null, null, null, null, null);
        try
        {
            using var doc = JsonDocument.Parse(json);
            var root = doc.RootElement;
            string? pool = null;
            if (root.TryGetProperty("c_info", out var ci) && ci.ValueKind == JsonValueKind.Object && ci.TryGetProperty("pool_name", out var pn) && pn.ValueKind == JsonValueKind.String)
                pool = pn.GetString();
            int? weight = null, cap = null, period = null, budget = null;
            bool? extratime = null;
            if (root.TryGetProperty("b_info", out var bi) && bi.ValueKind == JsonValueKind.Object && bi.TryGetProperty("sched_params", out var sp) && sp.ValueKind == JsonValueKind.Object)
            {
                weight = Int(sp, "weight");
                cap = Int(sp, "cap");
                period = Int(sp, "period");
                budget = Int(sp, "budget");
                if (sp.TryGetProperty("extratime", out var x))
                    extratime = x.ValueKind switch { JsonValueKind.True => true, JsonValueKind.False => false, JsonValueKind.Number => x.GetInt32() != 0, _ => null };
            }
            return new(pool, weight, cap, period, budget, extratime);
        }
        catch (JsonException) { return new(null, null, null, null, null, null); }

        static int? Int(JsonElement e, string name) =>
            e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out var i) && i != -1 ? i : null;
    }

    // ---- pools -----------------------------------------------------------------------------------

    public IReadOnlyList<PoolInfo> Pools()
    {
        lock (_sync) return [.. _state.Pools.OrderBy(p => p.Id).Select(InfoOf)];
    }

    public PoolInfo Pool(string name)
    {
        lock (_sync) return InfoOf(FindPool(name));
    }

    /// <summary>The pool a domain is in (its name), or null if the domain is unknown here.</summary>
    public string? PoolOf(Guid uuid)
    {
        lock (_sync) return _state.Domains.FirstOrDefault(d => d.Uuid == uuid) is { } d ? PoolById(d.PoolId).Name : null;
    }

    public PoolInfo CreatePool(string name, SchedulerKind scheduler, string? cpus, bool exclusive = false)
    {
        lock (_sync)
        {
            ValidatePoolName(name);
            if (_state.Pools.Any(p => p.Name == name)) throw new ToolstackException(ErrorKind.Conflict, $"pool '{name}' already exists (pick another name)");
            var set = cpus is null ? CpuSet.Empty : ParseCpus(cpus, $"pool '{name}'");
            RequireFree(set, name);
            var pool = new PoolState { Id = _state.NextPoolId, Name = name, Scheduler = scheduler, Cpus = set.ToString(), Exclusive = exclusive };
            if (exclusive) RequireHostCpu(pool);
            Host.ApplyPool(HostPoolOf(pool));
            _state.Pools.Add(pool);
            try { if (exclusive) ApplyConfinementLocked(); }
            catch
            {
                _state.Pools.Remove(pool);
                Host.RemovePool(pool.Id);
                throw;
            }
            _state.NextPoolId++;
            Save();
            return InfoOf(pool);
        }
    }

    /// <summary>
    /// Makes a pool own its CPUs against the host's processes (or share them again). The host keeps
    /// every CPU no exclusive pool owns; Pool-0, where the daemon and the host live, is never exclusive.
    /// </summary>
    public PoolInfo SetExclusive(string name, bool exclusive)
    {
        lock (_sync)
        {
            var pool = FindPool(name);
            if (pool.Exclusive == exclusive) return InfoOf(pool);
            if (exclusive) RequireHostCpu(pool);
            pool.Exclusive = exclusive;
            try { ApplyConfinementLocked(); }
            catch
            {
                pool.Exclusive = !exclusive;
                try { ApplyConfinementLocked(); } catch (ToolstackException e) { Log($"scheduling: restoring the host confinement: {e.Message}"); }
                throw;
            }
            Save();
            return InfoOf(pool);
        }
    }

    /// <summary>The daemon is stopping cleanly: the host gets the exclusive pools' CPUs back until the next daemon re-applies them.</summary>
    public void ReleaseHost()
    {
        lock (_sync)
        {
            try { Host.ConfineHost(null); }
            catch (Exception e) when (e is ToolstackException or IOException) { Log($"scheduling: giving the host its CPUs back: {e.Message}"); }
        }
    }

    /// <summary>Host tasks that reached an exclusive pool's CPUs since the last sweep are moved off them (the periodic timer runs it).</summary>
    public void SweepHost() => Host.SweepHost();

    public void DestroyPool(string name)
    {
        lock (_sync)
        {
            var pool = FindPool(name);
            if (pool.Id == 0) throw Invalid($"pool '{pool.Name}' is the default pool and cannot be destroyed");
            var members = DomainsIn(pool).Select(d => d.Name).ToList();
            if (members.Count > 0)
                throw new ToolstackException(ErrorKind.Conflict, $"pool '{pool.Name}' still has domain(s) {string.Join(", ", members)}: move them with 'domino cpupool-migrate DOMAIN {PoolById(0).Name}' or destroy them first");
            Host.RemovePool(pool.Id);
            _state.Pools.Remove(pool);
            Save();
            // An exclusive pool's CPUs go back to the host with it.
            if (pool.Exclusive) ApplyConfinementLocked();
        }
    }

    public PoolInfo RenamePool(string name, string newName)
    {
        lock (_sync)
        {
            var pool = FindPool(name);
            ValidatePoolName(newName);
            if (_state.Pools.Any(p => p.Name == newName && p != pool)) throw new ToolstackException(ErrorKind.Conflict, $"pool '{newName}' already exists (pick another name)");
            pool.Name = newName;
            Host.ApplyPool(HostPoolOf(pool));
            Save();
            return InfoOf(pool);
        }
    }

    public PoolInfo AddCpus(string name, string cpus)
    {
        lock (_sync)
        {
            var pool = FindPool(name);
            var add = ParseCpus(cpus, $"cpupool-cpu-add {pool.Name}");
            RequireFree(add, pool.Name);
            var old = pool.Cpus;
            pool.Cpus = CpusOf(pool).Union(add).ToString();
            ApplyPoolOrRollback(pool, () => pool.Cpus = old);
            Save();
            return InfoOf(pool);
        }
    }

    public PoolInfo RemoveCpus(string name, string cpus)
    {
        lock (_sync)
        {
            var pool = FindPool(name);
            var remove = ParseCpus(cpus, $"cpupool-cpu-remove {pool.Name}");
            var have = CpusOf(pool);
            foreach (var cpu in remove.Cpus)
                if (!have.Contains(cpu)) throw Invalid($"cpu {cpu} is not in pool '{pool.Name}' (its cpus: {Show(have)})");
            var left = have.Except(remove);
            if (left.IsEmpty && DomainsIn(pool).Any())
                throw new ToolstackException(ErrorKind.Conflict, $"pool '{pool.Name}' has domains, so it must keep at least one CPU (move them with 'domino cpupool-migrate' first)");
            if (left.IsEmpty && pool.Id == 0 && _state.Pools.FirstOrDefault(p => p.Exclusive && !CpusOf(p).IsEmpty) is { } ex)
                throw new ToolstackException(ErrorKind.Conflict, $"pool '{pool.Name}' must keep at least one CPU while pool '{ex.Name}' owns its CPUs exclusively: the host's processes and the daemon run on {pool.Name}'s CPUs (share '{ex.Name}' again first with 'domino cpupool-exclusive {ex.Name} 0')");
            if (pool.Arinc653 is { } s && s.Cpus.FirstOrDefault(c => remove.Contains(c.Cpu)) is { } used)
                throw new ToolstackException(ErrorKind.Conflict, $"cpu {used.Cpu} has minor frames in pool '{pool.Name}''s arinc653 schedule: set a schedule without it first ('domino sched-arinc653 set -p {pool.Name} ...')");
            var old = pool.Cpus;
            pool.Cpus = left.ToString();
            ApplyPoolOrRollback(pool, () => pool.Cpus = old);
            Save();
            return InfoOf(pool);
        }
    }

    /// <summary>xl cpupool-numa-split: one pool per NUMA node, Pool-0 becoming Pool-node0.</summary>
    public IReadOnlyList<PoolInfo> NumaSplit()
    {
        lock (_sync)
        {
            if (_state.Pools.Count != 1)
                throw new ToolstackException(ErrorKind.Conflict, $"cpupool-numa-split needs {PoolById(0).Name} to be the only pool (destroy {string.Join(", ", _state.Pools.Where(p => p.Id != 0).Select(p => $"'{p.Name}'"))} first)");
            var pool0 = PoolById(0);
            var first = Nodes.Keys.Min();
            foreach (var (node, cpus) in Nodes.OrderBy(n => n.Key))
            {
                if (node == first)
                {
                    pool0.Name = Inv($"Pool-node{node}");
                    pool0.Cpus = cpus.Intersect(HostCpus).ToString();
                    Host.ApplyPool(HostPoolOf(pool0));
                    foreach (var d in DomainsIn(pool0)) ApplyLocked(d);
                    continue;
                }
                var p = new PoolState { Id = _state.NextPoolId++, Name = Inv($"Pool-node{node}"), Scheduler = pool0.Scheduler, Cpus = cpus.Intersect(HostCpus).ToString() };
                Host.ApplyPool(HostPoolOf(p));
                _state.Pools.Add(p);
            }
            Save();
            return [.. _state.Pools.OrderBy(p => p.Id).Select(InfoOf)];
        }
    }

    public PoolInfo Migrate(Guid uuid, string domainName, string poolName)
    {
        lock (_sync)
        {
            var d = DomainState(uuid, domainName);
            var target = FindPool(poolName);
            var source = PoolById(d.PoolId);
            if (target == source) return InfoOf(target);
            if (CpusOf(target).IsEmpty)
                throw Invalid($"pool '{target.Name}' has no CPUs (add some with 'domino cpupool-cpu-add {target.Name} CPUS')");
            if (source.Arinc653 is { } s && s.Names(d.Name))
                throw new ToolstackException(ErrorKind.Conflict, $"domain '{d.Name}' has windows in pool '{source.Name}''s arinc653 schedule: set a schedule without it first ('domino sched-arinc653 set -p {source.Name} ...')");
            d.PoolId = target.Id;
            ApplyOrRollback(d, () => d.PoolId = source.Id);
            PublishGate(d);
            Save();
            return InfoOf(target);
        }
    }

    // ---- credit and credit2 ----------------------------------------------------------------------

    public IReadOnlyList<CreditPoolInfo> Credit(SchedulerKind kind, string? pool, Guid? domain)
    {
        lock (_sync)
        {
            var pools = Filter(kind, pool, domain);
            return [.. pools.Select(p => new CreditPoolInfo(p.Name, p.Scheduler, p.TsliceMs, p.RatelimitUs,
                [.. DomainsIn(p).Where(d => domain is null || d.Uuid == domain).OrderBy(d => d.DomId).Select(d => new CreditDomainInfo(d.Name, d.DomId, d.Weight, d.Cap))]))];
        }
    }

    public CreditDomainInfo SetCredit(SchedulerKind kind, Guid uuid, string name, int? weight, int? cap)
    {
        lock (_sync)
        {
            var d = DomainState(uuid, name);
            RequireScheduler(PoolById(d.PoolId), kind, $"-d {d.Name}", d.Name);
            if (weight is { } w) CreditParams.ValidateWeight(w, d.Name);
            if (cap is { } c) CreditParams.ValidateCap(c, d.Vcpus.Count, d.Name);
            var (oldW, oldC) = (d.Weight, d.Cap);
            d.Weight = weight ?? d.Weight;
            d.Cap = cap ?? d.Cap;
            ApplyOrRollback(d, () => (d.Weight, d.Cap) = (oldW, oldC));
            Save();
            return new CreditDomainInfo(d.Name, d.DomId, d.Weight, d.Cap);
        }
    }

    public CreditPoolInfo SetCreditPool(SchedulerKind kind, string poolName, int? tsliceMs, int? ratelimitUs)
    {
        lock (_sync)
        {
            var pool = FindPool(poolName);
            RequireScheduler(pool, kind, $"-p {pool.Name}", null);
            if (tsliceMs is { } t)
            {
                if (kind == SchedulerKind.Credit2) throw Invalid("credit2 has no time slice (-t); it takes a rate limit (-r) only");
                CreditParams.ValidateTslice(t);
            }
            if (ratelimitUs is { } r) CreditParams.ValidateRatelimit(r);
            if (kind == SchedulerKind.Credit && (ratelimitUs ?? pool.RatelimitUs) > (tsliceMs ?? pool.TsliceMs) * 1000L)
                throw Invalid(Inv($"ratelimit {ratelimitUs ?? pool.RatelimitUs} µs is longer than the time slice of pool '{pool.Name}' ({tsliceMs ?? pool.TsliceMs} ms): lower -r or raise -t"));
            pool.TsliceMs = tsliceMs ?? pool.TsliceMs;
            pool.RatelimitUs = ratelimitUs ?? pool.RatelimitUs;
            Save();
            return new CreditPoolInfo(pool.Name, pool.Scheduler, pool.TsliceMs, pool.RatelimitUs, []);
        }
    }

    // ---- RTDS ------------------------------------------------------------------------------------

    public IReadOnlyList<RtdsPoolInfo> Rtds(string? pool, Guid? domain)
    {
        lock (_sync)
        {
            return [.. Filter(SchedulerKind.Rtds, pool, domain).Select(p => new RtdsPoolInfo(p.Name,
                [.. DomainsIn(p).Where(d => domain is null || d.Uuid == domain).OrderBy(d => d.DomId)
                    .SelectMany(d => d.Vcpus.Select(v => new RtdsVcpuInfo(d.Name, d.DomId, v.Vcpu, v.PeriodUs, v.BudgetUs, v.Extratime)))]))];
        }
    }

    public IReadOnlyList<RtdsVcpuInfo> SetRtds(Guid uuid, string name, int vcpu, int? periodUs, int? budgetUs, bool? extratime)
    {
        lock (_sync)
        {
            var d = DomainState(uuid, name);
            RequireScheduler(PoolById(d.PoolId), SchedulerKind.Rtds, $"-d {d.Name}", d.Name);
            var targets = vcpu < 0 ? d.Vcpus : [VcpuOf(d, vcpu)];
            foreach (var v in targets)
                new RtdsParams(periodUs ?? v.PeriodUs, budgetUs ?? v.BudgetUs, extratime ?? v.Extratime).Validate($"domain '{d.Name}' vcpu {v.Vcpu}");
            var old = targets.Select(v => (v, v.PeriodUs, v.BudgetUs, v.Extratime)).ToList();
            foreach (var v in targets)
            {
                v.PeriodUs = periodUs ?? v.PeriodUs;
                v.BudgetUs = budgetUs ?? v.BudgetUs;
                v.Extratime = extratime ?? v.Extratime;
            }
            ApplyOrRollback(d, () => { foreach (var (v, p, b, x) in old) (v.PeriodUs, v.BudgetUs, v.Extratime) = (p, b, x); });
            Save();
            return [.. targets.Select(v => new RtdsVcpuInfo(d.Name, d.DomId, v.Vcpu, v.PeriodUs, v.BudgetUs, v.Extratime))];
        }
    }

    // ---- ARINC653 --------------------------------------------------------------------------------

    public Arinc653Info Arinc653(string poolName)
    {
        lock (_sync)
        {
            var pool = FindPool(poolName);
            RequireScheduler(pool, SchedulerKind.Arinc653, $"-p {pool.Name}", null);
            return new Arinc653Info(pool.Name, pool.Arinc653 ?? Arinc653Schedule.Empty);
        }
    }

    /// <summary>Validates and installs a pool's schedule; it takes effect at each vCPU's next window wait.</summary>
    public Arinc653Info SetArinc653(string poolName, Arinc653Schedule schedule)
    {
        lock (_sync)
        {
            var pool = FindPool(poolName);
            RequireScheduler(pool, SchedulerKind.Arinc653, $"-p {pool.Name}", null);
            var errors = Arinc653Validator.Validate(schedule, new PoolContext(this, pool));
            if (errors.Count > 0)
                throw Invalid($"arinc653 schedule for pool '{pool.Name}' refused: {string.Join("; ", errors)}");
            pool.Arinc653 = schedule;
            // Every VMM of the pool counts major frames from one CLOCK_MONOTONIC instant, a moment from now.
            pool.Arinc653EpochNs = (HostThread.MonotonicNs() / 1_000_000 + 20) * 1_000_000;
            Save();
            foreach (var d in DomainsIn(pool)) PublishGate(d);
            return new Arinc653Info(pool.Name, schedule);
        }
    }

    /// <summary>
    /// The gate table one domain's VMM enforces: its own windows from its pool's schedule, on a
    /// timeline shared by every VMM (CLOCK_MONOTONIC from <paramref name="epochNs"/>).
    /// </summary>
    public GateTable? GateTableFor(Guid uuid, long? epochNs = null)
    {
        lock (_sync)
        {
            var d = _state.Domains.FirstOrDefault(x => x.Uuid == uuid);
            return d is null ? null : GateTableLocked(d, epochNs);
        }
    }

    private GateTable? GateTableLocked(DomainSchedState d, long? epochNs = null)
    {
        var pool = PoolById(d.PoolId);
        if (pool.Scheduler != SchedulerKind.Arinc653) return null;
        // An arinc653 pool without a schedule runs nothing: an empty table keeps every vCPU waiting.
        var s = pool.Arinc653 is { IsEmpty: false } set ? set : null;
        return new GateTable(s?.MajorFrameNs ?? 1_000_000_000, epochNs ?? pool.Arinc653EpochNs,
            s is null ? [] : [.. s.Windows().Where(w => w.Domain == d.Name).Select(w => new GateWindow(w.Vcpu, w.Cpu, w.OffsetNs, w.LengthNs))]);
    }

    private void PublishGate(DomainSchedState d) => GateTableChanged?.Invoke(d.Uuid, GateTableLocked(d));

    private sealed class PoolContext(SchedulingService owner, PoolState pool) : IArinc653Context
    {
        public string PoolName => pool.Name;
        public CpuSet PoolCpus => owner.CpusOf(pool);
        public int? VcpusOf(string domain) => owner.DomainsIn(pool).FirstOrDefault(d => d.Name == domain)?.Vcpus.Count;
    }

    // ---- affinity --------------------------------------------------------------------------------

    /// <summary>xl vcpu-pin: sets hard and/or soft affinity of one vCPU or all (-1); null leaves one as it is.</summary>
    public IReadOnlyList<VcpuAffinityInfo> Pin(Guid uuid, string name, int vcpu, string? hard, string? soft)
    {
        lock (_sync)
        {
            var d = DomainState(uuid, name);
            var pool = PoolById(d.PoolId);
            var targets = vcpu < 0 ? d.Vcpus : [VcpuOf(d, vcpu)];
            var h = hard is null ? null : Normalize(hard, $"domain '{d.Name}' vcpu-pin hard affinity");
            var s = soft is null ? null : Normalize(soft, $"domain '{d.Name}' vcpu-pin soft affinity");
            if (hard is not null) CheckAffinityFits(d, pool, h, $"hard affinity {hard}");
            var old = targets.Select(v => (v, v.Hard, v.Soft)).ToList();
            foreach (var v in targets)
            {
                if (hard is not null) v.Hard = h;
                if (soft is not null) v.Soft = s;
                _widened.Remove((d.Uuid, v.Vcpu));
            }
            ApplyOrRollback(d, () => { foreach (var (v, oh, os) in old) (v.Hard, v.Soft) = (oh, os); });
            Save();
            return AffinitiesLocked(d);
        }
    }

    public IReadOnlyList<VcpuAffinityInfo> Affinities(Guid uuid)
    {
        lock (_sync) return _state.Domains.FirstOrDefault(x => x.Uuid == uuid) is { } d ? AffinitiesLocked(d) : [];
    }

    private List<VcpuAffinityInfo> AffinitiesLocked(DomainSchedState d)
    {
        var pool = PoolById(d.PoolId);
        return [.. d.Vcpus.Select(v => new VcpuAffinityInfo(v.Vcpu,
            v.Hard is null ? "all" : ParseCpus(v.Hard, "hard").ToXl(HostCpus),
            v.Soft is null ? "all" : ParseCpus(v.Soft, "soft").ToXl(HostCpus),
            MaskFor(d, v, pool).ToString()))];
    }

    /// <summary>
    /// The soft-affinity rule, run periodically: a vCPU whose soft affinity is narrower than its hard
    /// one is confined to its soft CPUs while one of them is free (idle at least half the last
    /// interval); if it then waits for a CPU more than a quarter of the time while a hard-only CPU is
    /// free, it is widened to its hard CPUs until a soft CPU is free again.
    /// </summary>
    public void BalanceOnce()
    {
        lock (_sync)
        {
            var idle = Host.CpuIdle();
            foreach (var d in _state.Domains)
            {
                var pool = PoolById(d.PoolId);
                if (!pool.Scheduler.IsProportional()) continue;
                var threads = Threads(d.Uuid);
                foreach (var v in d.Vcpus)
                {
                    var (hard, soft) = Sets(d, v, pool);
                    if (soft.Equals(hard) || threads.FirstOrDefault(t => t.Vcpu == v.Vcpu) is not { } thread) continue;
                    var key = (d.Uuid, v.Vcpu);
                    var widened = _widened.GetValueOrDefault(key);
                    bool Free(int cpu) => idle.GetValueOrDefault(cpu) >= 0.5;
                    var wait = Host.WaitFraction(thread);
                    var next = widened
                        ? !soft.Cpus.Any(Free)
                        : wait > 0.25 && hard.Except(soft).Cpus.Any(Free);
                    if (next == widened) continue;
                    _widened[key] = next;
                    Host.SetMask(thread, next ? hard : soft);
                }
            }
        }
    }

    /// <summary>Runs <see cref="BalanceOnce"/> and <see cref="SweepHost"/> every <paramref name="interval"/>.</summary>
    public void StartBalancer(TimeSpan interval)
    {
        _balancer?.Dispose();
        _balancer = new Timer(_ =>
        {
            try { BalanceOnce(); }
            catch (Exception e) when (e is ToolstackException or IOException) { Log($"soft-affinity balancer: {e.Message}"); }
            try { SweepHost(); }
            catch (Exception e) when (e is ToolstackException or IOException) { Log($"scheduling: keeping the host off exclusive cpus: {e.Message}"); }
        }, null, interval, interval);
    }

    public void Dispose() => _balancer?.Dispose();

    // ---- applying --------------------------------------------------------------------------------

    private void ApplyLocked(DomainSchedState d)
    {
        var pool = PoolById(d.PoolId);
        var threads = Threads(d.Uuid);
        var vcpus = d.Vcpus.Select(v => new HostVcpu(v.Vcpu, threads.FirstOrDefault(t => t.Vcpu == v.Vcpu), MaskFor(d, v, pool),
            pool.Scheduler == SchedulerKind.Rtds ? v.Rtds : null)).ToList();
        Host.ApplyDomain(new HostDomain(d.Uuid, d.Name, HostPoolOf(pool), d.Weight, d.Cap, vcpus));
    }

    private void ApplyOrRollback(DomainSchedState d, Action undo)
    {
        try { ApplyLocked(d); }
        catch
        {
            undo();
            try { ApplyLocked(d); } catch (Exception e) when (e is ToolstackException or IOException) { Log($"scheduling: restoring '{d.Name}': {e.Message}"); }
            throw;
        }
    }

    private void ApplyPoolOrRollback(PoolState pool, Action undo)
    {
        try
        {
            Host.ApplyPool(HostPoolOf(pool));
            foreach (var d in DomainsIn(pool)) ApplyLocked(d);
            if (pool.Exclusive) ApplyConfinementLocked();
        }
        catch
        {
            undo();
            Host.ApplyPool(HostPoolOf(pool));
            foreach (var d in DomainsIn(pool)) ApplyLocked(d);
            if (pool.Exclusive) ApplyConfinementLocked();
            throw;
        }
    }

    /// <summary>The host's processes get every CPU no exclusive pool owns; null when no pool is exclusive (or none has CPUs).</summary>
    private HostConfinement? ConfinementLocked()
    {
        var pools = _state.Pools.Where(p => p.Exclusive).OrderBy(p => p.Id).ToList();
        var exclusive = pools.Aggregate(CpuSet.Empty, (all, p) => all.Union(CpusOf(p)));
        return exclusive.IsEmpty ? null : new HostConfinement(HostCpus.Except(exclusive), exclusive, [.. pools.Select(HostPoolOf)]);
    }

    private void ApplyConfinementLocked() => Host.ConfineHost(ConfinementLocked());

    /// <summary>Pool-0 must keep a CPU for the host's processes before another pool may own CPUs against them.</summary>
    private void RequireHostCpu(PoolState pool)
    {
        var pool0 = PoolById(0);
        if (pool.Id == 0)
            throw Invalid($"pool '{pool.Name}' cannot be exclusive: it is where the host's processes and the daemon run (as dom0 runs in Xen's Pool-0); make another pool exclusive");
        if (CpusOf(pool0).IsEmpty)
            throw new ToolstackException(ErrorKind.Conflict, $"pool '{pool.Name}' cannot own its CPUs exclusively while {pool0.Name} has none: the host's processes and the daemon run on {pool0.Name}'s CPUs; give it one first with 'domino cpupool-cpu-add {pool0.Name} CPU'");
    }

    /// <summary>Effective hard affinity (the user's, within the pool; all the pool if none of it is left) and soft (within hard).</summary>
    private (CpuSet Hard, CpuSet Soft) Sets(DomainSchedState d, VcpuSchedState v, PoolState pool)
    {
        var poolCpus = CpusOf(pool);
        var hard = v.Hard is null ? poolCpus : ParseCpus(v.Hard, "hard").Intersect(poolCpus);
        if (hard.IsEmpty) hard = poolCpus;
        var soft = v.Soft is null ? hard : ParseCpus(v.Soft, "soft").Intersect(hard);
        return (hard, soft.IsEmpty ? hard : soft);
    }

    private CpuSet MaskFor(DomainSchedState d, VcpuSchedState v, PoolState pool)
    {
        if (pool.Scheduler != SchedulerKind.Credit && pool.Scheduler != SchedulerKind.Credit2) return CpusOf(pool);
        var (hard, soft) = Sets(d, v, pool);
        return _widened.GetValueOrDefault((d.Uuid, v.Vcpu)) ? hard : soft;
    }

    private void CheckAffinityFits(DomainSchedState d, PoolState pool, string? hard, string what)
    {
        if (hard is null) return;
        var set = ParseCpus(hard, what);
        var poolCpus = CpusOf(pool);
        if (set.Intersect(poolCpus).IsEmpty)
            throw Invalid($"{what}: cpus {set} are not in pool '{pool.Name}' (its cpus: {Show(poolCpus)}): pin within the pool, or move the domain with 'domino cpupool-migrate {d.Name} POOL'");
        if (pool.Scheduler is SchedulerKind.Rtds or SchedulerKind.Arinc653 && !poolCpus.IsSubsetOf(set))
            throw Invalid($"{what}: domain '{d.Name}' is in {pool.Scheduler.Word()} pool '{pool.Name}', whose vCPUs use all of the pool's cpus ({poolCpus}); to confine it, put those CPUs in a pool of their own ('domino cpupool-create', 'domino cpupool-migrate')");
    }

    // ---- lookups and helpers ---------------------------------------------------------------------

    private IEnumerable<PoolState> Filter(SchedulerKind kind, string? pool, Guid? domain)
    {
        if (pool is not null)
        {
            var p = FindPool(pool);
            RequireScheduler(p, kind, $"{PoolOption(p.Scheduler)} {p.Name}", null);
            return [p];
        }
        if (domain is { } uuid)
        {
            var d = _state.Domains.FirstOrDefault(x => x.Uuid == uuid) ?? throw new ToolstackException(ErrorKind.NotFound, $"domain {uuid} has no scheduling record");
            var p = PoolById(d.PoolId);
            RequireScheduler(p, kind, $"-d {d.Name}", d.Name);
            return [p];
        }
        return _state.Pools.Where(p => p.Scheduler == kind).OrderBy(p => p.Id);
    }

    private void RequireScheduler(PoolState pool, SchedulerKind wanted, string args, string? domain)
    {
        if (pool.Scheduler == wanted) return;
        // The pool option differs by command (sched-rtds takes -c, as xl's does): name it for the pool's own.
        if (args.StartsWith("-p ", StringComparison.Ordinal)) args = $"{PoolOption(pool.Scheduler)} {pool.Name}";
        var fix = $"use 'domino {pool.Scheduler.Command()} {args}'";
        if (domain is not null) fix += $" or move the domain with 'domino cpupool-migrate {domain} POOL'";
        throw new ToolstackException(ErrorKind.Conflict, $"pool '{pool.Name}' runs {pool.Scheduler.Word()}, not {wanted.Word()}: {fix}");
    }

    private static string PoolOption(SchedulerKind kind) => kind == SchedulerKind.Rtds ? "-c" : "-p";

    private DomainSchedState DomainState(Guid uuid, string name) =>
        _state.Domains.FirstOrDefault(d => d.Uuid == uuid)
        ?? throw new ToolstackException(ErrorKind.InvalidState, $"domain '{name}' is not running, so it has no vCPUs to schedule (start it first)");

    private static VcpuSchedState VcpuOf(DomainSchedState d, int vcpu) =>
        vcpu >= 0 && vcpu < d.Vcpus.Count ? d.Vcpus[vcpu]
        : throw new ToolstackException(ErrorKind.Invalid, $"domain '{d.Name}' has no vcpu {vcpu} (it has {d.Vcpus.Count}: 0-{d.Vcpus.Count - 1}, or all)");

    private PoolState FindPool(string name) =>
        _state.Pools.FirstOrDefault(p => p.Name == name)
        ?? (int.TryParse(name, NumberStyles.None, CultureInfo.InvariantCulture, out var id) ? _state.Pools.FirstOrDefault(p => p.Id == id) : null)
        ?? throw new ToolstackException(ErrorKind.NotFound, $"pool '{name}' does not exist (pools: {string.Join(", ", _state.Pools.OrderBy(p => p.Id).Select(p => p.Name))}; create it with 'domino cpupool-create name=\"{name}\"')");

    private PoolState PoolById(int id) => _state.Pools.First(p => p.Id == id);

    private IEnumerable<DomainSchedState> DomainsIn(PoolState pool) => _state.Domains.Where(d => d.PoolId == pool.Id).OrderBy(d => d.DomId);

    private CpuSet CpusOf(PoolState pool) => pool.Cpus.Length == 0 ? CpuSet.Empty : CpuSet.Parse(pool.Cpus, HostCpus);

    private HostPool HostPoolOf(PoolState pool) => new(pool.Id, pool.Name, pool.Scheduler, CpusOf(pool));

    private PoolInfo InfoOf(PoolState pool)
    {
        var cpus = CpusOf(pool);
        return new PoolInfo(pool.Id, pool.Name, pool.Scheduler, cpus.ToString(), cpus.Count, [.. DomainsIn(pool).Select(d => d.Name)], pool.Exclusive);
    }

    private CpuSet ParseCpus(string text, string what)
    {
        try { return CpuSet.Parse(text, HostCpus, Nodes); }
        catch (ToolstackException e) { throw Invalid($"{what}: {e.Message}"); }
    }

    private string Normalize(string text, string what) => ParseCpus(text, what).ToString();

    private void RequireFree(CpuSet cpus, string forPool)
    {
        foreach (var cpu in cpus.Cpus)
            if (_state.Pools.FirstOrDefault(p => CpusOf(p).Contains(cpu)) is { } owner)
                throw new ToolstackException(ErrorKind.Conflict,
                    $"cpu {cpu} belongs to pool '{owner.Name}' (a CPU is in at most one pool): free it first with 'domino cpupool-cpu-remove {owner.Name} {cpu}'");
    }

    private static void ValidatePoolName(string name)
    {
        if (name.Length is 0 or > 64 || !name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'))
            throw Invalid($"pool name '{name}' must be 1-64 letters, digits, '-', '_' or '.'");
        if (name.All(char.IsAsciiDigit)) throw Invalid($"pool name '{name}' is all digits (it would be read as a pool id)");
    }

    private static string Show(CpuSet cpus) => cpus.IsEmpty ? "none" : cpus.ToString();

    private static ToolstackException Invalid(string message) => new(ErrorKind.Invalid, message);

    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);

    private static IReadOnlyDictionary<int, CpuSet> ReadNodes(CpuSet host)
    {
        var nodes = new Dictionary<int, CpuSet>();
        try
        {
            foreach (var dir in Directory.EnumerateDirectories("/sys/devices/system/node", "node*"))
            {
                if (!int.TryParse(Path.GetFileName(dir)[4..], NumberStyles.None, CultureInfo.InvariantCulture, out var n)) continue;
                var list = File.ReadAllText(Path.Combine(dir, "cpulist")).Trim();
                nodes[n] = list.Length == 0 ? CpuSet.Empty : CpuSet.Parse(list, host);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ToolstackException) { nodes.Clear(); }
        if (nodes.Count == 0) nodes[0] = host;
        return nodes;
    }

    private SchedulingRecord? Load()
    {
        if (_path is null || !File.Exists(_path)) return null;
        try { return JsonSerializer.Deserialize(File.ReadAllBytes(_path), SchedulingJson.Default.SchedulingRecord); }
        catch (JsonException e)
        {
            Log($"scheduling: {_path} is unreadable ({e.Message}); starting from Pool-0 alone");
            return null;
        }
    }

    private void Save()
    {
        if (_path is null) return;
        AtomicFile.Write(_path, JsonSerializer.SerializeToUtf8Bytes(_state, SchedulingJson.Default.SchedulingRecord));
    }
}
