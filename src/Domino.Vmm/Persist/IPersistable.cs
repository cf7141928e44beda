namespace Domino.Vmm.Persist;

/// <summary>
/// The one contract every stateful device implements (Firecracker's Persist trait): write its
/// state into a section of the snapshot tree, and take it back on a freshly built, not yet
/// running device of the same shape. Restore may throw <see cref="SnapshotException"/>.
/// </summary>
public interface IPersistable
{
    /// <summary>Stable name of this device's section, e.g. "serial@0x3f8", "virtio-mmio@0xd0000000".</summary>
    string PersistId { get; }

    void SaveState(PersistWriter writer);

    void RestoreState(PersistReader reader);
}
