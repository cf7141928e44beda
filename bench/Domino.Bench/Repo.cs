using System.Diagnostics;

namespace Domino.Bench;

/// <summary>Locates the repository, the built CLI and the guest kit; builds them when missing.</summary>
internal static class Repo
{
    public static string Root { get; } = FindRoot();

    /// <summary>The CLI on the .NET runtime (ReadyToRun); it also runs the daemon.</summary>
    public static string Cli => Path.Combine(Root, ".build", "cli", "domino");

    /// <summary>The CLI compiled ahead of time: what `./domino` runs for every command but `daemon` and `vmm`.</summary>
    public static string AotCli => Path.Combine(Root, ".build", "aot", "domino");

    public static string NativeVmm => Path.Combine(Root, ".build", "cli", "domino-vmm");

    public static string Guest(string name) => Path.Combine(Root, "guests", "build", name + ".elf");

    public static string Qemu => "/usr/bin/qemu-system-x86_64";

    /// <summary>`./domino --help` rebuilds both CLIs, domino-vmm and the guests when their sources changed.</summary>
    public static void EnsureBuilt()
    {
        using var p = Process.Start(new ProcessStartInfo(Path.Combine(Root, "domino"), "--help")
        {
            RedirectStandardOutput = true,
            UseShellExecute = false,
        }) ?? throw new InvalidOperationException("cannot run ./domino");
        p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0) throw new InvalidOperationException("./domino --help failed: the CLI does not build");
        if (!File.Exists(Qemu)) throw new InvalidOperationException($"{Qemu} not found: run scripts/setup (installs qemu-system-x86)");
    }

    private static string FindRoot()
    {
        for (var dir = AppContext.BaseDirectory; dir is not null; dir = Path.GetDirectoryName(dir))
        {
            if (File.Exists(Path.Combine(dir, "Domino.slnx"))) return dir;
        }
        throw new InvalidOperationException("cannot find the repository root (Domino.slnx) above " + AppContext.BaseDirectory);
    }
}
