using System.Globalization;

namespace Domino.Vmm.Scheduling;

/// <summary>What a gate measured over <paramref name="Seconds"/>; the sample arrays are sorted (ns).</summary>
public sealed record GateReport(double Seconds, long Windows, long Skipped, long WindowNs, long OverrunNs, long BetweenNs,
    long[] StartLateness, long[] KickLatency, long[] Overrun)
{
    /// <summary>Overrun CPU time as a fraction of the window time the vCPUs had.</summary>
    public double OverrunShare => WindowNs == 0 ? 0 : (double)OverrunNs / WindowNs;

    /// <summary>CPU time the gated threads used between windows (waking, spinning the wake lead), as a fraction of the window time.</summary>
    public double BetweenShare => WindowNs == 0 ? 0 : (double)BetweenNs / WindowNs;

    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"{Windows} windows in {Seconds:0.0} s ({Skipped} skipped); start lateness {GateStats.Summary(StartLateness)}; kick latency {GateStats.Summary(KickLatency)}; overrun {GateStats.Summary(Overrun)}, in all {100 * OverrunShare:0.00} % of window time; between windows {100 * BetweenShare:0.00} %");
}

/// <summary>
/// What an ARINC653 gate measured since the last <see cref="Take"/>: for each window, how late
/// its vCPU thread woke (start lateness), how long after the window-end kick's expiry KVM_RUN returned
/// (kick latency), and how much CPU time the thread used in the window beyond the window's length (overrun).
/// Many vCPU threads add samples at once; a report and a concurrent sample may miss each other, which
/// costs one sample, never a wrong one.
/// </summary>
public sealed class GateStats
{
    private readonly Samples _lateness = new();
    private readonly Samples _kick = new();
    private readonly Samples _overrun = new();
    private long _windows, _skipped, _windowNs, _overrunNs, _betweenNs;
    private long _since = Interop.Interop.Sched.Now();

    /// <summary>A window opened: its vCPU thread woke <paramref name="latenessNs"/> after the planned start.</summary>
    public void WindowStarted(long latenessNs) => _lateness.Add(latenessNs);

    /// <summary>The thread woke after the whole window had passed and skipped it.</summary>
    public void WindowSkipped() => Interlocked.Increment(ref _skipped);

    /// <summary>KVM_RUN returned <paramref name="latencyNs"/> after the window-end kick's expiry.</summary>
    public void Kicked(long latencyNs) => _kick.Add(latencyNs);

    /// <summary>A window closed: the thread had <paramref name="windowNs"/> of it and used <paramref name="overrunNs"/> CPU time beyond that.</summary>
    public void WindowEnded(long windowNs, long overrunNs)
    {
        Interlocked.Increment(ref _windows);
        Interlocked.Add(ref _windowNs, windowNs);
        Interlocked.Add(ref _overrunNs, overrunNs);
        _overrun.Add(overrunNs);
    }

    /// <summary>The thread used <paramref name="cpuNs"/> of CPU time between closing one window and opening its next.</summary>
    public void BetweenWindows(long cpuNs) => Interlocked.Add(ref _betweenNs, cpuNs);

    /// <summary>The samples since the last call, which starts them afresh.</summary>
    public GateReport Take()
    {
        var now = Interop.Interop.Sched.Now();
        return new GateReport(
            (now - Interlocked.Exchange(ref _since, now)) / 1e9,
            Interlocked.Exchange(ref _windows, 0),
            Interlocked.Exchange(ref _skipped, 0),
            Interlocked.Exchange(ref _windowNs, 0),
            Interlocked.Exchange(ref _overrunNs, 0),
            Interlocked.Exchange(ref _betweenNs, 0),
            _lateness.Take(), _kick.Take(), _overrun.Take());
    }

    /// <summary>"p50 A / p99 B / max C µs" (nearest-rank percentiles), or "none".</summary>
    public static string Summary(long[] sorted)
    {
        if (sorted.Length == 0) return "none";
        return string.Create(CultureInfo.InvariantCulture,
            $"p50 {Percentile(sorted, 0.5) / 1000.0:0.0} / p99 {Percentile(sorted, 0.99) / 1000.0:0.0} / max {sorted[^1] / 1000.0:0.0} µs");
    }

    /// <summary>The nearest-rank percentile of ascending <paramref name="sorted"/> (q in 0..1).</summary>
    public static long Percentile(long[] sorted, double q) =>
        sorted[Math.Clamp((int)Math.Ceiling(q * sorted.Length) - 1, 0, sorted.Length - 1)];

    /// <summary>The last 16384 samples (a 10 s report of a 1 ms window plan fits), sorted on taking.</summary>
    private sealed class Samples
    {
        private readonly long[] _ring = new long[16384];
        private long _count;

        public void Add(long value)
        {
            var i = Interlocked.Increment(ref _count) - 1;
            _ring[i % _ring.Length] = value;
        }

        public long[] Take()
        {
            var n = (int)Math.Min(Interlocked.Exchange(ref _count, 0), _ring.Length);
            var s = _ring.AsSpan(0, n).ToArray();
            Array.Sort(s);
            return s;
        }
    }
}
