using System.Globalization;
using Domino.Toolstack.Domains;

namespace Domino.Toolstack.Scheduling.Arinc653;

/// <summary>
/// A periodic partition to schedule: domain <see cref="Name"/>'s vCPU <see cref="Vcpu"/> needs
/// <see cref="WcetNs"/> of CPU in every period, by <see cref="DeadlineNs"/> after its release
/// (implicit deadline: the period).
/// </summary>
public sealed record PartitionTask(string Name, int Vcpu, long PeriodNs, long WcetNs, long DeadlineNs)
{
    public double Utilisation => (double)WcetNs / PeriodNs;
    public string Label => Vcpu == 0 ? Name : Inv($"{Name}/{Vcpu}");

    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);

    /// <summary>
    /// Parses a task set: one task per line (<c>NAME PERIOD WCET [DEADLINE]</c>) or an inline list
    /// (<c>NAME:PERIOD:WCET[:DEADLINE],…</c>). NAME may be <c>domain/vcpu</c>; times default to ms.
    /// </summary>
    public static IReadOnlyList<PartitionTask> ParseSet(string text, string source = "tasks")
    {
        var tasks = new List<PartitionTask>();
        var inline = !text.Contains('\n') && text.Contains(':');
        var items = inline
            ? text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select((t, i) => (Line: i + 1, Fields: t.Split(':')))
            : text.Split('\n').Select((l, i) => (Line: i + 1, Fields: StripComment(l).Split((char[])[' ', '\t'], StringSplitOptions.RemoveEmptyEntries)));
        foreach (var (line, f) in items)
        {
            if (f.Length == 0) continue;
            var where = inline ? $"{source}: task {line}" : $"{source}:{line}";
            if (f.Length is < 3 or > 4)
                throw new ToolstackException(ErrorKind.Invalid, $"{where}: expected NAME PERIOD WCET [DEADLINE] (e.g. 'a 5ms 1ms'), got '{string.Join(' ', f)}'");
            var (name, vcpu) = SplitName(f[0], where);
            var period = Duration.ParseNs(f[1]);
            var wcet = Duration.ParseNs(f[2]);
            var deadline = f.Length == 4 ? Duration.ParseNs(f[3]) : period;
            if (period <= 0) throw new ToolstackException(ErrorKind.Invalid, $"{where}: partition '{name}' has period {Duration.Format(period)} (it must be positive)");
            if (wcet <= 0) throw new ToolstackException(ErrorKind.Invalid, $"{where}: partition '{name}' has WCET {Duration.Format(wcet)} (it must be positive)");
            if (deadline > period) throw new ToolstackException(ErrorKind.Invalid, $"{where}: partition '{name}' has deadline {Duration.Format(deadline)} beyond its period {Duration.Format(period)} (deadline ≤ period)");
            if (wcet > deadline) throw new ToolstackException(ErrorKind.Invalid, $"{where}: partition '{name}' needs {Duration.Format(wcet)} within {Duration.Format(deadline)}: no schedule can give it that (WCET ≤ deadline)");
            var task = new PartitionTask(name, vcpu, period, wcet, deadline);
            if (tasks.Any(t => t.Name == name && t.Vcpu == vcpu))
                throw new ToolstackException(ErrorKind.Invalid, $"{where}: partition '{task.Label}' is listed twice");
            tasks.Add(task);
        }
        if (tasks.Count == 0) throw new ToolstackException(ErrorKind.Invalid, $"{source}: no tasks (expected lines like 'a 5ms 1ms' or 'a:5:1,b:6:2')");
        return tasks;
    }

    private static (string, int) SplitName(string text, string where)
    {
        var slash = text.IndexOf('/');
        if (slash < 0) return (text, 0);
        if (!int.TryParse(text[(slash + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var vcpu))
            throw new ToolstackException(ErrorKind.Invalid, $"{where}: '{text}' should be DOMAIN or DOMAIN/VCPU");
        return (text[..slash], vcpu);
    }

    internal static string StripComment(string line)
    {
        var hash = line.IndexOf('#');
        return (hash < 0 ? line : line[..hash]).Trim();
    }
}
