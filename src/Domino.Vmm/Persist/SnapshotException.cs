namespace Domino.Vmm.Persist;

/// <summary>A saved state that cannot be used: truncated, corrupt, too new, or for another CPU. Says which and why.</summary>
public sealed class SnapshotException(string message) : Exception(message);
