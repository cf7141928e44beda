using System.Buffers.Binary;
using Domino.Vmm.Devices.Virtio.Queue;
using Domino.Vmm.Memory;

namespace Domino.Vmm.Devices.Virtio;

/// <summary>
/// Virtio over MMIO, version 2 ("modern", virtio 1.2 §4.2): the register window a guest driver
/// uses to discover a device, negotiate features, lay out virtqueues and notify them.
/// </summary>
/// <remarks>
/// Wiring: map it at a page-aligned base for <see cref="WindowSize"/> bytes on the MMIO bus, give it
/// a level-triggered GSI, and tell a Linux guest with <c>virtio_mmio.device=4K@0xBASE:GSI</c> on
/// its command line (or a device-tree / ACPI node).
/// Locking: <c>_lock</c> guards the registers and the status state machine and may call into the
/// device (Activate, Reset); <c>_irqLock</c> is a leaf guarding InterruptStatus, the line level,
/// DEVICE_NEEDS_RESET and ConfigGeneration, and is what devices reach through
/// <see cref="IVirtioInterrupt"/> from their own lock. Queue notifications run the device outside
/// <c>_lock</c>, so a slow disk request on one vCPU does not stall register access on another.
/// </remarks>
public sealed class VirtioMmioTransport : IBusDevice
{
    public const ulong WindowSize = 0x1000;
    public const uint MagicValue = 0x74726976; // "virt"
    public const uint Version = 2;
    public const uint VendorId = 0x4f4e4d44;   // "DMNO"

    public const uint InterruptUsedBuffer = 1;
    public const uint InterruptConfigChange = 2;

    /// <summary>Register offsets (§4.2.2, table "MMIO Device Register Layout").</summary>
    public static class Reg
    {
        public const ulong MagicValue = 0x000;
        public const ulong Version = 0x004;
        public const ulong DeviceId = 0x008;
        public const ulong VendorId = 0x00c;
        public const ulong DeviceFeatures = 0x010;
        public const ulong DeviceFeaturesSel = 0x014;
        public const ulong DriverFeatures = 0x020;
        public const ulong DriverFeaturesSel = 0x024;
        public const ulong QueueSel = 0x030;
        public const ulong QueueNumMax = 0x034;
        public const ulong QueueNum = 0x038;
        public const ulong QueueReady = 0x044;
        public const ulong QueueNotify = 0x050;
        public const ulong InterruptStatus = 0x060;
        public const ulong InterruptAck = 0x064;
        public const ulong Status = 0x070;
        public const ulong QueueDescLow = 0x080;
        public const ulong QueueDescHigh = 0x084;
        public const ulong QueueDriverLow = 0x090;
        public const ulong QueueDriverHigh = 0x094;
        public const ulong QueueDeviceLow = 0x0a0;
        public const ulong QueueDeviceHigh = 0x0a4;
        public const ulong ShmSel = 0x0ac;
        public const ulong ShmLenLow = 0x0b0;
        public const ulong ShmLenHigh = 0x0b4;
        public const ulong ShmBaseLow = 0x0b8;
        public const ulong ShmBaseHigh = 0x0bc;
        public const ulong ConfigGeneration = 0x0fc;
        public const ulong Config = 0x100;
    }

    private readonly IVirtioDevice _device;
    private readonly GuestMemory _memory;
    private readonly IInterruptLine _irq;
    private readonly SplitVirtqueue[] _queues;
    private readonly Interrupt _interrupt;
    private readonly string _name;

    private readonly Lock _lock = new();
    private DeviceStatus _status;
    private uint _deviceFeaturesSel;
    private uint _driverFeaturesSel;
    private ulong _driverFeatures;
    private uint _queueSel;
    private volatile bool _active;

    private readonly Lock _irqLock = new();
    private uint _interruptStatus;
    private bool _lineLevel;
    private bool _needsReset;
    private uint _configGeneration;
    private string? _lastGuestError;

    public VirtioMmioTransport(IVirtioDevice device, GuestMemory memory, IInterruptLine irq)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentNullException.ThrowIfNull(memory);
        ArgumentNullException.ThrowIfNull(irq);
        _device = device;
        _memory = memory;
        _irq = irq;
        _queues = device.QueueMaxSizes.Select((max, i) => new SplitVirtqueue(i, max)).ToArray();
        _interrupt = new Interrupt(this);
        _name = $"{DeviceName(device.DeviceId)} (GSI {irq.Gsi})";
    }

    /// <summary>The device behind this window.</summary>
    public IVirtioDevice Device => _device;

    /// <summary>Every feature bit offered to the driver.</summary>
    public ulong OfferedFeatures => _device.DeviceFeatures | VirtioFeatures.Transport;

    /// <summary>Feature bits the driver accepted (final once FEATURES_OK is set).</summary>
    public ulong DriverFeatures { get { lock (_lock) return _driverFeatures; } }

    /// <summary>Device status as the driver would read it.</summary>
    public DeviceStatus Status { get { lock (_lock) return CurrentStatus(); } }

    /// <summary>Whether the driver set DRIVER_OK and the device is running.</summary>
    public bool IsActive => _active;

    /// <summary>Why the device last entered DEVICE_NEEDS_RESET, or null.</summary>
    public string? LastGuestError { get { lock (_irqLock) return _lastGuestError; } }

    /// <summary>
    /// Raised (on the thread that found it) each time the guest breaks the virtio contract; the
    /// device then sits in DEVICE_NEEDS_RESET until the driver resets it.
    /// </summary>
    /// <remarks>Handlers run under the device's lock: log or schedule, do not call back into this transport.</remarks>
    public event Action<string>? OnGuestError;

    public void Read(ulong offset, Span<byte> data)
    {
        if (offset >= Reg.Config)
        {
            _device.ReadConfig(offset - Reg.Config, data);
            return;
        }
        data.Clear();
        // §4.2.2.2: control registers are only accessed 32 bits wide and aligned.
        if (data.Length != 4 || offset % 4 != 0) return;
        BinaryPrimitives.WriteUInt32LittleEndian(data, ReadRegister(offset));
    }

    public void Write(ulong offset, ReadOnlySpan<byte> data)
    {
        if (offset >= Reg.Config)
        {
            _device.WriteConfig(offset - Reg.Config, data);
            return;
        }
        if (data.Length != 4 || offset % 4 != 0) return;
        var value = BinaryPrimitives.ReadUInt32LittleEndian(data);
        if (offset == Reg.QueueNotify)
        {
            Notify(value);
            return;
        }
        bool activated;
        lock (_lock) activated = WriteRegister(offset, value);
        // Buffers the driver made available before DRIVER_OK (e.g. console receive buffers) are
        // picked up now, outside the register lock like any notification.
        if (activated)
        {
            for (var i = 0; i < _queues.Length; i++) Notify((uint)i);
        }
    }

    private uint ReadRegister(ulong offset)
    {
        switch (offset)
        {
            case Reg.MagicValue: return MagicValue;
            case Reg.Version: return Version;
            case Reg.DeviceId: return _device.DeviceId;
            case Reg.VendorId: return VendorId;
            case Reg.InterruptStatus:
                lock (_irqLock) return _interruptStatus;
            case Reg.ConfigGeneration:
                lock (_irqLock) return _configGeneration;
            // No shared memory regions (§4.2.2: a missing region reads as length -1).
            case Reg.ShmLenLow or Reg.ShmLenHigh: return uint.MaxValue;
        }
        lock (_lock)
        {
            var q = SelectedQueue();
            return offset switch
            {
                Reg.DeviceFeatures => _deviceFeaturesSel < 2 ? (uint)(OfferedFeatures >> (int)(32 * _deviceFeaturesSel)) : 0,
                Reg.QueueNumMax => q?.MaxSize ?? 0u,
                Reg.QueueNum => q?.Size ?? 0u,
                Reg.QueueReady => q?.IsReady == true ? 1u : 0u,
                Reg.Status => (uint)CurrentStatus(),
                Reg.QueueDescLow => (uint)(q?.DescTable ?? 0),
                Reg.QueueDescHigh => (uint)((q?.DescTable ?? 0) >> 32),
                Reg.QueueDriverLow => (uint)(q?.AvailRing ?? 0),
                Reg.QueueDriverHigh => (uint)((q?.AvailRing ?? 0) >> 32),
                Reg.QueueDeviceLow => (uint)(q?.UsedRing ?? 0),
                Reg.QueueDeviceHigh => (uint)((q?.UsedRing ?? 0) >> 32),
                _ => 0,
            };
        }
    }

    /// <summary>Returns true when this write set DRIVER_OK and activated the device.</summary>
    private bool WriteRegister(ulong offset, uint value)
    {
        switch (offset)
        {
            case Reg.DeviceFeaturesSel:
                _deviceFeaturesSel = value;
                break;
            case Reg.DriverFeaturesSel:
                _driverFeaturesSel = value;
                break;
            case Reg.DriverFeatures:
                // Features are fixed once FEATURES_OK is accepted (§2.2, §3.1.1).
                if ((_status & DeviceStatus.Driver) == 0 || (_status & DeviceStatus.FeaturesOk) != 0 || _driverFeaturesSel > 1) break;
                var shift = (int)(32 * _driverFeaturesSel);
                _driverFeatures = (_driverFeatures & ~(0xffffffffUL << shift)) | ((ulong)value << shift);
                break;
            case Reg.QueueSel:
                _queueSel = value;
                break;
            case Reg.QueueNum or Reg.QueueDescLow or Reg.QueueDescHigh or Reg.QueueDriverLow
                or Reg.QueueDriverHigh or Reg.QueueDeviceLow or Reg.QueueDeviceHigh:
                WriteQueueLayout(offset, value);
                break;
            case Reg.QueueReady:
                WriteQueueReady(value);
                break;
            case Reg.InterruptAck:
                lock (_irqLock)
                {
                    _interruptStatus &= ~value;
                    UpdateLine();
                }
                break;
            case Reg.Status:
                return WriteStatus(value);
        }
        return false;
    }

    private void WriteQueueLayout(ulong offset, uint value)
    {
        // §4.2.2.3: the driver sets a queue up before QueueReady and before DRIVER_OK.
        var q = SelectedQueue();
        if (q is null || q.IsReady || (_status & DeviceStatus.DriverOk) != 0) return;
        switch (offset)
        {
            case Reg.QueueNum: q.Size = value > ushort.MaxValue ? (ushort)0 : (ushort)value; break;
            case Reg.QueueDescLow: q.DescTable = SetLow(q.DescTable, value); break;
            case Reg.QueueDescHigh: q.DescTable = SetHigh(q.DescTable, value); break;
            case Reg.QueueDriverLow: q.AvailRing = SetLow(q.AvailRing, value); break;
            case Reg.QueueDriverHigh: q.AvailRing = SetHigh(q.AvailRing, value); break;
            case Reg.QueueDeviceLow: q.UsedRing = SetLow(q.UsedRing, value); break;
            case Reg.QueueDeviceHigh: q.UsedRing = SetHigh(q.UsedRing, value); break;
        }
    }

    private void WriteQueueReady(uint value)
    {
        var q = SelectedQueue();
        if (q is null || (_status & DeviceStatus.DriverOk) != 0) return;
        if (value == 0)
        {
            q.Disable();
            return;
        }
        // Ring layout depends on the negotiated features (EVENT_IDX), so they must be final (§3.1.1 step 7).
        if (q.IsReady || (_status & DeviceStatus.FeaturesOk) == 0) return;
        var problem = q.Enable(_memory, _driverFeatures, _interrupt.ReportGuestError);
        if (problem is not null) _interrupt.ReportGuestError(problem);
    }

    /// <summary>The status state machine of §3.1.1; returns true when the device was activated.</summary>
    private bool WriteStatus(uint value)
    {
        if (value == 0)
        {
            ResetDevice();
            return false;
        }
        var old = _status;
        // DEVICE_NEEDS_RESET is the device's bit; the driver only ever adds bits until it resets.
        var next = (DeviceStatus)value & ~DeviceStatus.DeviceNeedsReset;
        if ((next & old) != old) return false;
        var added = next & ~old;
        if ((added & DeviceStatus.Driver) != 0 && (next & DeviceStatus.Acknowledge) == 0) return false;
        if ((added & DeviceStatus.FeaturesOk) != 0)
        {
            if ((next & DeviceStatus.Driver) == 0) return false;
            // Refuse by leaving FEATURES_OK clear; the driver reads it back (§2.2.2, §3.1.1 step 6).
            if (!FeaturesAcceptable(_driverFeatures)) next &= ~DeviceStatus.FeaturesOk;
        }
        var activate = false;
        if ((added & DeviceStatus.DriverOk) != 0)
        {
            if ((next & DeviceStatus.FeaturesOk) == 0) return false;
            activate = !NeedsReset();
            if (!activate) next &= ~DeviceStatus.DriverOk;
        }
        _status = next;
        if (activate)
        {
            _device.Activate(_driverFeatures, _queues, _interrupt);
            _active = true;
        }
        return activate;
    }

    private bool NeedsReset()
    {
        lock (_irqLock) return _needsReset;
    }

    private bool FeaturesAcceptable(ulong accepted) =>
        (accepted & ~OfferedFeatures) == 0 && (accepted & VirtioFeatures.Version1) != 0;

    private void ResetDevice()
    {
        _active = false;
        _device.Reset();
        foreach (var q in _queues) q.Reset();
        _status = DeviceStatus.None;
        _driverFeatures = 0;
        _deviceFeaturesSel = _driverFeaturesSel = _queueSel = 0;
        lock (_irqLock)
        {
            _interruptStatus = 0;
            _needsReset = false;
            UpdateLine();
        }
    }

    private void Notify(uint value)
    {
        // Without VIRTIO_F_NOTIFICATION_DATA the value is just the queue index (§4.2.2).
        if (!_active || value >= (uint)_queues.Length) return;
        _device.ProcessQueue((int)value);
    }

    private DeviceStatus CurrentStatus()
    {
        lock (_irqLock) return _needsReset ? _status | DeviceStatus.DeviceNeedsReset : _status;
    }

    private SplitVirtqueue? SelectedQueue() => _queueSel < (uint)_queues.Length ? _queues[_queueSel] : null;

    private static ulong SetLow(ulong current, uint value) => (current & 0xffffffff00000000UL) | value;

    private static ulong SetHigh(ulong current, uint value) => (current & 0xffffffffUL) | ((ulong)value << 32);

    // Called with _irqLock held; level-triggered, so the line follows InterruptStatus != 0.
    private void UpdateLine()
    {
        var level = _interruptStatus != 0;
        if (level == _lineLevel) return;
        _lineLevel = level;
        _irq.SetLevel(level);
    }

    private void RaiseInterrupt(uint bits, bool bumpGeneration = false)
    {
        lock (_irqLock)
        {
            if (bumpGeneration) _configGeneration++;
            _interruptStatus |= bits;
            UpdateLine();
        }
    }

    private void GuestError(string reason)
    {
        var message = $"{_name}: {reason}";
        lock (_irqLock)
        {
            _needsReset = true;
            _lastGuestError = message;
            // §2.1.2: setting DEVICE_NEEDS_RESET comes with a configuration change notification.
            _interruptStatus |= InterruptConfigChange;
            UpdateLine();
        }
        OnGuestError?.Invoke(message);
    }

    private static string DeviceName(uint id) => id switch
    {
        VirtioDeviceIds.Block => "virtio-blk",
        VirtioDeviceIds.Console => "virtio-console",
        _ => $"virtio-{id}",
    };

    /// <summary>The device's handle on this transport's interrupt and error state.</summary>
    private sealed class Interrupt(VirtioMmioTransport transport) : IVirtioInterrupt
    {
        public void SignalUsedBuffer() => transport.RaiseInterrupt(InterruptUsedBuffer);

        public void SignalConfigChange() => transport.RaiseInterrupt(InterruptConfigChange, bumpGeneration: true);

        public void ReportGuestError(string reason) => transport.GuestError(reason);
    }
}
