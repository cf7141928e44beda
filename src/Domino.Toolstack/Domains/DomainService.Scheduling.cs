using Domino.Toolstack.Drivers;
using Domino.Toolstack.Scheduling;

namespace Domino.Toolstack.Domains;

public sealed partial class DomainService
{
    /// <summary>CPU pools and schedulers; null runs domains unplaced (every vCPU on every CPU, default policy).</summary>
    public SchedulingService? Scheduling { get; private set; }

    /// <summary>Places this service's domains with <paramref name="scheduling"/> from now on.</summary>
    public void AttachScheduling(SchedulingService scheduling)
    {
        Scheduling = scheduling;
        scheduling.Threads = uuid =>
        {
            Domain? d;
            lock (_table) d = _byUuid.GetValueOrDefault(uuid);
            return d is null ? [] : Driver.VcpuThreads(Ref(d));
        };
        scheduling.Reconcile([.. Domains().Select(d =>
        {
            lock (d.Sync) return new SchedulingService.LiveDomain(d.Uuid, d.DomId, d.Spec, d.ConfigJson, d.State.IsLive());
        })]);
    }

    /// <summary>vcpu-list with the scheduling service's view of affinity (what is enforced), where it has one.</summary>
    public async Task<IReadOnlyList<VcpuInfo>> VcpusWithAffinityAsync(Domain d, CancellationToken ct)
    {
        var list = await VcpusAsync(d, ct).ConfigureAwait(false);
        if (Scheduling is not { } s) return list;
        var affinity = s.Affinities(d.Uuid);
        return [.. list.Select(v => affinity.FirstOrDefault(a => a.Vcpu == v.Vcpu) is { } a ? v with { Hard = a.Hard, Soft = a.Soft } : v)];
    }
}
