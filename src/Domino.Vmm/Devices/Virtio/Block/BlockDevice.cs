using Domino.Vmm.Devices.Virtio.Queue;

namespace Domino.Vmm.Devices.Virtio.Block;

/// <summary>
/// Virtio block device (ID 2, virtio 1.2 §5.2) over a raw image file: one request queue,
/// IN/OUT/FLUSH/GET_ID, read-only images refuse writes with IOERR.
/// </summary>
public sealed class VirtioBlock : IVirtioDevice, IDisposable
{
    public const ushort QueueSize = 256;

    private readonly DiskImage _disk;
    private readonly byte[] _config;
    private readonly byte[] _serial;
    private readonly Lock _lock = new();
    private SplitVirtqueue? _queue;
    private IVirtioInterrupt? _interrupt;
    private bool _disposed;

    /// <summary>Open the image now, so a bad path fails before any VM exists.</summary>
    /// <param name="serial">GET_ID answer (20 ASCII bytes at most); defaults to the file name.</param>
    /// <exception cref="DiskImageException">The file is missing or cannot be opened as asked.</exception>
    public VirtioBlock(string path, bool readOnly, string? serial = null)
    {
        _disk = DiskImage.Open(path, readOnly);
        _serial = BlockRequest.EncodeSerial(serial ?? System.IO.Path.GetFileName(path));
        // Header and status take two descriptors of a chain at most Queue Size long (§2.7.5.3.1).
        _config = new BlockConfig(_disk.CapacitySectors, QueueSize - 2).ToBytes();
    }

    public string Path => _disk.Path;
    public bool IsReadOnly => _disk.IsReadOnly;
    public ulong CapacitySectors => _disk.CapacitySectors;

    public uint DeviceId => VirtioDeviceIds.Block;

    public ulong DeviceFeatures =>
        BlockFeatures.Flush | BlockFeatures.SegMax | (IsReadOnly ? BlockFeatures.ReadOnly : 0);

    public IReadOnlyList<ushort> QueueMaxSizes { get; } = [QueueSize];

    public void ReadConfig(ulong offset, Span<byte> data) => ConfigSpace.Read(_config, offset, data);

    // Nothing in the config space we offer is driver-writable (no VIRTIO_BLK_F_CONFIG_WCE).
    public void WriteConfig(ulong offset, ReadOnlySpan<byte> data) { }

    public void Activate(ulong features, IReadOnlyList<SplitVirtqueue> queues, IVirtioInterrupt interrupt)
    {
        lock (_lock)
        {
            _queue = queues[0];
            _interrupt = interrupt;
        }
    }

    public void Reset()
    {
        lock (_lock)
        {
            _queue = null;
            _interrupt = null;
        }
    }

    public void ProcessQueue(int index)
    {
        lock (_lock)
        {
            if (_disposed || index != 0 || _queue is not { IsReady: true } queue || _interrupt is null) return;
            while (queue.TryPop(out var chain))
            {
                var request = BlockRequest.Parse(chain, out var error);
                if (request is null)
                {
                    queue.Fail(error!);
                    break;
                }
                queue.AddUsed(chain.Head, request.Execute(_disk, _serial));
            }
            if (queue.NeedsInterrupt()) _interrupt.SignalUsedBuffer();
        }
    }

    /// <summary>Close the image; waits for a request in progress, later notifications are ignored.</summary>
    public void Dispose()
    {
        lock (_lock)
        {
            _disposed = true;
            _disk.Dispose();
        }
    }
}
