using System.Buffers.Binary;
using Domino.Vmm.Devices.Virtio;
using Domino.Vmm.Devices.Virtio.Queue;
using Domino.Vmm.Memory;
using Xunit;
using R = Domino.Vmm.Devices.Virtio.VirtioMmioTransport.Reg;

namespace Domino.Vmm.Tests.Virtio;

/// <summary>
/// What a guest virtio-mmio driver does, written against the register window and guest RAM only:
/// status handshake, feature negotiation, queue layout, adding chains and reading the used ring.
/// </summary>
public sealed class VirtioDriver
{
    private readonly GuardedGuestMemory? _ram;
    private readonly Func<ulong, ulong, ulong> _allocate;

    public VirtioDriver(IVirtioDevice device, GuardedGuestMemory ram)
    {
        _ram = ram;
        _allocate = ram.Allocate;
        Memory = ram.Memory;
        Irq = new RecordingInterruptLine();
        Transport = new VirtioMmioTransport(device, ram.Memory, Irq);
        Transport.OnGuestError += e => { lock (Errors) Errors.Add(e); };
    }

    /// <summary>Drives a transport already wired into a VM; rings and buffers go where <paramref name="allocate"/>(length, align) says.</summary>
    public VirtioDriver(VirtioMmioTransport transport, GuestMemory memory, Func<ulong, ulong, ulong> allocate)
    {
        _allocate = allocate;
        Memory = memory;
        Irq = new RecordingInterruptLine();
        Transport = transport;
        Transport.OnGuestError += e => { lock (Errors) Errors.Add(e); };
    }

    public VirtioMmioTransport Transport { get; }
    /// <summary>The interrupt line of a transport this driver made (a VM's transport drives the VM's own line).</summary>
    public RecordingInterruptLine Irq { get; }
    public List<string> Errors { get; } = [];
    public GuestMemory Memory { get; }
    public Dictionary<int, DriverQueue> Queues { get; } = [];

    public uint ReadReg(ulong offset)
    {
        Span<byte> b = stackalloc byte[4];
        Transport.Read(offset, b);
        return BinaryPrimitives.ReadUInt32LittleEndian(b);
    }

    public void WriteReg(ulong offset, uint value)
    {
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(b, value);
        Transport.Write(offset, b);
    }

    public DeviceStatus Status => (DeviceStatus)ReadReg(R.Status);

    public void SetStatus(DeviceStatus status) => WriteReg(R.Status, (uint)status);

    public ulong ReadDeviceFeatures()
    {
        WriteReg(R.DeviceFeaturesSel, 0);
        ulong low = ReadReg(R.DeviceFeatures);
        WriteReg(R.DeviceFeaturesSel, 1);
        return low | ((ulong)ReadReg(R.DeviceFeatures) << 32);
    }

    /// <summary>§3.1.1 steps 1–6; returns whether the device kept FEATURES_OK.</summary>
    public bool Negotiate(ulong features)
    {
        SetStatus(DeviceStatus.None);
        SetStatus(DeviceStatus.Acknowledge);
        SetStatus(DeviceStatus.Acknowledge | DeviceStatus.Driver);
        WriteReg(R.DriverFeaturesSel, 0);
        WriteReg(R.DriverFeatures, (uint)features);
        WriteReg(R.DriverFeaturesSel, 1);
        WriteReg(R.DriverFeatures, (uint)(features >> 32));
        SetStatus(DeviceStatus.Acknowledge | DeviceStatus.Driver | DeviceStatus.FeaturesOk);
        return (Status & DeviceStatus.FeaturesOk) != 0;
    }

    /// <summary>Lay out queue <paramref name="index"/> in guest RAM and program its registers.</summary>
    public DriverQueue SetupQueue(int index, ushort size, bool eventIdx = false, bool ready = true)
    {
        var desc = _allocate(16UL * size, 16);
        var avail = _allocate(SplitVirtqueue.AvailRingSize(size, true), 2);
        var used = _allocate(SplitVirtqueue.UsedRingSize(size, true), 4);
        var q = new DriverQueue(this, index, size, desc, avail, used);
        Queues[index] = q;
        ProgramQueue(index, size, desc, avail, used, ready);
        return q;
    }

    public void ProgramQueue(int index, uint size, ulong desc, ulong avail, ulong used, bool ready = true)
    {
        WriteReg(R.QueueSel, (uint)index);
        WriteReg(R.QueueNum, size);
        WriteReg(R.QueueDescLow, (uint)desc);
        WriteReg(R.QueueDescHigh, (uint)(desc >> 32));
        WriteReg(R.QueueDriverLow, (uint)avail);
        WriteReg(R.QueueDriverHigh, (uint)(avail >> 32));
        WriteReg(R.QueueDeviceLow, (uint)used);
        WriteReg(R.QueueDeviceHigh, (uint)(used >> 32));
        if (ready) WriteReg(R.QueueReady, 1);
    }

    public void DriverOk() =>
        SetStatus(DeviceStatus.Acknowledge | DeviceStatus.Driver | DeviceStatus.FeaturesOk | DeviceStatus.DriverOk);

    /// <summary>Negotiate, set up <paramref name="queueCount"/> queues of <paramref name="size"/>, DRIVER_OK.</summary>
    public void BringUp(ulong features, int queueCount, ushort size = 16)
    {
        if (!Negotiate(features)) throw new InvalidOperationException($"device refused features 0x{features:x}");
        for (var i = 0; i < queueCount; i++) SetupQueue(i, size);
        DriverOk();
    }

    public void Notify(int queue) => WriteReg(R.QueueNotify, (uint)queue);

    public uint InterruptStatus => ReadReg(R.InterruptStatus);

    public void AckInterrupt(uint bits) => WriteReg(R.InterruptAck, bits);

    /// <summary>Allocate a guest buffer and fill it.</summary>
    public ulong Buffer(ReadOnlySpan<byte> contents, ulong align = 16)
    {
        var gpa = _allocate((ulong)Math.Max(contents.Length, 1), align);
        Memory.Write(gpa, contents);
        return gpa;
    }

    public ulong Buffer(int length, ulong align = 16) => _allocate((ulong)length, align);

    public byte[] ReadGuest(ulong gpa, int length)
    {
        var b = new byte[length];
        Memory.Read(gpa, b);
        return b;
    }

    /// <summary>Asserts the device entered DEVICE_NEEDS_RESET because of the guest, with a reason containing <paramref name="expected"/>.</summary>
    public string AssertNeedsReset(string expected)
    {
        Assert.True((Status & DeviceStatus.DeviceNeedsReset) != 0, $"status 0x{(uint)Status:x} lacks DEVICE_NEEDS_RESET");
        Assert.NotNull(Transport.LastGuestError);
        Assert.Contains(expected, Transport.LastGuestError);
        lock (Errors) Assert.Contains(Transport.LastGuestError, Errors);
        Assert.True((InterruptStatus & VirtioMmioTransport.InterruptConfigChange) != 0, "no config-change interrupt");
        Assert.True(Irq.Level, "interrupt line not raised");
        Assert.True(_ram?.GuardsIntact ?? true, "memory outside guest RAM was written");
        return Transport.LastGuestError!;
    }
}

/// <summary>A driver's view of one split virtqueue it laid out in guest RAM.</summary>
public sealed class DriverQueue(VirtioDriver driver, int index, ushort size, ulong desc, ulong avail, ulong used)
{
    private ushort _nextDesc;
    private ushort _availIdx;

    public int Index { get; } = index;
    public ushort Size { get; } = size;
    public ulong DescTable { get; } = desc;
    public ulong AvailRing { get; } = avail;
    public ulong UsedRing { get; } = used;

    /// <summary>Write a raw descriptor, exactly as given (hostile tests use this).</summary>
    public void WriteDescriptor(ushort i, ulong addr, uint len, ushort flags, ushort next) =>
        WriteDescriptorAt(DescTable + 16UL * i, addr, len, flags, next);

    public void WriteDescriptorAt(ulong gpa, ulong addr, uint len, ushort flags, ushort next)
    {
        var m = driver.Memory;
        m.Write(gpa, addr);
        m.Write(gpa + 8, len);
        m.Write(gpa + 12, flags);
        m.Write(gpa + 14, next);
    }

    /// <summary>Chain buffers (readable first) through fresh descriptors; returns the head.</summary>
    public ushort AddChain(params (ulong Addr, uint Len, bool Write)[] buffers)
    {
        var head = _nextDesc;
        for (var i = 0; i < buffers.Length; i++)
        {
            var (addr, len, write) = buffers[i];
            var index = (ushort)((_nextDesc + i) % Size);
            var last = i == buffers.Length - 1;
            var flags = (ushort)((write ? SplitVirtqueue.DescFlagWrite : 0) | (last ? 0 : SplitVirtqueue.DescFlagNext));
            WriteDescriptor(index, addr, len, flags, (ushort)((index + 1) % Size));
        }
        _nextDesc = (ushort)((_nextDesc + buffers.Length) % Size);
        Publish(head);
        return head;
    }

    /// <summary>Put <paramref name="head"/> in the next available slot and bump avail idx.</summary>
    public void Publish(ushort head)
    {
        driver.Memory.Write(AvailRing + 4 + 2UL * (ushort)(_availIdx % Size), head);
        _availIdx++;
        SetAvailIdx(_availIdx);
    }

    public void SetAvailIdx(ushort idx) => driver.Memory.Write(AvailRing + 2, idx);

    public void SetAvailFlags(ushort flags) => driver.Memory.Write(AvailRing, flags);

    public void SetUsedEvent(ushort value) => driver.Memory.Write(AvailRing + 4 + 2UL * Size, value);

    public ushort AvailEvent => driver.Memory.Read<ushort>(UsedRing + 4 + 8UL * Size);

    public ushort UsedIdx => driver.Memory.Read<ushort>(UsedRing + 2);

    public (uint Id, uint Len) Used(int i)
    {
        var elem = UsedRing + 4 + 8UL * (ushort)(i % Size);
        return (driver.Memory.Read<uint>(elem), driver.Memory.Read<uint>(elem + 4));
    }

    public void Kick() => driver.Notify(Index);
}
