using Domino.Vmm.Devices;
using Domino.Vmm.Devices.Legacy;

namespace Domino.Vmm.Tests;

public class DeviceTests
{
    internal sealed class Events : IGuestEvents
    {
        public List<string> Log { get; } = [];
        public void PowerOff(string how) => Log.Add("poweroff: " + how);
        public void Reboot(string how) => Log.Add("reboot: " + how);
    }

    private sealed class Register(byte value) : IBusDevice
    {
        public List<(ulong, byte)> Writes { get; } = [];
        public void Read(ulong offset, Span<byte> data) => data.Fill((byte)(value + offset));
        public void Write(ulong offset, ReadOnlySpan<byte> data) => Writes.Add((offset, data[0]));
    }

    internal static byte In(IBusDevice d, ulong off)
    {
        Span<byte> b = stackalloc byte[1];
        d.Read(off, b);
        return b[0];
    }

    internal static void Out(IBusDevice d, ulong off, byte v) => d.Write(off, [v]);

    [Fact]
    public void Bus_dispatches_by_range_with_offsets()
    {
        var bus = new DeviceBus("pio");
        var a = new Register(0x10);
        var b = new Register(0x40);
        bus.Register(0x3F8, 8, a, "a");
        bus.Register(0x60, 1, b, "b");
        Span<byte> one = stackalloc byte[1];
        bus.Read(0x3FD, one);
        Assert.Equal(0x15, one[0]);
        bus.Write(0x60, [7]);
        Assert.Equal([(0UL, (byte)7)], b.Writes);
    }

    [Fact]
    public void Bus_unclaimed_reads_are_all_ones_and_counted()
    {
        var logged = new List<string>();
        var bus = new DeviceBus("mmio", logged.Add);
        Span<byte> four = stackalloc byte[4];
        bus.Read(0xDEAD0000, four);
        bus.Write(0xDEAD0000, [1, 2]);
        Assert.Equal(0xFFFFFFFFu, BitConverter.ToUInt32(four));
        Assert.Equal(1, bus.UnknownReads);
        Assert.Equal(1, bus.UnknownWrites);
        Assert.Equal(2, logged.Count);
    }

    [Fact]
    public void Bus_refuses_overlaps()
    {
        var bus = new DeviceBus("pio");
        bus.Register(0x3F8, 8, new Register(0), "com1");
        var e = Assert.Throws<InvalidOperationException>(() => bus.Register(0x3FF, 2, new Register(0), "other"));
        Assert.Contains("overlaps com1", e.Message);
    }

    [Fact]
    public void Serial_transmits_and_reports_thr_empty()
    {
        var output = new List<byte>();
        var irq = new RecordingInterruptLine(4);
        var uart = new Serial(irq, output.Add);
        Out(uart, 0, (byte)'A');
        Assert.Equal("A"u8.ToArray(), output);
        Assert.Equal(0x60, In(uart, 5) & 0x61); // THRE|TEMT, no data
        Assert.False(irq.Level);
        Out(uart, 1, 0x02); // IER: THRE
        Assert.True(irq.Level);
        Assert.Equal(0x02, In(uart, 2) & 0x0F); // IIR: THR empty, which clears it
        Assert.False(irq.Level);
        Assert.Equal(0x01, In(uart, 2) & 0x0F);
    }

    [Fact]
    public void Serial_receives_with_interrupt()
    {
        var irq = new RecordingInterruptLine(4);
        var uart = new Serial(irq, _ => { });
        Out(uart, 1, 0x01); // IER: RX data
        uart.EnqueueInput("hi"u8);
        Assert.True(irq.Level);
        Assert.Equal(0x04, In(uart, 2) & 0x0F);
        Assert.Equal(1, In(uart, 5) & 1);
        Assert.Equal((byte)'h', In(uart, 0));
        Assert.Equal((byte)'i', In(uart, 0));
        Assert.Equal(0, In(uart, 5) & 1);
        Assert.False(irq.Level);
    }

    [Fact]
    public void Serial_divisor_latch_scratch_and_loopback()
    {
        var output = new List<byte>();
        var uart = new Serial(new RecordingInterruptLine(4), output.Add);
        Out(uart, 3, 0x80); // DLAB
        Out(uart, 0, 0x01);
        Out(uart, 1, 0x00);
        Out(uart, 3, 0x03);
        Assert.Equal(1, uart.Divisor);
        Assert.Equal(0x03, In(uart, 3));
        Out(uart, 7, 0x5A);
        Assert.Equal(0x5A, In(uart, 7));
        Out(uart, 4, 0x10); // loopback, all outputs low
        Assert.Equal(0x00, In(uart, 6) & 0xF0);
        Out(uart, 4, 0x1F);
        Assert.Equal(0xF0, In(uart, 6) & 0xF0);
        Out(uart, 0, 0x42);
        Assert.Empty(output);
        Assert.Equal(0x42, In(uart, 0));
    }

    [Fact]
    public void Legacy_power_devices_report_to_the_vm()
    {
        var events = new Events();
        Out(new I8042(events, new RecordingInterruptLine(I8042.KeyboardIrq)), 0, 0xFE);
        Out(new DebugExit(events), 0, 0x31);
        Out(new AcpiPmDevice(events), 0, (5 << 2) | (1 << 5));
        Out(new AcpiPmDevice(events), 0, 1);
        Out(new AcpiPmDevice(events), 0, (0 << 2) | (1 << 5)); // S0: ignored
        Assert.Equal(4, events.Log.Count);
        Assert.StartsWith("reboot: i8042", events.Log[0]);
        Assert.Contains("0x31", events.Log[1]);
        Assert.StartsWith("poweroff: ACPI S5", events.Log[2]);
        Assert.StartsWith("reboot: ACPI reset", events.Log[3]);
    }
}

public class SerialFifoResetTests
{
    [Fact]
    public void Fifo_reset_keeps_host_input_that_arrived_before_the_driver_initialised()
    {
        var uart = new Serial(new RecordingInterruptLine(4), _ => { });
        uart.EnqueueInput("quit\n"u8);
        uart.Write(2, [0x07]); // FCR: enable + reset both FIFOs
        Assert.Equal(5, uart.PendingInput);
    }
}
