namespace Domino.Vmm.Devices;

/// <summary>
/// An address space (port I/O or MMIO) that dispatches guest accesses to devices by range.
/// Accesses nobody claims are not fatal: reads return all-ones, writes are dropped, both counted
/// and the first few logged, as on a real PC bus with nothing behind the address.
/// </summary>
public sealed class DeviceBus(string name, Action<string>? log = null)
{
    private const int LoggedUnknownAccesses = 16;

    private readonly Lock _lock = new();
    private Entry[] _entries = [];
    private long _unknownReads, _unknownWrites;

    public string Name { get; } = name;

    public long UnknownReads => Interlocked.Read(ref _unknownReads);

    public long UnknownWrites => Interlocked.Read(ref _unknownWrites);

    public IEnumerable<(ulong Base, ulong Length, string Name)> Devices => _entries.Select(e => (e.Base, e.Length, e.Name));

    /// <summary>Claims [<paramref name="baseAddress"/>, +<paramref name="length"/>) for <paramref name="device"/>; overlapping claims are refused.</summary>
    public void Register(ulong baseAddress, ulong length, IBusDevice device, string deviceName)
    {
        ArgumentOutOfRangeException.ThrowIfZero(length);
        lock (_lock)
        {
            foreach (var e in _entries)
            {
                if (baseAddress < e.Base + e.Length && e.Base < baseAddress + length)
                    throw new InvalidOperationException($"{Name} bus: {deviceName} at 0x{baseAddress:x}+0x{length:x} overlaps {e.Name} at 0x{e.Base:x}+0x{e.Length:x}");
            }
            // Copy-on-write so the vCPU threads' lookups never take the lock.
            _entries = [.. _entries.Append(new Entry(baseAddress, length, device, deviceName)).OrderBy(e => e.Base)];
        }
    }

    public bool TryFind(ulong address, out IBusDevice device, out ulong offset)
    {
        var entries = _entries;
        int lo = 0, hi = entries.Length - 1;
        while (lo <= hi)
        {
            var mid = (lo + hi) / 2;
            var e = entries[mid];
            if (address < e.Base) hi = mid - 1;
            else if (address - e.Base >= e.Length) lo = mid + 1;
            else
            {
                device = e.Device;
                offset = address - e.Base;
                return true;
            }
        }
        device = null!;
        offset = 0;
        return false;
    }

    public void Read(ulong address, Span<byte> data)
    {
        if (TryFind(address, out var device, out var offset))
        {
            device.Read(offset, data);
            return;
        }
        data.Fill(0xFF);
        var n = Interlocked.Increment(ref _unknownReads);
        if (n <= LoggedUnknownAccesses) log?.Invoke($"{Name}: read of {data.Length} bytes at unclaimed 0x{address:x}{(n == LoggedUnknownAccesses ? " (further unclaimed reads not logged)" : "")}");
    }

    public void Write(ulong address, ReadOnlySpan<byte> data)
    {
        if (TryFind(address, out var device, out var offset))
        {
            device.Write(offset, data);
            return;
        }
        var n = Interlocked.Increment(ref _unknownWrites);
        if (n <= LoggedUnknownAccesses) log?.Invoke($"{Name}: write of {data.Length} bytes at unclaimed 0x{address:x}{(n == LoggedUnknownAccesses ? " (further unclaimed writes not logged)" : "")}");
    }

    private sealed record Entry(ulong Base, ulong Length, IBusDevice Device, string Name);
}
