using Domino.Toolstack.Domains;

namespace Domino.Toolstack.Scheduling.Rtds;

/// <summary>
/// One vCPU's RTDS reservation (xl sched-rtds): <see cref="BudgetUs"/> of CPU every
/// <see cref="PeriodUs"/>, with <see cref="Extratime"/> allowing it to run beyond its budget when the
/// pool has idle time. Enforced as SCHED_DEADLINE (runtime = budget, deadline = period = period),
/// extratime as SCHED_FLAG_RECLAIM.
/// </summary>
public sealed record RtdsParams(int PeriodUs = RtdsParams.DefaultPeriodUs, int BudgetUs = RtdsParams.DefaultBudgetUs, bool Extratime = true)
{
    /// <summary>sched_rt.c: RTDS_DEFAULT_PERIOD 10 ms, RTDS_DEFAULT_BUDGET 4 ms.</summary>
    public const int DefaultPeriodUs = 10_000;
    public const int DefaultBudgetUs = 4_000;
    /// <summary>Xen refuses periods and budgets under 10 µs (RTDS_MIN_PERIOD / RTDS_MIN_BUDGET).</summary>
    public const int MinUs = 10;

    public double Utilisation => (double)BudgetUs / PeriodUs;

    public void Validate(string where)
    {
        if (PeriodUs < MinUs) throw Invalid($"{where}: period {PeriodUs} µs is below the {MinUs} µs minimum");
        if (BudgetUs < MinUs) throw Invalid($"{where}: budget {BudgetUs} µs is below the {MinUs} µs minimum");
        if (BudgetUs > PeriodUs) throw Invalid($"{where}: budget {BudgetUs} µs exceeds period {PeriodUs} µs (budget ≤ period)");
    }

    private static ToolstackException Invalid(string message) => new(ErrorKind.Invalid, message);
}
