using System.Text.Json.Serialization;
using Domino.Toolstack.Domains;

namespace Domino.Toolstack.Store;

/// <summary>
/// A domain's runtime record as written to <c>domains/UUID/record.json</c>: enough for a restarted
/// daemon to find the domain, its VMM process and what to do if that process has gone.
/// </summary>
public sealed record DomainRecord
{
    public Guid Uuid { get; init; }
    public required string Name { get; init; }
    [JsonPropertyName("domid")] public int DomId { get; init; }
    public required DomainSpec Spec { get; init; }
    public required string State { get; init; }
    public required string Reason { get; init; }
    public bool StartPaused { get; init; }
    public DateTimeOffset CreatedAt { get; init; }
    public DateTimeOffset? StartedAt { get; init; }
    public int? VmmPid { get; init; }
    /// <summary>The VMM process's start time in clock ticks (/proc/PID/stat field 22), so a reused pid is not mistaken for it.</summary>
    public long? VmmStartTicks { get; init; }
    public long MemoryMb { get; init; }
    public int Vcpus { get; init; }
    public int Restarts { get; init; }
    public string Driver { get; init; } = "";
    /// <summary>A config-update waiting for the next restart.</summary>
    public DomainSpec? PendingSpec { get; init; }
    public string? PendingConfig { get; init; }
}
