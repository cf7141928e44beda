using System.Text;
using Domino.Vmm.Devices.Virtio;
using Domino.Vmm.Devices.Virtio.Console;
using Xunit;
using R = Domino.Vmm.Devices.Virtio.VirtioMmioTransport.Reg;

namespace Domino.Vmm.Tests.Virtio;

public sealed class VirtioConsoleTests
{
    private readonly List<byte> _output = [];
    private readonly VirtioConsole _console;
    private readonly VirtioDriver _driver;

    public VirtioConsoleTests()
    {
        _console = new VirtioConsole(b => { lock (_output) _output.AddRange(b.ToArray()); }, columns: 120, rows: 40);
        _driver = new VirtioDriver(_console, new GuardedGuestMemory());
    }

    private string Output { get { lock (_output) return Encoding.ASCII.GetString([.. _output]); } }

    private DriverQueue Rx => _driver.Queues[VirtioConsole.ReceiveQueue];
    private DriverQueue Tx => _driver.Queues[VirtioConsole.TransmitQueue];

    private void BringUp(ulong features = 0) => _driver.BringUp(VirtioFeatures.Version1 | features, 2, size: 16);

    [Fact]
    public void Config_space_has_columns_rows_and_one_port()
    {
        Assert.Equal(VirtioDeviceIds.Console, _driver.ReadReg(R.DeviceId));
        Assert.Equal(120u | (40u << 16), _driver.ReadReg(R.Config + ConsoleConfig.ColumnsOffset));
        Assert.Equal(1u, _driver.ReadReg(R.Config + ConsoleConfig.MaxPortsOffset));
    }

    [Fact]
    public void Emergency_write_outputs_one_character()
    {
        _driver.WriteReg(R.Config + ConsoleConfig.EmergencyWriteOffset, 'E');
        Assert.Equal("E", Output);
    }

    [Fact]
    public void Transmit_sends_guest_bytes_to_the_output_and_interrupts()
    {
        BringUp();
        var head = Tx.AddChain((_driver.Buffer("hello, "u8), 7, false), (_driver.Buffer("world\n"u8), 6, false));
        Tx.Kick();
        Assert.Equal("hello, world\n", Output);
        Assert.Equal(1, Tx.UsedIdx);
        Assert.Equal((head, 0u), Tx.Used(0));
        Assert.Equal(VirtioMmioTransport.InterruptUsedBuffer, _driver.InterruptStatus);
        Assert.True(_driver.Irq.Level);
    }

    [Fact]
    public void Input_queued_before_the_driver_is_delivered_once_buffers_are_posted()
    {
        _console.QueueInput("boot"u8);
        BringUp();
        var buf = _driver.Buffer(64);
        var head = Rx.AddChain((buf, 64, true));
        Rx.Kick();
        Assert.Equal((head, 4u), Rx.Used(0));
        Assert.Equal("boot"u8.ToArray(), _driver.ReadGuest(buf, 4));
        Assert.True(_driver.Irq.Level);
    }

    [Fact]
    public void Input_larger_than_a_buffer_continues_in_the_next_buffer()
    {
        BringUp();
        var a = _driver.Buffer(4);
        Rx.AddChain((a, 4, true));
        Rx.Kick();
        _console.QueueInput("abcdefg"u8);
        Assert.Equal(1, Rx.UsedIdx);
        Assert.Equal("abcd"u8.ToArray(), _driver.ReadGuest(a, 4));
        var b = _driver.Buffer(16);
        Rx.AddChain((b, 16, true));
        Rx.Kick();
        Assert.Equal(2, Rx.UsedIdx);
        Assert.Equal(3u, Rx.Used(1).Len);
        Assert.Equal("efg"u8.ToArray(), _driver.ReadGuest(b, 3));
    }

    [Fact]
    public void Input_beyond_the_pending_limit_is_dropped_and_counted()
    {
        _console.QueueInput(new byte[VirtioConsole.MaxPendingInput + 10]);
        Assert.Equal(10, _console.DroppedInputBytes);
    }

    [Fact]
    public async Task Input_from_several_host_threads_all_arrives_in_order_per_thread()
    {
        BringUp();
        const int threads = 4, perThread = 500, total = threads * perThread;
        var bufferOf = new Dictionary<uint, ulong>();
        void Post()
        {
            var buf = _driver.Buffer(8);
            bufferOf[Rx.AddChain((buf, 8, true))] = buf;
        }
        for (var i = 0; i < Rx.Size; i++) Post();
        Rx.Kick();

        // The guest side: collect used buffers and post fresh ones, kicking concurrently with input.
        var received = new List<byte>();
        var guest = Task.Run(() =>
        {
            var seen = 0;
            var deadline = DateTime.UtcNow.AddSeconds(20);
            while (received.Count < 2 * total && DateTime.UtcNow < deadline)
            {
                var usedIdx = Rx.UsedIdx;
                for (; seen != usedIdx; seen++)
                {
                    var (id, len) = Rx.Used(seen);
                    received.AddRange(_driver.ReadGuest(bufferOf[id], (int)len));
                    Post();
                }
                Rx.Kick();
            }
        });
        await Task.WhenAll(Enumerable.Range(0, threads).Select(t => Task.Run(() =>
        {
            for (var i = 0; i < perThread; i++) _console.QueueInput([(byte)('A' + t), (byte)i]);
        })));
        await guest;

        Assert.Equal(2 * total, received.Count);
        Assert.Equal(0, _console.DroppedInputBytes);
        for (var t = 0; t < threads; t++)
        {
            var sequence = Enumerable.Range(0, total).Where(i => received[2 * i] == 'A' + t).Select(i => received[2 * i + 1]);
            Assert.Equal(Enumerable.Range(0, perThread).Select(i => (byte)i), sequence);
        }
    }

    [Fact]
    public async Task Pump_copies_a_stream_into_the_guest()
    {
        BringUp();
        var buf = _driver.Buffer(64);
        Rx.AddChain((buf, 64, true));
        Rx.Kick();
        await _console.PumpInputAsync(new MemoryStream("typed"u8.ToArray()), CancellationToken.None);
        Assert.Equal("typed"u8.ToArray(), _driver.ReadGuest(buf, 5));
    }

    [Fact]
    public void Receive_buffer_the_device_cannot_write_needs_reset()
    {
        BringUp();
        _console.QueueInput("x"u8);
        Rx.AddChain((_driver.Buffer(8), 8, false));
        Rx.Kick();
        _driver.AssertNeedsReset("must be device-writable only");
        Assert.Equal(0, Rx.UsedIdx);
    }

    [Fact]
    public void Transmit_buffer_marked_device_writable_needs_reset()
    {
        BringUp();
        Tx.AddChain((_driver.Buffer(8), 8, true));
        Tx.Kick();
        _driver.AssertNeedsReset("has device-writable descriptors");
        Assert.Equal("", Output);
    }

    [Fact]
    public void Used_buffer_interrupt_is_suppressed_by_NO_INTERRUPT()
    {
        BringUp();
        Tx.SetAvailFlags(1);
        Tx.AddChain((_driver.Buffer("q"u8), 1, false));
        Tx.Kick();
        Assert.Equal("q", Output);
        Assert.Equal(0u, _driver.InterruptStatus);
        Assert.False(_driver.Irq.Level);
    }

    [Fact]
    public void Event_idx_interrupts_only_when_used_event_is_crossed_and_publishes_avail_event()
    {
        BringUp(VirtioFeatures.RingEventIdx);
        Tx.SetUsedEvent(5);
        Tx.AddChain((_driver.Buffer("a"u8), 1, false));
        Tx.Kick();
        Assert.Equal(1, Tx.UsedIdx);
        Assert.Equal(0u, _driver.InterruptStatus);
        // The device asks to be kicked for the entry after the last one it consumed.
        Assert.Equal(1, Tx.AvailEvent);
        Tx.SetUsedEvent(1);
        Tx.AddChain((_driver.Buffer("b"u8), 1, false));
        Tx.Kick();
        Assert.Equal(VirtioMmioTransport.InterruptUsedBuffer, _driver.InterruptStatus);
        Assert.Equal(2, Tx.AvailEvent);
        Assert.Equal("ab", Output);
    }

    [Fact]
    public void Resize_signals_a_config_change()
    {
        BringUp(ConsoleFeatures.Size);
        _console.Resize(80, 25);
        Assert.Equal(VirtioMmioTransport.InterruptConfigChange, _driver.InterruptStatus);
        Assert.Equal(80u | (25u << 16), _driver.ReadReg(R.Config));
        Assert.Equal(DeviceStatus.None, _driver.Status & DeviceStatus.DeviceNeedsReset);
    }
}
