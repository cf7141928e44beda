using Domino.Vmm.Devices.Virtio.Queue;

namespace Domino.Vmm.Devices.Virtio.Console;

/// <summary>
/// Virtio console (ID 3, virtio 1.2 §5.3) with a single port: receiveq 0 carries host input to
/// the guest, transmitq 1 carries guest output to <c>output</c>. No MULTIPORT, so no control queues.
/// </summary>
public sealed partial class VirtioConsole : IVirtioDevice
{
    public const ushort QueueSize = 256;
    public const int ReceiveQueue = 0;
    public const int TransmitQueue = 1;

    /// <summary>Host input held while the guest has no receive buffers; beyond this it is dropped.</summary>
    public const int MaxPendingInput = 64 * 1024;

    private readonly Action<ReadOnlySpan<byte>> _output;
    private readonly Lock _lock = new();
    private bool _inputHeld;
    private readonly byte[] _pending = new byte[MaxPendingInput];
    private int _pendingLength;
    private byte[] _config;
    private SplitVirtqueue? _receive;
    private SplitVirtqueue? _transmit;
    private IVirtioInterrupt? _interrupt;

    /// <param name="output">
    /// Receives guest output, on the vCPU thread that kicked the transmit queue. The span points
    /// into guest RAM and is only valid during the call: copy what you keep.
    /// </param>
    public VirtioConsole(Action<ReadOnlySpan<byte>> output, ushort columns = 80, ushort rows = 25)
    {
        ArgumentNullException.ThrowIfNull(output);
        _output = output;
        _config = new ConsoleConfig(columns, rows).ToBytes();
    }

    public uint DeviceId => VirtioDeviceIds.Console;

    public ulong DeviceFeatures => ConsoleFeatures.Size | ConsoleFeatures.EmergencyWrite;

    public IReadOnlyList<ushort> QueueMaxSizes { get; } = [QueueSize, QueueSize];

    /// <summary>Host bytes dropped because the guest was not reading and the buffer was full.</summary>
    public long DroppedInputBytes { get; private set; }

    public void ReadConfig(ulong offset, Span<byte> data)
    {
        lock (_lock) ConfigSpace.Read(_config, offset, data);
    }

    public void WriteConfig(ulong offset, ReadOnlySpan<byte> data)
    {
        // §5.3.4: a write to emerg_wr outputs one character, usable before the queues are up.
        if (offset == ConsoleConfig.EmergencyWriteOffset && !data.IsEmpty) _output(data[..1]);
    }

    /// <summary>The host terminal changed size; the guest is told by a config-change interrupt.</summary>
    public void Resize(ushort columns, ushort rows)
    {
        lock (_lock)
        {
            _config = new ConsoleConfig(columns, rows).ToBytes();
            _interrupt?.SignalConfigChange();
        }
    }

    /// <summary>Host input for the guest; safe from any thread. Delivered now if the guest has buffers posted.</summary>
    public void QueueInput(ReadOnlySpan<byte> input)
    {
        lock (_lock)
        {
            var room = MaxPendingInput - _pendingLength;
            var taken = Math.Min(room, input.Length);
            input[..taken].CopyTo(_pending.AsSpan(_pendingLength));
            _pendingLength += taken;
            DroppedInputBytes += input.Length - taken;
            DeliverInput();
        }
    }

    /// <summary>Copy <paramref name="input"/> into the guest until it ends or <paramref name="cancel"/> fires.</summary>
    public async Task PumpInputAsync(Stream input, CancellationToken cancel)
    {
        var buffer = new byte[4096];
        int n;
        while ((n = await input.ReadAsync(buffer, cancel).ConfigureAwait(false)) > 0)
            QueueInput(buffer.AsSpan(0, n));
    }

    public void Activate(ulong features, IReadOnlyList<SplitVirtqueue> queues, IVirtioInterrupt interrupt)
    {
        lock (_lock)
        {
            _receive = queues[ReceiveQueue];
            _transmit = queues[TransmitQueue];
            _interrupt = interrupt;
        }
    }

    public void Reset()
    {
        // Pending host input is kept: keys typed while the guest driver restarts still arrive.
        lock (_lock)
        {
            _receive = _transmit = null;
            _interrupt = null;
        }
    }

    public void ProcessQueue(int index)
    {
        lock (_lock)
        {
            if (index == ReceiveQueue) DeliverInput();
            else if (index == TransmitQueue) Transmit();
        }
    }

    /// <summary>
    /// While held, host input waits in the pending buffer instead of being written into the guest's
    /// receive buffers: the VM holds it while paused, so nothing writes guest RAM behind a paused
    /// VM's back (a migration's last dirty-page fetch and the device state it captures agree).
    /// </summary>
    public void HoldInput(bool hold)
    {
        lock (_lock)
        {
            _inputHeld = hold;
            if (!hold) DeliverInput();
        }
    }

    // Called with _lock held.
    private void DeliverInput()
    {
        if (_inputHeld || _receive is not { IsReady: true } queue || _interrupt is null) return;
        while (_pendingLength > 0 && queue.TryPop(out var chain))
        {
            if (chain.ReadableLength != 0 || chain.WritableLength == 0)
            {
                queue.Fail($"receive buffer at descriptor {chain.Head} must be device-writable only and non-empty");
                break;
            }
            var n = chain.WriteTo(0, _pending.AsSpan(0, _pendingLength));
            _pending.AsSpan(n, _pendingLength - n).CopyTo(_pending);
            _pendingLength -= n;
            queue.AddUsed(chain.Head, (uint)n);
        }
        if (queue.NeedsInterrupt()) _interrupt.SignalUsedBuffer();
    }

    // Called with _lock held.
    private void Transmit()
    {
        if (_transmit is not { IsReady: true } queue || _interrupt is null) return;
        while (queue.TryPop(out var chain))
        {
            if (chain.WritableLength != 0)
            {
                queue.Fail($"transmit buffer at descriptor {chain.Head} has device-writable descriptors");
                break;
            }
            foreach (var (gpa, n) in chain.Segments(writable: false, 0, chain.ReadableLength))
                _output(chain.Memory.GetSpan(gpa, n));
            queue.AddUsed(chain.Head, 0);
        }
        if (queue.NeedsInterrupt()) _interrupt.SignalUsedBuffer();
    }
}
