using System.Diagnostics;
using System.Text;

namespace Domino.Bench;

/// <summary>One finished run of a guest: when its console spoke first, when it ended, what it cost.</summary>
internal sealed record RunResult(double FirstByteMs, double TotalMs, long PeakRssKiB, int ExitCode, string Console);

/// <summary>
/// Runs a command and times its first output byte and its end. With <c>peakRss</c> it runs under GNU
/// time, so peak RSS comes from the kernel's rusage rather than from polling; that costs the
/// measurement an extra fork and exec (about 1.2 ms here) before the command starts, so timings that
/// do not need the RSS run the command directly, as a shell would.
/// </summary>
internal static class Measure
{
    private const string GnuTime = "/usr/bin/time";

    public static RunResult Run(string exe, IEnumerable<string> args, TimeSpan timeout, IReadOnlyDictionary<string, string>? env = null, bool peakRss = true)
    {
        if (peakRss && !File.Exists(GnuTime))
            throw new InvalidOperationException($"{GnuTime} not found: install Debian's 'time' package (scripts/setup does)");
        var rssFile = peakRss ? Path.GetTempFileName() : null;
        try
        {
            var psi = new ProcessStartInfo(peakRss ? GnuTime : exe)
            {
                RedirectStandardInput = true,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            var argv = peakRss ? new[] { "-f", "%M", "-o", rssFile!, exe }.Concat(args) : args;
            foreach (var a in argv) psi.ArgumentList.Add(a);
            foreach (var (k, v) in env ?? new Dictionary<string, string>()) psi.Environment[k] = v;

            var clock = Stopwatch.StartNew();
            using var process = Process.Start(psi) ?? throw new InvalidOperationException($"cannot start {exe}");
            process.StandardInput.Close();
            _ = process.StandardError.ReadToEndAsync();

            var console = new StringBuilder();
            double firstByte = double.NaN;
            var stdout = process.StandardOutput.BaseStream;
            var buffer = new byte[4096];
            var reading = Task.Run(() =>
            {
                int n;
                while ((n = stdout.Read(buffer, 0, buffer.Length)) > 0)
                {
                    if (double.IsNaN(firstByte)) firstByte = clock.Elapsed.TotalMilliseconds;
                    console.Append(Encoding.UTF8.GetString(buffer, 0, n));
                }
            });
            if (!process.WaitForExit(timeout))
            {
                process.Kill(entireProcessTree: true);
                throw new TimeoutException($"{exe} did not finish within {timeout.TotalSeconds:0} s");
            }
            var total = clock.Elapsed.TotalMilliseconds;
            reading.Wait(TimeSpan.FromSeconds(5));
            var rss = rssFile is not null && long.TryParse(File.ReadAllText(rssFile).Trim().Split('\n')[^1], out var kib) ? kib : -1;
            return new RunResult(firstByte, total, rss, process.ExitCode, console.ToString());
        }
        finally
        {
            if (rssFile is not null) File.Delete(rssFile);
        }
    }

    public static double Median(IEnumerable<double> values)
    {
        var sorted = values.Where(v => !double.IsNaN(v)).OrderBy(v => v).ToArray();
        if (sorted.Length == 0) return double.NaN;
        var mid = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }
}
