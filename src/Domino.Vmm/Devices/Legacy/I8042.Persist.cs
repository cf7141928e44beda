using Domino.Vmm.Persist;

namespace Domino.Vmm.Devices.Legacy;

/// <remarks>Version 1 (the reset-line-only model) had no state: it restores as the power-on state.</remarks>
public sealed partial class I8042 : IPersistable
{
    private const byte StateVersion = 2;

    public string PersistId => $"i8042@0x{DataPort:x}";

    public void SaveState(PersistWriter w)
    {
        lock (_lock)
        {
            w.U8(StateVersion);
            w.U8(_control);
            w.U8(_outputPort);
            w.U8(_pendingCommand);
            w.Bool(_lastWriteWasCommand);
            w.Bytes(_output.ToArray());
        }
    }

    public void RestoreState(PersistReader r)
    {
        var version = r.U8();
        if (version is not (1 or StateVersion)) throw new SnapshotException($"{PersistId}: state version {version}, this VMM reads 1 and {StateVersion}");
        lock (_lock)
        {
            _output.Clear();
            if (version == 1)
            {
                _control = DefaultCommandByte;
                _outputPort = 0x01;
                _pendingCommand = 0;
                _lastWriteWasCommand = false;
            }
            else
            {
                _control = r.U8();
                _outputPort = r.U8();
                _pendingCommand = r.U8();
                _lastWriteWasCommand = r.Bool();
                var bytes = r.Bytes();
                if (bytes.Length > BufferSize) throw new SnapshotException($"{PersistId}: {bytes.Length} bytes in an output buffer of {BufferSize}");
                foreach (var b in bytes) _output.Enqueue(b);
            }
        }
        r.End();
    }
}
