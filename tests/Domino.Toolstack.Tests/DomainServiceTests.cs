using Domino.Toolstack.Domains;
using Domino.Toolstack.Events;
using Xunit;

namespace Domino.Toolstack.Tests;

public sealed class DomainServiceTests : IDisposable
{
    private readonly ToolstackFixture _ts = new();
    private static readonly CancellationToken None = CancellationToken.None;

    public void Dispose() => _ts.Dispose();

    [Fact]
    public async Task Create_records_the_domain_running_and_emits_created()
    {
        var info = await _ts.Create(ToolstackFixture.Spec("web"));
        Assert.Equal("running", info.State);
        Assert.Equal("r-----", info.Flags);
        Assert.Equal(1, info.DomId);
        Assert.Equal(64, info.MemoryMb);
        var e = Assert.Single(_ts.TakeEvents());
        Assert.Equal(DomainEventKind.Created, e.Kind);
        Assert.True(File.Exists(Path.Combine(_ts.Store.DomainDir(info.Uuid), "record.json")));
        Assert.True(File.Exists(Path.Combine(_ts.Store.DomainDir(info.Uuid), "config.json")));
    }

    [Fact]
    public async Task Create_paused_then_unpause_boots_the_guest()
    {
        var info = await _ts.Create(ToolstackFixture.Spec("p"), paused: true);
        Assert.Equal("--p---", info.Flags);
        await _ts.Service.UnpauseAsync("p", None);
        Assert.Equal("running", _ts.Find("p")!.State);
        var console = System.Text.Encoding.ASCII.GetString(await _ts.Service.ConsoleHistoryAsync(_ts.Service.Lookup("p"), None));
        Assert.Contains("p: running", console, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Duplicate_name_is_refused_before_anything_is_created()
    {
        await _ts.Create(ToolstackFixture.Spec("web"));
        var e = await Assert.ThrowsAsync<ToolstackException>(() => _ts.Create(ToolstackFixture.Spec("web")));
        Assert.Equal(ErrorKind.Conflict, e.Kind);
        Assert.Contains("domain 'web' already exists", e.Message, StringComparison.Ordinal);
        Assert.Single(Directory.GetDirectories(_ts.Store.DomainsDir));
        Assert.Single(_ts.Driver.MarkedGuests());
    }

    [Fact]
    public async Task Unpause_of_a_running_domain_is_refused_naming_the_state()
    {
        await _ts.Create(ToolstackFixture.Spec("web"));
        var e = await Assert.ThrowsAsync<ToolstackException>(() => _ts.Service.UnpauseAsync("web", None));
        Assert.Equal("cannot unpause domain 'web' (state: running)", e.Message);
        Assert.Equal(ErrorKind.InvalidState, e.Kind);
    }

    [Fact]
    public async Task Pause_unpause_destroy_follow_the_state_machine_with_events()
    {
        await _ts.Create(ToolstackFixture.Spec("web"));
        await _ts.Service.PauseAsync("web", None);
        Assert.Equal("--p---", _ts.Find("web")!.Flags);
        await Assert.ThrowsAsync<ToolstackException>(() => _ts.Service.PauseAsync("web", None));
        await _ts.Service.UnpauseAsync("1", None); // by domid
        await _ts.Service.DestroyAsync("web", None);
        Assert.Null(_ts.Find("web"));
        Assert.Empty(Directory.GetDirectories(_ts.Store.DomainsDir));
        Assert.Empty(_ts.Driver.MarkedGuests());
        Assert.Equal(
            [DomainEventKind.Created, DomainEventKind.Paused, DomainEventKind.Unpaused, DomainEventKind.Destroyed],
            _ts.TakeEvents().Select(e => e.Kind));
    }

    [Fact]
    public async Task Lookup_accepts_name_domid_and_uuid_and_names_the_missing_one()
    {
        var info = await _ts.Create(ToolstackFixture.Spec("web"));
        Assert.Equal("web", _ts.Service.Lookup(info.Uuid.ToString()).Name);
        Assert.Equal("web", _ts.Service.Lookup(info.DomId.ToString(System.Globalization.CultureInfo.InvariantCulture)).Name);
        var e = Assert.Throws<ToolstackException>(() => _ts.Service.Lookup("nope"));
        Assert.Equal("domain 'nope' does not exist", e.Message);
    }

    [Fact]
    public async Task Rename_moves_the_name_and_refuses_a_taken_one()
    {
        await _ts.Create(ToolstackFixture.Spec("a"));
        await _ts.Create(ToolstackFixture.Spec("b"));
        await _ts.Service.RenameAsync("a", "c", None);
        Assert.NotNull(_ts.Find("c"));
        Assert.Null(_ts.Find("a"));
        var e = await Assert.ThrowsAsync<ToolstackException>(() => _ts.Service.RenameAsync("c", "b", None));
        Assert.Equal(ErrorKind.Conflict, e.Kind);
    }

    [Fact]
    public async Task Vcpu_and_memory_changes_are_bounded_by_the_maximums()
    {
        await _ts.Create(ToolstackFixture.Spec("web"));
        await _ts.Service.SetVcpusAsync("web", 4, None);
        Assert.Equal(4, _ts.Find("web")!.Vcpus);
        var e = await Assert.ThrowsAsync<ToolstackException>(() => _ts.Service.SetVcpusAsync("web", 5, None));
        Assert.Contains("outside 1..4", e.Message, StringComparison.Ordinal);
        await _ts.Service.PinVcpuAsync("web", 1, "0", "0-1", None);
        var vcpus = await _ts.Service.VcpusAsync(_ts.Service.Lookup("web"), None);
        Assert.Equal(("0", "0-1"), (vcpus[1].Hard, vcpus[1].Soft));
        await _ts.Service.SetMemoryAsync("web", 32, None);
        Assert.Equal(32, _ts.Find("web")!.MemoryMb);
        await Assert.ThrowsAsync<ToolstackException>(() => _ts.Service.SetMemoryAsync("web", 65, None));
    }

    [Fact]
    public async Task Shutdown_request_powers_off_and_on_poweroff_destroy_removes_it()
    {
        await _ts.Create(ToolstackFixture.Spec("web"));
        var info = await _ts.Service.ShutdownAsync("web", None);
        Assert.Equal("shutting-down", info.State);
        await WaitUntil(() => _ts.Find("web") is null);
        // The domain leaves the table a moment before Destroyed is emitted: collect until it arrives.
        var kinds = new List<DomainEventKind>();
        await WaitUntil(() =>
        {
            kinds.AddRange(_ts.TakeEvents().Select(e => e.Kind));
            return kinds.Contains(DomainEventKind.Destroyed);
        });
        Assert.Equal([DomainEventKind.Created, DomainEventKind.ShuttingDown, DomainEventKind.Shutdown, DomainEventKind.Destroyed], kinds);
    }

    [Fact]
    public async Task Reboot_request_restarts_with_a_new_domid()
    {
        var before = await _ts.Create(ToolstackFixture.Spec("web"));
        await _ts.Service.RebootAsync("web", None);
        await WaitUntil(() => _ts.Find("web") is { State: "running" } d && d.DomId != before.DomId);
        Assert.Equal(1, _ts.Find("web")!.Restarts);
    }

    [Fact]
    public async Task Creates_of_different_domains_run_in_parallel()
    {
        // Hold every create inside the driver: if jobs on different domains serialized, only one
        // create could ever be in flight and the wait below would time out.
        var gate = new TaskCompletionSource();
        _ts.Driver.StartGate = gate.Task;
        var creates = Enumerable.Range(0, 8).Select(i => _ts.Create(ToolstackFixture.Spec($"d{i}"))).ToList();
        try
        {
            await WaitUntil(() => _ts.Driver.StartsInFlight == 8, TimeSpan.FromSeconds(30));
        }
        finally
        {
            gate.SetResult();
        }
        await Task.WhenAll(creates);
        Assert.Equal(8, _ts.Service.Domains().Count);
        Assert.Equal(8, _ts.Service.Domains().Select(d => d.DomId).Distinct().Count());
    }

    [Fact]
    public async Task Queries_do_not_wait_behind_a_long_job()
    {
        _ts.Driver.StartDelay = TimeSpan.FromSeconds(2);
        var create = _ts.Create(ToolstackFixture.Spec("slow"));
        await WaitUntil(() => _ts.Service.Domains().Count == 1);
        var sw = System.Diagnostics.Stopwatch.StartNew();
        var list = await _ts.Service.ListAsync(None);
        Assert.True(sw.ElapsedMilliseconds < 500, $"list took {sw.ElapsedMilliseconds} ms behind a create");
        Assert.Equal("creating", Assert.Single(list).State);
        Assert.Equal("create", list[0].Job);
        var e = await Assert.ThrowsAsync<ToolstackException>(() => _ts.Create(ToolstackFixture.Spec("slow")));
        Assert.Equal(ErrorKind.Conflict, e.Kind);
        await create;
    }

    [Fact]
    public async Task A_guest_that_crashes_at_boot_is_not_restarted_forever()
    {
        var spec = ToolstackFixture.Spec("loop", "test.on_boot=crash") with { OnCrash = LifecycleAction.Restart };
        await _ts.Create(spec);
        await WaitUntil(() => _ts.Find("loop") is { State: "crashed" } d && d.Reason.Contains("limit", StringComparison.Ordinal), TimeSpan.FromSeconds(10));
        var d = _ts.Find("loop")!;
        Assert.Contains("restart limit reached", d.Reason, StringComparison.Ordinal);
        Assert.Equal(RestartHistoryLimit, d.Restarts);
    }

    private static int RestartHistoryLimit => 5;

    [Fact]
    public void The_transition_table_refuses_what_the_lifecycle_does_not_allow()
    {
        Assert.True(DomainStates.IsValidTransition(DomainState.Running, DomainState.Paused));
        Assert.False(DomainStates.IsValidTransition(DomainState.Crashed, DomainState.Running));
        Assert.False(DomainStates.IsValidTransition(DomainState.Dying, DomainState.Running));
        Assert.False(DomainStates.IsValidTransition(DomainState.Shutdown, DomainState.Paused));
        Assert.True(DomainStates.IsValidTransition(DomainState.Shutdown, DomainState.Creating));
    }

    internal static async Task WaitUntil(Func<bool> condition, TimeSpan? limit = null)
    {
        var deadline = DateTime.UtcNow + (limit ?? TimeSpan.FromSeconds(5));
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException("condition not reached in time");
            await Task.Delay(10);
        }
    }
}
