namespace Domino.Toolstack.Scheduling.Host;

/// <summary>
/// The host scheduler of the test driver: holds what a real host would hold (each pool's CPUs, each
/// domain's group values, each vCPU's policy and CPU mask) and enforces the same invariants (pools do
/// not share CPUs, a vCPU's mask lies in its pool), so tests can read back what was applied.
/// </summary>
public sealed class InMemoryHostScheduler : IHostScheduler
{
    private readonly Lock _sync = new();
    private readonly Dictionary<int, HostPool> _pools = [];
    private readonly Dictionary<Guid, HostDomain> _domains = [];
    private readonly Dictionary<(Guid, int), CpuSet> _masks = [];
    private Dictionary<int, double> _idle = [];

    public string Name => "memory";

    /// <summary>Every change applied, in order, one line each.</summary>
    public List<string> Log { get; } = [];

    public void ApplyPool(HostPool pool)
    {
        lock (_sync)
        {
            foreach (var other in _pools.Values)
                if (other.Id != pool.Id && !other.Cpus.Intersect(pool.Cpus).IsEmpty)
                    throw new InvalidOperationException($"host: pool '{pool.Name}' and pool '{other.Name}' would share cpus {other.Cpus.Intersect(pool.Cpus)}");
            _pools[pool.Id] = pool;
            Log.Add($"pool {pool.Id} {pool.Name} {pool.Scheduler.Word()} cpus={pool.Cpus}");
        }
    }

    public void RemovePool(int poolId)
    {
        lock (_sync)
        {
            _pools.Remove(poolId);
            Log.Add($"pool {poolId} removed");
        }
    }

    public void ApplyDomain(HostDomain domain)
    {
        lock (_sync)
        {
            if (!_pools.ContainsKey(domain.Pool.Id)) throw new InvalidOperationException($"host: pool {domain.Pool.Name} was never applied");
            foreach (var v in domain.Vcpus)
                if (!v.Mask.IsSubsetOf(domain.Pool.Cpus) || v.Mask.IsEmpty)
                    throw new InvalidOperationException($"host: {domain.Name} vcpu {v.Vcpu} mask {v.Mask} is not inside pool cpus {domain.Pool.Cpus}");
            _domains[domain.Uuid] = domain;
            foreach (var v in domain.Vcpus) _masks[(domain.Uuid, v.Vcpu)] = v.Mask;
            var group = domain.CpuGroup is { } g ? $" shares={g.Shares} quota={g.QuotaUs}" : "";
            Log.Add($"domain {domain.Name} pool={domain.Pool.Name} policy={IHostScheduler.PolicyFor(domain.Pool.Scheduler)}{group}");
        }
    }

    public void PrepareProcess(int pid, HostPool pool, (long Shares, long QuotaUs)? cpuGroup)
    {
        lock (_sync) Log.Add($"process {pid} prepared for pool={pool.Name}");
    }

    public void RemoveDomain(Guid uuid)
    {
        lock (_sync)
        {
            if (_domains.Remove(uuid, out var d)) Log.Add($"domain {d.Name} removed");
            foreach (var key in _masks.Keys.Where(k => k.Item1 == uuid).ToList()) _masks.Remove(key);
        }
    }

    /// <summary>
    /// Why this host cannot confine its processes (the daemon's fallback when cgroup v1 is missing or it
    /// is not root); null accepts confinements and only records them (the test driver).
    /// </summary>
    public string? ConfinementRefusal { get; init; }

    /// <summary>The confinement in force, if any.</summary>
    public HostConfinement? Confinement
    {
        get { lock (_sync) return _confinement; }
    }

    private HostConfinement? _confinement;

    public void ConfineHost(HostConfinement? confinement)
    {
        lock (_sync)
        {
            if (confinement is not null && ConfinementRefusal is { } why) throw new Domains.ToolstackException(Domains.ErrorKind.Failed, why);
            if (confinement is not null && confinement.HostCpus.IsEmpty) throw new InvalidOperationException("host: confinement to no cpus");
            foreach (var p in confinement?.ExclusivePools ?? [])
                if (!p.Cpus.IsSubsetOf(confinement!.ExclusiveCpus) || !p.Cpus.Intersect(confinement.HostCpus).IsEmpty)
                    throw new InvalidOperationException($"host: exclusive pool '{p.Name}' cpus {p.Cpus} are not kept from the host");
            var same = _confinement is null ? confinement is null
                : confinement is not null && _confinement.HostCpus.Equals(confinement.HostCpus) && _confinement.ExclusiveCpus.Equals(confinement.ExclusiveCpus);
            _confinement = confinement;
            if (same) return;
            Log.Add(confinement is null ? "host cpus all" : $"host cpus={confinement.HostCpus} exclusive={confinement.ExclusiveCpus}");
        }
    }

    public void SweepHost() { }

    public void SetMask(VcpuThread thread, CpuSet mask)
    {
        lock (_sync)
        {
            var d = _domains.Values.FirstOrDefault(d => d.Vcpus.Any(v => v.Thread == thread));
            if (d is null) return;
            _masks[(d.Uuid, thread.Vcpu)] = mask;
            Log.Add($"mask {d.Name} vcpu {thread.Vcpu} = {mask}");
        }
    }

    public IReadOnlyDictionary<int, double> CpuIdle()
    {
        lock (_sync) return new Dictionary<int, double>(_idle);
    }

    private readonly Dictionary<int, double> _wait = [];

    public double WaitFraction(VcpuThread thread)
    {
        lock (_sync) return _wait.GetValueOrDefault(thread.Tid);
    }

    /// <summary>Sets what <see cref="WaitFraction"/> reports for a thread.</summary>
    public void SetWait(int tid, double fraction)
    {
        lock (_sync) _wait[tid] = fraction;
    }

    /// <summary>Sets what <see cref="CpuIdle"/> reports (tests drive the soft-affinity balancer with it).</summary>
    public void SetIdle(IReadOnlyDictionary<int, double> idle)
    {
        lock (_sync) _idle = new(idle);
    }

    public HostPool? Pool(int id)
    {
        lock (_sync) return _pools.GetValueOrDefault(id);
    }

    public IReadOnlyList<HostPool> Pools()
    {
        lock (_sync) return [.. _pools.Values.OrderBy(p => p.Id)];
    }

    public HostDomain? Domain(Guid uuid)
    {
        lock (_sync) return _domains.GetValueOrDefault(uuid);
    }

    public CpuSet? Mask(Guid uuid, int vcpu)
    {
        lock (_sync) return _masks.GetValueOrDefault((uuid, vcpu));
    }
}
