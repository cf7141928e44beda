namespace Domino.Vmm.Devices;

/// <summary>What a device can ask of the VM on the guest's behalf.</summary>
public interface IGuestEvents
{
    /// <summary>The guest asked to power off (debug-exit port, ACPI S5).</summary>
    void PowerOff(string how);

    /// <summary>The guest asked to reset (i8042 0xFE, ACPI reset register).</summary>
    void Reboot(string how);
}
