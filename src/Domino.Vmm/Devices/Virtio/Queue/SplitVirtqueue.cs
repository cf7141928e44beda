using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Domino.Vmm.Memory;

namespace Domino.Vmm.Devices.Virtio.Queue;

/// <summary>
/// The device side of a split virtqueue (virtio 1.2 §2.7): descriptor table, available ring
/// (driver → device) and used ring (device → driver), all in guest RAM.
/// </summary>
/// <remarks>
/// Everything in the rings is written by the guest, possibly while we read it, so each field is
/// read once into a local and checked before use. A violation marks the queue broken, reports the
/// reason through the transport (DEVICE_NEEDS_RESET) and makes <see cref="TryPop"/> return false
/// until the driver resets the device. The transport configures the queue under its register lock
/// while the device is inactive; once active, only the device (under its own lock) touches it.
/// </remarks>
public sealed partial class SplitVirtqueue
{
    public const int DescriptorSize = 16;
    public const ushort DescFlagNext = 1;
    public const ushort DescFlagWrite = 2;
    public const ushort DescFlagIndirect = 4;
    public const ushort AvailFlagNoInterrupt = 1;

    // §2.7: alignment of the three parts of a split virtqueue.
    private const ulong DescTableAlign = 16;
    private const ulong AvailRingAlign = 2;
    private const ulong UsedRingAlign = 4;

    private GuestMemory? _memory;
    private Action<string>? _onGuestError;
    private bool _eventIdx;
    private bool _indirect;
    private ushort _nextAvail;
    private ushort _nextUsed;
    private ushort _signalledUsed;

    public SplitVirtqueue(int index, ushort maxSize)
    {
        ArgumentOutOfRangeException.ThrowIfZero(maxSize);
        if (!ushort.IsPow2(maxSize)) throw new ArgumentException($"queue {index}: maximum size {maxSize} is not a power of two", nameof(maxSize));
        Index = index;
        MaxSize = maxSize;
        Size = maxSize;
    }

    public int Index { get; }
    public ushort MaxSize { get; }

    // Driver-programmed registers (QueueNum, QueueDesc, QueueDriver, QueueDevice).
    public ushort Size { get; set; }
    public ulong DescTable { get; set; }
    public ulong AvailRing { get; set; }
    public ulong UsedRing { get; set; }

    /// <summary>QueueReady as the driver sees it: set once the layout passed <see cref="Enable"/>.</summary>
    public bool IsReady { get; private set; }

    /// <summary>The guest broke the ring contract; nothing more is popped until reset.</summary>
    public bool IsBroken { get; private set; }

    /// <summary>Index of the next available-ring entry the device will consume.</summary>
    public ushort NextAvail => _nextAvail;

    /// <summary>Index of the next used-ring entry the device will fill.</summary>
    public ushort NextUsed => _nextUsed;

    /// <summary>Bytes of the available ring, with used_event when EVENT_IDX is negotiated.</summary>
    public static ulong AvailRingSize(ushort size, bool eventIdx) => 4UL + 2UL * size + (eventIdx ? 2UL : 0UL);

    /// <summary>Bytes of the used ring, with avail_event when EVENT_IDX is negotiated.</summary>
    public static ulong UsedRingSize(ushort size, bool eventIdx) => 4UL + 8UL * size + (eventIdx ? 2UL : 0UL);

    /// <summary>
    /// Check the driver-programmed layout and start using the queue. Returns null on success, or
    /// why the layout is unusable (the queue then stays not ready).
    /// </summary>
    public string? Enable(GuestMemory memory, ulong features, Action<string> onGuestError)
    {
        var eventIdx = (features & VirtioFeatures.RingEventIdx) != 0;
        var problem = CheckLayout(memory, eventIdx);
        if (problem is not null) return problem;
        _memory = memory;
        _onGuestError = onGuestError;
        _eventIdx = eventIdx;
        _indirect = (features & VirtioFeatures.RingIndirectDesc) != 0;
        _nextAvail = 0;
        _nextUsed = 0;
        _signalledUsed = 0;
        IsBroken = false;
        IsReady = true;
        return null;
    }

    /// <summary>QueueReady written 0 before DRIVER_OK: stop using the layout, keep the registers.</summary>
    public void Disable() => IsReady = false;

    /// <summary>Back to the power-on state (§4.2.2: QueueNum reads as QueueNumMax, addresses 0).</summary>
    public void Reset()
    {
        IsReady = false;
        IsBroken = false;
        Size = MaxSize;
        DescTable = AvailRing = UsedRing = 0;
        _memory = null;
        _onGuestError = null;
        _nextAvail = _nextUsed = _signalledUsed = 0;
    }

    private string? CheckLayout(GuestMemory memory, bool eventIdx)
    {
        var q = $"queue {Index}";
        if (Size == 0 || !ushort.IsPow2(Size) || Size > MaxSize)
            return $"{q}: size {Size} is not a power of two between 1 and QueueNumMax {MaxSize}";
        if (DescTable % DescTableAlign != 0) return $"{q}: descriptor table 0x{DescTable:x} is not {DescTableAlign}-byte aligned";
        if (AvailRing % AvailRingAlign != 0) return $"{q}: available ring 0x{AvailRing:x} is not {AvailRingAlign}-byte aligned";
        if (UsedRing % UsedRingAlign != 0) return $"{q}: used ring 0x{UsedRing:x} is not {UsedRingAlign}-byte aligned";
        var descBytes = (ulong)DescriptorSize * Size;
        if (!memory.IsValid(DescTable, descBytes))
            return $"{q}: descriptor table 0x{DescTable:x}+0x{descBytes:x} is outside guest RAM";
        var availBytes = AvailRingSize(Size, eventIdx);
        if (!memory.IsValid(AvailRing, availBytes))
            return $"{q}: available ring 0x{AvailRing:x}+0x{availBytes:x} is outside guest RAM";
        var usedBytes = UsedRingSize(Size, eventIdx);
        if (!memory.IsValid(UsedRing, usedBytes))
            return $"{q}: used ring 0x{UsedRing:x}+0x{usedBytes:x} is outside guest RAM";
        return null;
    }

    /// <summary>Pop the next available descriptor chain; false when the ring is empty or broken.</summary>
    public bool TryPop([NotNullWhen(true)] out DescriptorChain? chain)
    {
        chain = null;
        if (!IsReady || IsBroken || _memory is null) return false;
        try
        {
            var availIdx = ReadAvailIdx(_memory);
            if (availIdx == _nextAvail && _eventIdx)
            {
                // §2.7.10: ask to be notified when the driver adds past what we consumed, then
                // look again in case it added one before seeing avail_event.
                WriteU16(_memory, UsedRing + 4 + 8UL * Size, _nextAvail);
                Interlocked.MemoryBarrier();
                availIdx = ReadAvailIdx(_memory);
            }
            if (availIdx == _nextAvail) return false;

            var pending = (ushort)(availIdx - _nextAvail);
            if (pending > Size)
                return Fail($"available ring index moved from {_nextAvail} to {availIdx}, more than the queue size {Size}");

            var head = ReadU16(_memory, AvailRing + 4 + 2UL * (ushort)(_nextAvail % Size));
            if (head >= Size)
                return Fail($"available ring entry {_nextAvail % Size} names descriptor {head}, outside the queue of {Size}");

            var descriptors = WalkChain(_memory, head);
            if (descriptors is null) return false;
            _nextAvail++;
            chain = new DescriptorChain(_memory, head, descriptors);
            return true;
        }
        catch (GuestMemoryException e)
        {
            // Layout and descriptors are checked first, so this is a bug guard, not a path.
            return Fail(e.Message);
        }
    }

    private Descriptor[]? WalkChain(GuestMemory memory, ushort head)
    {
        var result = new List<Descriptor>();
        var table = DescTable;
        var tableSize = (uint)Size;
        var index = head;
        var inIndirect = false;
        var sawWritable = false;
        Span<byte> raw = stackalloc byte[DescriptorSize];
        while (true)
        {
            // §2.7.5.3.1: a chain, indirect entries included, is at most Queue Size long; so a
            // loop shows up as a chain that is too long.
            if (result.Count >= Size)
                return FailNull($"descriptor chain from head {head} is longer than the queue size {Size} (a loop?)");

            memory.Read(table + (ulong)index * DescriptorSize, raw);
            var addr = BinaryPrimitives.ReadUInt64LittleEndian(raw);
            var len = BinaryPrimitives.ReadUInt32LittleEndian(raw[8..]);
            var flags = BinaryPrimitives.ReadUInt16LittleEndian(raw[12..]);
            var next = BinaryPrimitives.ReadUInt16LittleEndian(raw[14..]);

            if ((flags & DescFlagIndirect) != 0)
            {
                if (!_indirect) return FailNull($"{Where(inIndirect, index, head)} is indirect but VIRTIO_F_INDIRECT_DESC was not negotiated");
                if (inIndirect) return FailNull($"{Where(inIndirect, index, head)} is indirect inside an indirect table");
                if ((flags & DescFlagNext) != 0) return FailNull($"{Where(inIndirect, index, head)} sets both INDIRECT and NEXT");
                if (len == 0 || len % DescriptorSize != 0)
                    return FailNull($"{Where(inIndirect, index, head)}: indirect table length 0x{len:x} is not a non-zero multiple of {DescriptorSize}");
                if (!memory.IsValid(addr, len))
                    return FailNull($"{Where(inIndirect, index, head)}: indirect table 0x{addr:x}+0x{len:x} is outside guest RAM");
                table = addr;
                tableSize = len / DescriptorSize;
                index = 0;
                inIndirect = true;
                continue;
            }

            if (!memory.IsValid(addr, len))
                return FailNull($"{Where(inIndirect, index, head)}: buffer 0x{addr:x}+0x{len:x} is outside guest RAM");
            var writable = (flags & DescFlagWrite) != 0;
            if (!writable && sawWritable)
                return FailNull($"{Where(inIndirect, index, head)} is device-readable but follows a device-writable descriptor");
            sawWritable |= writable;
            result.Add(new Descriptor(addr, len, writable));

            if ((flags & DescFlagNext) == 0) return [.. result];
            if (next >= tableSize)
                return FailNull($"{Where(inIndirect, index, head)}: next index {next} is outside the {(inIndirect ? "indirect table" : "queue")} of {tableSize}");
            index = next;
        }
    }

    /// <summary>Return a chain to the driver with <paramref name="written"/> bytes written into it.</summary>
    public void AddUsed(ushort head, uint written)
    {
        if (!IsReady || IsBroken || _memory is null) return;
        var elem = UsedRing + 4 + 8UL * (ushort)(_nextUsed % Size);
        _memory.Write(elem, (uint)head);
        _memory.Write(elem + 4, written);
        _nextUsed++;
        // Release: the element must be visible before the index that publishes it (§2.7.8).
        WriteU16(_memory, UsedRing + 2, _nextUsed);
    }

    /// <summary>
    /// Whether the driver wants an interrupt for the used buffers added since the last call:
    /// the NO_INTERRUPT flag, or used_event with VIRTIO_F_EVENT_IDX (§2.7.7, §2.7.10).
    /// </summary>
    public bool NeedsInterrupt()
    {
        if (!IsReady || _memory is null || _nextUsed == _signalledUsed) return false;
        var old = _signalledUsed;
        _signalledUsed = _nextUsed;
        // Our used idx store must be visible before we read the driver's suppression fields.
        Interlocked.MemoryBarrier();
        if (_eventIdx)
        {
            var usedEvent = ReadU16(_memory, AvailRing + 4 + 2UL * Size);
            return (ushort)(_nextUsed - usedEvent - 1) < (ushort)(_nextUsed - old);
        }
        return (ReadU16(_memory, AvailRing) & AvailFlagNoInterrupt) == 0;
    }

    /// <summary>
    /// Mark the queue broken and report <paramref name="reason"/> (for a device-level violation
    /// such as a request without a status byte). Returns false for use in TryX methods.
    /// </summary>
    public bool Fail(string reason)
    {
        if (IsBroken) return false;
        IsBroken = true;
        _onGuestError?.Invoke($"queue {Index}: {reason}");
        return false;
    }

    // Built only on the error path: the walk itself allocates nothing per descriptor but the list.
    private static string Where(bool inIndirect, ushort index, ushort head) =>
        inIndirect ? $"indirect descriptor {index} (chain head {head})" : $"descriptor {index}";

    private Descriptor[]? FailNull(string reason)
    {
        Fail(reason);
        return null;
    }

    private ushort ReadAvailIdx(GuestMemory memory) =>
        // Acquire: ring entries and descriptors are read after the index that published them.
        Volatile.Read(ref U16(memory, AvailRing + 2));

    private static ushort ReadU16(GuestMemory memory, ulong gpa) => Volatile.Read(ref U16(memory, gpa));

    private static void WriteU16(GuestMemory memory, ulong gpa, ushort value)
    {
        // The store is a host write into guest RAM: the page is marked dirty once it has landed.
        using var w = memory.BeginWrite(gpa, sizeof(ushort));
        Volatile.Write(ref Unsafe.As<byte, ushort>(ref MemoryMarshal.GetReference(w.Span)), value);
    }

    // Not an unsafe block, but the same care: GetSpan bounds-checks the two bytes, and ring fields
    // are 2-byte aligned (CheckLayout), so the ushort ref is in bounds and aligned for Volatile.
    // Virtio 1.x rings are little-endian, as are the x86-64 and arm64 hosts this VMM runs on.
    // For reads only (Volatile.Read needs a ref): writes go through WriteU16, which marks the page dirty.
    private static ref ushort U16(GuestMemory memory, ulong gpa) =>
        ref Unsafe.As<byte, ushort>(ref MemoryMarshal.GetReference(memory.GetSpan(gpa, sizeof(ushort))));
}
