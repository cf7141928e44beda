using System.Text.Json.Serialization;
using Domino.Toolstack.Jobs;

namespace Domino.Toolstack.Domains;

/// <summary>
/// One domain as the toolstack holds it. Fields change only inside a job on this domain and under
/// <see cref="Sync"/>, so a query can take a consistent <see cref="Snapshot"/> without waiting for jobs.
/// </summary>
public sealed class Domain
{
    internal Domain(Guid uuid, string name, DomainSpec spec, string configJson)
    {
        Uuid = uuid;
        Name = name;
        Spec = spec;
        ConfigJson = configJson;
    }

    public Guid Uuid { get; }
    public string Name { get; internal set; }
    public int DomId { get; internal set; }
    public DomainSpec Spec { get; internal set; }
    /// <summary>The full configuration as libxl JSON, kept verbatim for <c>list -l</c> and config-update.</summary>
    public string ConfigJson { get; internal set; }
    /// <summary>Configuration to use at the next restart (config-update), if any.</summary>
    public (DomainSpec Spec, string ConfigJson)? PendingConfig { get; internal set; }
    public DomainState State { get; private set; } = DomainState.Creating;
    public string Reason { get; private set; } = "creating";
    public DateTimeOffset CreatedAt { get; internal set; } = DateTimeOffset.UtcNow;
    public DateTimeOffset? StartedAt { get; internal set; }
    public bool StartPaused { get; internal set; }
    public int? VmmPid { get; internal set; }
    public long? VmmStartTicks { get; internal set; }
    public long CurrentMemoryMb { get; internal set; }
    public int OnlineVcpus { get; internal set; }
    public int Restarts { get; internal set; }

    internal object Sync { get; } = new();
    internal JobLock Job { get; } = new();
    internal RestartHistory RestartHistory { get; set; } = new();

    /// <summary>Moves to <paramref name="to"/> if the lifecycle allows it; a bug otherwise.</summary>
    internal void SetState(DomainState to, string reason)
    {
        lock (Sync)
        {
            if (State != to && !DomainStates.IsValidTransition(State, to))
                throw new InvalidOperationException($"invalid state transition for domain '{Name}': {State.Word()} -> {to.Word()}");
            State = to;
            Reason = reason;
        }
    }

    /// <summary>Restores state from the store without transition checks (daemon start only).</summary>
    internal void RestoreState(DomainState state, string reason)
    {
        lock (Sync) { State = state; Reason = reason; }
    }

    public DomainInfo Snapshot(double cpuTimeSeconds = 0)
    {
        lock (Sync)
        {
            return new DomainInfo
            {
                Name = Name,
                DomId = DomId,
                Uuid = Uuid,
                State = State.Word(),
                Flags = State.XlFlags(),
                Reason = Reason,
                MemoryMb = CurrentMemoryMb,
                MaxMemMb = Spec.EffectiveMaxMemMb,
                Vcpus = OnlineVcpus,
                MaxVcpus = Spec.EffectiveMaxVcpus,
                CpuTime = cpuTimeSeconds,
                CreatedAt = CreatedAt,
                StartedAt = StartedAt,
                VmmPid = VmmPid,
                Restarts = Restarts,
                Job = Job.Holder,
            };
        }
    }
}

/// <summary>What queries return about one domain (the API's domain object).</summary>
public sealed record DomainInfo
{
    public required string Name { get; init; }
    [JsonPropertyName("domid")] public int DomId { get; init; }
    public Guid Uuid { get; init; }
    public required string State { get; init; }
    /// <summary>xl's six-character state field, e.g. <c>r-----</c>.</summary>
    public required string Flags { get; init; }
    public required string Reason { get; init; }
    public long MemoryMb { get; init; }
    public long MaxMemMb { get; init; }
    public int Vcpus { get; init; }
    public int MaxVcpus { get; init; }
    public double CpuTime { get; init; }
    public DateTimeOffset CreatedAt { get; init; }
    public DateTimeOffset? StartedAt { get; init; }
    public int? VmmPid { get; init; }
    public int Restarts { get; init; }
    /// <summary>The job holding the domain right now, if any.</summary>
    public string? Job { get; init; }
}

/// <summary>
/// Bounds restart loops: at most <see cref="MaxRestarts"/> restarts within <see cref="Window"/>;
/// a guest that keeps dying at boot is then preserved (crashed) instead of restarted again.
/// </summary>
internal sealed class RestartHistory
{
    public static int MaxRestarts { get; set; } = 5;
    public static TimeSpan Window { get; set; } = TimeSpan.FromSeconds(60);

    private readonly Queue<DateTimeOffset> _times = new();

    /// <summary>Records a restart at <paramref name="now"/>; false if that would exceed the limit.</summary>
    public bool TryRecord(DateTimeOffset now)
    {
        while (_times.Count > 0 && now - _times.Peek() > Window) _times.Dequeue();
        if (_times.Count >= MaxRestarts) return false;
        _times.Enqueue(now);
        return true;
    }
}
