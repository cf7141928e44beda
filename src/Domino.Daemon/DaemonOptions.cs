using Domino.Toolstack.Store;

namespace Domino.Daemon;

/// <summary>How <c>domino daemon</c> was asked to run.</summary>
public sealed record DaemonOptions
{
    public required DaemonPaths Paths { get; init; }
    /// <summary><c>vmm</c> (default) or <c>test</c>; also <c>DOMINO_DRIVER</c>.</summary>
    public required string Driver { get; init; }
    /// <summary>Started by a client in the background: leave the caller's session.</summary>
    public bool Background { get; init; }
    /// <summary>HOST:PORT to accept migrating domains and Remus backups on; null: no migration port.</summary>
    public string? MigrateListen { get; init; }
}
