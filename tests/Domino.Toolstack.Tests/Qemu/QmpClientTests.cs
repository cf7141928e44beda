using System.Collections.Concurrent;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Domino.Toolstack.Drivers.Qemu;
using Xunit;

namespace Domino.Toolstack.Tests.Qemu;

/// <summary>
/// The QMP client against a monitor that speaks the protocol as QEMU does (greeting, capabilities
/// negotiation, id-tagged replies, errors, events interleaved with replies, the socket closing).
/// </summary>
public sealed class QmpClientTests : IAsyncDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("qmp-").FullName;
    private readonly Socket _listener = new(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
    private readonly ConcurrentQueue<string> _received = new();
    private Socket? _peer;

    private string SocketPath => Path.Combine(_dir, "qmp.sock");

    /// <summary>A scripted monitor: answers each command with <paramref name="answer"/>(command, id).</summary>
    private Task Serve(Func<string, JsonNode?, IEnumerable<string>> answer)
    {
        _listener.Bind(new UnixDomainSocketEndPoint(SocketPath));
        _listener.Listen(1);
        return Task.Run(async () =>
        {
            _peer = await _listener.AcceptAsync();
            await using var stream = new NetworkStream(_peer, ownsSocket: false);
            var writer = new StreamWriter(stream, new UTF8Encoding(false)) { NewLine = "\r\n", AutoFlush = true };
            await writer.WriteLineAsync("""{"QMP": {"version": {"qemu": {"micro": 22, "minor": 2, "major": 7}, "package": ""}, "capabilities": ["oob"]}}""");
            using var reader = new StreamReader(stream);
            var negotiated = false;
            while (await reader.ReadLineAsync() is { } line)
            {
                var msg = JsonNode.Parse(line)!;
                var command = msg["execute"]!.GetValue<string>();
                _received.Enqueue(command);
                var id = msg["id"];
                if (!negotiated && command != "qmp_capabilities")
                {
                    await writer.WriteLineAsync($$$"""{"id": {{{id}}}, "error": {"class": "CommandNotFound", "desc": "Expecting capabilities negotiation with 'qmp_capabilities'"}}""");
                    continue;
                }
                negotiated = true;
                foreach (var reply in answer(command, id)) await writer.WriteLineAsync(reply);
            }
        });
    }

    [Fact]
    public async Task Negotiates_capabilities_then_matches_replies_to_commands_and_delivers_events()
    {
        _ = Serve((command, id) => command switch
        {
            "qmp_capabilities" => [$$"""{"return": {}, "id": {{id}}}"""],
            "query-cpus-fast" =>
            [
                // An event may arrive between a command and its reply.
                """{"timestamp": {"seconds": 1, "microseconds": 2}, "event": "STOP"}""",
                $$"""{"return": [{"cpu-index": 0, "thread-id": 4242, "qom-path": "/machine/unattached/device[0]", "target": "x86_64"}], "id": {{id}}}""",
            ],
            "system_powerdown" =>
            [
                $$"""{"return": {}, "id": {{id}}}""",
                """{"timestamp": {"seconds": 3, "microseconds": 4}, "event": "SHUTDOWN", "data": {"guest": true, "reason": "guest-shutdown"}}""",
            ],
            _ => [$$$"""{"id": {{{id}}}, "error": {"class": "CommandNotFound", "desc": "The command {{{command}}} has not been found"}}"""],
        });
        var events = new ConcurrentQueue<QmpEvent>();
        await using var qmp = await QmpClient.ConnectAsync(SocketPath, events.Enqueue, CancellationToken.None);

        Assert.Equal("7.2.22", qmp.Version);
        var cpus = await qmp.ExecuteAsync("query-cpus-fast", null, CancellationToken.None);
        Assert.Equal(4242, cpus[0].GetProperty("thread-id").GetInt32());
        await qmp.ExecuteAsync("system_powerdown", null, CancellationToken.None);

        var e = await Assert.ThrowsAsync<QmpException>(() => qmp.ExecuteAsync("frobnicate", new JsonObject { ["x"] = 1 }, CancellationToken.None));
        Assert.Equal("CommandNotFound", e.ErrorClass);
        Assert.Contains("frobnicate", e.Message, StringComparison.Ordinal);

        Assert.Equal(["qmp_capabilities", "query-cpus-fast", "system_powerdown", "frobnicate"], _received);
        await WaitUntil(() => events.Count == 2);
        var shutdown = events.Last();
        Assert.Equal(["STOP", "SHUTDOWN"], events.Select(x => x.Name));
        Assert.Equal("guest-shutdown", shutdown.GetString("reason"));
        Assert.True(shutdown.GetBool("guest"));
    }

    [Fact]
    public async Task When_qemu_goes_away_pending_commands_fail_and_closed_completes()
    {
        _ = Serve((command, id) => command == "qmp_capabilities" ? [$$"""{"return": {}, "id": {{id}}}"""] : []);
        await using var qmp = await QmpClient.ConnectAsync(SocketPath, _ => { }, CancellationToken.None);
        var pending = qmp.ExecuteAsync("quit", null, CancellationToken.None);
        await WaitUntil(() => _received.Contains("quit"));
        _peer!.Shutdown(SocketShutdown.Both);
        _peer.Close();
        await Assert.ThrowsAsync<IOException>(() => pending);
        await qmp.Closed.WaitAsync(TimeSpan.FromSeconds(5));
        await Assert.ThrowsAsync<IOException>(() => qmp.ExecuteAsync("cont", null, CancellationToken.None));
    }

    [Fact]
    public async Task A_command_can_be_cancelled_while_waiting_for_its_reply()
    {
        _ = Serve((command, id) => command == "qmp_capabilities" ? [$$"""{"return": {}, "id": {{id}}}"""] : []);
        await using var qmp = await QmpClient.ConnectAsync(SocketPath, _ => { }, CancellationToken.None);
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => qmp.ExecuteAsync("query-status", null, cts.Token));
    }

    private static async Task WaitUntil(Func<bool> condition)
    {
        for (var i = 0; i < 200 && !condition(); i++) await Task.Delay(10);
        Assert.True(condition());
    }

    public ValueTask DisposeAsync()
    {
        _peer?.Dispose();
        _listener.Dispose();
        Directory.Delete(_dir, recursive: true);
        return ValueTask.CompletedTask;
    }
}
