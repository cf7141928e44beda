using Domino.Toolstack.Domains;
using Domino.Toolstack.Events;
using Xunit;

namespace Domino.Toolstack.Tests;

/// <summary>Every action of every on_* key, driven by the test driver's injected guest events.</summary>
public sealed class LifecycleActionTests : IDisposable
{
    private readonly ToolstackFixture _ts = new();

    public void Dispose() => _ts.Dispose();

    public static TheoryData<GuestExit, LifecycleAction> AllCases()
    {
        var data = new TheoryData<GuestExit, LifecycleAction>();
        foreach (var exit in new[] { GuestExit.Poweroff, GuestExit.Reboot, GuestExit.Crash, GuestExit.Watchdog })
            foreach (var action in Enum.GetValues<LifecycleAction>())
                data.Add(exit, action);
        return data;
    }

    [Theory]
    [MemberData(nameof(AllCases))]
    public async Task Each_exit_applies_its_configured_action(GuestExit exit, LifecycleAction action)
    {
        var spec = ToolstackFixture.Spec("g") with
        {
            OnPoweroff = exit == GuestExit.Poweroff ? action : LifecycleAction.Destroy,
            OnReboot = exit == GuestExit.Reboot ? action : LifecycleAction.Destroy,
            OnCrash = exit == GuestExit.Crash ? action : LifecycleAction.Destroy,
            OnWatchdog = exit == GuestExit.Watchdog ? action : LifecycleAction.Destroy,
        };
        var before = await _ts.Create(spec);
        await _ts.Service.InjectAsync("g", exit, CancellationToken.None);
        await _ts.Service.DrainAsync();

        var crashed = exit is GuestExit.Crash or GuestExit.Watchdog;
        var exitedState = crashed ? "crashed" : "shutdown";
        var all = _ts.Service.Domains().Select(d => d.Snapshot()).ToList();
        var events = _ts.TakeEvents();
        if (action != LifecycleAction.SoftReset) // a soft reset never leaves the running state
            Assert.Contains(events, e => e.Kind == (crashed ? DomainEventKind.Crashed : DomainEventKind.Shutdown));
        var dumps = Directory.GetFiles(_ts.Store.DumpsDir);

        switch (action)
        {
            case LifecycleAction.Destroy:
                Assert.Empty(all);
                Assert.Equal(DomainEventKind.Destroyed, events[^1].Kind);
                break;
            case LifecycleAction.Preserve:
                var kept = Assert.Single(all);
                Assert.Equal(exitedState, kept.State);
                Assert.Equal(DomainStates.XlFlags(DomainStates.Parse(exitedState)), kept.Flags);
                Assert.Equal(before.DomId, kept.DomId);
                break;
            case LifecycleAction.Restart:
                var restarted = Assert.Single(all);
                Assert.Equal("running", restarted.State);
                Assert.NotEqual(before.DomId, restarted.DomId);
                Assert.Equal(before.Uuid, restarted.Uuid);
                break;
            case LifecycleAction.RenameRestart:
                Assert.Equal(2, all.Count);
                var fresh = Assert.Single(all, d => d.Name == "g");
                Assert.Equal("running", fresh.State);
                Assert.NotEqual(before.Uuid, fresh.Uuid);
                var old = Assert.Single(all, d => d.Name != "g");
                Assert.StartsWith("g-", old.Name, StringComparison.Ordinal);
                Assert.Equal(exitedState, old.State);
                Assert.Equal(before.Uuid, old.Uuid);
                break;
            case LifecycleAction.CoredumpDestroy:
                Assert.Empty(all);
                AssertElfCore(Assert.Single(dumps));
                break;
            case LifecycleAction.CoredumpRestart:
                Assert.Equal("running", Assert.Single(all).State);
                AssertElfCore(Assert.Single(dumps));
                break;
            case LifecycleAction.SoftReset:
                var reset = Assert.Single(all);
                Assert.Equal("running", reset.State);
                Assert.Equal(before.DomId, reset.DomId);
                Assert.Equal("soft-reset", reset.Reason);
                break;
        }
        if (action is not (LifecycleAction.CoredumpDestroy or LifecycleAction.CoredumpRestart)) Assert.Empty(dumps);
    }

    private static void AssertElfCore(string path)
    {
        var bytes = File.ReadAllBytes(path);
        Assert.Equal("\x7f" + "ELF", System.Text.Encoding.ASCII.GetString(bytes, 0, 4));
        Assert.Equal(4, BitConverter.ToUInt16(bytes, 16));  // ET_CORE
        Assert.Equal(62, BitConverter.ToUInt16(bytes, 18)); // EM_X86_64
        Assert.True(bytes.Length > 1 << 20);
    }
}
