using System.Net.Sockets;
using System.Text.Json;
using Xunit;

namespace Domino.Cli.Tests;

/// <summary>The CLI and daemon end to end over the test driver: no /dev/kvm needed.</summary>
public sealed class TestDriverEndToEndTests : IDisposable
{
    private readonly DominoRunner _d = new();

    public TestDriverEndToEndTests() => _d.StartDaemon();

    public void Dispose() => _d.Dispose();

    [Fact]
    public void Create_list_domid_domname_destroy()
    {
        var create = _d.Run("create", _d.Config("web", "vcpus = 2"));
        Assert.True(create.ExitCode == 0, create.ToString());
        Assert.Contains("Parsing config from", create.Stderr, StringComparison.Ordinal);

        var list = _d.Run("list");
        var lines = list.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.StartsWith("Name", lines[0], StringComparison.Ordinal);
        Assert.Contains("State", lines[0], StringComparison.Ordinal);
        Assert.Matches(@"^web\s+1\s+64\s+2\s+r-----\s+\d+\.\d$", lines[1]);

        Assert.Equal("1", _d.Run("domid", "web").Stdout.Trim());
        Assert.Equal("web", _d.Run("domname", "1").Stdout.Trim());
        Assert.Equal(0, _d.Run("destroy", "web").ExitCode);
        Assert.Single(_d.Run("list").Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [Fact]
    public void Illegal_transitions_and_duplicates_are_refused_with_the_state_named()
    {
        Assert.Equal(0, _d.Run("create", "-q", _d.Config("web")).ExitCode);
        var unpause = _d.Run("unpause", "web");
        Assert.Equal(1, unpause.ExitCode);
        Assert.Equal("domino: cannot unpause domain 'web' (state: running)", unpause.Stderr.Trim());
        var again = _d.Run("create", "-q", _d.Config("web"));
        Assert.Equal(1, again.ExitCode);
        Assert.Contains("domain 'web' already exists", again.Stderr, StringComparison.Ordinal);
        var missing = _d.Run("pause", "nope");
        Assert.Equal("domino: domain 'nope' does not exist", missing.Stderr.Trim());
    }

    [Fact]
    public void Pause_and_unpause_show_in_the_state_column()
    {
        Assert.Equal(0, _d.Run("create", "-q", "-p", _d.Config("web")).ExitCode);
        Assert.Contains("--p---", _d.Run("list", "web").Stdout, StringComparison.Ordinal);
        Assert.Equal(0, _d.Run("unpause", "web").ExitCode);
        Assert.Contains("r-----", _d.Run("list", "web").Stdout, StringComparison.Ordinal);
        Assert.Equal(0, _d.Run("pause", "web").ExitCode);
        Assert.Contains("--p---", _d.Run("list").Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void Create_with_console_prints_the_guest_output_until_it_powers_off()
    {
        var r = _d.Run("create", "-q", "-c", _d.Config("hello", "cmdline = \"test.on_boot=poweroff\""));
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("hello: running", r.Stdout, StringComparison.Ordinal);
        Assert.Contains("hello: poweroff", r.Stdout, StringComparison.Ordinal);
        WaitFor(() => !_d.Run("list").Stdout.Contains("hello", StringComparison.Ordinal)); // on_poweroff=destroy
    }

    [Fact]
    public void Config_update_takes_effect_at_the_next_restart()
    {
        Assert.Equal(0, _d.Run("create", "-q", _d.Config("web")).ExitCode);
        var update = _d.Run("config-update", "web", _d.Config("web", "memory = 96", "vcpus = 2"));
        Assert.True(update.ExitCode == 0, update.ToString());
        Assert.Matches(@"(?m)^web\s+1\s+64\s+1\s", _d.Run("list").Stdout); // not before the restart
        Assert.Equal(0, _d.Run("inject", "web", "reboot").ExitCode); // on_reboot = restart
        WaitFor(() => _d.Run("domid", "web").Stdout.Trim() == "2");
        Assert.Matches(@"(?m)^web\s+2\s+96\s+2\s", _d.Run("list").Stdout);
        var wrongName = _d.Run("config-update", "web", _d.Config("other"));
        Assert.Equal(1, wrongName.ExitCode);
        Assert.Contains("the config names domain 'other', not 'web'", wrongName.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Shutdown_wait_returns_after_the_domain_is_gone()
    {
        Assert.Equal(0, _d.Run("create", "-q", _d.Config("a")).ExitCode);
        Assert.Equal(0, _d.Run("create", "-q", _d.Config("b")).ExitCode);
        var r = _d.Run("shutdown", "-a", "-w");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("Domain a has shut down", r.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("r-----", _d.Run("list").Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void Trigger_power_reset_and_nmi_reach_the_test_guest_and_bad_names_are_refused()
    {
        Assert.Equal(0, _d.Run("create", "-q", _d.Config("g", "on_reboot = \"preserve\"")).ExitCode);
        Assert.Equal(0, _d.Run("trigger", "g", "nmi").ExitCode);
        Assert.Contains("g: NMI on vcpu 0 (1 so far)", _d.Run("dmesg", "g").Stdout, StringComparison.Ordinal);
        var unknown = _d.Run("trigger", "g", "nmii");
        Assert.Equal(1, unknown.ExitCode);
        Assert.Equal("domino: unknown trigger 'nmii' (expected nmi, reset, init, power, sleep or s3resume)", unknown.Stderr.Trim());
        Assert.Equal("domino: trigger init is not supported by the test driver (it sends power, reset and nmi)", _d.Run("trigger", "g", "init").Stderr.Trim());
        Assert.Equal(0, _d.Run("trigger", "g", "reset").ExitCode);
        WaitFor(() => _d.Run("list", "g").Stdout.Contains("---s--", StringComparison.Ordinal));
        Assert.Equal(0, _d.Run("create", "-q", _d.Config("h")).ExitCode);
        Assert.Equal(0, _d.Run("trigger", "h", "power").ExitCode);
        WaitFor(() => !_d.Run("list").Stdout.Contains("h ", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("on_crash", "crash", "preserve", "----c-")]
    [InlineData("on_watchdog", "watchdog", "preserve", "----c-")]
    [InlineData("on_poweroff", "poweroff", "preserve", "---s--")]
    [InlineData("on_reboot", "reboot", "restart", "r-----")]
    [InlineData("on_crash", "crash", "coredump-restart", "r-----")]
    public void Guest_events_apply_the_configured_action(string key, string injected, string action, string flags)
    {
        Assert.Equal(0, _d.Run("create", "-q", _d.Config("g", $"{key} = \"{action}\"")).ExitCode);
        Assert.Equal(0, _d.Run("inject", "g", injected).ExitCode);
        WaitFor(() => _d.Run("list", "-v", "g").Stdout.Contains(flags, StringComparison.Ordinal)
            && (action != "restart" && action != "coredump-restart" || _d.Run("domid", "g").Stdout.Trim() != "1"));
        if (action.StartsWith("coredump", StringComparison.Ordinal))
            Assert.Single(Directory.GetFiles(Path.Combine(_d.StateDir, "dumps"), "*.core"));
    }

    [Fact]
    public void Rename_restart_keeps_the_old_domain_under_a_new_name()
    {
        Assert.Equal(0, _d.Run("create", "-q", _d.Config("g", "on_reboot = \"rename-restart\"")).ExitCode);
        Assert.Equal(0, _d.Run("reboot", "g").ExitCode);
        WaitFor(() => _d.Run("list").Stdout.Split('\n').Count(l => l.StartsWith("g", StringComparison.Ordinal)) == 2);
        var list = _d.Run("list").Stdout;
        Assert.Matches(@"(?m)^g-\d{8}T\d{4}Z\s+1\s+.*---s--", list);
        Assert.Matches(@"(?m)^g\s+2\s+.*r-----", list);
    }

    [Fact]
    public void The_read_only_socket_answers_queries_and_refuses_changes()
    {
        Assert.Equal(0, _d.Run("create", "-q", _d.Config("web")).ExitCode);
        var mode = File.GetUnixFileMode(_d.Socket);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, mode);
        Assert.True(File.GetUnixFileMode(_d.Socket + ".ro").HasFlag(UnixFileMode.OtherWrite));
        Assert.StartsWith("HTTP/1.1 200", Http(_d.Socket + ".ro", "GET /domains HTTP/1.1"), StringComparison.Ordinal);
        var refused = Http(_d.Socket + ".ro", "POST /domains/web/pause HTTP/1.1");
        Assert.StartsWith("HTTP/1.1 403", refused, StringComparison.Ordinal);
        Assert.Contains("read-write socket", refused, StringComparison.Ordinal);
        Assert.Contains("r-----", _d.Run("list", "web").Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void The_openapi_document_describes_the_domain_endpoints()
    {
        var response = Http(_d.Socket, "GET /openapi.json HTTP/1.1");
        var body = response[(response.IndexOf("\r\n\r\n", StringComparison.Ordinal) + 4)..];
        using var doc = JsonDocument.Parse(Dechunk(body));
        var paths = doc.RootElement.GetProperty("paths");
        Assert.True(paths.TryGetProperty("/domains", out _));
        Assert.True(paths.TryGetProperty("/domains/{id}/pause", out _));
        Assert.True(paths.TryGetProperty("/events", out _));
    }

    [Fact]
    public async Task The_event_stream_reports_create_state_changes_and_destroy()
    {
        var events = _d.RunAsync(["events", "--json", "-n", "4"], TimeSpan.FromSeconds(30));
        await Task.Delay(1500); // let the subscription start
        Assert.Equal(0, _d.Run("create", "-q", _d.Config("web")).ExitCode);
        Assert.Equal(0, _d.Run("pause", "web").ExitCode);
        Assert.Equal(0, _d.Run("unpause", "web").ExitCode);
        Assert.Equal(0, _d.Run("destroy", "web").ExitCode);
        var r = await events;
        var kinds = r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => JsonDocument.Parse(l).RootElement).Select(e => (e.GetProperty("kind").GetString(), e.GetProperty("state").GetString())).ToList();
        Assert.Equal([("created", "running"), ("paused", "paused"), ("unpaused", "running"), ("destroyed", "dying")], kinds);
    }

    [Fact]
    public void Vcpu_pin_and_vcpu_list_show_hard_and_soft_affinity()
    {
        Assert.Equal(0, _d.Run("create", "-q", _d.Config("web", "vcpus = 2", "maxvcpus = 3")).ExitCode);
        Assert.Equal(0, _d.Run("vcpu-pin", "web", "1", "0", "0-1").ExitCode);
        Assert.Equal(0, _d.Run("vcpu-set", "web", "3").ExitCode);
        var list = _d.Run("vcpu-list", "web").Stdout;
        Assert.Contains("Affinity (Hard / Soft)", list, StringComparison.Ordinal);
        Assert.Matches(@"(?m)^web\s+1\s+1\s+\S+\s+\S+\s+\d+\.\d 0 / (0-1|all)$", list); // xl prints a set of every host CPU as "all"
        var tooMany = _d.Run("vcpu-set", "web", "4");
        Assert.Equal(1, tooMany.ExitCode);
        Assert.Contains("outside 1..3", tooMany.Stderr, StringComparison.Ordinal);
        Assert.Equal(0, _d.Run("mem-set", "web", "32m").ExitCode);
        Assert.Matches(@"(?m)^web\s+1\s+32\s+3\s", _d.Run("list").Stdout);
    }

    [Fact]
    public void Config_errors_stop_the_create_with_file_line_and_column()
    {
        var cfg = _d.Config("bad", "on_reboot = \"restrat\"");
        var r = _d.Run("create", cfg);
        Assert.Equal(1, r.ExitCode);
        Assert.Matches($@"{System.Text.RegularExpressions.Regex.Escape(cfg)}:\d+:\d+: error:", r.Stderr);
        Assert.Single(_d.Run("list").Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [Fact]
    public void Domains_survive_a_daemon_restart()
    {
        Assert.Equal(0, _d.Run("create", "-q", _d.Config("a")).ExitCode);
        Assert.Equal(0, _d.Run("create", "-q", "-p", _d.Config("b")).ExitCode);
        _d.StopDaemon();
        _d.StartDaemon();
        var list = _d.Run("list").Stdout;
        Assert.Matches(@"(?m)^a\s+1\s+.*r-----", list);
        Assert.Matches(@"(?m)^b\s+2\s+.*--p---", list);
    }

    internal static void WaitFor(Func<bool> condition, int seconds = 15)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException("condition not reached");
            Thread.Sleep(100);
        }
    }

    /// <summary>One raw HTTP/1.1 request over a Unix socket; the whole response as text.</summary>
    internal static string Http(string socketPath, string requestLine)
    {
        using var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        s.Connect(new UnixDomainSocketEndPoint(socketPath));
        s.Send(System.Text.Encoding.ASCII.GetBytes($"{requestLine}\r\nHost: domino\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"));
        using var ms = new MemoryStream();
        var buffer = new byte[8192];
        int n;
        while ((n = s.Receive(buffer)) > 0) ms.Write(buffer, 0, n);
        return System.Text.Encoding.UTF8.GetString(ms.ToArray());
    }

    private static string Dechunk(string body)
    {
        if (body.TrimStart().StartsWith('{')) return body;
        var sb = new System.Text.StringBuilder();
        var rest = body;
        while (true)
        {
            var eol = rest.IndexOf("\r\n", StringComparison.Ordinal);
            var size = Convert.ToInt32(rest[..eol], 16);
            if (size == 0) break;
            sb.Append(rest.AsSpan(eol + 2, size));
            rest = rest[(eol + 2 + size + 2)..];
        }
        return sb.ToString();
    }
}
