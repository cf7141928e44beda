using Domino.Vmm.Hypervisor;
using Domino.Vmm.Interop;
using static Domino.Vmm.Interop.Interop;

namespace Domino.Vmm.Memory;

/// <summary>
/// The VM's RAM: anonymous, lazily-committed host mappings (MAP_NORESERVE) registered as KVM
/// memory slots per <see cref="MemoryMap"/>. Owns the mappings; dispose after the vCPUs stopped.
/// </summary>
public sealed partial class GuestRam : IDisposable
{
    private readonly List<SafeMmap> _mappings = [];

    private GuestRam(MemoryMap map)
    {
        Map = map;
    }

    public MemoryMap Map { get; }

    public GuestMemory Memory { get; private set; } = null!;

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
            if (vm is not null) ram.Register(vm);
            return ram;
        }
        catch
        {
            ram.Dispose();
            throw;
        }
    }

    /// <summary>Registers the RAM with <paramref name="vm"/> as memory slots (slot 0 below 4 GiB, slot 1 above).</summary>
    public void Register(IVm vm)
    {
        vm.SetUserMemoryRegion(0, 0, Map.BelowFourGiBEnd, _mappings[0].Address);
        if (Map.AboveFourGiBSize > 0) vm.SetUserMemoryRegion(1, MemoryMap.FourGiB, Map.AboveFourGiBSize, _mappings[1].Address);
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
