using System.Globalization;
using Domino.Toolstack.Domains;

namespace Domino.Toolstack.Scheduling.Arinc653;

/// <summary>
/// One minor frame: <see cref="Domain"/>'s vCPU <see cref="Vcpu"/> runs for <see cref="RuntimeNs"/>.
/// Domain <c>-</c> is an idle frame (Xen's equivalent: an entry naming no existing domain).
/// </summary>
public sealed record MinorFrame(string Domain, int Vcpu, long RuntimeNs)
{
    public const string IdleName = "-";
    public bool IsIdle => Domain == IdleName;
    public static MinorFrame Idle(long ns) => new(IdleName, 0, ns);
}

/// <summary>The ordered minor frames one CPU runs, back to back from the start of each major frame.</summary>
public sealed record CpuFrames(int Cpu, IReadOnlyList<MinorFrame> Frames)
{
    public long TotalNs => Frames.Sum(f => f.RuntimeNs);
}

/// <summary>A placed window: a vCPU runs on a CPU from an offset into the major frame.</summary>
public readonly record struct Window(int Cpu, string Domain, int Vcpu, long OffsetNs, long LengthNs)
{
    public long EndNs => OffsetNs + LengthNs;
}

/// <summary>
/// An ARINC653 schedule for one CPU pool (Xen's xen_sysctl_arinc653_schedule, extended to one list of
/// minor frames per pool CPU): every major frame, each CPU runs its minor frames in order; time after
/// the last one stays idle.
/// </summary>
public sealed record Arinc653Schedule(long MajorFrameNs, IReadOnlyList<CpuFrames> Cpus)
{
    /// <summary>Xen's ARINC653_MAX_DOMAINS_PER_SCHEDULE.</summary>
    public const int MaxEntries = 64;

    public static Arinc653Schedule Empty { get; } = new(0, []);

    public bool IsEmpty => Cpus.Count == 0;

    /// <summary>Every non-idle window with its offset in the major frame.</summary>
    public IEnumerable<Window> Windows()
    {
        foreach (var cpu in Cpus)
        {
            long offset = 0;
            foreach (var f in cpu.Frames)
            {
                if (!f.IsIdle) yield return new Window(cpu.Cpu, f.Domain, f.Vcpu, offset, f.RuntimeNs);
                offset += f.RuntimeNs;
            }
        }
    }

    /// <summary>The schedule with domain <paramref name="from"/> renamed <paramref name="to"/>.</summary>
    public Arinc653Schedule RenameDomain(string from, string to) =>
        this with { Cpus = [.. Cpus.Select(c => c with { Frames = [.. c.Frames.Select(f => f.Domain == from ? f with { Domain = to } : f)] })] };

    public bool Names(string domain) => Cpus.Any(c => c.Frames.Any(f => f.Domain == domain));
}

/// <summary>Durations as Domino writes them: an integer with ns, us, ms or s (a bare number takes a default unit).</summary>
public static class Duration
{
    public static long ParseNs(string text, string defaultUnit = "ms")
    {
        var t = text.Trim().ToLowerInvariant().Replace("µs", "us", StringComparison.Ordinal);
        var i = 0;
        while (i < t.Length && (char.IsAsciiDigit(t[i]) || t[i] == '.')) i++;
        var unit = i < t.Length ? t[i..] : defaultUnit;
        if (i == 0 || !decimal.TryParse(t[..i], NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var n))
            throw new ToolstackException(ErrorKind.Invalid, $"invalid duration '{text}' (expected a number with ns, us, ms or s, e.g. 5ms)");
        var scale = unit switch
        {
            "ns" => 1m,
            "us" => 1_000m,
            "ms" => 1_000_000m,
            "s" => 1_000_000_000m,
            _ => throw new ToolstackException(ErrorKind.Invalid, $"invalid unit '{unit}' in '{text}' (expected ns, us, ms or s)"),
        };
        var ns = n * scale;
        if (ns != decimal.Truncate(ns)) throw new ToolstackException(ErrorKind.Invalid, $"duration '{text}' is not a whole number of nanoseconds");
        return (long)ns;
    }

    public static string Format(long ns) =>
        ns % 1_000_000 == 0 ? Inv($"{ns / 1_000_000}ms")
        : ns % 1_000 == 0 ? Inv($"{ns / 1_000}us")
        : Inv($"{ns}ns");

    /// <summary>For messages: milliseconds with up to three decimals.</summary>
    public static string Ms(long ns) => Inv($"{ns / 1e6:0.###} ms");

    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
