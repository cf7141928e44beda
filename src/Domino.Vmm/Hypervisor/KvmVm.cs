using Domino.Vmm.Interop;
using static Domino.Vmm.Interop.Interop;

namespace Domino.Vmm.Hypervisor;

/// <summary>One KVM virtual machine: memory slots, the in-kernel irqchip and PIT, interrupt lines, vCPUs.</summary>
public sealed partial class KvmVm : IVm
{
    /// <summary>Where KVM's VMX real-mode helpers live: three pages just below the 4 GiB MMIO top, never RAM.</summary>
    public const ulong TssAddress = 0xFFFB_D000;
    public const ulong IdentityMapAddress = 0xFFFB_C000;

    private readonly SafeFd _vm;
    private readonly Lock _irqLock = new();

    /// <summary>Pages per registered slot: KVM_GET_DIRTY_LOG writes one bit per page, so a bitmap is checked against it.</summary>
    private readonly System.Collections.Concurrent.ConcurrentDictionary<uint, ulong> _slotPages = new();

    internal KvmVm(KvmHypervisor hypervisor, SafeFd vm)
    {
        Hypervisor = hypervisor;
        _vm = vm;
    }

    public KvmHypervisor Hypervisor { get; }

    internal SafeFd Fd => _vm;

    /// <summary>Sets the VMX real-mode TSS and identity-map pages (needed on Intel; harmless elsewhere).</summary>
    public void SetupArchitecturalPages()
    {
        if (Hypervisor.HasCapability(Kvm.KVM_CAP_SET_IDENTITY_MAP_ADDR))
        {
            var addr = IdentityMapAddress;
            Kvm.Ioctl(_vm, Kvm.KVM_SET_IDENTITY_MAP_ADDR, ref addr, "KVM_SET_IDENTITY_MAP_ADDR");
        }
        if (Hypervisor.HasCapability(Kvm.KVM_CAP_SET_TSS_ADDR))
            Kvm.Ioctl(_vm, Kvm.KVM_SET_TSS_ADDR, unchecked((nint)TssAddress), "KVM_SET_TSS_ADDR");
    }

    /// <summary>Creates the in-kernel PIC + IOAPIC + LAPICs and the i8254 PIT.</summary>
    public void CreateIrqchipAndPit()
    {
        Kvm.Ioctl(_vm, Kvm.KVM_CREATE_IRQCHIP, 0, "KVM_CREATE_IRQCHIP");
        var pit = new kvm_pit_config { flags = Kvm.KVM_PIT_SPEAKER_DUMMY };
        Kvm.Ioctl(_vm, Kvm.KVM_CREATE_PIT2, ref pit, "KVM_CREATE_PIT2");
    }

    /// <summary>Maps host memory at <paramref name="hostAddress"/> into the guest at <paramref name="gpa"/>.</summary>
    public void SetUserMemoryRegion(uint slot, ulong gpa, ulong size, nint hostAddress)
    {
        var region = new kvm_userspace_memory_region
        {
            slot = slot,
            guest_phys_addr = gpa,
            memory_size = size,
            userspace_addr = (ulong)hostAddress,
        };
        Kvm.Ioctl(_vm, Kvm.KVM_SET_USER_MEMORY_REGION, ref region, $"KVM_SET_USER_MEMORY_REGION(slot {slot}, 0x{gpa:x}+0x{size:x})");
        _slotPages[slot] = size / 4096;
    }

    /// <summary>Drives a GSI on the in-kernel IOAPIC/PIC.</summary>
    public void SetIrqLine(uint gsi, bool level)
    {
        var irq = new kvm_irq_level { irq = gsi, level = level ? 1u : 0u };
        lock (_irqLock) Kvm.Ioctl(_vm, Kvm.KVM_IRQ_LINE, ref irq, $"KVM_IRQ_LINE(gsi {gsi})");
    }

    IVcpu IVm.CreateVcpu(int id) => CreateVcpu(id);

    public KvmVcpu CreateVcpu(int id)
    {
        var fd = new SafeFd(Kvm.Ioctl(_vm, Kvm.KVM_CREATE_VCPU, id, $"KVM_CREATE_VCPU({id})"));
        try
        {
            var run = Libc.Mmap((nuint)Hypervisor.VcpuMmapSize, Libc.PROT_READ | Libc.PROT_WRITE, Libc.MAP_SHARED, fd, $"kvm_run of vCPU {id}");
            return new KvmVcpu(this, id, fd, run);
        }
        catch
        {
            fd.Dispose();
            throw;
        }
    }

    public void Dispose() => _vm.Dispose();
}
