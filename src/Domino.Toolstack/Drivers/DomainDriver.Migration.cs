using Domino.Toolstack.Api;

namespace Domino.Toolstack.Drivers;

/// <summary>Moving guests: save/restore to a file, live migration and Remus over a connection the toolstack opened.</summary>
public abstract partial class DomainDriver
{
    /// <summary>Writes the (paused) guest's state to <paramref name="path"/>, with <paramref name="domain"/> inside so a restore knows what it is.</summary>
    public virtual Task<PersistFigures> SaveAsync(GuestRef guest, string path, SavedDomain domain, IProgress<double>? progress, CancellationToken ct) =>
        throw Unsupported("save");

    /// <summary>Reads and checks a state file this driver wrote — all of it that can be checked without creating anything.</summary>
    public virtual Task<SavedDomain> ReadSavedAsync(string path, CancellationToken ct) => throw Unsupported("restore");

    /// <summary>Builds the guest from <paramref name="path"/>, running or paused.</summary>
    public virtual Task<(GuestStarted Started, PersistFigures Figures)> RestoreAsync(GuestRef guest, string path, bool paused, IProgress<double>? progress, CancellationToken ct) =>
        throw Unsupported("restore");

    /// <summary>
    /// Live-migrates the guest over <paramref name="connection"/> (the target daemon has accepted the
    /// domain). When the target holds the final state, paused, the driver awaits
    /// <paramref name="handover"/> (the toolstack records the handover) and only then tells the
    /// target to start. On success the guest runs on the target and is left paused here for the
    /// toolstack to destroy. A failure before that (including <paramref name="handover"/> throwing)
    /// leaves it running here; a lost answer once the target may have started throws
    /// <see cref="Domains.HandoverOutcomeUnknownException"/> and leaves it paused here.
    /// </summary>
    public virtual Task<MigrationFigures> MigrateSendAsync(GuestRef guest, Stream connection, Func<Task> handover, CancellationToken ct) => throw Unsupported("migrate");

    /// <summary>
    /// Receives a migrating guest: loads it paused, starts it only when the source says go, and
    /// returns once it runs here (it keeps running even if the source cannot be told). On failure
    /// before the go nothing is left behind.
    /// </summary>
    public virtual Task<GuestStarted> MigrateReceiveAsync(GuestRef guest, Stream connection, CancellationToken ct) => throw Unsupported("migrate");

    /// <summary>
    /// Protects the guest with Remus checkpoints every <paramref name="interval"/> until
    /// <paramref name="ct"/> fires (the backup is told to stand down) or the backup is lost (throws).
    /// </summary>
    public virtual Task RemusProtectAsync(GuestRef guest, Stream connection, TimeSpan interval, Action<long>? onCheckpoint, CancellationToken ct) =>
        throw Unsupported("remus");

    /// <summary>
    /// Keeps a backup of the guest from the checkpoints on <paramref name="connection"/>; when the
    /// primary falls silent for <paramref name="heartbeat"/>, resumes it here and returns; returns
    /// null when the primary stood the backup down.
    /// </summary>
    public virtual Task<GuestStarted?> RemusBackupAsync(GuestRef guest, Stream connection, TimeSpan heartbeat, Action<long>? onCommit, CancellationToken ct) =>
        throw Unsupported("remus");
}
