using System.Runtime.CompilerServices;
using System.Text.Json;
using Domino.Toolstack.Api;
using Domino.Toolstack.Drivers;
using Domino.Toolstack.Events;
using Domino.Toolstack.Store;

namespace Domino.Toolstack.Domains;

/// <summary>
/// The one request handler every front end calls (the HTTP API, and through it the CLI). Each
/// state-changing operation has libvirt's shape: look up → (access was checked by the front end) →
/// begin job → check state → call the driver → record state and reason → emit event → end job.
/// Queries read snapshots and never wait behind jobs.
/// </summary>
public sealed partial class DomainService : IDriverEvents
{
    private readonly Lock _table = new();
    private readonly Dictionary<Guid, Domain> _byUuid = [];
    private readonly Dictionary<string, Domain> _byName = new(StringComparer.Ordinal);
    private readonly List<Task> _background = [];
    private int _nextDomId = 1;

    public DomainService(StateStore store, DomainDriver driver, EventBus events, Action<string>? log = null)
    {
        Store = store;
        Driver = driver;
        Events = events;
        Log = log ?? (_ => { });
        driver.Bind(this);
    }

    public StateStore Store { get; }
    public DomainDriver Driver { get; }
    public EventBus Events { get; }
    private Action<string> Log { get; }

    // ---- queries -------------------------------------------------------------------------------

    public IReadOnlyList<Domain> Domains()
    {
        lock (_table) return [.. _byUuid.Values.OrderBy(d => d.DomId)];
    }

    /// <summary>Finds a domain by name, domid or UUID (xl's domain-id argument).</summary>
    public Domain Lookup(string id)
    {
        lock (_table)
        {
            if (_byName.TryGetValue(id, out var byName)) return byName;
            if (int.TryParse(id, out var domid))
                foreach (var d in _byUuid.Values)
                    if (d.DomId == domid) return d;
            if (Guid.TryParse(id, out var uuid) && _byUuid.TryGetValue(uuid, out var byUuid)) return byUuid;
        }
        throw ToolstackException.NotFound(id);
    }

    public async Task<DomainInfo> InfoAsync(Domain d, CancellationToken ct)
    {
        double cpu = 0;
        if (d.State.IsLive())
        {
            try { cpu = await Driver.GetCpuTimeAsync(Ref(d), ct).ConfigureAwait(false); }
            catch (ToolstackException) { }
        }
        return d.Snapshot(cpu);
    }

    public async Task<IReadOnlyList<DomainInfo>> ListAsync(CancellationToken ct)
    {
        var result = new List<DomainInfo>();
        foreach (var d in Domains()) result.Add(await InfoAsync(d, ct).ConfigureAwait(false));
        return result;
    }

    public async Task<DomainDetail> DetailAsync(Domain d, CancellationToken ct)
    {
        JsonElement? config = null;
        try { config = JsonDocument.Parse(d.ConfigJson).RootElement.Clone(); }
        catch (JsonException) { }
        return new DomainDetail
        {
            Info = await InfoAsync(d, ct).ConfigureAwait(false),
            Spec = d.Spec,
            Config = config,
            Driver = d.State.IsLive() ? Driver.Describe(Ref(d)) : null,
        };
    }

    public Task<IReadOnlyList<VcpuInfo>> VcpusAsync(Domain d, CancellationToken ct)
    {
        RequireState(d, "list vcpus of", DomainStates.IsLive);
        return Driver.GetVcpusAsync(Ref(d), ct);
    }

    public Task<byte[]> ConsoleHistoryAsync(Domain d, CancellationToken ct)
    {
        RequireState(d, "read the console of", s => s != DomainState.Creating && s != DomainState.Dying);
        return Driver.ReadConsoleHistoryAsync(Ref(d), ct);
    }

    public Task<Stream> OpenConsoleAsync(Domain d, bool replay, CancellationToken ct)
    {
        RequireState(d, "attach to the console of", s => s.IsLive() || s is DomainState.Shutdown or DomainState.Crashed);
        return Driver.OpenConsoleAsync(Ref(d), replay, ct);
    }

    // ---- create --------------------------------------------------------------------------------

    public Task<DomainInfo> CreateAsync(DomainSpec spec, string? configJson, bool paused, CancellationToken ct) =>
        CreateAsync(spec, configJson, paused, new RestartHistory(), ct);

    /// <summary>
    /// xl create -c as one operation: inside the create job the guest is started with its console
    /// attached from its first byte (<see cref="DomainDriver.StartWithConsoleAsync"/>), so no output is
    /// missed and the record goes straight to running as for a plain create. The caller owns the
    /// console stream. Any failure destroys what was built, as a failed create does.
    /// </summary>
    public async Task<(DomainInfo Info, Stream Console)> CreateWithConsoleAsync(DomainSpec spec, string? configJson, bool paused, CancellationToken ct)
    {
        var console = new StrongBox<Stream?>();
        try
        {
            var info = await CreateAsync(spec, configJson, paused, new RestartHistory(), ct, console).ConfigureAwait(false);
            return (info, console.Value!);
        }
        catch
        {
            if (console.Value is not null) await console.Value.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private async Task<DomainInfo> CreateAsync(DomainSpec spec, string? configJson, bool paused, RestartHistory history, CancellationToken ct,
        StrongBox<Stream?>? console = null)
    {
        if (DomainSpec.ValidateName(spec.Name) is { } nameError) throw new ToolstackException(ErrorKind.Invalid, nameError);
        if (spec.MemoryMb <= 0) throw new ToolstackException(ErrorKind.Invalid, $"domain '{spec.Name}': memory must be positive (got {spec.MemoryMb})");
        if (spec.Vcpus <= 0) throw new ToolstackException(ErrorKind.Invalid, $"domain '{spec.Name}': vcpus must be positive (got {spec.Vcpus})");
        Scheduling?.Admit(spec, configJson);

        // Reserve the name (and uuid) before anything is created: a duplicate is refused with nothing to undo.
        Domain d;
        lock (_table)
        {
            if (_byName.ContainsKey(spec.Name)) throw ToolstackException.DuplicateName(spec.Name);
            var uuid = spec.Uuid == Guid.Empty ? Guid.NewGuid() : spec.Uuid;
            if (_byUuid.TryGetValue(uuid, out var other))
                throw new ToolstackException(ErrorKind.Conflict, $"uuid {uuid} is already used by domain '{other.Name}'");
            d = new Domain(uuid, spec.Name, spec with { Uuid = uuid }, configJson ?? "{}") { DomId = _nextDomId++, StartPaused = paused, RestartHistory = history };
            _byUuid[uuid] = d;
            _byName[d.Name] = d;
        }

        using (await d.Job.BeginAsync("create", d.Name, ct).ConfigureAwait(false))
        {
            try
            {
                // The record goes to disk before the guest exists, so a daemon killed now finds it and cleans up.
                Persist(d, withConfig: true);
                await StartGuestAsync(d, paused, ct, console).ConfigureAwait(false);
            }
            catch (Exception e)
            {
                await Forget(d, quietDriverDestroy: true).ConfigureAwait(false);
                if (e is ToolstackException or OperationCanceledException) throw;
                throw new ToolstackException(ErrorKind.Failed, $"cannot create domain '{spec.Name}': {e.Message}", e);
            }
            Emit(d, DomainEventKind.Created);
        }
        return d.Snapshot();
    }

    /// <summary>
    /// Starts the current incarnation (d.DomId) in the driver and records it running or paused. With
    /// <paramref name="console"/> the guest's console is attached from its first byte and left there.
    /// </summary>
    private async Task StartGuestAsync(Domain d, bool paused, CancellationToken ct, StrongBox<Stream?>? console = null)
    {
        GuestStarted started;
        if (console is null) started = await Driver.StartAsync(Ref(d), paused, d.ConfigJson, ct).ConfigureAwait(false);
        else (started, console.Value) = await Driver.StartWithConsoleAsync(Ref(d), paused, d.ConfigJson, ct).ConfigureAwait(false);
        lock (d.Sync)
        {
            d.VmmPid = started.VmmPid;
            d.StartedAt = DateTimeOffset.UtcNow;
            d.CurrentMemoryMb = d.Spec.MemoryMb;
            d.OnlineVcpus = d.Spec.Vcpus;
        }
        Scheduling?.Started(d.Uuid, d.DomId, d.Spec, d.ConfigJson);
        d.SetState(paused ? DomainState.Paused : DomainState.Running, paused ? "created-paused" : "booted");
        Persist(d, started.VmmStartTicks);
    }

    // ---- state-changing operations ---------------------------------------------------------------

    public Task<DomainInfo> PauseAsync(string id, CancellationToken ct) =>
        RunJob(id, "pause", s => s is DomainState.Running or DomainState.ShuttingDown, async d =>
        {
            await Driver.PauseAsync(Ref(d), ct).ConfigureAwait(false);
            Record(d, DomainState.Paused, "user", DomainEventKind.Paused);
        }, ct);

    public Task<DomainInfo> UnpauseAsync(string id, CancellationToken ct) =>
        RunJob(id, "unpause", s => s is DomainState.Paused, async d =>
        {
            await Driver.UnpauseAsync(Ref(d), ct).ConfigureAwait(false);
            Record(d, DomainState.Running, "unpaused", DomainEventKind.Unpaused);
        }, ct);

    public Task<DomainInfo> ShutdownAsync(string id, CancellationToken ct) =>
        RunJob(id, "shutdown", s => s is DomainState.Running or DomainState.ShuttingDown, async d =>
        {
            await Driver.RequestShutdownAsync(Ref(d), reboot: false, ct).ConfigureAwait(false);
            Record(d, DomainState.ShuttingDown, "shutdown-requested", DomainEventKind.ShuttingDown);
        }, ct);

    public Task<DomainInfo> RebootAsync(string id, CancellationToken ct) =>
        RunJob(id, "reboot", s => s is DomainState.Running or DomainState.ShuttingDown, async d =>
        {
            await Driver.RequestShutdownAsync(Ref(d), reboot: true, ct).ConfigureAwait(false);
            Record(d, DomainState.ShuttingDown, "reboot-requested", DomainEventKind.ShuttingDown);
        }, ct);

    /// <summary>
    /// xl trigger: a hardware event for a live domain. The state does not change here: the guest's
    /// answer (a power-off, a reset) arrives as a guest event and its on_* action applies.
    /// </summary>
    public Task<DomainInfo> TriggerAsync(string id, string trigger, int? vcpu, CancellationToken ct)
    {
        var what = DomainTriggers.Parse(trigger);
        return RunJob(id, $"send trigger {what.Word()} to", DomainStates.IsLive, async d =>
        {
            var v = vcpu ?? 0;
            var vcpus = d.Spec.EffectiveMaxVcpus;
            if (v < 0 || v >= vcpus)
                throw new ToolstackException(ErrorKind.Invalid, $"domain '{d.Name}' has no vcpu {v} (it has {vcpus}: 0..{vcpus - 1})");
            await Driver.TriggerAsync(Ref(d), what, v, ct).ConfigureAwait(false);
            Log($"domain '{d.Name}' (domid {d.DomId}): trigger {what.Word()}{(what is DomainTrigger.Nmi or DomainTrigger.Init ? $" on vcpu {v}" : "")} sent");
        }, ct);
    }

    public Task<DomainInfo> DestroyAsync(string id, CancellationToken ct) =>
        RunJob(id, "destroy", s => s != DomainState.Dying, d => DestroyLockedAsync(d, "destroyed", null, ct), ct);

    public Task<DomainInfo> RenameAsync(string id, string newName, CancellationToken ct) =>
        RunJob(id, "rename", s => s is not (DomainState.Creating or DomainState.Dying), d =>
        {
            if (DomainSpec.ValidateName(newName) is { } error) throw new ToolstackException(ErrorKind.Invalid, error);
            var old = d.Name;
            RenameLocked(d, newName);
            Emit(d, DomainEventKind.Renamed, $"was '{old}'");
            return Task.CompletedTask;
        }, ct);

    public Task<DomainInfo> SetVcpusAsync(string id, int count, CancellationToken ct) =>
        RunJob(id, "set vcpus of", DomainStates.IsLive, async d =>
        {
            if (count < 1 || count > d.Spec.EffectiveMaxVcpus)
                throw new ToolstackException(ErrorKind.Invalid, $"domain '{d.Name}': vcpu count {count} is outside 1..{d.Spec.EffectiveMaxVcpus} (maxvcpus)");
            await Driver.SetVcpusAsync(Ref(d), count, ct).ConfigureAwait(false);
            lock (d.Sync) d.OnlineVcpus = count;
            Persist(d);
        }, ct);

    public Task<DomainInfo> PinVcpuAsync(string id, int vcpu, string? hard, string? soft, CancellationToken ct) =>
        RunJob(id, "pin vcpus of", DomainStates.IsLive, async d =>
        {
            if (vcpu >= d.Spec.EffectiveMaxVcpus)
                throw new ToolstackException(ErrorKind.Invalid, $"domain '{d.Name}' has no vcpu {vcpu} (it has {d.Spec.EffectiveMaxVcpus})");
            if (Scheduling is { } scheduling) scheduling.Pin(d.Uuid, d.Name, vcpu, hard, soft);
            else await Driver.PinVcpuAsync(Ref(d), vcpu, hard, soft, ct).ConfigureAwait(false);
        }, ct);

    public Task<DomainInfo> SetMemoryAsync(string id, long mb, CancellationToken ct) =>
        RunJob(id, "set memory of", DomainStates.IsLive, async d =>
        {
            if (mb <= 0 || mb > d.Spec.EffectiveMaxMemMb)
                throw new ToolstackException(ErrorKind.Invalid, $"domain '{d.Name}': memory target {mb} MiB is outside 1..{d.Spec.EffectiveMaxMemMb} MiB (maxmem)");
            await Driver.SetMemoryAsync(Ref(d), mb, ct).ConfigureAwait(false);
            lock (d.Sync) d.CurrentMemoryMb = mb;
            Persist(d);
        }, ct);

    public Task<DomainInfo> SetMaxMemoryAsync(string id, long mb, CancellationToken ct) =>
        RunJob(id, "set maximum memory of", DomainStates.IsLive, async d =>
        {
            if (mb < d.CurrentMemoryMb)
                throw new ToolstackException(ErrorKind.Invalid, $"domain '{d.Name}': maxmem {mb} MiB is below its current memory ({d.CurrentMemoryMb} MiB)");
            await Driver.SetMaxMemoryAsync(Ref(d), mb, ct).ConfigureAwait(false);
            lock (d.Sync) d.Spec = d.Spec with { MaxMemMb = mb };
            Persist(d);
        }, ct);

    /// <summary>xl config-update: the new config takes effect at the next restart of the domain.</summary>
    public Task<DomainInfo> UpdateConfigAsync(string id, DomainSpec spec, string? configJson, CancellationToken ct) =>
        RunJob(id, "update the config of", s => s != DomainState.Dying, d =>
        {
            if (spec.Name != d.Name)
                throw new ToolstackException(ErrorKind.Invalid, $"config-update: the config names domain '{spec.Name}', not '{d.Name}' (use rename)");
            lock (d.Sync) d.PendingConfig = (spec with { Uuid = d.Uuid }, configJson ?? d.ConfigJson);
            Persist(d);
            Emit(d, DomainEventKind.Updated, "config takes effect at the next restart");
            return Task.CompletedTask;
        }, ct);

    /// <summary>Makes a test guest power off, reboot, crash or trip its watchdog (drivers that can fake it).</summary>
    public Task<DomainInfo> InjectAsync(string id, GuestExit exit, CancellationToken ct) =>
        RunJob(id, "inject an event into", DomainStates.IsLive, d => Driver.InjectAsync(Ref(d), exit, ct), ct);

    // ---- the operation shape -----------------------------------------------------------------------

    private async Task<DomainInfo> RunJob(string id, string operation, Func<DomainState, bool> allowed, Func<Domain, Task> act, CancellationToken ct)
    {
        var d = Lookup(id);
        using (await d.Job.BeginAsync(operation, d.Name, ct).ConfigureAwait(false))
        {
            if (!IsCurrent(d)) throw ToolstackException.NotFound(id); // destroyed while we waited
            RequireState(d, operation, allowed);
            await act(d).ConfigureAwait(false);
        }
        return d.Snapshot();
    }

    private static void RequireState(Domain d, string operation, Func<DomainState, bool> allowed)
    {
        var state = d.State;
        if (!allowed(state)) throw ToolstackException.WrongState(operation, d.Name, state);
    }

    private void Record(Domain d, DomainState state, string reason, DomainEventKind kind, string? detail = null)
    {
        d.SetState(state, reason);
        Persist(d);
        Emit(d, kind, detail);
    }

    private async Task DestroyLockedAsync(Domain d, string reason, string? detail, CancellationToken ct)
    {
        StopRemus(d.Uuid);
        d.SetState(DomainState.Dying, reason);
        Persist(d);
        await Driver.DestroyAsync(Ref(d), ct).ConfigureAwait(false);
        lock (_table)
        {
            _byUuid.Remove(d.Uuid);
            _byName.Remove(d.Name);
        }
        Store.Delete(d.Uuid);
        Scheduling?.Released(d.Uuid);
        Emit(d, DomainEventKind.Destroyed, detail);
    }

    private void RenameLocked(Domain d, string newName)
    {
        var oldName = d.Name;
        lock (_table)
        {
            if (_byName.TryGetValue(newName, out var other) && other != d) throw ToolstackException.DuplicateName(newName);
            _byName.Remove(d.Name);
            lock (d.Sync)
            {
                d.Name = newName;
                d.Spec = d.Spec with { Name = newName };
            }
            _byName[newName] = d;
        }
        Scheduling?.Renamed(d.Uuid, oldName, newName);
        Persist(d);
    }

    private bool IsCurrent(Domain d)
    {
        lock (_table) return _byUuid.TryGetValue(d.Uuid, out var x) && x == d;
    }

    private async Task Forget(Domain d, bool quietDriverDestroy)
    {
        if (quietDriverDestroy)
        {
            try { await Driver.DestroyAsync(Ref(d), CancellationToken.None).ConfigureAwait(false); }
            catch (Exception e) { Log($"domain '{d.Name}': cleanup after failed create: {e.Message}"); }
        }
        lock (_table)
        {
            _byUuid.Remove(d.Uuid);
            if (_byName.TryGetValue(d.Name, out var x) && x == d) _byName.Remove(d.Name);
        }
        Store.Delete(d.Uuid);
        Scheduling?.Released(d.Uuid);
    }

    internal static GuestRef Ref(Domain d)
    {
        lock (d.Sync) return new GuestRef(d.Uuid, d.DomId, d.Name, d.Spec);
    }

    private void Persist(Domain d, long? vmmStartTicks = null, bool withConfig = false)
    {
        DomainRecord record;
        string? config;
        lock (d.Sync)
        {
            record = new DomainRecord
            {
                Uuid = d.Uuid,
                Name = d.Name,
                DomId = d.DomId,
                Spec = d.Spec,
                State = d.State.Word(),
                Reason = d.Reason,
                StartPaused = d.StartPaused,
                CreatedAt = d.CreatedAt,
                StartedAt = d.StartedAt,
                VmmPid = d.VmmPid,
                VmmStartTicks = vmmStartTicks ?? d.VmmStartTicks,
                MemoryMb = d.CurrentMemoryMb,
                Vcpus = d.OnlineVcpus,
                Restarts = d.Restarts,
                Driver = Driver.Name,
                PendingSpec = d.PendingConfig?.Spec,
                PendingConfig = d.PendingConfig?.ConfigJson,
            };
            d.VmmStartTicks = record.VmmStartTicks;
            config = withConfig ? d.ConfigJson : null;
        }
        Store.Save(record, config);
    }

    private void Emit(Domain d, DomainEventKind kind, string? detail = null)
    {
        DomainEvent e;
        lock (d.Sync)
            e = new DomainEvent { Kind = kind, Domain = d.Name, DomId = d.DomId, Uuid = d.Uuid, State = d.State.Word(), Reason = d.Reason, Detail = detail };
        Events.Publish(e);
        Log($"event {e.Kind.ToString().ToLowerInvariant()}: domain '{e.Domain}' (domid {e.DomId}) {e.State}, reason {e.Reason}{(detail is null ? "" : $" ({detail})")}");
    }

    /// <summary>Waits for background lifecycle work (tests and orderly shutdown).</summary>
    public async Task DrainAsync()
    {
        while (true)
        {
            Task[] pending;
            lock (_background)
            {
                _background.RemoveAll(t => t.IsCompleted);
                pending = [.. _background];
            }
            if (pending.Length == 0) return;
            await Task.WhenAll(pending).ConfigureAwait(false);
        }
    }
}
