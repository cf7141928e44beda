using System.Diagnostics;
using Xunit;

namespace Domino.Testing;

/// <summary>
/// The executables compiled ahead of time: <c>.build/cli/domino-vmm</c> (the VMM; it runs
/// <c>./domino vmm</c> and the daemon's VMM processes) and <c>.build/aot/domino</c> (the CLI; it runs
/// every other <c>./domino</c> command but <c>daemon</c>). They are brought up to date the way a user's
/// first <c>./domino</c> does it: by running the repository's <c>./domino</c> script once, which
/// rebuilds whatever is older than its sources. A build that fails fails the test with the script's
/// output. Compiled into each test project that runs them.
/// </summary>
internal static class NativeBuild
{
    private static readonly Lazy<string> s_build = new(Build);

    public static string Vmm => Program("cli", "domino-vmm");

    public static string Cli => Program("aot", "domino");

    private static string Program(string dir, string name)
    {
        var path = System.IO.Path.Combine(s_build.Value, dir, name);
        Assert.True(File.Exists(path), $"./domino built no {path}");
        return path;
    }

    private static string Build()
    {
        var dir = AppContext.BaseDirectory;
        while (dir is not null && !File.Exists(System.IO.Path.Combine(dir, "Domino.slnx"))) dir = System.IO.Path.GetDirectoryName(dir);
        var root = dir ?? throw new InvalidOperationException("cannot find the repository root above " + AppContext.BaseDirectory);
        var psi = new ProcessStartInfo(System.IO.Path.Combine(root, "domino"), ["--version"]) { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.Environment.Remove("DOMINO_STATE_DIR");
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromMinutes(10)))
        {
            p.Kill(entireProcessTree: true);
            Assert.Fail($"./domino --version did not finish building within 10 minutes: {stderr.Result}");
        }
        Assert.True(p.ExitCode == 0, $"./domino --version failed ({p.ExitCode}) building domino-vmm: {stderr.Result}{stdout.Result}");
        return System.IO.Path.Combine(root, ".build");
    }
}
