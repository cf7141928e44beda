using Domino.Vmm.Devices.Virtio;
using Domino.Vmm.Devices.Virtio.Console;
using Xunit;
using R = Domino.Vmm.Devices.Virtio.VirtioMmioTransport.Reg;

namespace Domino.Vmm.Tests.Virtio;

public sealed class VirtioMmioTransportTests
{
    private const DeviceStatus UpToFeaturesOk = DeviceStatus.Acknowledge | DeviceStatus.Driver | DeviceStatus.FeaturesOk;

    private static VirtioDriver NewConsoleDriver(List<byte>? output = null) =>
        new(new VirtioConsole(b => { lock (output ?? []) output?.AddRange(b.ToArray()); }), new GuardedGuestMemory());

    [Fact]
    public void Identification_registers_describe_a_version_2_device()
    {
        var d = NewConsoleDriver();
        Assert.Equal(0x74726976u, d.ReadReg(R.MagicValue));
        Assert.Equal(2u, d.ReadReg(R.Version));
        Assert.Equal(VirtioDeviceIds.Console, d.ReadReg(R.DeviceId));
        Assert.Equal(VirtioMmioTransport.VendorId, d.ReadReg(R.VendorId));
        Assert.Equal(uint.MaxValue, d.ReadReg(R.ShmLenLow));
    }

    [Fact]
    public void Offered_features_include_version_1_and_ring_features()
    {
        var d = NewConsoleDriver();
        var offered = d.ReadDeviceFeatures();
        Assert.Equal(VirtioFeatures.Version1, offered & VirtioFeatures.Version1);
        Assert.Equal(VirtioFeatures.RingIndirectDesc, offered & VirtioFeatures.RingIndirectDesc);
        Assert.Equal(VirtioFeatures.RingEventIdx, offered & VirtioFeatures.RingEventIdx);
        Assert.Equal(ConsoleFeatures.Size, offered & ConsoleFeatures.Size);
        Assert.Equal(0UL, offered & ConsoleFeatures.Multiport);
        d.WriteReg(R.DeviceFeaturesSel, 2);
        Assert.Equal(0u, d.ReadReg(R.DeviceFeatures));
    }

    [Fact]
    public void Accepting_a_subset_of_offered_features_keeps_FEATURES_OK()
    {
        var d = NewConsoleDriver();
        Assert.True(d.Negotiate(VirtioFeatures.Version1 | ConsoleFeatures.Size));
        Assert.Equal(UpToFeaturesOk, d.Status);
        Assert.Equal(VirtioFeatures.Version1 | ConsoleFeatures.Size, d.Transport.DriverFeatures);
    }

    [Fact]
    public void FEATURES_OK_is_refused_for_a_feature_not_offered()
    {
        var d = NewConsoleDriver();
        Assert.False(d.Negotiate(VirtioFeatures.Version1 | ConsoleFeatures.Multiport));
        Assert.Equal(DeviceStatus.Acknowledge | DeviceStatus.Driver, d.Status);
    }

    [Fact]
    public void FEATURES_OK_is_refused_without_VERSION_1()
    {
        var d = NewConsoleDriver();
        Assert.False(d.Negotiate(ConsoleFeatures.Size));
        // Nor can the driver go on to DRIVER_OK.
        d.SetStatus(DeviceStatus.Acknowledge | DeviceStatus.Driver | DeviceStatus.DriverOk);
        Assert.False(d.Transport.IsActive);
    }

    [Fact]
    public void Status_bits_must_come_in_order()
    {
        var d = NewConsoleDriver();
        d.SetStatus(DeviceStatus.Driver);
        Assert.Equal(DeviceStatus.None, d.Status);
        d.SetStatus(DeviceStatus.Acknowledge);
        d.SetStatus(DeviceStatus.Acknowledge | DeviceStatus.Driver | DeviceStatus.DriverOk);
        Assert.Equal(DeviceStatus.Acknowledge, d.Status);
        Assert.False(d.Transport.IsActive);
    }

    [Fact]
    public void Features_cannot_change_after_FEATURES_OK()
    {
        var d = NewConsoleDriver();
        Assert.True(d.Negotiate(VirtioFeatures.Version1));
        d.WriteReg(R.DriverFeaturesSel, 0);
        d.WriteReg(R.DriverFeatures, (uint)ConsoleFeatures.Size);
        Assert.Equal(VirtioFeatures.Version1, d.Transport.DriverFeatures);
    }

    [Fact]
    public void Queue_registers_report_sizes_and_accept_a_layout()
    {
        var d = NewConsoleDriver();
        Assert.True(d.Negotiate(VirtioFeatures.Version1));
        d.WriteReg(R.QueueSel, 1);
        Assert.Equal((uint)VirtioConsole.QueueSize, d.ReadReg(R.QueueNumMax));
        Assert.Equal(0u, d.ReadReg(R.QueueReady));
        var q = d.SetupQueue(1, 64);
        Assert.Equal(1u, d.ReadReg(R.QueueReady));
        Assert.Equal(64u, d.ReadReg(R.QueueNum));
        Assert.Equal((uint)q.DescTable, d.ReadReg(R.QueueDescLow));
        Assert.Equal((uint)q.AvailRing, d.ReadReg(R.QueueDriverLow));
        Assert.Equal((uint)q.UsedRing, d.ReadReg(R.QueueDeviceLow));
        // A queue the device does not have reads as absent.
        d.WriteReg(R.QueueSel, 2);
        Assert.Equal(0u, d.ReadReg(R.QueueNumMax));
        Assert.Equal(0u, d.ReadReg(R.QueueReady));
        Assert.Empty(d.Errors);
    }

    [Fact]
    public void QueueReady_waits_for_FEATURES_OK()
    {
        var d = NewConsoleDriver();
        d.SetStatus(DeviceStatus.Acknowledge);
        d.SetStatus(DeviceStatus.Acknowledge | DeviceStatus.Driver);
        var ring = d.Buffer(0x4000);
        d.ProgramQueue(0, 16, ring, ring + 0x2000, ring + 0x3000);
        Assert.Equal(0u, d.ReadReg(R.QueueReady));
        Assert.Empty(d.Errors);
    }

    [Theory]
    [InlineData(0u, "not a power of two")]
    [InlineData(48u, "not a power of two")]
    [InlineData(512u, "QueueNumMax 256")]
    [InlineData(0x10000u, "not a power of two")]
    public void A_bad_queue_size_needs_reset(uint size, string reason)
    {
        var d = NewConsoleDriver();
        Assert.True(d.Negotiate(VirtioFeatures.Version1));
        var ring = d.Buffer(0x4000);
        d.ProgramQueue(0, size, ring, ring + 0x2000, ring + 0x3000);
        Assert.Equal(0u, d.ReadReg(R.QueueReady));
        d.AssertNeedsReset(reason);
    }

    [Theory]
    [InlineData(0x0UL, 0x12000UL, 0x13000UL, "descriptor table 0x0+0x100 is outside guest RAM")]
    [InlineData(0x11000UL, 0x10fffeUL, 0x13000UL, "available ring 0x10fffe")]
    [InlineData(0x11000UL, 0x12000UL, 0xffff_ffff_ffff_fff0UL, "used ring 0xfffffffffffffff0")]
    [InlineData(0x11008UL, 0x12000UL, 0x13000UL, "not 16-byte aligned")]
    [InlineData(0x11000UL, 0x12001UL, 0x13000UL, "not 2-byte aligned")]
    [InlineData(0x11000UL, 0x12000UL, 0x13002UL, "not 4-byte aligned")]
    public void A_ring_outside_RAM_or_misaligned_needs_reset(ulong desc, ulong avail, ulong used, string reason)
    {
        var d = NewConsoleDriver();
        Assert.True(d.Negotiate(VirtioFeatures.Version1));
        d.ProgramQueue(0, 16, desc, avail, used);
        Assert.Equal(0u, d.ReadReg(R.QueueReady));
        var error = d.AssertNeedsReset(reason);
        Assert.StartsWith("virtio-console (GSI 5): queue 0:", error);
        // A device that needs reset does not go live.
        d.DriverOk();
        Assert.False(d.Transport.IsActive);
    }

    [Fact]
    public void Writing_status_0_resets_everything_and_clears_NEEDS_RESET()
    {
        var d = NewConsoleDriver();
        Assert.True(d.Negotiate(VirtioFeatures.Version1));
        d.ProgramQueue(0, 3, 0x11000, 0x12000, 0x13000);
        Assert.True(d.Irq.Level);
        d.SetStatus(DeviceStatus.None);
        Assert.Equal(DeviceStatus.None, d.Status);
        Assert.Equal(0u, d.InterruptStatus);
        Assert.False(d.Irq.Level);
        Assert.Equal(0UL, d.Transport.DriverFeatures);
        Assert.Equal((uint)VirtioConsole.QueueSize, d.ReadReg(R.QueueNum));
        // And it comes up cleanly again.
        d.BringUp(VirtioFeatures.Version1, 2);
        Assert.True(d.Transport.IsActive);
        Assert.Equal(UpToFeaturesOk | DeviceStatus.DriverOk, d.Status);
    }

    [Fact]
    public void Interrupt_ACK_lowers_the_line_only_when_no_bits_remain()
    {
        var output = new List<byte>();
        var console = new VirtioConsole(b => output.AddRange(b.ToArray()));
        var d = new VirtioDriver(console, new GuardedGuestMemory());
        d.BringUp(VirtioFeatures.Version1, 2);
        var tx = d.Queues[VirtioConsole.TransmitQueue];
        tx.AddChain((d.Buffer("x"u8), 1, false));
        tx.Kick();
        console.Resize(100, 40);
        Assert.Equal(VirtioMmioTransport.InterruptUsedBuffer | VirtioMmioTransport.InterruptConfigChange, d.InterruptStatus);
        Assert.True(d.Irq.Level);
        d.AckInterrupt(VirtioMmioTransport.InterruptUsedBuffer);
        Assert.True(d.Irq.Level);
        d.AckInterrupt(VirtioMmioTransport.InterruptConfigChange);
        Assert.False(d.Irq.Level);
        Assert.Equal([true, false], d.Irq.Levels);
    }

    [Fact]
    public void Config_change_bumps_ConfigGeneration()
    {
        var console = new VirtioConsole(_ => { });
        var d = new VirtioDriver(console, new GuardedGuestMemory());
        d.BringUp(VirtioFeatures.Version1 | ConsoleFeatures.Size, 2);
        var before = d.ReadReg(R.ConfigGeneration);
        console.Resize(132, 50);
        Assert.NotEqual(before, d.ReadReg(R.ConfigGeneration));
        Assert.Equal(132u | (50u << 16), d.ReadReg(R.Config));
    }

    [Fact]
    public void Control_registers_ignore_accesses_that_are_not_32_bit_aligned()
    {
        var d = NewConsoleDriver();
        var b = new byte[2];
        d.Transport.Read(R.MagicValue, b);
        Assert.Equal(new byte[2], b);
        d.Transport.Write(R.Status, new byte[] { 1, 0 });
        d.Transport.Write(R.Status + 1, new byte[] { 1 });
        Assert.Equal(DeviceStatus.None, d.Status);
    }

    [Fact]
    public void Notify_before_DRIVER_OK_is_ignored_and_pending_buffers_are_taken_at_DRIVER_OK()
    {
        var output = new List<byte>();
        var d = new VirtioDriver(new VirtioConsole(b => output.AddRange(b.ToArray())), new GuardedGuestMemory());
        Assert.True(d.Negotiate(VirtioFeatures.Version1));
        d.SetupQueue(0, 16);
        var tx = d.SetupQueue(1, 16);
        tx.AddChain((d.Buffer("early"u8), 5, false));
        tx.Kick();
        Assert.Empty(output);
        d.DriverOk();
        Assert.Equal("early"u8.ToArray(), output);
        Assert.Equal(1, tx.UsedIdx);
    }
}
