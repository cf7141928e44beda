using Domino.Vmm.Hypervisor;

namespace Domino.Vmm.Tests;

/// <summary>
/// A complete hypervisor without KVM: its single vCPU "runs" a script of exits, one per Run(),
/// then waits to be kicked. Lets the VMM's exit handling be tested on any machine.
/// </summary>
internal sealed class FakeHypervisor(params FakeExit[] script) : IHypervisor
{
    public FakeVm? Vm { get; private set; }

    public IVm CreateVm() => Vm = new FakeVm(script);

    public void Dispose() { }
}

/// <summary>One scripted exit; <see cref="Data"/> is the I/O or MMIO buffer KVM would share.</summary>
internal sealed record FakeExit(VmExitKind Kind, ulong Address = 0, byte[]? Data = null, SystemEventType Event = SystemEventType.None, uint Suberror = 0, uint RawReason = 0);

internal sealed class FakeVm(FakeExit[] script) : IVm
{
    public List<(uint Slot, ulong Gpa, ulong Size)> Slots { get; } = [];
    public List<(uint Gsi, bool Level)> IrqLines { get; } = [];
    public List<FakeVcpu> Vcpus { get; } = [];

    public void SetupArchitecturalPages() { }
    public void CreateIrqchipAndPit() { }
    public void SetUserMemoryRegion(uint slot, ulong gpa, ulong size, nint hostAddress) => Slots.Add((slot, gpa, size));
    public void SetIrqLine(uint gsi, bool level) { lock (IrqLines) IrqLines.Add((gsi, level)); }

    public IVcpu CreateVcpu(int id)
    {
        var v = new FakeVcpu(id, id == 0 ? script : []);
        Vcpus.Add(v);
        return v;
    }

    public void Dispose() { }
}

internal sealed class FakeVcpu(int id, FakeExit[] script) : IVcpu
{
    private readonly SemaphoreSlim _kick = new(0);
    private int _next;

    public int Id { get; } = id;
    public X86Registers Registers { get; set; }
    public X86SpecialRegisters SpecialRegisters { get; set; }

    public void BindToCurrentThread() { }
    public void UnbindThread() { }
    public void Kick() => _kick.Release();
    public void ClearKick() { }

    public VmExit Run()
    {
        if (_next < script.Length)
        {
            var e = script[_next++];
            return new VmExit
            {
                Kind = e.Kind, Address = e.Address, Size = e.Data?.Length ?? 0, Count = 1, Data = e.Data,
                EventType = e.Event, Suberror = e.Suberror, RawReason = e.RawReason, Details = [],
            };
        }
        _kick.Wait();
        return new VmExit { Kind = VmExitKind.Interrupted };
    }

    public X86Registers GetRegisters() => Registers;
    public void SetRegisters(in X86Registers registers) => Registers = registers;
    public X86SpecialRegisters GetSpecialRegisters() => SpecialRegisters;
    public void SetSpecialRegisters(in X86SpecialRegisters registers) => SpecialRegisters = registers;
    public void InitializeFpu() { }
    public void SetCpuid(int vcpuCount) { }
    public void SetupLapicLints() { }
    public bool WaitingForSipi { get; private set; }
    public void WaitForStartupIpi() => WaitingForSipi = true;
    private int _nmis;
    public int Nmis => Volatile.Read(ref _nmis);
    public int? NmiThread { get; private set; }
    public void InjectNmi()
    {
        NmiThread = Environment.CurrentManagedThreadId;
        Interlocked.Increment(ref _nmis);
    }
    public void Dispose() => _kick.Dispose();
}
