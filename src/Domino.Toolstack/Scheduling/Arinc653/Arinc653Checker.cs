namespace Domino.Toolstack.Scheduling.Arinc653;

/// <summary>
/// Verifies a schedule against a task set: the schedule must be valid, its major frame a multiple of
/// every period (so each major frame repeats the same jobs), and every job of every partition must
/// get its WCET of window time between its release and its deadline. Names the first violation.
/// </summary>
public static class Arinc653Checker
{
    /// <summary>Null when the schedule meets every deadline; otherwise the first violation, in time order.</summary>
    public static string? Check(Arinc653Schedule schedule, IReadOnlyList<PartitionTask> tasks)
    {
        var errors = Arinc653Validator.Validate(schedule);
        if (errors.Count > 0) return "invalid schedule: " + errors[0];

        foreach (var t in tasks)
            if (schedule.MajorFrameNs % t.PeriodNs != 0)
                return $"major frame {Duration.Ms(schedule.MajorFrameNs)} is not a multiple of partition '{t.Label}''s period {Duration.Ms(t.PeriodNs)}, so its jobs do not repeat identically (use {Duration.Ms(Arinc653Planner.Lcm(schedule.MajorFrameNs, t.PeriodNs))})";

        var windows = schedule.Windows().ToList();
        (long At, string Message)? first = null;
        foreach (var t in tasks)
        {
            var mine = windows.Where(w => w.Domain == t.Name && w.Vcpu == t.Vcpu).ToList();
            var jobs = schedule.MajorFrameNs / t.PeriodNs;
            for (var k = 0L; k < jobs; k++)
            {
                var release = k * t.PeriodNs;
                var deadline = release + t.DeadlineNs;
                var supply = mine.Sum(w => Math.Max(0, Math.Min(w.EndNs, deadline) - Math.Max(w.OffsetNs, release)));
                if (supply >= t.WcetNs) continue;
                var message = $"partition '{t.Label}' job {k + 1} (released at {Duration.Ms(release)}, deadline {Duration.Ms(deadline)}) gets {Duration.Ms(supply)} of window time but needs {Duration.Ms(t.WcetNs)}";
                if (first is null || deadline < first.Value.At) first = (deadline, message);
                break;
            }
        }
        if (first is not null) return first.Value.Message;

        var unknown = windows.Select(w => (w.Domain, w.Vcpu)).Distinct().FirstOrDefault(p => !tasks.Any(t => t.Name == p.Domain && t.Vcpu == p.Vcpu));
        return unknown.Domain is null ? null : $"the schedule gives windows to '{unknown.Domain}' vcpu {unknown.Vcpu}, which is not in the task set";
    }
}
