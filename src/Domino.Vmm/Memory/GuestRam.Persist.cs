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
        // A slot keeps its size and address when its flags change (KVM refuses anything else).
        foreach (var s in _slots) vm.SetUserMemoryRegion(s.Id, s.Gpa, s.Size, s.Host, on);
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
        var slot = _slots[index];
        var pages = region.Size / GuestMemory.PageSize;
        var bitmap = new ulong[BitmapWords(pages)];
        if (slot.Pages == pages) vm.GetDirtyLog(slot.Id, bitmap);
        else
        {
            // KVM fills one bit per page of the slot, which reaches past the guest's RAM (a VM shell's
            // reservation): fetch the whole log, keep the RAM's pages. The rest is PROT_NONE host
            // memory, which no store can have dirtied.
            _slotBitmaps ??= new ulong[_slots.Length][];
            var whole = _slotBitmaps[index] ??= new ulong[BitmapWords(slot.Pages)];
            vm.GetDirtyLog(slot.Id, whole);
            whole.AsSpan(0, bitmap.Length).CopyTo(bitmap);
            if (pages % 64 != 0) bitmap[^1] &= (1UL << (int)(pages % 64)) - 1;
        }
        if (includeHostWrites) Memory.TakeHostDirty(index, bitmap);
        return bitmap;
    }

    /// <summary>Per slot larger than its region, KVM's whole dirty log (fetched by one thread at a time: a migration or Remus).</summary>
    private ulong[][]? _slotBitmaps;

    private static int BitmapWords(ulong pages) => (int)((pages + 63) / 64);
}
