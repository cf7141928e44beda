using Domino.Vmm.Persist;

namespace Domino.Vmm.Devices.Legacy;

public sealed partial class Serial : IPersistable
{
    private const byte StateVersion = 1;

    public string PersistId => $"serial@0x{Com1Base:x}";

    public void SaveState(PersistWriter w)
    {
        lock (_lock)
        {
            w.U8(StateVersion);
            w.U8(_ier); w.U8(_lcr); w.U8(_mcr); w.U8(_scr); w.U8(_fcr); w.U8(_dll); w.U8(_dlm);
            w.Bool(_thrEmptyPending);
            w.Bool(_irqLevel);
            w.Bytes(_rx.ToArray());
        }
    }

    public void RestoreState(PersistReader r)
    {
        var version = r.U8();
        if (version != StateVersion) throw new SnapshotException($"{PersistId}: state version {version}, this VMM reads {StateVersion}");
        lock (_lock)
        {
            _ier = r.U8(); _lcr = r.U8(); _mcr = r.U8(); _scr = r.U8(); _fcr = r.U8(); _dll = r.U8(); _dlm = r.U8();
            _thrEmptyPending = r.Bool();
            // The line's level lives on in the restored in-kernel irqchip; only remember it here.
            _irqLevel = r.Bool();
            _rx.Clear();
            foreach (var b in r.Bytes()) _rx.Enqueue(b);
        }
        r.End();
    }
}
