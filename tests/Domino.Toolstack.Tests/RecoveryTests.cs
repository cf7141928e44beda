using Domino.Toolstack.Domains;
using Domino.Toolstack.Store;
using Xunit;

namespace Domino.Toolstack.Tests;

/// <summary>What a restarted daemon finds: a second toolstack over the same state dir.</summary>
public sealed class RecoveryTests : IDisposable
{
    private readonly ToolstackFixture _first = new();
    private ToolstackFixture? _second;

    public void Dispose()
    {
        _second?.Subscription.Dispose();
        _first.Dispose();
    }

    private async Task<ToolstackFixture> Restart()
    {
        _second = new ToolstackFixture(_first.StateDir);
        await _second.Service.RecoverAsync(CancellationToken.None);
        await _second.Service.DrainAsync();
        return _second;
    }

    [Fact]
    public async Task Running_and_paused_domains_are_re_attached()
    {
        await _first.Create(ToolstackFixture.Spec("a"));
        await _first.Create(ToolstackFixture.Spec("b"), paused: true);
        var ts = await Restart();
        Assert.Equal("running", ts.Find("a")!.State);
        Assert.Equal("paused", ts.Find("b")!.State);
        var c = await ts.Create(ToolstackFixture.Spec("c"));
        Assert.Equal(3, c.DomId); // domids continue after the recorded ones
    }

    [Fact]
    public async Task A_vanished_guest_is_treated_as_crashed()
    {
        var info = await _first.Create(ToolstackFixture.Spec("a") with { OnCrash = LifecycleAction.Preserve });
        await _first.Create(ToolstackFixture.Spec("b"));
        File.Delete(Path.Combine(_first.StateDir, "test", $"{info.Uuid}.json"));
        var ts = await Restart();
        var a = ts.Find("a")!;
        Assert.Equal("crashed", a.State);
        Assert.Equal("crash", a.Reason);
        Assert.Equal("running", ts.Find("b")!.State);
    }

    [Fact]
    public async Task An_unacknowledged_create_is_rolled_back()
    {
        var spec = ToolstackFixture.Spec("half") with { Uuid = Guid.NewGuid() };
        _first.Store.Save(new DomainRecord { Uuid = spec.Uuid, Name = "half", DomId = 7, Spec = spec, State = "creating", Reason = "creating" }, "{}");
        var ts = await Restart();
        Assert.Null(ts.Find("half"));
        Assert.Empty(Directory.GetDirectories(ts.Store.DomainsDir));
    }

    [Fact]
    public async Task Atomic_writes_leave_no_temporary_files()
    {
        await _first.Create(ToolstackFixture.Spec("a"));
        await _first.Service.PauseAsync("a", CancellationToken.None);
        var files = Directory.GetFiles(_first.StateDir, "*", SearchOption.AllDirectories);
        Assert.DoesNotContain(files, f => f.EndsWith(".tmp", StringComparison.Ordinal));
        var record = _first.Store.LoadAll().Single().Record;
        Assert.Equal("paused", record.State);
        Assert.Equal("user", record.Reason);
    }
}
