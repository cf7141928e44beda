using System.Net;
using System.Net.Sockets;
using Xunit;

namespace Domino.Cli.Tests;

/// <summary>save/restore, migrate and remus through the CLI and two daemons over the test driver.</summary>
public sealed class MigrationEndToEndTests : IDisposable
{
    private readonly DominoRunner _a = new();
    private readonly DominoRunner _b = new();
    private readonly int _port = FreePort();

    public MigrationEndToEndTests()
    {
        _a.StartDaemon();
        _b.StartDaemon("--migrate-listen", $"127.0.0.1:{_port}");
    }

    public void Dispose()
    {
        _a.Dispose();
        _b.Dispose();
    }

    private static int FreePort()
    {
        var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        var port = ((IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        return port;
    }

    private string Target => $"127.0.0.1:{_port}";

    [Fact]
    public void Save_destroys_restore_brings_back_with_console_history()
    {
        Assert.Equal(0, _a.Run("create", "-q", _a.Config("web", "vcpus = 2")).ExitCode);
        var file = Path.Combine(_a.StateDir, "web.save");
        var save = _a.Run("save", "-v", "web", file);
        Assert.True(save.ExitCode == 0, save.ToString());
        Assert.Contains("saved " + file, save.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("web", _a.Run("list").Stdout, StringComparison.Ordinal);
        Assert.Equal("", save.Stderr); // no progress bar when stderr is not a terminal

        var restore = _a.Run("restore", "-v", file);
        Assert.True(restore.ExitCode == 0, restore.ToString());
        Assert.Matches(@"web\s+\d+\s+64\s+2\s+r-----", _a.Run("list", "web").Stdout);
        var dmesg = _a.Run("dmesg", "web").Stdout;
        Assert.Contains("web: running", dmesg, StringComparison.Ordinal);
        Assert.Contains("web: restored", dmesg, StringComparison.Ordinal);

        var twice = _a.Run("restore", file);
        Assert.Equal(1, twice.ExitCode);
        Assert.Contains("already exists", twice.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Save_c_keeps_running_save_p_keeps_paused_and_damaged_files_are_refused()
    {
        Assert.Equal(0, _a.Run("create", "-q", _a.Config("web")).ExitCode);
        var file = Path.Combine(_a.StateDir, "web.save");
        Assert.Equal(0, _a.Run("save", "-c", "web", file).ExitCode);
        Assert.Contains("r-----", _a.Run("list", "web").Stdout, StringComparison.Ordinal);
        Assert.Equal(0, _a.Run("save", "-p", "web", file).ExitCode);
        Assert.Contains("--p---", _a.Run("list", "web").Stdout, StringComparison.Ordinal);

        var bytes = File.ReadAllBytes(file);
        bytes[^3] ^= 1;
        var bad = Path.Combine(_a.StateDir, "bad.save");
        File.WriteAllBytes(bad, bytes);
        Assert.Equal(0, _a.Run("destroy", "web").ExitCode);
        var refused = _a.Run("restore", bad);
        Assert.Equal(1, refused.ExitCode);
        Assert.Contains("corrupt", refused.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("web", _a.Run("list").Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void Migrate_moves_the_domain_keeping_name_and_config()
    {
        Assert.Equal(0, _a.Run("create", "-q", _a.Config("web", "vcpus = 2", "memory = 96")).ExitCode);
        var migrate = _a.Run("migrate", "-v", "web", Target);
        Assert.True(migrate.ExitCode == 0, migrate.ToString() + _b.DaemonLog);
        Assert.Contains("downtime", migrate.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("web", _a.Run("list").Stdout, StringComparison.Ordinal);
        Assert.Matches(@"web\s+\d+\s+96\s+2\s+r-----", _b.Run("list", "web").Stdout);
        Assert.Contains("web: migrated in", _b.Run("dmesg", "web").Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void Refused_or_unreachable_target_leaves_the_domain_running_here()
    {
        Assert.Equal(0, _a.Run("create", "-q", _a.Config("web")).ExitCode);
        Assert.Equal(0, _b.Run("create", "-q", _b.Config("web")).ExitCode);
        var refused = _a.Run("migrate", "web", Target);
        Assert.Equal(1, refused.ExitCode);
        Assert.Contains("refused domain 'web'", refused.Stderr, StringComparison.Ordinal);
        Assert.Contains("r-----", _a.Run("list", "web").Stdout, StringComparison.Ordinal);

        var nobody = _a.Run("migrate", "web", $"127.0.0.1:{FreePort()}");
        Assert.Equal(1, nobody.ExitCode);
        Assert.Contains("cannot reach a migration listener", nobody.Stderr, StringComparison.Ordinal);
        Assert.Contains("r-----", _a.Run("list", "web").Stdout, StringComparison.Ordinal);
        Assert.Single(_b.Run("list").Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Skip(1));
    }

    [Fact]
    public void Remus_backup_takes_over_when_the_primary_dies()
    {
        Assert.Equal(0, _a.Run("create", "-q", _a.Config("web")).ExitCode);
        var remus = _a.Run("remus", "-i", "50", "web", Target);
        Assert.True(remus.ExitCode == 0, remus.ToString());
        WaitFor(() => _b.Run("list", "web").Stdout.Contains("--p---", StringComparison.Ordinal));
        _a.KillDaemon(); // the primary (and, for the test driver, its guest) is gone
        WaitFor(() => _b.Run("list", "web").Stdout.Contains("r-----", StringComparison.Ordinal));
        Assert.Contains("took over from the Remus primary", _b.Run("dmesg", "web").Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void Destroying_a_protected_domain_stands_the_backup_down()
    {
        Assert.Equal(0, _a.Run("create", "-q", _a.Config("web")).ExitCode);
        Assert.Equal(0, _a.Run("remus", "-i", "50", "web", Target).ExitCode);
        WaitFor(() => _b.Run("list", "web").Stdout.Contains("--p---", StringComparison.Ordinal));
        Assert.Equal(0, _a.Run("destroy", "web").ExitCode);
        WaitFor(() => !_b.Run("list").Stdout.Contains("web", StringComparison.Ordinal));
    }

    private static void WaitFor(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) Assert.Fail("condition not met in 15 s");
            Thread.Sleep(50);
        }
    }
}
