using System.Globalization;
using Domino.Toolstack.Scheduling.Arinc653;
using Domino.Vmm.Scheduling;

namespace Domino.Bench.Scheduling;

/// <summary>
/// The floor under any ARINC653 gate on one CPU: a SCHED_FIFO thread pinned to the CPU spins on
/// CLOCK_MONOTONIC and records every gap in which it did not run. Nothing of the host's may displace
/// a running SCHED_FIFO thread but interrupts, and the CPU itself when the host is a virtual machine
/// whose vCPUs are not always scheduled. A perfect gate whose window start falls inside such a gap
/// starts that window late by the rest of the gap; nothing a VMM does can start it sooner.
/// </summary>
internal static class HostFloor
{
    /// <summary>Gaps shorter than this are the loop's own cost, not a stop.</summary>
    private const long MinGapNs = 5_000;

    /// <summary>Spin rounds stay under the kernel's real-time throttling (950 ms per second by default).</summary>
    private const long RoundNs = 800_000_000;

    private static readonly TimeSpan s_pause = TimeSpan.FromMilliseconds(200);

    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);

    /// <summary>Gaps of one spin, in time order: [Start, End) when the spinner did not run.</summary>
    internal readonly record struct Gap(long Start, long End)
    {
        public long Length => End - Start;
    }

    /// <summary>The spun intervals and the gaps inside them.</summary>
    internal sealed record Spin(List<(long Start, long End)> Rounds, List<Gap> Gaps);

    /// <summary>Spins on <paramref name="cpu"/> at SCHED_FIFO 50 for about <paramref name="seconds"/> of rounds.</summary>
    public static Spin Measure(int cpu, double seconds)
    {
        var rounds = new List<(long, long)>();
        var gaps = new List<Gap>(1 << 16);
        string? error = null;
        var thread = new Thread(() =>
        {
            if (HostThread.SetAffinity(0, [cpu]) is var e1 and not 0) { error = $"sched_setaffinity(cpu {cpu}): {HostThread.Describe(e1)}"; return; }
            if (HostThread.SetFifo(0, 50) is var e2 and not 0) { error = $"SCHED_FIFO 50: {HostThread.Describe(e2)} (needs root)"; return; }
            var count = Math.Max(1, (int)Math.Ceiling(seconds * 1e9 / RoundNs));
            for (var r = 0; r < count; r++)
            {
                var start = HostThread.MonotonicNs();
                var end = start + RoundNs;
                var prev = start;
                while (prev < end)
                {
                    var now = HostThread.MonotonicNs();
                    if (now - prev > MinGapNs) gaps.Add(new Gap(prev, now));
                    prev = now;
                }
                rounds.Add((start, prev));
                Thread.Sleep(s_pause);
            }
        }) { Name = "host-floor", IsBackground = true };
        thread.Start();
        thread.Join();
        if (error is not null) throw new InvalidOperationException(error);
        return new Spin(rounds, gaps);
    }

    /// <summary>
    /// A perfect gate's start lateness for every window start of <paramref name="schedule"/> on
    /// <paramref name="cpu"/> that falls inside a spun round. The gate needs <paramref name="handoverNs"/>
    /// of CPU time just before each start (to take the CPU from the guest running before it) and begins
    /// that long before the start; gaps in its way push the start back by as much as they overlap it.
    /// With no handover, a start inside a gap comes when the gap ends. The schedule's phase is
    /// arbitrary (the major frame starts with the first round).
    /// </summary>
    internal static long[] PerfectLateness(Spin spin, Arinc653Schedule schedule, int cpu, long handoverNs)
    {
        var offsets = schedule.Windows().Where(w => w.Cpu == cpu).Select(w => w.OffsetNs).Order().ToArray();
        if (offsets.Length == 0 || spin.Rounds.Count == 0) return [];
        var epoch = spin.Rounds[0].Start;
        var gaps = spin.Gaps;
        var late = new List<long>();
        var g = 0;
        foreach (var (start, end) in spin.Rounds)
        {
            for (var frame = (start - epoch) / schedule.MajorFrameNs; epoch + frame * schedule.MajorFrameNs < end; frame++)
            {
                foreach (var offset in offsets)
                {
                    var s = epoch + frame * schedule.MajorFrameNs + offset;
                    if (s - handoverNs < start || s >= end) continue;
                    var t = s - handoverNs;
                    var left = handoverNs;
                    while (g < gaps.Count && gaps[g].End <= t) g++;
                    for (var i = g; i < gaps.Count && gaps[i].Start < t + left; i++)
                    {
                        left -= Math.Max(0, gaps[i].Start - t);
                        t = Math.Max(t, gaps[i].End);
                    }
                    late.Add(Math.Max(0, t + left - s));
                }
            }
        }
        late.Sort();
        return [.. late];
    }

    /// <summary>The kernel's steal time for <paramref name="cpu"/> (/proc/stat, in USER_HZ ticks of 10 ms).</summary>
    private static long StealTicks(int cpu)
    {
        var prefix = Inv($"cpu{cpu} ");
        var line = File.ReadLines("/proc/stat").First(l => l.StartsWith(prefix, StringComparison.Ordinal));
        return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[8], CultureInfo.InvariantCulture);
    }

    /// <summary>Prints the spinner's gaps and a perfect gate's lateness under the planned 5/6/10 ms example.</summary>
    public static void Run(int cpu, double seconds)
    {
        var plan = Arinc653Planner.Plan(PartitionTask.ParseSet("a:5ms:1ms,b:6ms:2ms,c:10ms:3ms"), [cpu]);
        var steal0 = StealTicks(cpu);
        var wall0 = HostThread.MonotonicNs();
        var spin = Measure(cpu, seconds);
        var wall = HostThread.MonotonicNs() - wall0;
        var stealNs = (StealTicks(cpu) - steal0) * 10_000_000L;

        var spun = spin.Rounds.Sum(r => r.End - r.Start);
        var lengths = spin.Gaps.Select(x => x.Length).Order().ToArray();
        var lost = lengths.Sum();
        Console.WriteLine(Inv($"## host floor on cpu {cpu}: a SCHED_FIFO 50 thread spinning on CLOCK_MONOTONIC, {spin.Rounds.Count} rounds of 0.8 s"));
        Console.WriteLine("| time lost in gaps > 5 µs | gaps > 100 µs | gaps > 0.5 ms | longest gap | steal time the kernel counted for the CPU |");
        Console.WriteLine("|---|---|---|---|---|");
        Console.WriteLine(Inv($"| {100.0 * lost / spun:0.00} % | {lengths.Count(l => l > 100_000)} | {lengths.Count(l => l > 500_000)} | {(lengths.Length == 0 ? 0 : lengths[^1]) / 1000.0:0.0} µs | {100.0 * stealNs / wall:0.0} % of {wall / 1e9:0.0} s |"));
        Console.WriteLine();

        Console.WriteLine(Inv($"## a perfect gate on that CPU: planned 5/6/10 ms partitions ({plan.Schedule!.MajorFrameNs / 1_000_000} ms major frame); a start is late only by the gaps in its way"));
        Console.WriteLine("| the gate's handover before each start | window starts | p50 lateness | p99 lateness | max lateness | late by > 100 µs | the host allows p99 ≤ 100 µs |");
        Console.WriteLine("|---|---|---|---|---|---|---|");
        foreach (var (what, handoverNs) in new[] { ("none (a start inside a gap comes when it ends)", 0L), ("50 µs of CPU (Domino's default kick lead)", 50_000L) })
        {
            var late = PerfectLateness(spin, plan.Schedule!, cpu, handoverNs);
            double P(double q) => late.Length == 0 ? double.NaN : GateStats.Percentile(late, q) / 1000.0;
            var over = late.Count(l => l > 100_000);
            Console.WriteLine(Inv($"| {what} | {late.Length} | {P(0.5):0.0} µs | {P(0.99):0.0} µs | {P(1.0):0.0} µs | {over} ({100.0 * over / Math.Max(1, late.Length):0.00} %) | {(P(0.99) <= 100 ? "yes" : "no")} |"));
        }
        Console.WriteLine();
    }
}
