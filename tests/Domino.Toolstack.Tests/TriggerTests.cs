using System.Text;
using Domino.Toolstack.Domains;
using Domino.Toolstack.Events;
using Xunit;

namespace Domino.Toolstack.Tests;

/// <summary>xl trigger through the DomainService on the test driver: names, states, vCPUs and what each trigger does.</summary>
public sealed class TriggerTests : IDisposable
{
    private readonly ToolstackFixture _ts = new();
    private static readonly CancellationToken None = CancellationToken.None;

    public void Dispose() => _ts.Dispose();

    private async Task<string> Console(string name) => Encoding.ASCII.GetString(await _ts.Service.ConsoleHistoryAsync(_ts.Service.Lookup(name), None));

    [Fact]
    public async Task Power_presses_the_button_and_the_guest_powers_off_under_on_poweroff()
    {
        await _ts.Create(ToolstackFixture.Spec("web"));
        var info = await _ts.Service.TriggerAsync("web", "power", null, None);
        Assert.Equal("running", info.State); // a trigger asks nothing of the toolstack's state
        await DomainServiceTests.WaitUntil(() => _ts.Find("web") is null);
        var kinds = new List<DomainEventKind>();
        await DomainServiceTests.WaitUntil(() =>
        {
            kinds.AddRange(_ts.TakeEvents().Select(e => e.Kind));
            return kinds.Contains(DomainEventKind.Destroyed);
        });
        Assert.Equal([DomainEventKind.Created, DomainEventKind.Shutdown, DomainEventKind.Destroyed], kinds);
    }

    [Fact]
    public async Task Reset_ends_the_guest_as_a_reboot_and_on_reboot_restarts_it()
    {
        var before = await _ts.Create(ToolstackFixture.Spec("web"));
        await _ts.Service.TriggerAsync("web", "reset", null, None);
        await DomainServiceTests.WaitUntil(() => _ts.Find("web") is { State: "running" } d && d.DomId != before.DomId);
        Assert.Equal(1, _ts.Find("web")!.Restarts);
    }

    [Fact]
    public async Task Nmi_reaches_the_named_vcpu_and_the_guest_keeps_running()
    {
        await _ts.Create(ToolstackFixture.Spec("web"));
        await _ts.Service.TriggerAsync("web", "nmi", 1, None);
        await _ts.Service.TriggerAsync("web", "nmi", null, None);
        var console = await Console("web");
        Assert.Contains("web: NMI on vcpu 1 (1 so far)", console, StringComparison.Ordinal);
        Assert.Contains("web: NMI on vcpu 0 (2 so far)", console, StringComparison.Ordinal);
        Assert.Equal("running", _ts.Find("web")!.State);
    }

    [Fact]
    public async Task A_power_button_pressed_while_paused_acts_on_unpause()
    {
        await _ts.Create(ToolstackFixture.Spec("web"));
        await _ts.Service.PauseAsync("web", None);
        await _ts.Service.TriggerAsync("web", "power", null, None);
        await Task.Delay(100);
        Assert.Equal("paused", _ts.Find("web")!.State);
        await _ts.Service.UnpauseAsync("web", None);
        await DomainServiceTests.WaitUntil(() => _ts.Find("web") is null);
    }

    [Theory]
    [InlineData("init")]
    [InlineData("sleep")]
    [InlineData("s3resume")]
    public async Task Triggers_the_driver_cannot_send_are_refused_as_unsupported(string trigger)
    {
        await _ts.Create(ToolstackFixture.Spec("web"));
        var e = await Assert.ThrowsAsync<ToolstackException>(() => _ts.Service.TriggerAsync("web", trigger, null, None));
        Assert.Equal(ErrorKind.Unsupported, e.Kind);
        Assert.Equal($"trigger {trigger} is not supported by the test driver (it sends power, reset and nmi)", e.Message);
    }

    [Fact]
    public async Task Unknown_triggers_bad_vcpus_and_dead_domains_are_refused()
    {
        await _ts.Create(ToolstackFixture.Spec("web"));
        var unknown = await Assert.ThrowsAsync<ToolstackException>(() => _ts.Service.TriggerAsync("web", "nmii", null, None));
        Assert.Equal(ErrorKind.Invalid, unknown.Kind);
        Assert.Equal("unknown trigger 'nmii' (expected nmi, reset, init, power, sleep or s3resume)", unknown.Message);

        var vcpu = await Assert.ThrowsAsync<ToolstackException>(() => _ts.Service.TriggerAsync("web", "nmi", 4, None));
        Assert.Equal("domain 'web' has no vcpu 4 (it has 4: 0..3)", vcpu.Message);
        var offline = await Assert.ThrowsAsync<ToolstackException>(() => _ts.Service.TriggerAsync("web", "nmi", 3, None));
        Assert.Equal("domain 'web' has 2 vcpu(s) online: no vcpu 3", offline.Message);

        var missing = await Assert.ThrowsAsync<ToolstackException>(() => _ts.Service.TriggerAsync("nobody", "power", null, None));
        Assert.Equal(ErrorKind.NotFound, missing.Kind);

        await _ts.Create(ToolstackFixture.Spec("kept") with { OnPoweroff = LifecycleAction.Preserve });
        await _ts.Service.TriggerAsync("kept", "power", null, None);
        await DomainServiceTests.WaitUntil(() => _ts.Find("kept")?.State == "shutdown");
        var dead = await Assert.ThrowsAsync<ToolstackException>(() => _ts.Service.TriggerAsync("kept", "power", null, None));
        Assert.Equal(ErrorKind.InvalidState, dead.Kind);
        Assert.Equal("cannot send trigger power to domain 'kept' (state: shutdown)", dead.Message);
    }
}
