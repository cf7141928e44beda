using System.Text.Json.Serialization;

namespace Domino.Toolstack.Events;

public enum DomainEventKind
{
    [JsonStringEnumMemberName("created")] Created,
    [JsonStringEnumMemberName("started")] Started,
    [JsonStringEnumMemberName("paused")] Paused,
    [JsonStringEnumMemberName("unpaused")] Unpaused,
    [JsonStringEnumMemberName("shutting-down")] ShuttingDown,
    [JsonStringEnumMemberName("shutdown")] Shutdown,
    [JsonStringEnumMemberName("crashed")] Crashed,
    [JsonStringEnumMemberName("restarted")] Restarted,
    [JsonStringEnumMemberName("renamed")] Renamed,
    [JsonStringEnumMemberName("updated")] Updated,
    [JsonStringEnumMemberName("coredumped")] CoreDumped,
    [JsonStringEnumMemberName("destroyed")] Destroyed,
}

/// <summary>One line of the event stream: what happened to which domain, its state after, and why.</summary>
public sealed record DomainEvent
{
    public long Seq { get; init; }
    public DateTimeOffset Time { get; init; }
    public DomainEventKind Kind { get; init; }
    public required string Domain { get; init; }
    [JsonPropertyName("domid")] public int DomId { get; init; }
    public Guid Uuid { get; init; }
    public required string State { get; init; }
    public required string Reason { get; init; }
    public string? Detail { get; init; }
}
