using Domino.Vmm.Hypervisor;

namespace Domino.Vmm.Devices;

/// <summary>A GSI of the in-kernel IOAPIC/PIC (KVM_IRQ_LINE on KVM).</summary>
public sealed class KvmInterruptLine(IVm vm, uint gsi) : IInterruptLine
{
    public uint Gsi { get; } = gsi;

    public void SetLevel(bool asserted) => vm.SetIrqLine(Gsi, asserted);

    public void Trigger()
    {
        vm.SetIrqLine(Gsi, true);
        vm.SetIrqLine(Gsi, false);
    }
}

/// <summary>An interrupt line that goes nowhere but remembers its level; for devices outside a VM (tests, tools).</summary>
public sealed class RecordingInterruptLine(uint gsi) : IInterruptLine
{
    private int _triggers;

    public uint Gsi { get; } = gsi;

    public bool Level { get; private set; }

    public int Triggers => _triggers;

    public void SetLevel(bool asserted)
    {
        if (asserted && !Level) Interlocked.Increment(ref _triggers);
        Level = asserted;
    }

    public void Trigger() => Interlocked.Increment(ref _triggers);
}
