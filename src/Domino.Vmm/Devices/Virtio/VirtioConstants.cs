namespace Domino.Vmm.Devices.Virtio;

/// <summary>Device status bits (virtio 1.2 §2.1).</summary>
[Flags]
public enum DeviceStatus : uint
{
    None = 0,
    Acknowledge = 1,
    Driver = 2,
    DriverOk = 4,
    FeaturesOk = 8,
    DeviceNeedsReset = 0x40,
    Failed = 0x80,
}

/// <summary>Device-independent feature bits (virtio 1.2 §6) and device IDs (§5).</summary>
public static class VirtioFeatures
{
    public const int RingIndirectDescBit = 28;
    public const int RingEventIdxBit = 29;
    public const int Version1Bit = 32;

    public const ulong RingIndirectDesc = 1UL << RingIndirectDescBit;
    public const ulong RingEventIdx = 1UL << RingEventIdxBit;
    public const ulong Version1 = 1UL << Version1Bit;

    /// <summary>What the transport and <see cref="Queue.SplitVirtqueue"/> implement for every device.</summary>
    public const ulong Transport = Version1 | RingIndirectDesc | RingEventIdx;
}

public static class VirtioDeviceIds
{
    public const uint Block = 2;
    public const uint Console = 3;
}
