using Domino.Vmm.Persist;

namespace Domino.Vmm.Devices.Acpi;

public sealed partial class AcpiGedDevice : IPersistable
{
    private const byte StateVersion = 1;

    public string PersistId => $"acpi-ged@0x{Address:x}";

    public void SaveState(PersistWriter w)
    {
        lock (_lock)
        {
            w.U8(StateVersion);
            w.U8((byte)_pending);
        }
    }

    public void RestoreState(PersistReader r)
    {
        var version = r.U8();
        if (version != StateVersion) throw new SnapshotException($"{PersistId}: state version {version}, this VMM reads {StateVersion}");
        lock (_lock) _pending = (GedEvent)r.U8();
        r.End();
    }
}
