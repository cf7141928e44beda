using Domino.Vmm.Devices.Virtio.Queue;

namespace Domino.Vmm.Devices.Virtio;

/// <summary>
/// A virtio device model (block, console, ...) independent of the transport that exposes it.
/// The transport owns registers, feature negotiation and queue setup; the device owns its
/// config space and what it does with descriptor chains.
/// </summary>
/// <remarks>
/// Threading: <see cref="ProcessQueue"/> runs on whichever vCPU wrote QueueNotify, possibly several
/// at once, and <see cref="Reset"/> can race with it; implementations serialise with their own lock.
/// A device never calls back into the transport's register lock, only into <see cref="IVirtioInterrupt"/>.
/// </remarks>
public interface IVirtioDevice
{
    /// <summary>Virtio device ID (§5): 2 = block, 3 = console.</summary>
    uint DeviceId { get; }

    /// <summary>Device-specific feature bits offered to the driver; the transport adds the ring and version bits.</summary>
    ulong DeviceFeatures { get; }

    /// <summary>Maximum size of each virtqueue; the count is the number of queues.</summary>
    IReadOnlyList<ushort> QueueMaxSizes { get; }

    /// <summary>Read device config space; bytes past its end read as zero.</summary>
    void ReadConfig(ulong offset, Span<byte> data);

    /// <summary>Write device config space; read-only fields ignore writes.</summary>
    void WriteConfig(ulong offset, ReadOnlySpan<byte> data);

    /// <summary>Called once the driver sets DRIVER_OK, with every queue the driver set up.</summary>
    /// <param name="features">The negotiated feature bits (transport and device).</param>
    /// <param name="queues">One entry per queue, in queue order; a queue the driver left unused is not ready.</param>
    /// <param name="interrupt">How the device signals the guest and reports guest errors.</param>
    void Activate(ulong features, IReadOnlyList<SplitVirtqueue> queues, IVirtioInterrupt interrupt);

    /// <summary>Return to the initial state: drop queues and in-flight work, keep the backend open.</summary>
    void Reset();

    /// <summary>The driver notified queue <paramref name="index"/> (or the device was just activated).</summary>
    void ProcessQueue(int index);
}

/// <summary>The transport's side of a device's interrupts and error reporting.</summary>
public interface IVirtioInterrupt
{
    /// <summary>Buffers were added to a used ring (InterruptStatus bit 0).</summary>
    void SignalUsedBuffer();

    /// <summary>Device config space changed (InterruptStatus bit 1; bumps ConfigGeneration).</summary>
    void SignalConfigChange();

    /// <summary>
    /// The guest broke the virtio contract: the transport sets DEVICE_NEEDS_RESET, raises a
    /// config-change interrupt and records <paramref name="reason"/>. The VMM keeps running.
    /// </summary>
    void ReportGuestError(string reason);
}
