using Domino.Vmm.Hypervisor;
using Domino.Vmm.Interop;
using static Domino.Vmm.Interop.Interop;

namespace Domino.Vmm.Memory;

/// <summary>
/// A KVM memory slot as registered. Slot i backs <see cref="GuestMemory.Regions"/>[i] from the same
/// guest-physical address and may reach past its end: a VM shell's slot covers all the RAM any guest
/// could have below the MMIO hole, and only the guest's own part of it is usable host memory.
/// </summary>
public readonly record struct MemorySlot(uint Id, ulong Gpa, ulong Size, nint Host)
{
    public ulong Pages => Size / GuestMemory.PageSize;
}

/// <summary>
/// The VM's RAM: anonymous, lazily-committed host mappings (MAP_NORESERVE) registered as KVM
/// memory slots per <see cref="MemoryMap"/>. Owns the mappings; dispose after the vCPUs stopped.
/// <see cref="Memory"/> covers the guest's RAM only, whatever the slots cover.
/// </summary>
public sealed partial class GuestRam : IDisposable
{
    private readonly List<SafeMmap> _mappings = [];
    private MemorySlot[] _slots = [];

    private GuestRam(MemoryMap map)
    {
        Map = map;
    }

    public MemoryMap Map { get; }

    public GuestMemory Memory { get; private set; } = null!;

    /// <summary>The slots KVM knows, slot i behind region i (as large or larger).</summary>
    public IReadOnlyList<MemorySlot> Slots => _slots;

    /// <summary>Allocates RAM for <paramref name="map"/> and registers it with <paramref name="vm"/> (slot 0 below 4 GiB, slot 1 above).</summary>
    public static GuestRam Create(MemoryMap map, IVm? vm)
    {
        var ram = new GuestRam(map);
        try
        {
            var regions = new List<GuestRegion>();
            var low = ram.Allocate(map.BelowFourGiBEnd);
            regions.Add(new GuestRegion(0, map.BelowFourGiBEnd, low.Address));
            if (map.AboveFourGiBSize > 0)
            {
                var high = ram.Allocate(map.AboveFourGiBSize);
                regions.Add(new GuestRegion(MemoryMap.FourGiB, map.AboveFourGiBSize, high.Address));
            }
            ram.Memory = new GuestMemory(regions);
            ram._slots = [.. regions.Select((r, i) => new MemorySlot((uint)i, r.Gpa, r.Size, r.Host))];
            if (vm is not null) ram.Register(vm);
            return ram;
        }
        catch
        {
            ram.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Makes the first <paramref name="map"/>.Size bytes of <paramref name="reservation"/> the guest's
    /// RAM (read-write host memory) and takes the reservation's mapping and slot over. The rest of the
    /// slot stays PROT_NONE: a guest access there faults in KVM, and <see cref="Memory"/>, which bounds
    /// every host access, ends at the guest's RAM. Only a map with no RAM above 4 GiB fits.
    /// </summary>
    internal static GuestRam FromReservation(RamReservation reservation, MemoryMap map)
    {
        if (!reservation.Fits(map))
            throw new InvalidOperationException($"{map.Size >> 20} MiB of RAM does not fit a memory reservation of {reservation.Size >> 20} MiB below the MMIO hole");
        var ram = new GuestRam(map);
        var mapping = reservation.Take(map.BelowFourGiBEnd);
        ram._mappings.Add(mapping);
        ram.Memory = new GuestMemory([new GuestRegion(0, map.BelowFourGiBEnd, mapping.Address)]);
        ram._slots = [new MemorySlot(0, 0, mapping.Length, mapping.Address)];
        return ram;
    }

    /// <summary>Registers the RAM with <paramref name="vm"/> as memory slots (slot 0 below 4 GiB, slot 1 above).</summary>
    public void Register(IVm vm)
    {
        foreach (var s in _slots) vm.SetUserMemoryRegion(s.Id, s.Gpa, s.Size, s.Host);
    }

    private SafeMmap Allocate(ulong size)
    {
        var m = Libc.Mmap((nuint)size, Libc.PROT_READ | Libc.PROT_WRITE,
            Libc.MAP_PRIVATE | Libc.MAP_ANONYMOUS | Libc.MAP_NORESERVE, null, "guest RAM");
        _mappings.Add(m);
        return m;
    }

    public void Dispose()
    {
        foreach (var m in _mappings) m.Dispose();
        _mappings.Clear();
    }
}
