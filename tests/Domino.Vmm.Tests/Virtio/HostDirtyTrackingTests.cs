using System.Buffers.Binary;
using Domino.Vmm.Devices.Virtio;
using Domino.Vmm.Devices.Virtio.Block;
using Domino.Vmm.Devices.Virtio.Console;
using Domino.Vmm.Memory;
using Xunit;

namespace Domino.Vmm.Tests.Virtio;

/// <summary>
/// What device models write into guest RAM is recorded in GuestMemory's host-side dirty bitmap
/// while tracking is on: KVM's dirty log never sees these writes, so a migration that relied on it
/// alone would send stale pages.
/// </summary>
public sealed class HostDirtyTrackingTests : IDisposable
{
    private const int Page = GuestMemory.PageSize;
    private readonly string _dir = Directory.CreateTempSubdirectory("domino-dirty-").FullName;
    private readonly List<IDisposable> _devices = [];

    public void Dispose()
    {
        foreach (var d in _devices) d.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    private static HashSet<ulong> TakeDirtyPages(GuestMemory memory)
    {
        var region = memory.Regions[0];
        var bitmap = new ulong[(region.Size / Page + 63) / 64];
        memory.TakeHostDirty(0, bitmap);
        var pages = new HashSet<ulong>();
        for (var p = 0UL; p < region.Size / Page; p++)
            if ((bitmap[p / 64] & (1UL << (int)(p % 64))) != 0) pages.Add(region.Gpa + p * Page);
        return pages;
    }

    private static ulong PageOf(ulong gpa) => gpa & ~(ulong)(Page - 1);

    [Fact]
    public void Virtio_blk_read_marks_the_data_buffer_and_the_used_ring_pages()
    {
        var image = Path.Combine(_dir, "disk.img");
        var sector = new byte[DiskImage.SectorSize];
        sector.AsSpan().Fill(0x5A);
        File.WriteAllBytes(image, [.. new byte[DiskImage.SectorSize], .. sector]);
        var block = new VirtioBlock(image, readOnly: false);
        _devices.Add(block);
        var driver = new VirtioDriver(block, new GuardedGuestMemory());
        driver.BringUp(VirtioFeatures.Version1, 1);
        var q = driver.Queues[0];
        var header = new byte[BlockRequest.HeaderLength];
        BinaryPrimitives.WriteUInt64LittleEndian(header.AsSpan(8), 1); // VIRTIO_BLK_T_IN, sector 1
        var h = driver.Buffer(header);
        var status = driver.Buffer([0xff]);
        var data = driver.Buffer(DiskImage.SectorSize, align: Page); // a page only the device writes
        var memory = driver.Memory;

        memory.StartHostDirtyTracking();
        q.AddChain((h, 16, false), (data, (uint)DiskImage.SectorSize, true), (status, 1, true));
        TakeDirtyPages(memory); // forget what the "guest" (this test) wrote into the rings
        q.Kick();

        Assert.Equal(sector, driver.ReadGuest(data, DiskImage.SectorSize));
        var dirty = TakeDirtyPages(memory);
        Assert.Contains(PageOf(data), dirty);
        Assert.Contains(PageOf(q.UsedRing + 2), dirty);
        Assert.Contains(PageOf(status), dirty);
        Assert.Empty(TakeDirtyPages(memory)); // taking clears
    }

    /// <summary>A virtio console whose driver has posted one 64-byte receive buffer on a page of its own; tracking on.</summary>
    private static (VirtioConsole Console, VirtioDriver Driver, DriverQueue Rx, ulong Buffer) ConsoleWithReceiveBuffer()
    {
        var console = new VirtioConsole(_ => { });
        var driver = new VirtioDriver(console, new GuardedGuestMemory());
        driver.BringUp(VirtioFeatures.Version1, 2);
        var rx = driver.Queues[VirtioConsole.ReceiveQueue];
        var buffer = driver.Buffer(64, align: Page);
        rx.AddChain((buffer, 64, true));
        rx.Kick();
        driver.Memory.StartHostDirtyTracking();
        return (console, driver, rx, buffer);
    }

    [Fact]
    public void Virtio_console_receive_marks_the_guest_buffer()
    {
        var (console, driver, _, buffer) = ConsoleWithReceiveBuffer();

        console.QueueInput("typed"u8);

        Assert.Equal("typed"u8.ToArray(), driver.ReadGuest(buffer, 5));
        Assert.Contains(PageOf(buffer), TakeDirtyPages(driver.Memory));
    }

    [Fact]
    public void Held_console_input_writes_nothing_until_released()
    {
        var (console, driver, rx, buffer) = ConsoleWithReceiveBuffer();

        console.HoldInput(true);
        console.QueueInput("late"u8);
        Assert.Empty(TakeDirtyPages(driver.Memory));
        Assert.Equal(0, rx.UsedIdx);

        console.HoldInput(false);
        Assert.Equal("late"u8.ToArray(), driver.ReadGuest(buffer, 4));
        Assert.Contains(PageOf(buffer), TakeDirtyPages(driver.Memory));
    }

    [Fact]
    public void A_write_counts_when_it_ends_so_a_fetch_in_between_cannot_lose_it()
    {
        var memory = new GuardedGuestMemory().Memory;
        var gpa = GuardedGuestMemory.RamBase + 3 * Page;
        memory.StartHostDirtyTracking();
        using (var write = memory.BeginWrite(gpa + 100, 2 * Page))
        {
            write.Span.Fill(1);
            Assert.Empty(TakeDirtyPages(memory)); // a round fetching now would send the page again later
        }
        Assert.Equal([gpa, gpa + Page, gpa + 2 * Page], TakeDirtyPages(memory).Order());
    }

    [Fact]
    public void Nothing_is_recorded_while_tracking_is_off()
    {
        var memory = new GuardedGuestMemory().Memory;
        memory.Write(GuardedGuestMemory.RamBase, 42UL);
        Assert.False(memory.TracksHostWrites);
        memory.StartHostDirtyTracking();
        memory.StopHostDirtyTracking();
        memory.Write(GuardedGuestMemory.RamBase, 43UL);
        memory.StartHostDirtyTracking();
        Assert.Empty(TakeDirtyPages(memory));
    }
}
