using Domino.Vmm.Persist;

namespace Domino.Vmm.Devices.Virtio;

public sealed partial class VirtioMmioTransport : IPersistable
{
    private const byte StateVersion = 1;

    /// <summary>Section name: the transport's place in guest-physical space, set when it is attached.</summary>
    public string PersistId { get; internal set; } = "virtio-mmio";

    /// <summary>Transport registers, every queue, then the device model's own state when it has any.</summary>
    public void SaveState(PersistWriter w)
    {
        lock (_lock)
        {
            w.U8(StateVersion);
            w.U32(_device.DeviceId);
            w.U32((uint)_status);
            w.U32(_deviceFeaturesSel);
            w.U32(_driverFeaturesSel);
            w.U64(_driverFeatures);
            w.U32(_queueSel);
            w.Bool(_active);
            lock (_irqLock)
            {
                w.U32(_interruptStatus);
                w.Bool(_lineLevel);
                w.Bool(_needsReset);
                w.U32(_configGeneration);
            }
            w.I32(_queues.Length);
            foreach (var q in _queues) q.SaveState(w);
            if (_device is IPersistable p)
            {
                var inner = new PersistWriter();
                p.SaveState(inner);
                w.Bytes(inner.ToArray());
            }
            else w.Bytes([]);
        }
    }

    public void RestoreState(PersistReader r)
    {
        var version = r.U8();
        if (version != StateVersion) throw new SnapshotException($"{PersistId}: state version {version}, this VMM reads {StateVersion}");
        var deviceId = r.U32();
        if (deviceId != _device.DeviceId) throw new SnapshotException($"{PersistId}: saved device ID {deviceId}, this VM has {_device.DeviceId} here");
        lock (_lock)
        {
            _status = (DeviceStatus)r.U32();
            _deviceFeaturesSel = r.U32();
            _driverFeaturesSel = r.U32();
            _driverFeatures = r.U64();
            _queueSel = r.U32();
            var active = r.Bool();
            lock (_irqLock)
            {
                _interruptStatus = r.U32();
                _lineLevel = r.Bool();
                _needsReset = r.Bool();
                _configGeneration = r.U32();
            }
            var count = r.I32();
            if (count != _queues.Length) throw new SnapshotException($"{PersistId}: saved {count} queues, this device has {_queues.Length}");
            foreach (var q in _queues) q.RestoreState(r, _memory, _driverFeatures, _interrupt.ReportGuestError, PersistId);
            var inner = r.Bytes();
            if (_device is IPersistable p) p.RestoreState(new PersistReader(inner, $"{PersistId} device"));
            else if (inner.Length > 0) throw new SnapshotException($"{PersistId}: saved device state, but this device keeps none");
            if (active)
            {
                _device.Activate(_driverFeatures, _queues, _interrupt);
                _active = true;
            }
        }
        r.End();
    }
}
