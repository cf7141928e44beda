namespace Domino.Vmm.Devices;

/// <summary>
/// A device on the port-I/O or MMIO bus. The bus passes the offset from the device's base address
/// and a 1/2/4/8-byte buffer; reads fill <paramref name="data"/>, writes consume it. Called on the
/// vCPU thread that took the exit, so implementations that can be reached from several vCPUs lock.
/// </summary>
public interface IBusDevice
{
    void Read(ulong offset, Span<byte> data);
    void Write(ulong offset, ReadOnlySpan<byte> data);
}

/// <summary>A guest interrupt line (a GSI on the in-kernel IOAPIC/PIC).</summary>
public interface IInterruptLine
{
    uint Gsi { get; }

    /// <summary>Raise or lower a level-triggered line.</summary>
    void SetLevel(bool asserted);

    /// <summary>Edge: raise then lower.</summary>
    void Trigger();
}
