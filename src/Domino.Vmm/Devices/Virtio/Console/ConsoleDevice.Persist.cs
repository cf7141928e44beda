using Domino.Vmm.Persist;

namespace Domino.Vmm.Devices.Virtio.Console;

public sealed partial class VirtioConsole : IPersistable
{
    public string PersistId => "virtio-console";

    /// <summary>Config space (size) and host input not yet delivered to the guest.</summary>
    public void SaveState(PersistWriter w)
    {
        lock (_lock)
        {
            w.Bytes(_config);
            w.Bytes(_pending.AsSpan(0, _pendingLength));
        }
    }

    public void RestoreState(PersistReader r)
    {
        var config = r.Bytes();
        var pending = r.Bytes();
        if (config.Length != _config.Length) throw new SnapshotException($"virtio-console: saved config space is {config.Length} bytes, expected {_config.Length}");
        if (pending.Length > MaxPendingInput) throw new SnapshotException($"virtio-console: {pending.Length} bytes of pending input exceed {MaxPendingInput}");
        lock (_lock)
        {
            _config = config;
            pending.CopyTo(_pending, 0);
            _pendingLength = pending.Length;
        }
        r.End();
    }
}
