using Domino.Vmm.Hypervisor;
using Domino.Vmm.Memory;
using Domino.Vmm.Vcpu;

namespace Domino.Vmm;

/// <summary>
/// The kernel half of a VM made ahead of a boot, a restore or an incoming migration: KVM VM, TSS and
/// identity map, irqchip and PIT, RAM registered as memory slots, vCPUs with their CPUID, and the
/// host threads to run them and the console input on (<see cref="ParkedThread"/>). Making
/// these waits on the kernel (KVM_SET_USER_MEMORY_REGION and the irqchip/PIT set-up each wait for
/// an SRCU grace period: 1–15 ms together on this host, whatever the memory size), so a VM that must
/// start fast takes a shell prepared while nothing was waiting for it
/// (<see cref="RestoreOptions.Shell"/>, <see cref="VirtualMachine.Build(VmResources, VmShell?)"/>).
/// A shell holds no guest state: its RAM is untouched anonymous memory and its vCPUs never ran.
/// One shell serves one VM; disposing an unused shell frees its KVM objects.
/// <para>
/// Two kinds. <see cref="Create"/> makes one for a known memory size and vCPU count.
/// <see cref="CreateForAnyGuest"/> makes one before the guest is known (the daemon's spare VMM
/// process): one memory slot covers guest-physical 0 up to the MMIO hole (3 GiB) over a PROT_NONE,
/// MAP_NORESERVE host reservation, and taking the shell makes the guest's own RAM read-write in it;
/// one vCPU is made ahead and any others when the shell is taken (vCPU creation does not wait on the
/// kernel). The guest sees only its own RAM: its memory map, <see cref="GuestMemory"/> bounds, saves,
/// dumps and dirty bitmaps all end at its RAM; a guest that touches the slot past its RAM faults in
/// KVM and ends as crashed (the VM reports where). Guests with RAM above 4 GiB do not fit.
/// </para>
/// </summary>
public sealed class VmShell : IDisposable
{
    /// <summary>The most RAM a guest in a shell made by <see cref="CreateForAnyGuest"/> may have: all RAM below the MMIO hole.</summary>
    public const int AnyGuestMaxMemoryMiB = (int)(MemoryMap.MmioHoleStart >> 20);

    private KvmHypervisor? _kvm;
    private KvmVm? _vm;
    private GuestRam? _ram;
    private RamReservation? _reservation;
    private List<KvmVcpu>? _vcpus;
    private List<ParkedThread>? _threads;

    private VmShell(int memoryMiB, int vcpus, bool forAnyGuest)
    {
        MemoryMiB = memoryMiB;
        Vcpus = vcpus;
        ForAnyGuest = forAnyGuest;
    }

    /// <summary>The guest's memory size; for a shell made for any guest, the most it may have.</summary>
    public int MemoryMiB { get; }

    /// <summary>vCPUs made ahead (for a shell made for any guest, one; the guest may have more).</summary>
    public int Vcpus { get; }

    /// <summary>Made by <see cref="CreateForAnyGuest"/>: fits any guest up to <see cref="MemoryMiB"/> of RAM below 4 GiB.</summary>
    public bool ForAnyGuest { get; }

    /// <summary>True until a VM has taken the shell's KVM objects (or it was disposed).</summary>
    public bool IsAvailable => _vm is not null;

    /// <summary>Whether a guest of <paramref name="memoryMiB"/> MiB and <paramref name="vcpus"/> vCPUs can be built in this shell.</summary>
    public bool Fits(int memoryMiB, int vcpus) => ForAnyGuest
        ? memoryMiB >= (int)(MemoryMap.MinimumSize >> 20) && memoryMiB <= MemoryMiB && vcpus is >= 1 and <= VmResources.MaxVcpus
        : memoryMiB == MemoryMiB && vcpus == Vcpus;

    /// <summary>Creates the KVM objects of a VM of <paramref name="memoryMiB"/> MiB and <paramref name="vcpus"/> vCPUs.</summary>
    public static VmShell Create(int memoryMiB, int vcpus)
    {
        if (memoryMiB is < 8 or > VmResources.MaxMemoryMiB) throw new ArgumentOutOfRangeException(nameof(memoryMiB), $"memory {memoryMiB} MiB is out of range");
        if (vcpus is < 1 or > VmResources.MaxVcpus) throw new ArgumentOutOfRangeException(nameof(vcpus), $"{vcpus} vCPUs is out of range");
        return Make(new VmShell(memoryMiB, vcpus, forAnyGuest: false), shell =>
            shell._ram = GuestRam.Create(MemoryMap.ForSize((ulong)memoryMiB << 20), shell._vm));
    }

    /// <summary>
    /// Creates the KVM objects of a VM whose guest is not known yet: any guest with up to
    /// <paramref name="maxMemoryMiB"/> MiB of RAM (at most <see cref="AnyGuestMaxMemoryMiB"/>) and any number of vCPUs.
    /// </summary>
    public static VmShell CreateForAnyGuest(int maxMemoryMiB = AnyGuestMaxMemoryMiB)
    {
        if (maxMemoryMiB < (int)(MemoryMap.MinimumSize >> 20) || maxMemoryMiB > AnyGuestMaxMemoryMiB)
            throw new ArgumentOutOfRangeException(nameof(maxMemoryMiB), $"a shell for any guest covers {MemoryMap.MinimumSize >> 20} to {AnyGuestMaxMemoryMiB} MiB, not {maxMemoryMiB}");
        return Make(new VmShell(maxMemoryMiB, 1, forAnyGuest: true), shell =>
            shell._reservation = RamReservation.Create((ulong)maxMemoryMiB << 20, shell._vm!));
    }

    private static VmShell Make(VmShell shell, Action<VmShell> memory)
    {
        try
        {
            shell._kvm = KvmHypervisor.Open();
            shell._vm = shell._kvm.CreateVm();
            shell._vm.SetupArchitecturalPages();
            shell._vm.CreateIrqchipAndPit();
            memory(shell);
            shell._vcpus = [];
            for (var i = 0; i < shell.Vcpus; i++)
            {
                var vcpu = shell._vm.CreateVcpu(i);
                shell._vcpus.Add(vcpu);
                vcpu.SetCpuid(shell.Vcpus);
            }
            // A thread per vCPU and one for console input, started now rather than while the VM is built.
            shell._threads = [.. Enumerable.Range(0, shell.Vcpus + 1).Select(_ => new ParkedThread())];
            return shell;
        }
        catch
        {
            shell.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Hands the KVM objects to the VM being built for <paramref name="map"/> and <paramref name="vcpus"/>
    /// vCPUs, each with its CPUID set for that count; the shell is empty afterwards, also when taking
    /// fails half-way. A guest that does not <see cref="Fits"/> is refused and leaves the shell as it was.
    /// </summary>
    internal (KvmHypervisor Kvm, KvmVm Vm, GuestRam Ram, List<KvmVcpu> Vcpus, List<ParkedThread> Threads) Take(MemoryMap map, int vcpus)
    {
        if (_vm is null) throw new InvalidOperationException("this VM shell has already been used");
        var memoryMiB = (int)(map.Size >> 20);
        if (!Fits(memoryMiB, vcpus))
            throw new InvalidOperationException(ForAnyGuest
                ? $"the VM shell holds guests of up to {MemoryMiB} MiB of RAM below 4 GiB; this one has {memoryMiB} MiB and {vcpus} vCPUs"
                : $"the VM shell was made for {MemoryMiB} MiB and {Vcpus} vCPUs, the VM has {memoryMiB} MiB and {vcpus}");
        try
        {
            var ram = _ram ?? GuestRam.FromReservation(_reservation!, map);
            _ram = ram;
            var made = _vcpus!.Count;
            for (var i = made; i < vcpus; i++) _vcpus.Add(_vm.CreateVcpu(i));
            if (vcpus != made)
            {
                foreach (var v in _vcpus) v.SetCpuid(vcpus);
            }
            var taken = (_kvm!, _vm, ram, _vcpus, _threads!);
            (_kvm, _vm, _ram, _reservation, _vcpus, _threads) = (null, null, null, null, null, null);
            return taken;
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        foreach (var t in _threads ?? []) t.Dispose();
        foreach (var v in _vcpus ?? []) v.Dispose();
        _ram?.Dispose();
        _reservation?.Dispose();
        _vm?.Dispose();
        _kvm?.Dispose();
        (_kvm, _vm, _ram, _reservation, _vcpus, _threads) = (null, null, null, null, null, null);
    }
}
