using System.Runtime.InteropServices;
using Domino.Vmm.Devices;
using Domino.Vmm.Memory;

namespace Domino.Vmm.Tests.Virtio;

/// <summary>
/// Guest RAM with canary-filled guard zones on both sides, so a test can prove a hostile guest made
/// the device touch nothing outside RAM. The block is a pinned array (pinned object heap), so its
/// address is stable for the host-pointer-based <see cref="GuestMemory"/> without unsafe code here.
/// </summary>
public sealed class GuardedGuestMemory
{
    public const ulong RamBase = 0x10000;
    public const ulong RamSize = 0x100000;
    public const int GuardSize = 0x10000;
    public const byte Canary = 0xA5;

    private readonly byte[] _block = GC.AllocateArray<byte>(GuardSize * 2 + (int)RamSize, pinned: true);
    private ulong _next = RamBase;

    public GuardedGuestMemory()
    {
        _block.AsSpan(0, GuardSize).Fill(Canary);
        _block.AsSpan(GuardSize + (int)RamSize).Fill(Canary);
        var host = Marshal.UnsafeAddrOfPinnedArrayElement(_block, GuardSize);
        Memory = new GuestMemory([new GuestRegion(RamBase, RamSize, host)]);
    }

    public GuestMemory Memory { get; }

    public static ulong RamEnd => RamBase + RamSize;

    /// <summary>Whether both guard zones still hold only the canary.</summary>
    public bool GuardsIntact =>
        !_block.AsSpan(0, GuardSize).ContainsAnyExcept(Canary) &&
        !_block.AsSpan(GuardSize + (int)RamSize).ContainsAnyExcept(Canary);

    /// <summary>Bump-allocate zeroed guest RAM for rings and buffers.</summary>
    public ulong Allocate(ulong length, ulong align = 16)
    {
        var gpa = (_next + align - 1) & ~(align - 1);
        if (gpa + length > RamEnd) throw new InvalidOperationException("test guest RAM exhausted");
        _next = gpa + length;
        return gpa;
    }
}

/// <summary>An interrupt line that records every level it is driven to.</summary>
public sealed class RecordingInterruptLine(uint gsi = 5) : IInterruptLine
{
    private readonly Lock _lock = new();
    private readonly List<bool> _levels = [];

    public uint Gsi { get; } = gsi;

    public bool Level { get { lock (_lock) return _levels.Count > 0 && _levels[^1]; } }

    public IReadOnlyList<bool> Levels { get { lock (_lock) return [.. _levels]; } }

    /// <summary>Times the line went from low to high.</summary>
    public int Assertions { get { lock (_lock) return _levels.Count(l => l); } }

    public void SetLevel(bool asserted)
    {
        lock (_lock) _levels.Add(asserted);
    }

    public void Trigger()
    {
        lock (_lock)
        {
            _levels.Add(true);
            _levels.Add(false);
        }
    }
}
