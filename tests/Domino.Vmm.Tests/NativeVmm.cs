using System.Diagnostics;

namespace Domino.Vmm.Tests;

/// <summary>The two forms of the foreground VMM: the CLI's <c>domino vmm</c> and the native <c>domino-vmm</c>.</summary>
public enum VmmProgram { Cli, Native }

/// <summary>
/// <c>.build/cli/domino-vmm</c>, brought up to date the way a user's first <c>./domino</c> does it:
/// by running the repository's <c>./domino</c> script once, which rebuilds whatever is older than
/// its sources. A build that fails fails the test with the script's output.
/// </summary>
internal static class NativeVmm
{
    private static readonly Lazy<string> s_path = new(Build);

    public static string Path => s_path.Value;

    private static string Build()
    {
        var script = System.IO.Path.Combine(GuestKit.Root, "domino");
        var psi = new ProcessStartInfo(script, ["--version"]) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromMinutes(10)))
        {
            p.Kill(entireProcessTree: true);
            Assert.Fail($"./domino --version did not finish building within 10 minutes: {stderr.Result}");
        }
        Assert.True(p.ExitCode == 0, $"./domino --version failed ({p.ExitCode}) building domino-vmm: {stderr.Result}{stdout.Result}");
        var path = System.IO.Path.Combine(GuestKit.Root, ".build", "cli", "domino-vmm");
        Assert.True(File.Exists(path), $"./domino built no {path}: {stderr.Result}");
        return path;
    }
}
