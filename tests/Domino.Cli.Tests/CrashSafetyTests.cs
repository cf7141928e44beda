using System.Diagnostics;
using System.Text.Json;
using Xunit;

namespace Domino.Cli.Tests;

/// <summary>SIGKILL of the daemon in the middle of work loses no domain and leaves no orphan.</summary>
public sealed class CrashSafetyTests : IDisposable
{
    private readonly DominoRunner _d = new();

    public void Dispose() => _d.Dispose();

    [Fact]
    public async Task Killing_the_daemon_during_20_concurrent_creates_leaves_a_consistent_state()
    {
        _d.StartDaemon();
        // Each create takes ~1.5 s in the test driver, so the kill lands while most are in flight.
        var creates = Enumerable.Range(0, 20).Select(i => _d.RunAsync(
            ["create", "-q", _d.Config($"vm{i}", "cmdline = \"test.start_delay_ms=1500\"")], TimeSpan.FromSeconds(60))).ToList();
        var sw = Stopwatch.StartNew();
        while (Directory.GetDirectories(Path.Combine(_d.StateDir, "domains")).Length < 10 && sw.Elapsed < TimeSpan.FromSeconds(30))
            await Task.Delay(20);
        _d.KillDaemon();
        var results = await Task.WhenAll(creates);
        var acknowledged = results.Select((r, i) => (r, i)).Where(x => x.r.ExitCode == 0).Select(x => $"vm{x.i}").ToHashSet();

        _d.StartDaemon();
        var list = JsonDocument.Parse(TestDriverEndToEndTests.Http(_d.Socket, "GET /domains HTTP/1.1") is var http
            ? Body(http) : "[]").RootElement.EnumerateArray().ToList();

        // Every create the client saw succeed is there, running; nothing is left half-created.
        var names = list.Select(d => d.GetProperty("name").GetString()!).ToHashSet();
        Assert.Subset(names, acknowledged);
        Assert.All(list, d => Assert.Equal("running", d.GetProperty("state").GetString()));
        Assert.Equal(names.Count, list.Select(d => d.GetProperty("domid").GetInt32()).Distinct().Count());

        // No orphan: every guest the driver holds has a record, and every record a guest.
        var records = Directory.GetDirectories(Path.Combine(_d.StateDir, "domains")).Select(Path.GetFileName).ToHashSet();
        var guests = Directory.GetFiles(Path.Combine(_d.StateDir, "test"), "*.json").Select(Path.GetFileNameWithoutExtension).ToHashSet();
        Assert.Equal(records, guests);
        Assert.Equal(list.Count, records.Count);
        Assert.True(list.Count < 20 || acknowledged.Count == 20, "the kill landed after every create had finished");
    }

    private static string Body(string http)
    {
        var body = http[(http.IndexOf("\r\n\r\n", StringComparison.Ordinal) + 4)..];
        if (body.StartsWith('[')) return body;
        var sb = new System.Text.StringBuilder();
        while (true)
        {
            var eol = body.IndexOf("\r\n", StringComparison.Ordinal);
            var size = Convert.ToInt32(body[..eol], 16);
            if (size == 0) break;
            sb.Append(body.AsSpan(eol + 2, size));
            body = body[(eol + 2 + size + 2)..];
        }
        return sb.ToString();
    }
}
