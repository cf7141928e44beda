using System.Text.Json;
using System.Text.Json.Serialization;
using Domino.Toolstack.Domains;

namespace Domino.Toolstack.Api;

/// <summary><c>POST /domains/ID/save</c> (xl save [-c] [-p]).</summary>
public sealed record SaveRequest
{
    public required string Path { get; init; }
    /// <summary>-c: leave the domain running after the save.</summary>
    public bool Checkpoint { get; init; }
    /// <summary>-p: leave the domain paused after the save.</summary>
    public bool LeavePaused { get; init; }
}

/// <summary><c>POST /domains/restore</c> (xl restore [-p]).</summary>
public sealed record RestoreRequest
{
    public required string Path { get; init; }
    public bool Paused { get; init; }
}

/// <summary><c>POST /domains/ID/migrate</c> and <c>/remus</c>: the target daemon's migration listener.</summary>
public sealed record MigrateRequest
{
    public required string Host { get; init; }
    public int Port { get; init; } = MigrationDefaults.Port;
    /// <summary>Remus only: checkpoint interval.</summary>
    public int IntervalMs { get; init; } = MigrationDefaults.RemusIntervalMs;
}

public static class MigrationDefaults
{
    public const int Port = 8002;
    public const int RemusIntervalMs = 200;
}

/// <summary>Figures of a save or restore, for <c>-v</c>.</summary>
public sealed record PersistFigures
{
    public long Bytes { get; init; }
    public long PagesWritten { get; init; }
    public long PagesSkipped { get; init; }
    /// <summary>The whole operation as the daemon saw it (a restore: from the request to the VMM serving the domain).</summary>
    public double Ms { get; init; }
    public string? Detail { get; init; }

    /// <summary>Restore in a VMM process: its own restore total, from opening the file to the state loaded.</summary>
    public double? VmmMs { get; init; }

    /// <summary>Restore in a VMM process: the domain was built in a VM shell made ahead (the spare VMM process's), not from scratch.</summary>
    public bool? InShell { get; init; }

    /// <summary>Restore in a VMM process: where <see cref="VmmMs"/> went, step by step.</summary>
    public IReadOnlyList<PhaseFigure>? Phases { get; init; }
}

/// <summary>One step of a restore and its time.</summary>
public sealed record PhaseFigure(string Step, double Ms);

/// <summary>Figures of a live migration.</summary>
public sealed record MigrationFigures
{
    public int Rounds { get; init; }
    public long PagesSent { get; init; }
    public long BytesSent { get; init; }
    public double DowntimeMs { get; init; }
    public double TotalMs { get; init; }
    public IReadOnlyList<long> DirtyPerRound { get; init; } = [];

    /// <summary>Where the downtime went, step by step, in the order the source saw the steps end.</summary>
    public IReadOnlyList<MigrationStep> DowntimeSteps { get; init; } = [];
}

/// <summary>One step of a migration's downtime.</summary>
public sealed record MigrationStep(string Step, double Ms);

/// <summary>What a saved or migrating domain is to the toolstack: carried inside the state file and the migration preamble.</summary>
public sealed record SavedDomain
{
    public required string Name { get; init; }
    public Guid Uuid { get; init; }
    public required DomainSpec Spec { get; init; }
    public string ConfigJson { get; init; } = "{}";
}

/// <summary>The result of a save, restore, migrate or remus request.</summary>
public sealed record OperationResult
{
    public DomainInfo? Domain { get; init; }
    public PersistFigures? Persist { get; init; }
    public MigrationFigures? Migration { get; init; }
    public string? Message { get; init; }
}

/// <summary>
/// One line of a long operation's answer (NDJSON): progress in [0,1] while it runs, then either
/// the result or an error — so a terminal client can draw a progress bar.
/// </summary>
public sealed record OperationLine
{
    public double? Progress { get; init; }
    public OperationResult? Done { get; init; }
    public string? Error { get; init; }
    public string? Code { get; init; }
}

/// <summary>The first line on a migration connection: which domain is coming and how (migrate or remus).</summary>
public sealed record MigrationPreamble
{
    public const int Version = 1;
    public int FormatVersion { get; init; } = Version;
    public required string Mode { get; init; }
    public required SavedDomain Domain { get; init; }
    public int IntervalMs { get; init; }
}

/// <summary>The target's answer to the preamble.</summary>
public sealed record MigrationReply(bool Ok, string? Error = null);

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web,
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    UseStringEnumConverter = true,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    WriteIndented = false)]
[JsonSerializable(typeof(SaveRequest))]
[JsonSerializable(typeof(RestoreRequest))]
[JsonSerializable(typeof(MigrateRequest))]
[JsonSerializable(typeof(OperationLine))]
[JsonSerializable(typeof(OperationResult))]
[JsonSerializable(typeof(SavedDomain))]
[JsonSerializable(typeof(MigrationPreamble))]
[JsonSerializable(typeof(MigrationReply))]
[JsonSerializable(typeof(Drivers.Test.TestGuestState))]
[JsonSerializable(typeof(Drivers.Test.TestStreamMessage))]
public sealed partial class MigrationJson : JsonSerializerContext;
