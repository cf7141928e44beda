using Domino.Vmm.Hypervisor;

namespace Domino.Vmm.Memory;

public sealed partial class GuestRam
{
    /// <summary>
    /// Turns dirty-page logging on or off for every slot (slot i backs region i): KVM's log for the
    /// guest's own stores, and <see cref="GuestMemory"/>'s host-side bitmap for what device models
    /// write into guest RAM, which KVM never sees.
    /// </summary>
    public void SetDirtyLogging(ISnapshotVm vm, bool on)
    {
        // Host tracking starts before KVM's log, so no host write between the two is lost.
        if (on) Memory.StartHostDirtyTracking();
        var regions = Memory.Regions;
        for (var i = 0; i < regions.Count; i++)
            vm.SetUserMemoryRegion((uint)i, regions[i].Gpa, regions[i].Size, regions[i].Host, on);
        if (!on) Memory.StopHostDirtyTracking();
    }

    /// <summary>
    /// One bit per page of region <paramref name="index"/>: written by the guest (KVM_GET_DIRTY_LOG)
    /// or by the host (device DMA, ring updates) since the last fetch. Resets both logs.
    /// </summary>
    public ulong[] FetchDirtyBitmap(ISnapshotVm vm, int index) => FetchDirtyBitmap(vm, index, includeHostWrites: true);

    /// <summary>
    /// As <see cref="FetchDirtyBitmap(ISnapshotVm, int)"/>; <paramref name="includeHostWrites"/> false
    /// gives KVM's log alone (for tests that show what it misses).
    /// </summary>
    public ulong[] FetchDirtyBitmap(ISnapshotVm vm, int index, bool includeHostWrites)
    {
        var region = Memory.Regions[index];
        var bitmap = new ulong[(region.Size / GuestMemory.PageSize + 63) / 64];
        vm.GetDirtyLog((uint)index, bitmap);
        if (includeHostWrites) Memory.TakeHostDirty(index, bitmap);
        return bitmap;
    }
}
