namespace Domino.Vmm.Vcpu;

/// <summary>
/// A time-partitioning hook in the vCPU run loop: before each KVM_RUN the vCPU thread asks the gate
/// whether it may enter the guest. A gate that enforces windows (ARINC653) blocks until the vCPU's
/// next window opens and arranges for the thread to be kicked out of KVM_RUN when the window closes.
/// </summary>
public interface IVcpuGate
{
    /// <summary>
    /// Blocks until <paramref name="vcpu"/> may run. True: it may run until CLOCK_MONOTONIC reaches
    /// <paramref name="windowEndNs"/>. False: the wait was interrupted (a kick: the runner has a
    /// request to look at) and the caller must ask again before running.
    /// </summary>
    bool WaitForWindow(int vcpu, out long windowEndNs);

    /// <summary>Called on the vCPU thread right after each KVM_RUN returns (for window-end accounting).</summary>
    void LeftGuest(int vcpu);
}
