using System.Globalization;

namespace Domino.Toolstack.Scheduling.Arinc653;

/// <summary>A planned schedule, or why there is none.</summary>
public sealed record PlanResult(Arinc653Schedule? Schedule, string? Failure, double Utilisation, IReadOnlyDictionary<int, double> CpuUtilisation)
{
    public bool Ok => Schedule is not null;
}

/// <summary>
/// Synthesises an ARINC653 schedule from periodic partitions: the major frame is the hyperperiod (the
/// LCM of the periods); partitions are assigned to CPUs first-fit by decreasing utilisation; each
/// CPU's hyperperiod is then simulated under preemptive EDF and adjacent slices of the same partition
/// are merged into minor frames, with idle frames where no job is ready. When no schedule exists the
/// result says why: utilisation over 1, or the first missed deadline (partition, job, time).
/// </summary>
public static class Arinc653Planner
{
    /// <summary>A hyperperiod longer than this is refused (it would need huge schedules).</summary>
    public const long MaxMajorFrameNs = 10_000_000_000;

    public static PlanResult Plan(IReadOnlyList<PartitionTask> tasks, IReadOnlyList<int>? cpus = null)
    {
        cpus ??= [0];
        var total = tasks.Sum(t => t.Utilisation);
        var perCpu = cpus.ToDictionary(c => c, _ => 0.0);
        if (tasks.Count == 0) return Fail("no partitions to schedule");

        long major = 1;
        foreach (var t in tasks)
        {
            major = Lcm(major, t.PeriodNs);
            if (major > MaxMajorFrameNs)
                return Fail($"the hyperperiod (LCM of the periods) exceeds {Duration.Ms(MaxMajorFrameNs)} at partition '{t.Label}' (period {Duration.Ms(t.PeriodNs)}): choose harmonic periods");
        }

        if (total > cpus.Count + 1e-12)
            return Fail(Inv($"total utilisation {total:0.###} exceeds the {cpus.Count} CPU(s) available ({Breakdown(tasks)})"));

        // First-fit decreasing: each CPU's partitions must fit in utilisation 1.
        var assignment = cpus.ToDictionary(c => c, _ => new List<PartitionTask>());
        foreach (var t in tasks.OrderByDescending(t => t.Utilisation).ThenBy(t => t.Label, StringComparer.Ordinal))
        {
            var cpu = cpus.FirstOrDefault(c => perCpu[c] + t.Utilisation <= 1 + 1e-12, -1);
            if (cpu < 0)
                return Fail(Inv($"partition '{t.Label}' (utilisation {t.Utilisation:0.###}) fits on no CPU: {string.Join(", ", cpus.Select(c => Inv($"cpu {c} is at {perCpu[c]:0.###}")))}"));
            assignment[cpu].Add(t);
            perCpu[cpu] += t.Utilisation;
        }

        var lists = new List<CpuFrames>();
        foreach (var cpu in cpus)
        {
            if (assignment[cpu].Count == 0) continue;
            // Keep the user's order among a CPU's partitions for EDF ties.
            var mine = tasks.Where(assignment[cpu].Contains).ToList();
            var (frames, failure) = SimulateEdf(mine, major, cpu);
            if (failure is not null) return Fail(failure);
            if (frames!.Count > Arinc653Schedule.MaxEntries)
                return Fail($"cpu {cpu} needs {frames.Count} minor frames over the {Duration.Ms(major)} major frame; at most {Arinc653Schedule.MaxEntries} are allowed (choose harmonic periods or fewer partitions per CPU)");
            lists.Add(new CpuFrames(cpu, frames));
        }
        return new PlanResult(new Arinc653Schedule(major, lists), null, total, perCpu);

        PlanResult Fail(string why) => new(null, why, total, perCpu);
    }

    private sealed class Job(PartitionTask task, int index, long release)
    {
        public PartitionTask Task { get; } = task;
        public int Index { get; } = index;
        public long Release { get; } = release;
        public long Deadline { get; } = release + task.DeadlineNs;
        public long Remaining { get; set; } = task.WcetNs;
    }

    /// <summary>Preemptive EDF over one hyperperiod; ties go to the partition listed first.</summary>
    private static (List<MinorFrame>? Frames, string? Failure) SimulateEdf(IReadOnlyList<PartitionTask> tasks, long major, int cpu)
    {
        var jobs = new List<Job>();
        foreach (var t in tasks)
            for (var k = 0; k * t.PeriodNs < major; k++) jobs.Add(new Job(t, k + 1, k * t.PeriodNs));
        var order = tasks.Select((t, i) => (t, i)).ToDictionary(x => x.t, x => x.i);

        var slices = new List<MinorFrame>();
        long now = 0;
        while (now < major)
        {
            if (Missed(now) is { } missed) return (null, missed);
            var ready = jobs.Where(j => j.Release <= now && j.Remaining > 0).ToList();
            var nextRelease = jobs.Where(j => j.Release > now).Select(j => j.Release).DefaultIfEmpty(major).Min();
            if (ready.Count == 0)
            {
                Add(MinorFrame.Idle(nextRelease - now));
                now = nextRelease;
                continue;
            }
            var job = ready.OrderBy(j => j.Deadline).ThenBy(j => order[j.Task]).ThenBy(j => j.Release).First();
            var nextDeadline = ready.Select(j => j.Deadline).Where(d => d > now).DefaultIfEmpty(long.MaxValue).Min();
            var run = Math.Min(job.Remaining, Math.Min(nextRelease, nextDeadline) - now);
            job.Remaining -= run;
            Add(new MinorFrame(job.Task.Name, job.Task.Vcpu, run));
            now += run;
        }
        if (Missed(long.MaxValue) is { } late) return (null, late);
        // Trailing idle time needs no frame: time after the last minor frame stays idle.
        while (slices.Count > 0 && slices[^1].IsIdle) slices.RemoveAt(slices.Count - 1);
        return (slices, null);

        string? Missed(long at)
        {
            var j = jobs.Where(j => j.Remaining > 0 && j.Deadline <= at).OrderBy(j => j.Deadline).ThenBy(j => order[j.Task]).FirstOrDefault();
            return j is null ? null
                : $"partition '{j.Task.Label}' misses a deadline on cpu {cpu}: job {j.Index} (released at {Duration.Ms(j.Release)}, deadline {Duration.Ms(j.Deadline)}) still needs {Duration.Ms(j.Remaining)} of its {Duration.Ms(j.Task.WcetNs)} at {Duration.Ms(j.Deadline)}";
        }

        void Add(MinorFrame f)
        {
            if (slices.Count > 0 && slices[^1].Domain == f.Domain && slices[^1].Vcpu == f.Vcpu)
                slices[^1] = slices[^1] with { RuntimeNs = slices[^1].RuntimeNs + f.RuntimeNs };
            else slices.Add(f);
        }
    }

    private static string Breakdown(IEnumerable<PartitionTask> tasks) =>
        string.Join(", ", tasks.Select(t => Inv($"{t.Label} {Duration.Ms(t.WcetNs)}/{Duration.Ms(t.PeriodNs)} = {t.Utilisation:0.###}")));

    internal static long Gcd(long a, long b)
    {
        while (b != 0) (a, b) = (b, a % b);
        return a;
    }

    internal static long Lcm(long a, long b)
    {
        var g = Gcd(a, b);
        var q = a / g;
        return q > long.MaxValue / b ? long.MaxValue : q * b;
    }

    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
