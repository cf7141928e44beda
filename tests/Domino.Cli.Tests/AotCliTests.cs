using Domino.Testing;
using Xunit;

namespace Domino.Cli.Tests;

/// <summary>
/// The CLI compiled ahead of time (<c>.build/aot/domino</c>, what <c>./domino</c> runs) says exactly
/// what the same CLI on the .NET runtime says, for queries, dry runs, config errors, refusals and
/// usage errors; and its <c>daemon</c> becomes the runtime CLI's, also when a client starts one.
/// </summary>
public sealed class AotCliTests : IDisposable
{
    private readonly DominoRunner _d = new();

    public void Dispose() => _d.Dispose();

    private static string Examples
    {
        get
        {
            var dir = AppContext.BaseDirectory;
            while (dir is not null && !File.Exists(Path.Combine(dir, "Domino.slnx"))) dir = Path.GetDirectoryName(dir);
            return Path.Combine(dir ?? throw new InvalidOperationException("cannot find the repository root"), "examples");
        }
    }

    [Fact]
    public void It_prints_what_the_runtime_CLI_prints()
    {
        _d.StartDaemon();
        Assert.Equal(0, _d.Run("create", "-q", _d.Config("web", "vcpus = 2", "cpus = \"0\"")).ExitCode);
        Assert.Equal(0, _d.Run("create", "-q", "-p", _d.Config("db", "memory = 128")).ExitCode);
        var bad = _d.Config("bad", "memory = \"lots\"", "vcpus = 0");
        var examples = Directory.GetFiles(Examples, "*.cfg").Order(StringComparer.Ordinal).ToArray();
        Assert.NotEmpty(examples);
        string[][] commands =
        [
            ["list"], ["list", "-l"], ["list", "-v", "web"], ["domid", "web"], ["domname", "1"], ["vcpu-list"],
            ["cpupool-list"], ["cpupool-list", "-l"], ["sched-credit"],
            ["unpause", "web"], ["pause"], ["destroy", "nosuch"], ["mem-max", "web", "512"],
            ["frobnicate"], ["--help"], ["create", "--help"], ["--version"],
            ["config", "check", bad], ["config", "check", .. examples],
            ["sched-arinc653", "plan", "a:5ms:1ms,b:6ms:2ms,c:10ms:3ms"],
            .. examples.Select(e => new[] { "create", "-n", e }),
        ];
        foreach (var command in commands)
        {
            var runtime = DryRunUuid(command, _d.Run(command));
            var aot = DryRunUuid(command, _d.RunAot(command));
            Assert.True(runtime == aot, $"domino {string.Join(' ', command)}:\n--- runtime CLI\n{runtime}\n--- compiled ahead of time\n{aot}");
        }
        // `info` shows the daemon's uptime and free memory, which move between two runs.
        var info = _d.RunAot("info");
        Assert.True(info.ExitCode == 0, info.ToString());
        Assert.Contains("domino_driver          : test\n", info.Stdout, StringComparison.Ordinal);
        Assert.Contains("nr_domains             : 2\n", info.Stdout, StringComparison.Ordinal);
    }

    /// <summary>A dry run (<c>create -n</c>) makes up a UUID each time; everything else must match.</summary>
    private static DominoRunner.Result DryRunUuid(string[] command, DominoRunner.Result r) =>
        command is ["create", "-n", ..]
            ? r with { Stdout = System.Text.RegularExpressions.Regex.Replace(r.Stdout, "\"uuid\": \"[0-9a-f-]{36}\"", "\"uuid\": \"(made up)\"") }
            : r;

    [Fact]
    public void Its_daemon_is_the_runtime_CLIs_also_when_a_client_starts_one()
    {
        var r = _d.RunAot("list");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.StartsWith("Name", r.Stdout, StringComparison.Ordinal);
        var pid = int.Parse(File.ReadAllText(Path.Combine(_d.StateDir, "daemon.pid")).Trim(), System.Globalization.CultureInfo.InvariantCulture);
        var runtimeCli = Path.Combine(Path.GetDirectoryName(Path.GetDirectoryName(NativeBuild.Cli))!, "cli", "domino");
        Assert.Equal(runtimeCli, new FileInfo($"/proc/{pid}/exe").LinkTarget);
        Assert.Equal(["daemon", "--background"], File.ReadAllText($"/proc/{pid}/cmdline").Split('\0')[1..3]);
        Assert.Equal(0, _d.RunAot("create", "-q", _d.Config("web")).ExitCode);
        Assert.Contains("web", _d.RunAot("list").Stdout, StringComparison.Ordinal);
    }

    [SkippableFact]
    public void Create_c_boots_a_guest_kit_guest_and_shows_its_console()
    {
        Kvm.Require();
        using var d = new DominoRunner("vmm");
        d.StartDaemon();
        var r = d.RunAsync(["create", "-q", "-c", d.Config("hello", $"kernel = \"{Kvm.Guest("hello")}\"")], program: NativeBuild.Cli).GetAwaiter().GetResult();
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.StartsWith("Hello from the Domino guest kit\n", r.Stdout, StringComparison.Ordinal);
        Assert.Contains("hello: PASS", r.Stdout, StringComparison.Ordinal);
    }
}
