using Domino.Vmm.Hypervisor;
using Domino.Vmm.Interop;
using static Domino.Vmm.Interop.Interop;

namespace Domino.Vmm.Memory;

/// <summary>
/// Guest-physical space from 0 registered as KVM memory slot 0 before anyone knows how much RAM the
/// guest will have: host address space reserved PROT_NONE and MAP_NORESERVE (no memory, no commit
/// charge), of which a guest's RAM is later made read-write (<see cref="GuestRam.FromReservation"/>).
/// The slot never changes, so the guest costs no further KVM_SET_USER_MEMORY_REGION and its SRCU
/// grace period: KVM maps guest memory through the host's page tables (MMU notifiers), so a
/// protection change inside a registered slot needs no new slot.
/// </summary>
internal sealed class RamReservation : IDisposable
{
    private SafeMmap? _mapping;

    private RamReservation(SafeMmap mapping)
    {
        _mapping = mapping;
    }

    /// <summary>Bytes of guest-physical space from 0 that the slot covers.</summary>
    public ulong Size { get; private init; }

    /// <summary>Reserves <paramref name="size"/> bytes (at most up to the MMIO hole) and registers them with <paramref name="vm"/> as slot 0.</summary>
    public static RamReservation Create(ulong size, IVm vm)
    {
        if (size < MemoryMap.MinimumSize || size > MemoryMap.MmioHoleStart || size % GuestMemory.PageSize != 0)
            throw new ArgumentOutOfRangeException(nameof(size), $"a RAM reservation of 0x{size:x} bytes must be whole pages between {MemoryMap.MinimumSize >> 20} MiB and the MMIO hole at 0x{MemoryMap.MmioHoleStart:x}");
        var mapping = Libc.Mmap((nuint)size, Libc.PROT_NONE, Libc.MAP_PRIVATE | Libc.MAP_ANONYMOUS | Libc.MAP_NORESERVE, null, "guest RAM reservation");
        var reservation = new RamReservation(mapping) { Size = size };
        try
        {
            vm.SetUserMemoryRegion(0, 0, size, mapping.Address);
            return reservation;
        }
        catch
        {
            reservation.Dispose();
            throw;
        }
    }

    /// <summary>True when <paramref name="map"/>'s RAM lies wholly inside the reservation (none above 4 GiB).</summary>
    public bool Fits(MemoryMap map) => map.AboveFourGiBSize == 0 && map.BelowFourGiBEnd <= Size;

    /// <summary>Makes [0, <paramref name="ramSize"/>) read-write and hands the whole mapping over; the reservation is empty afterwards.</summary>
    public SafeMmap Take(ulong ramSize)
    {
        var mapping = _mapping ?? throw new InvalidOperationException("this RAM reservation has already been taken");
        if (ramSize > Size || ramSize % GuestMemory.PageSize != 0)
            throw new ArgumentOutOfRangeException(nameof(ramSize), $"0x{ramSize:x} bytes of RAM do not fit a reservation of 0x{Size:x}");
        Libc.Mprotect(mapping.Address, (nuint)ramSize, Libc.PROT_READ | Libc.PROT_WRITE);
        _mapping = null;
        return mapping;
    }

    public void Dispose()
    {
        _mapping?.Dispose();
        _mapping = null;
    }
}
