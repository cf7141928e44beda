using Domino.Vmm.Persist;

namespace Domino.Vmm.Devices.Legacy;

/// <remarks>The controller model keeps no state between accesses; the section only records its version.</remarks>
public sealed partial class I8042 : IPersistable
{
    private const byte StateVersion = 1;

    public string PersistId => $"i8042@0x{DataPort:x}";

    public void SaveState(PersistWriter w) => w.U8(StateVersion);

    public void RestoreState(PersistReader r)
    {
        var version = r.U8();
        if (version != StateVersion) throw new SnapshotException($"{PersistId}: state version {version}, this VMM reads {StateVersion}");
        r.End();
    }
}
