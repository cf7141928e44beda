using System.Globalization;
using System.Text;
using Domino.Toolstack.Domains;

namespace Domino.Toolstack.Scheduling.Arinc653;

/// <summary>
/// The text form of a schedule that <c>sched-arinc653 plan</c> prints and <c>set -f</c> and
/// <c>check</c> read: a <c>major_frame</c> line, then one line per minor frame, <c>CPU DOMAIN VCPU
/// RUNTIME</c>, in order (<c>-</c> as the domain for an idle frame). <c>#</c> starts a comment.
/// </summary>
public static class ScheduleText
{
    public static string Format(Arinc653Schedule s, string? comment = null)
    {
        var sb = new StringBuilder();
        if (comment is not null)
            foreach (var line in comment.Split('\n')) sb.Append("# ").Append(line).Append('\n');
        sb.Append("major_frame ").Append(Duration.Format(s.MajorFrameNs)).Append('\n');
        sb.Append("# cpu  domain  vcpu  runtime\n");
        foreach (var cpu in s.Cpus)
            foreach (var f in cpu.Frames)
                sb.Append(CultureInfo.InvariantCulture, $"{cpu.Cpu,5}  {f.Domain,-6}  {(f.IsIdle ? "-" : f.Vcpu.ToString(CultureInfo.InvariantCulture)),4}  {Duration.Format(f.RuntimeNs)}\n");
        return sb.ToString();
    }

    public static Arinc653Schedule Parse(string text, string source = "schedule")
    {
        long? major = null;
        var cpus = new List<(int Cpu, List<MinorFrame> Frames)>();
        var lines = text.Split('\n');
        for (var i = 0; i < lines.Length; i++)
        {
            var line = PartitionTask.StripComment(lines[i]);
            if (line.Length == 0) continue;
            var f = line.Split((char[])[' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
            var where = $"{source}:{i + 1}";
            if (f[0] is "major_frame" or "major")
            {
                if (f.Length != 2) throw Invalid($"{where}: expected 'major_frame DURATION' (e.g. major_frame 30ms)");
                major = Duration.ParseNs(f[1]);
                continue;
            }
            if (f.Length != 4) throw Invalid($"{where}: expected 'CPU DOMAIN VCPU RUNTIME' (e.g. '0 web 0 5ms'), got '{line}'");
            if (!int.TryParse(f[0], NumberStyles.None, CultureInfo.InvariantCulture, out var cpu))
                throw Invalid($"{where}: '{f[0]}' is not a CPU number");
            var idle = f[1] == MinorFrame.IdleName;
            var vcpu = 0;
            if (!idle && !int.TryParse(f[2], NumberStyles.None, CultureInfo.InvariantCulture, out vcpu))
                throw Invalid($"{where}: '{f[2]}' is not a vCPU number");
            var frame = new MinorFrame(f[1], idle ? 0 : vcpu, Duration.ParseNs(f[3]));
            var list = cpus.FirstOrDefault(c => c.Cpu == cpu).Frames;
            if (list is null) cpus.Add((cpu, list = []));
            list.Add(frame);
        }
        if (major is null) throw Invalid($"{source}: no 'major_frame' line (e.g. major_frame 30ms)");
        return new Arinc653Schedule(major.Value, [.. cpus.Select(c => new CpuFrames(c.Cpu, c.Frames))]);
    }

    /// <summary>Inline frames for the command line: <c>DOMAIN[/VCPU]:RUNTIME</c> or <c>idle:RUNTIME</c>.</summary>
    public static MinorFrame ParseFrame(string text)
    {
        var colon = text.LastIndexOf(':');
        if (colon <= 0) throw Invalid($"minor frame '{text}' should be DOMAIN[/VCPU]:RUNTIME or idle:RUNTIME (e.g. web/0:5ms)");
        var who = text[..colon];
        var runtime = Duration.ParseNs(text[(colon + 1)..]);
        if (who is "idle" or "-") return MinorFrame.Idle(runtime);
        var slash = who.IndexOf('/');
        if (slash < 0) return new MinorFrame(who, 0, runtime);
        if (!int.TryParse(who[(slash + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var vcpu))
            throw Invalid($"minor frame '{text}': '{who[(slash + 1)..]}' is not a vCPU number");
        return new MinorFrame(who[..slash], vcpu, runtime);
    }

    private static ToolstackException Invalid(string message) => new(ErrorKind.Invalid, message);
}
