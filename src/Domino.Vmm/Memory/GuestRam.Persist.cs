using Domino.Vmm.Hypervisor;

namespace Domino.Vmm.Memory;

public sealed partial class GuestRam
{
    /// <summary>Turns KVM dirty-page logging on or off for every slot (slot i backs region i).</summary>
    public void SetDirtyLogging(ISnapshotVm vm, bool on)
    {
        var regions = Memory.Regions;
        for (var i = 0; i < regions.Count; i++)
            vm.SetUserMemoryRegion((uint)i, regions[i].Gpa, regions[i].Size, regions[i].Host, on);
    }

    /// <summary>One bit per page of region <paramref name="index"/>: written by the guest since the last fetch. Resets the log.</summary>
    public ulong[] FetchDirtyBitmap(ISnapshotVm vm, int index)
    {
        var region = Memory.Regions[index];
        var bitmap = new ulong[(region.Size / 4096 + 63) / 64];
        vm.GetDirtyLog((uint)index, bitmap);
        return bitmap;
    }
}
