using Domino.Vmm.Hypervisor;
using Domino.Vmm.Memory;

namespace Domino.Vmm;

/// <summary>
/// The kernel half of a VM made ahead of a restore or an incoming migration: KVM VM, TSS and
/// identity map, irqchip and PIT, RAM registered as memory slots, vCPUs with their CPUID. Making
/// these waits on the kernel (KVM_SET_USER_MEMORY_REGION and the irqchip/PIT set-up each wait for
/// an SRCU grace period: 1–15 ms together on this host, whatever the memory size), so a restore
/// that must be fast takes a shell prepared while nothing was waiting for it
/// (<see cref="RestoreOptions.Shell"/>). A shell holds no guest state: its RAM is untouched
/// anonymous memory and its vCPUs never ran. One shell serves one VM; disposing an unused shell
/// frees its KVM objects.
/// </summary>
public sealed class VmShell : IDisposable
{
    private KvmHypervisor? _kvm;
    private KvmVm? _vm;
    private GuestRam? _ram;
    private List<KvmVcpu>? _vcpus;

    private VmShell(int memoryMiB, int vcpus)
    {
        MemoryMiB = memoryMiB;
        Vcpus = vcpus;
    }

    public int MemoryMiB { get; }

    public int Vcpus { get; }

    /// <summary>True until a VM has taken the shell's KVM objects (or it was disposed).</summary>
    public bool IsAvailable => _vm is not null;

    /// <summary>Creates the KVM objects of a VM of <paramref name="memoryMiB"/> MiB and <paramref name="vcpus"/> vCPUs.</summary>
    public static VmShell Create(int memoryMiB, int vcpus)
    {
        if (memoryMiB is < 8 or > VmResources.MaxMemoryMiB) throw new ArgumentOutOfRangeException(nameof(memoryMiB), $"memory {memoryMiB} MiB is out of range");
        if (vcpus is < 1 or > VmResources.MaxVcpus) throw new ArgumentOutOfRangeException(nameof(vcpus), $"{vcpus} vCPUs is out of range");
        var shell = new VmShell(memoryMiB, vcpus);
        try
        {
            shell._kvm = KvmHypervisor.Open();
            shell._vm = shell._kvm.CreateVm();
            shell._vm.SetupArchitecturalPages();
            shell._vm.CreateIrqchipAndPit();
            shell._ram = GuestRam.Create(MemoryMap.ForSize((ulong)memoryMiB << 20), shell._vm);
            shell._vcpus = [];
            for (var i = 0; i < vcpus; i++)
            {
                var vcpu = shell._vm.CreateVcpu(i);
                shell._vcpus.Add(vcpu);
                vcpu.SetCpuid(vcpus);
            }
            return shell;
        }
        catch
        {
            shell.Dispose();
            throw;
        }
    }

    /// <summary>Hands the KVM objects to the VM being built; the shell is empty afterwards.</summary>
    internal (KvmHypervisor Kvm, KvmVm Vm, GuestRam Ram, List<KvmVcpu> Vcpus) Take(int memoryMiB, int vcpus)
    {
        if (_vm is null) throw new InvalidOperationException("this VM shell has already been used");
        if (memoryMiB != MemoryMiB || vcpus != Vcpus)
            throw new InvalidOperationException($"the VM shell was made for {MemoryMiB} MiB and {Vcpus} vCPUs, the saved VM has {memoryMiB} MiB and {vcpus}");
        var taken = (_kvm!, _vm, _ram!, _vcpus!);
        _kvm = null;
        _vm = null;
        _ram = null;
        _vcpus = null;
        return taken;
    }

    public void Dispose()
    {
        foreach (var v in _vcpus ?? []) v.Dispose();
        _ram?.Dispose();
        _vm?.Dispose();
        _kvm?.Dispose();
        _vcpus = null;
        _ram = null;
        _vm = null;
        _kvm = null;
    }
}
