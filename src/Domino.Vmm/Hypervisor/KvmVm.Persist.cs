using System.Runtime.InteropServices;
using Domino.Vmm.Interop;
using static Domino.Vmm.Interop.Interop;

namespace Domino.Vmm.Hypervisor;

/// <summary>VM-wide state that lives in the kernel: PIC and IOAPIC, PIT, kvmclock.</summary>
public sealed class KvmVmChipState
{
    public required byte[] PicMaster { get; init; }
    public required byte[] PicSlave { get; init; }
    public required byte[] Ioapic { get; init; }
    public required byte[] Pit { get; init; }
    public required ulong Clock { get; init; }
}

public sealed partial class KvmVm : ISnapshotVm
{
    /// <summary>Reads the in-kernel irqchip, PIT and clock (api.rst KVM_GET_IRQCHIP, KVM_GET_PIT2, KVM_GET_CLOCK).</summary>
    public KvmVmChipState GetChipState()
    {
        kvm_pit_state2 pit = default;
        Kvm.Ioctl(_vm, KvmPersist.KVM_GET_PIT2, ref pit, "KVM_GET_PIT2");
        kvm_clock_data clock = default;
        Kvm.Ioctl(_vm, KvmPersist.KVM_GET_CLOCK, ref clock, "KVM_GET_CLOCK");
        return new KvmVmChipState
        {
            PicMaster = GetIrqchip(KvmPersist.KVM_IRQCHIP_PIC_MASTER),
            PicSlave = GetIrqchip(KvmPersist.KVM_IRQCHIP_PIC_SLAVE),
            Ioapic = GetIrqchip(KvmPersist.KVM_IRQCHIP_IOAPIC),
            Pit = Blob.From(pit),
            Clock = clock.clock,
        };
    }

    public void SetChipState(KvmVmChipState state)
    {
        SetIrqchip(KvmPersist.KVM_IRQCHIP_PIC_MASTER, state.PicMaster);
        SetIrqchip(KvmPersist.KVM_IRQCHIP_PIC_SLAVE, state.PicSlave);
        SetIrqchip(KvmPersist.KVM_IRQCHIP_IOAPIC, state.Ioapic);
        var pit = Blob.To<kvm_pit_state2>(state.Pit, "PIT state");
        Kvm.Ioctl(_vm, KvmPersist.KVM_SET_PIT2, ref pit, "KVM_SET_PIT2");
        // flags = 0: set the clock as given, without KVM_CLOCK_REALTIME catch-up.
        var clock = new kvm_clock_data { clock = state.Clock };
        Kvm.Ioctl(_vm, KvmPersist.KVM_SET_CLOCK, ref clock, "KVM_SET_CLOCK");
    }

    // SAFETY: copies out of / into the fixed 512-byte chip buffer of a local kvm_irqchip.
    private unsafe byte[] GetIrqchip(uint chip)
    {
        var c = new kvm_irqchip { chip_id = chip };
        Kvm.Ioctl(_vm, KvmPersist.KVM_GET_IRQCHIP, ref c, $"KVM_GET_IRQCHIP({chip})");
        // SAFETY: chip is a fixed 512-byte buffer inside the local c.
        return new ReadOnlySpan<byte>(c.chip, kvm_irqchip.ChipSize).ToArray();
    }

    // SAFETY: copies out of / into the fixed 512-byte chip buffer of a local kvm_irqchip.
    private unsafe void SetIrqchip(uint chip, byte[] data)
    {
        if (data.Length != kvm_irqchip.ChipSize) throw new ArgumentException($"irqchip {chip} state is {data.Length} bytes, expected {kvm_irqchip.ChipSize}");
        var c = new kvm_irqchip { chip_id = chip };
        // SAFETY: chip is a fixed 512-byte buffer inside the local c; data was checked to be 512 bytes.
        data.CopyTo(new Span<byte>(c.chip, kvm_irqchip.ChipSize));
        Kvm.Ioctl(_vm, KvmPersist.KVM_SET_IRQCHIP, ref c, $"KVM_SET_IRQCHIP({chip})");
    }

    /// <summary>(Re)registers a memory slot with or without KVM_MEM_LOG_DIRTY_PAGES.</summary>
    public void SetUserMemoryRegion(uint slot, ulong gpa, ulong size, nint hostAddress, bool logDirtyPages)
    {
        var region = new kvm_userspace_memory_region
        {
            slot = slot,
            flags = logDirtyPages ? KvmPersist.KVM_MEM_LOG_DIRTY_PAGES : 0,
            guest_phys_addr = gpa,
            memory_size = size,
            userspace_addr = (ulong)hostAddress,
        };
        Kvm.Ioctl(_vm, Kvm.KVM_SET_USER_MEMORY_REGION, ref region, $"KVM_SET_USER_MEMORY_REGION(slot {slot}, dirty logging {(logDirtyPages ? "on" : "off")})");
        _slotPages[slot] = size / 4096;
    }

    /// <summary>
    /// Fetches and resets the slot's dirty bitmap (KVM_GET_DIRTY_LOG): bit n set = page n of the slot
    /// was written since the last call. <paramref name="bitmap"/> must hold one bit per page of the slot.
    /// </summary>
    // SAFETY: pins the caller's bitmap for the ioctl (see below).
    public unsafe void GetDirtyLog(uint slot, ulong[] bitmap)
    {
        if (!_slotPages.TryGetValue(slot, out var pages)) throw new ArgumentException($"memory slot {slot} is not registered", nameof(slot));
        if ((ulong)bitmap.Length * 64 < pages)
            throw new ArgumentException($"a dirty bitmap of {bitmap.Length} words is too short for memory slot {slot} of {pages} pages", nameof(bitmap));
        // SAFETY: the kernel writes one bit per page of the slot, rounded up to 64-bit words, and the
        // array was just checked to hold that many; it is pinned for the duration of the ioctl.
        fixed (ulong* p = bitmap)
        {
            var log = new kvm_dirty_log { slot = slot, dirty_bitmap = (ulong)p };
            Kvm.Ioctl(_vm, KvmPersist.KVM_GET_DIRTY_LOG, ref log, $"KVM_GET_DIRTY_LOG(slot {slot})");
        }
    }
}

/// <summary>Copies blittable kernel structs to and from byte arrays for the snapshot.</summary>
internal static class Blob
{
    public static byte[] From<T>(in T value) where T : unmanaged =>
        MemoryMarshal.AsBytes(new ReadOnlySpan<T>(in value)).ToArray();

    public static T To<T>(byte[] data, string what) where T : unmanaged
    {
        var size = System.Runtime.CompilerServices.Unsafe.SizeOf<T>();
        if (data.Length != size) throw new ArgumentException($"{what} is {data.Length} bytes, this host's {typeof(T).Name} is {size}");
        return MemoryMarshal.Read<T>(data);
    }
}
