using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Domino.Toolstack.Domains;
using Xunit;

namespace Domino.Toolstack.Tests;

/// <summary>
/// Live migration between two toolstacks (test driver) through a proxy that drops the link at each
/// point of the handover. Whatever happens, the domain never runs in two places; the source ends
/// as docs/migration.md says, and a target that never got go keeps nothing.
/// </summary>
public sealed class MigrationHandoverTests : IDisposable
{
    private static readonly CancellationToken None = CancellationToken.None;
    private readonly ToolstackFixture _source = new();
    private readonly ToolstackFixture _target = new();
    private readonly TcpListener _targetListener = new(IPAddress.Loopback, 0);
    private readonly TcpListener _proxyListener = new(IPAddress.Loopback, 0);
    private readonly List<Task> _accepted = [];
    private readonly Func<bool, string?, bool> _drop;
    private readonly CancellationTokenSource _stop = new();

    public MigrationHandoverTests()
    {
        _targetListener.Start();
        _proxyListener.Start();
        _drop = (fromSource, kind) => Cut is { } c && c.FromSource == fromSource && c.Kind == kind;
        _ = Task.Run(ServeTarget);
        _ = Task.Run(ServeProxy);
    }

    /// <summary>The message (direction, kind) at which the proxy drops the link instead of forwarding it.</summary>
    private (bool FromSource, string Kind)? Cut { get; set; }

    private int ProxyPort => ((IPEndPoint)_proxyListener.LocalEndpoint).Port;

    private string TargetAddress => $"127.0.0.1:{ProxyPort}";

    public void Dispose()
    {
        _stop.Cancel();
        _targetListener.Stop();
        _proxyListener.Stop();
        _source.Dispose();
        _target.Dispose();
    }

    private async Task ServeTarget()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try { client = await _targetListener.AcceptTcpClientAsync(_stop.Token); }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException) { return; }
            var served = Task.Run(async () =>
            {
                using (client) await _target.Service.AcceptMigrationAsync(client.GetStream(), "proxy", _stop.Token);
            });
            lock (_accepted) _accepted.Add(served);
        }
    }

    /// <summary>Forwards JSON lines between source and target; drops both connections at <see cref="Cut"/>.</summary>
    private async Task ServeProxy()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient fromSource;
            try { fromSource = await _proxyListener.AcceptTcpClientAsync(_stop.Token); }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException) { return; }
            var toTarget = new TcpClient();
            await toTarget.ConnectAsync(IPAddress.Loopback, ((IPEndPoint)_targetListener.LocalEndpoint).Port);
            var cut = new CancellationTokenSource();
            void CutLink()
            {
                cut.Cancel();
                fromSource.Close();
                toTarget.Close();
            }
            _ = Task.Run(() => Pump(fromSource.GetStream(), toTarget.GetStream(), true, CutLink, cut.Token));
            _ = Task.Run(() => Pump(toTarget.GetStream(), fromSource.GetStream(), false, CutLink, cut.Token));
        }
    }

    private async Task Pump(Stream from, Stream to, bool fromSource, Action cutLink, CancellationToken cut)
    {
        var line = new List<byte>();
        var one = new byte[1];
        try
        {
            while (await from.ReadAsync(one, cut) == 1)
            {
                line.Add(one[0]);
                if (one[0] != (byte)'\n') continue;
                if (_drop(fromSource, KindOf(line)))
                {
                    cutLink();
                    return;
                }
                await to.WriteAsync(line.ToArray(), cut);
                line.Clear();
            }
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or ObjectDisposedException) { }
        cutLink();
    }

    private static string? KindOf(List<byte> line)
    {
        try
        {
            using var doc = JsonDocument.Parse(line.ToArray());
            return doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("kind", out var k) ? k.GetString() : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>Waits until the target has finished with every connection it accepted.</summary>
    private async Task TargetDone()
    {
        Task[] tasks;
        lock (_accepted) tasks = [.. _accepted];
        await Task.WhenAll(tasks).WaitAsync(TimeSpan.FromSeconds(20));
    }

    private async Task<Guid> CreateWeb() => (await _source.Create(ToolstackFixture.Spec("web"))).Uuid;

    /// <summary>The invariant: at no point does the domain run on both sides.</summary>
    private void AssertNotRunningTwice(Guid uuid) =>
        Assert.False(_source.Driver.IsRunning(uuid) && _target.Driver.IsRunning(uuid), "the domain runs on both hosts");

    private void AssertTargetClean(Guid uuid)
    {
        Assert.Null(_target.Find("web"));
        Assert.False(_target.Driver.IsRunning(uuid));
        Assert.DoesNotContain(uuid, _target.Driver.MarkedGuests());
    }

    [Fact]
    public async Task Completed_handover_leaves_one_copy_on_the_target()
    {
        var uuid = await CreateWeb();
        var result = await _source.Service.MigrateAsync("web", "127.0.0.1", ProxyPort, None);
        await TargetDone();
        Assert.Null(_source.Find("web"));
        Assert.False(_source.Driver.IsRunning(uuid));
        Assert.Equal("running", _target.Find("web")!.State);
        Assert.True(_target.Driver.IsRunning(uuid));
        Assert.NotNull(result.Migration);
    }

    [Fact]
    public async Task Link_lost_before_the_target_is_ready_keeps_the_domain_running_here_and_nothing_there()
    {
        var uuid = await CreateWeb();
        Cut = (false, "ready");
        var e = await Assert.ThrowsAsync<ToolstackException>(() => _source.Service.MigrateAsync("web", "127.0.0.1", ProxyPort, None));
        Assert.IsNotType<HandoverOutcomeUnknownException>(e.InnerException);
        Assert.Contains("keeps running here", e.Message);
        await TargetDone();
        var here = _source.Find("web")!;
        Assert.Equal(("running", "r-----"), (here.State, here.Flags));
        Assert.True(_source.Driver.IsRunning(uuid));
        AssertTargetClean(uuid);
        AssertNotRunningTwice(uuid);
    }

    [Fact]
    public async Task Link_lost_after_ready_with_go_undelivered_leaves_the_domain_paused_here_and_nothing_there()
    {
        var uuid = await CreateWeb();
        Cut = (true, "go");
        var e = await Assert.ThrowsAsync<ToolstackException>(() => _source.Service.MigrateAsync("web", "127.0.0.1", ProxyPort, None));
        Assert.Contains("stays paused here", e.Message);
        await TargetDone();
        // The source cannot tell a lost go from a lost answer: it keeps the domain paused.
        var here = _source.Find("web")!;
        Assert.Equal(("paused", DomainService.OutcomeUnknownReason(TargetAddress)), (here.State, here.Reason));
        Assert.False(_source.Driver.IsRunning(uuid));
        AssertTargetClean(uuid); // it never got go
        // The user looks at the target, finds nothing, and resumes it here.
        await _source.Service.UnpauseAsync("web", None);
        Assert.True(_source.Driver.IsRunning(uuid));
        AssertNotRunningTwice(uuid);
    }

    [Fact]
    public async Task Link_lost_after_go_leaves_the_domain_paused_here_running_there_and_survives_a_daemon_restart()
    {
        var uuid = await CreateWeb();
        Cut = (false, "started");
        var e = await Assert.ThrowsAsync<ToolstackException>(() => _source.Service.MigrateAsync("web", "127.0.0.1", ProxyPort, None));
        Assert.Contains("stays paused here", e.Message);
        Assert.Contains($"check {TargetAddress}", e.Message);
        await TargetDone();
        var here = _source.Find("web")!;
        Assert.Equal(("paused", "--p---", DomainService.OutcomeUnknownReason(TargetAddress)), (here.State, here.Flags, here.Reason));
        Assert.False(_source.Driver.IsRunning(uuid));
        Assert.Equal("running", _target.Find("web")!.State);
        Assert.True(_target.Driver.IsRunning(uuid));
        AssertNotRunningTwice(uuid);

        // Persisted: a daemon restarted here still holds it paused with the same reason.
        var record = _source.Store.LoadAll().Single(r => r.Record.Uuid == uuid).Record;
        Assert.Equal(("paused", DomainService.OutcomeUnknownReason(TargetAddress)), (record.State, record.Reason));
        var restarted = new ToolstackFixture(_source.StateDir); // not disposed: that would delete the shared state dir
        await restarted.Service.RecoverAsync(None);
        Assert.Equal(("paused", DomainService.OutcomeUnknownReason(TargetAddress)), (restarted.Find("web")!.State, restarted.Find("web")!.Reason));
        restarted.Subscription.Dispose();

        // The user sees it runs on the target and destroys the copy here.
        await _source.Service.DestroyAsync("web", None);
        Assert.Null(_source.Find("web"));
        Assert.True(_target.Driver.IsRunning(uuid));
    }
}
