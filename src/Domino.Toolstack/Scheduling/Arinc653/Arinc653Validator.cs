namespace Domino.Toolstack.Scheduling.Arinc653;

/// <summary>What the validator needs to know about the pool and its domains.</summary>
public interface IArinc653Context
{
    string PoolName { get; }
    CpuSet PoolCpus { get; }
    /// <summary>The number of vCPUs of a domain in this pool, or null if there is no such domain in it.</summary>
    int? VcpusOf(string domain);
}

/// <summary>
/// Checks a schedule as Xen's arinc653_sched_set does (at least one entry, at most 64 per schedule,
/// every runtime positive, their sum within the major frame), plus what one schedule per CPU adds:
/// CPUs of the pool, domains and vCPUs that exist there, and no vCPU in two places at once.
/// </summary>
public static class Arinc653Validator
{
    /// <summary>Every problem found, in schedule order; empty when the schedule is valid.</summary>
    public static IReadOnlyList<string> Validate(Arinc653Schedule s, IArinc653Context? context = null)
    {
        var errors = new List<string>();
        if (s.MajorFrameNs <= 0) errors.Add($"major frame {Duration.Format(s.MajorFrameNs)} must be positive");
        if (s.Cpus.Sum(c => c.Frames.Count) == 0) errors.Add("a schedule needs at least one minor frame");
        var seenCpus = new HashSet<int>();
        foreach (var cpu in s.Cpus)
        {
            var where = $"cpu {cpu.Cpu}";
            if (!seenCpus.Add(cpu.Cpu)) errors.Add($"{where} has two minor-frame lists (give each CPU one)");
            if (context is not null && !context.PoolCpus.Contains(cpu.Cpu))
                errors.Add($"{where} is not in pool '{context.PoolName}' (its cpus: {Show(context.PoolCpus)}; add it with 'domino cpupool-cpu-add {context.PoolName} {cpu.Cpu}')");
            if (cpu.Frames.Count > Arinc653Schedule.MaxEntries)
                errors.Add($"{where} has {cpu.Frames.Count} minor frames; at most {Arinc653Schedule.MaxEntries} are allowed");
            for (var i = 0; i < cpu.Frames.Count; i++)
            {
                var f = cpu.Frames[i];
                var entry = $"{where} minor frame {i + 1} ({(f.IsIdle ? "idle" : $"{f.Domain} vcpu {f.Vcpu}")})";
                if (f.RuntimeNs <= 0) errors.Add($"{entry}: runtime {Duration.Format(f.RuntimeNs)} must be positive");
                if (f.IsIdle || context is null) continue;
                if (f.Vcpu < 0) errors.Add($"{entry}: vcpu {f.Vcpu} is negative");
                else if (context.VcpusOf(f.Domain) is not { } n)
                    errors.Add($"{entry}: domain '{f.Domain}' is not in pool '{context.PoolName}' (move it there with 'domino cpupool-migrate {f.Domain} {context.PoolName}')");
                else if (f.Vcpu >= n)
                    errors.Add($"{entry}: domain '{f.Domain}' has no vcpu {f.Vcpu} (it has {n})");
            }
            if (s.MajorFrameNs > 0 && cpu.TotalNs > s.MajorFrameNs)
                errors.Add($"{where}: minor frames add up to {Duration.Format(cpu.TotalNs)}, more than the {Duration.Format(s.MajorFrameNs)} major frame");
        }
        // One vCPU is one thread: it cannot run on two CPUs at the same time.
        var byVcpu = s.Windows().GroupBy(w => (w.Domain, w.Vcpu));
        foreach (var g in byVcpu)
        {
            var ws = g.OrderBy(w => w.OffsetNs).ToList();
            for (var i = 1; i < ws.Count; i++)
                if (ws[i].OffsetNs < ws[i - 1].EndNs && ws[i].Cpu != ws[i - 1].Cpu)
                    errors.Add($"{g.Key.Domain} vcpu {g.Key.Vcpu} runs on cpu {ws[i - 1].Cpu} and cpu {ws[i].Cpu} at once ({Duration.Format(ws[i].OffsetNs)} into the major frame)");
        }
        return errors;
    }

    private static string Show(CpuSet cpus) => cpus.IsEmpty ? "none" : cpus.ToString();
}
