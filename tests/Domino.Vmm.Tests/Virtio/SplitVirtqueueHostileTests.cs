using Domino.Vmm.Devices.Virtio;
using Domino.Vmm.Devices.Virtio.Console;
using Xunit;
using static Domino.Vmm.Devices.Virtio.Queue.SplitVirtqueue;

namespace Domino.Vmm.Tests.Virtio;

/// <summary>
/// A guest that breaks the split-virtqueue rules (§2.7) must not make the device touch memory
/// outside RAM, must not bring the VMM down, and leaves the device in DEVICE_NEEDS_RESET with a
/// reason. Driven through the console transmit queue, where a buffer the device accepted would
/// show up in the output.
/// </summary>
public sealed class SplitVirtqueueHostileTests
{
    private const ushort QueueSize = 16;
    private readonly List<byte> _output = [];
    private readonly VirtioDriver _driver;

    public SplitVirtqueueHostileTests()
    {
        _driver = new VirtioDriver(new VirtioConsole(b => _output.AddRange(b.ToArray())), new GuardedGuestMemory());
    }

    private DriverQueue Tx => _driver.Queues[VirtioConsole.TransmitQueue];

    private void BringUp(ulong features = 0) => _driver.BringUp(VirtioFeatures.Version1 | features, 2, QueueSize);

    /// <summary>Publish descriptor 0 as a chain head, kick, and check the device refused it.</summary>
    private void KickAndExpectReset(string reason)
    {
        Tx.Publish(0);
        Tx.Kick();
        _driver.AssertNeedsReset(reason);
        Assert.Equal(0, Tx.UsedIdx);
        Assert.Empty(_output);
    }

    [Theory]
    [InlineData(0x0UL, 16u, "buffer 0x0+0x10 is outside guest RAM")]
    [InlineData(0x8000UL, 0x10000u, "buffer 0x8000+0x10000 is outside guest RAM")]         // starts below RAM
    [InlineData(0x10f000UL, 0x1001u, "buffer 0x10f000+0x1001 is outside guest RAM")]       // one past the end
    [InlineData(0x10000UL, 0xFFFFFFFFu, "buffer 0x10000+0xffffffff is outside guest RAM")] // len 0xFFFFFFFF
    [InlineData(0xFFFF_FFFF_FFFF_F000UL, 0x2000u, "buffer 0xfffffffffffff000+0x2000")]     // addr+len overflows
    [InlineData(0x4000_0000UL, 1u, "buffer 0x40000000+0x1 is outside guest RAM")]          // far above RAM
    public void Descriptor_outside_RAM(ulong addr, uint len, string reason)
    {
        BringUp();
        Tx.WriteDescriptor(0, addr, len, 0, 0);
        KickAndExpectReset(reason);
    }

    [Fact]
    public void Descriptor_loop()
    {
        BringUp();
        var buf = _driver.Buffer("x"u8);
        Tx.WriteDescriptor(0, buf, 1, DescFlagNext, 1);
        Tx.WriteDescriptor(1, buf, 1, DescFlagNext, 0);
        KickAndExpectReset("longer than the queue size 16 (a loop?)");
    }

    [Fact]
    public void Descriptor_pointing_at_itself()
    {
        BringUp();
        Tx.WriteDescriptor(0, _driver.Buffer("x"u8), 1, DescFlagNext, 0);
        KickAndExpectReset("a loop?");
    }

    [Theory]
    [InlineData((ushort)QueueSize)]
    [InlineData(ushort.MaxValue)]
    public void Next_index_out_of_range(ushort next)
    {
        BringUp();
        Tx.WriteDescriptor(0, _driver.Buffer("x"u8), 1, DescFlagNext, next);
        KickAndExpectReset($"next index {next} is outside the queue of 16");
    }

    [Fact]
    public void Available_ring_head_out_of_range()
    {
        BringUp();
        Tx.Publish(QueueSize);
        Tx.Kick();
        _driver.AssertNeedsReset("names descriptor 16, outside the queue of 16");
        Assert.Empty(_output);
    }

    [Fact]
    public void Available_index_jumps_more_than_the_queue_size()
    {
        BringUp();
        Tx.SetAvailIdx(QueueSize + 1);
        Tx.Kick();
        _driver.AssertNeedsReset("available ring index moved from 0 to 17");
        Assert.Equal(0, Tx.UsedIdx);
        Assert.Empty(_output);
    }

    [Fact]
    public void Readable_descriptor_after_a_writable_one()
    {
        BringUp();
        var buf = _driver.Buffer("x"u8);
        Tx.WriteDescriptor(0, buf, 1, DescFlagNext | DescFlagWrite, 1);
        Tx.WriteDescriptor(1, buf, 1, 0, 0);
        KickAndExpectReset("is device-readable but follows a device-writable descriptor");
    }

    [Fact]
    public void Indirect_without_the_feature()
    {
        BringUp();
        Tx.WriteDescriptor(0, _driver.Buffer(new byte[16]), 16, DescFlagIndirect, 0);
        KickAndExpectReset("VIRTIO_F_INDIRECT_DESC was not negotiated");
    }

    [Fact]
    public void Indirect_table_outside_RAM()
    {
        BringUp(VirtioFeatures.RingIndirectDesc);
        Tx.WriteDescriptor(0, GuardedGuestMemory.RamEnd - 16, 32, DescFlagIndirect, 0);
        KickAndExpectReset("indirect table 0x10fff0+0x20 is outside guest RAM");
    }

    [Theory]
    [InlineData(0u)]
    [InlineData(24u)]
    public void Indirect_table_length_not_a_multiple_of_16(uint len)
    {
        BringUp(VirtioFeatures.RingIndirectDesc);
        Tx.WriteDescriptor(0, _driver.Buffer(new byte[32]), len, DescFlagIndirect, 0);
        KickAndExpectReset("is not a non-zero multiple of 16");
    }

    [Fact]
    public void Indirect_with_next()
    {
        BringUp(VirtioFeatures.RingIndirectDesc);
        Tx.WriteDescriptor(0, _driver.Buffer(new byte[16]), 16, DescFlagIndirect | DescFlagNext, 1);
        KickAndExpectReset("sets both INDIRECT and NEXT");
    }

    [Fact]
    public void Indirect_inside_indirect()
    {
        BringUp(VirtioFeatures.RingIndirectDesc);
        var table = _driver.Buffer(new byte[16]);
        Tx.WriteDescriptorAt(table, table, 16, DescFlagIndirect, 0);
        Tx.WriteDescriptor(0, table, 16, DescFlagIndirect, 0);
        KickAndExpectReset("is indirect inside an indirect table");
    }

    [Fact]
    public void Indirect_entry_outside_RAM()
    {
        BringUp(VirtioFeatures.RingIndirectDesc);
        var table = _driver.Buffer(new byte[32]);
        Tx.WriteDescriptorAt(table, _driver.Buffer("ok"u8), 2, DescFlagNext, 1);
        Tx.WriteDescriptorAt(table + 16, 0xFFFF_FFFF_FFFF_FFFF, 2, 0, 0);
        Tx.WriteDescriptor(0, table, 32, DescFlagIndirect, 0);
        KickAndExpectReset("indirect descriptor 1 (chain head 0): buffer 0xffffffffffffffff+0x2 is outside guest RAM");
    }

    [Fact]
    public void Indirect_loop()
    {
        BringUp(VirtioFeatures.RingIndirectDesc);
        var table = _driver.Buffer(new byte[32]);
        var buf = _driver.Buffer("x"u8);
        Tx.WriteDescriptorAt(table, buf, 1, DescFlagNext, 1);
        Tx.WriteDescriptorAt(table + 16, buf, 1, DescFlagNext, 0);
        Tx.WriteDescriptor(0, table, 32, DescFlagIndirect, 0);
        KickAndExpectReset("a loop?");
    }

    [Fact]
    public void Indirect_next_out_of_range()
    {
        BringUp(VirtioFeatures.RingIndirectDesc);
        var table = _driver.Buffer(new byte[32]);
        Tx.WriteDescriptorAt(table, _driver.Buffer("x"u8), 1, DescFlagNext, 2);
        Tx.WriteDescriptor(0, table, 32, DescFlagIndirect, 0);
        KickAndExpectReset("next index 2 is outside the indirect table of 2");
    }

    [Fact]
    public void A_broken_queue_stays_stopped_until_reset_and_then_works_again()
    {
        BringUp();
        Tx.WriteDescriptor(0, 0, 1, 0, 0);
        Tx.Publish(0);
        Tx.Kick();
        _driver.AssertNeedsReset("outside guest RAM");

        // Further work on the broken queue is ignored.
        Tx.AddChain((_driver.Buffer("late"u8), 4, false));
        Tx.Kick();
        Assert.Empty(_output);
        Assert.Equal(0, Tx.UsedIdx);

        // The driver resets and starts over on fresh rings.
        _driver.SetStatus(DeviceStatus.None);
        Assert.Equal(DeviceStatus.None, _driver.Status);
        BringUp();
        Tx.AddChain((_driver.Buffer("again"u8), 5, false));
        Tx.Kick();
        Assert.Equal("again"u8.ToArray(), _output);
        Assert.Equal(1, Tx.UsedIdx);
    }
}
