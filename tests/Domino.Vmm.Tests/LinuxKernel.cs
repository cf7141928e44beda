using System.Diagnostics;

namespace Domino.Vmm.Tests;

/// <summary>Debian's cloud kernel as scripts/fetch-linux leaves it in .build/linux (fetched on first use).</summary>
internal static class LinuxKernel
{
    private static readonly Lazy<string?> s_fetchError = new(Fetch);

    public static string Vmlinux => Require("vmlinux");

    public static string Vmlinuz => Require("vmlinuz");

    private static string Require(string name)
    {
        var path = Path.Combine(GuestKit.Root, ".build", "linux", name);
        if (!File.Exists(path) && s_fetchError.Value is { } error)
        {
            var reason = $"NO LINUX KERNEL: {path} missing and scripts/fetch-linux failed: {error}";
            if (Environment.GetEnvironmentVariable("DOMINO_REQUIRE_LINUX") == "1") Assert.Fail(reason);
            Skip.If(true, reason);
        }
        return path;
    }

    private static string? Fetch()
    {
        try
        {
            using var p = Process.Start(new ProcessStartInfo(Path.Combine(GuestKit.Root, "scripts", "fetch-linux"))
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            })!;
            p.StandardOutput.ReadToEnd();
            var err = p.StandardError.ReadToEnd();
            if (!p.WaitForExit(TimeSpan.FromMinutes(5))) return "timed out";
            return p.ExitCode == 0 ? null : err.Trim();
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            return e.Message;
        }
    }
}
