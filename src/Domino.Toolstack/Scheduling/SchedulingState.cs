using Domino.Toolstack.Scheduling.Arinc653;
using Domino.Toolstack.Scheduling.Credit;
using Domino.Toolstack.Scheduling.Rtds;

namespace Domino.Toolstack.Scheduling;

/// <summary>A CPU pool as the daemon records it (STATE/scheduling.json).</summary>
public sealed class PoolState
{
    public int Id { get; set; }
    public required string Name { get; set; }
    public SchedulerKind Scheduler { get; set; }
    /// <summary>The pool's CPUs in xl's compact form ("" for none).</summary>
    public string Cpus { get; set; } = "";
    /// <summary>The pool owns its CPUs against the host's own processes (Domino's pool config key <c>exclusive</c>).</summary>
    public bool Exclusive { get; set; }
    public int TsliceMs { get; set; } = CreditParams.DefaultTsliceMs;
    public int RatelimitUs { get; set; } = CreditParams.DefaultRatelimitUs;
    public Arinc653Schedule? Arinc653 { get; set; }
    /// <summary>CLOCK_MONOTONIC time the schedule's major frames count from (set with the schedule).</summary>
    public long Arinc653EpochNs { get; set; }
}

/// <summary>One vCPU's affinity and RTDS reservation.</summary>
public sealed class VcpuSchedState
{
    public int Vcpu { get; set; }
    /// <summary>Hard affinity as the user wrote it (null: all).</summary>
    public string? Hard { get; set; }
    public string? Soft { get; set; }
    public int PeriodUs { get; set; } = RtdsParams.DefaultPeriodUs;
    public int BudgetUs { get; set; } = RtdsParams.DefaultBudgetUs;
    public bool Extratime { get; set; } = true;

    public RtdsParams Rtds => new(PeriodUs, BudgetUs, Extratime);
}

/// <summary>A domain's pool and scheduling parameters, kept across restarts of the domain and the daemon.</summary>
public sealed class DomainSchedState
{
    public Guid Uuid { get; set; }
    public required string Name { get; set; }
    public int DomId { get; set; }
    public int PoolId { get; set; }
    public int Weight { get; set; } = CreditParams.DefaultWeight;
    public int Cap { get; set; }
    public List<VcpuSchedState> Vcpus { get; set; } = [];
}

public sealed class SchedulingRecord
{
    public int NextPoolId { get; set; } = 1;
    public List<PoolState> Pools { get; set; } = [];
    public List<DomainSchedState> Domains { get; set; } = [];
}
