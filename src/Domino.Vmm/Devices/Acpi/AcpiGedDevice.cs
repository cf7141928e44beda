namespace Domino.Vmm.Devices.Acpi;

/// <summary>Events the Generic Event Device reports; the bit values are the ones Cloud Hypervisor's GED uses.</summary>
[Flags]
public enum GedEvent : byte
{
    None = 0,
    PowerButton = 1 << 3,
}

/// <summary>
/// The hardware-reduced ACPI Generic Event Device (ACPI 6.5 §5.6.9, <c>ACPI0013</c>): a one-byte
/// MMIO register holding the pending <see cref="GedEvent"/> bits and an edge-triggered interrupt.
/// The DSDT's <c>_EVT</c> method reads the register (reading clears it) and, for the power button,
/// does <c>Notify (\_SB.PWRB, 0x80)</c>. Only a one-byte read at offset 0 has an effect; every
/// other access of the claimed page reads zeros and writes are dropped.
/// </summary>
public sealed partial class AcpiGedDevice(IInterruptLine irq) : IBusDevice
{
    /// <summary>Where the register lives: the address QEMU's microvm gives its GED, inside the MMIO hole.</summary>
    public const ulong Address = 0xFEA0_0000;

    /// <summary>What the device claims on the MMIO bus (a page, so stray accesses near it are its own).</summary>
    public const ulong BusLength = 0x1000;

    /// <summary>The register's length, as the DSDT's operation region declares it.</summary>
    public const ulong RegisterLength = 1;

    /// <summary>The GSI of the GED's interrupt (an ISA IRQ no other device uses: COM2's).</summary>
    public const uint Gsi = 3;

    private readonly Lock _lock = new();
    private GedEvent _pending;

    /// <summary>Events raised but not read by the guest yet.</summary>
    public GedEvent Pending { get { lock (_lock) return _pending; } }

    /// <summary>Latches <paramref name="e"/> and pulses the interrupt.</summary>
    public void Notify(GedEvent e)
    {
        lock (_lock) _pending |= e;
        irq.Trigger();
    }

    public void Read(ulong offset, Span<byte> data)
    {
        data.Clear();
        if (offset != 0 || data.Length != 1) return;
        lock (_lock)
        {
            data[0] = (byte)_pending;
            _pending = GedEvent.None;
        }
    }

    public void Write(ulong offset, ReadOnlySpan<byte> data)
    {
        // Read-only register.
    }
}
