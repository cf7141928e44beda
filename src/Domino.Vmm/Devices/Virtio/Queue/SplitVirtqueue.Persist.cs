using Domino.Vmm.Memory;
using Domino.Vmm.Persist;

namespace Domino.Vmm.Devices.Virtio.Queue;

public sealed partial class SplitVirtqueue
{
    /// <summary>Driver-programmed layout and the device's ring positions.</summary>
    internal void SaveState(PersistWriter w)
    {
        w.U16(Size);
        w.U64(DescTable);
        w.U64(AvailRing);
        w.U64(UsedRing);
        w.Bool(IsReady);
        w.Bool(IsBroken);
        w.U16(_nextAvail);
        w.U16(_nextUsed);
        w.U16(_signalledUsed);
    }

    /// <summary>Takes back a saved queue; a ready one is re-enabled over <paramref name="memory"/> with the negotiated features.</summary>
    internal void RestoreState(PersistReader r, GuestMemory memory, ulong features, Action<string> onGuestError, string owner)
    {
        Reset();
        Size = r.U16();
        DescTable = r.U64();
        AvailRing = r.U64();
        UsedRing = r.U64();
        var ready = r.Bool();
        var broken = r.Bool();
        var nextAvail = r.U16();
        var nextUsed = r.U16();
        var signalled = r.U16();
        if (Size > MaxSize) throw new SnapshotException($"{owner} queue {Index}: saved size {Size} exceeds this device's maximum {MaxSize}");
        if (ready)
        {
            var problem = Enable(memory, features, onGuestError);
            if (problem is not null) throw new SnapshotException($"{owner} queue {Index}: saved layout unusable: {problem}");
        }
        _nextAvail = nextAvail;
        _nextUsed = nextUsed;
        _signalledUsed = signalled;
        IsBroken = broken;
    }
}
