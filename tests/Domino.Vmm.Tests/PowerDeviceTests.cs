using Domino.Vmm.Devices;
using Domino.Vmm.Devices.Acpi;
using Domino.Vmm.Devices.Legacy;
using Domino.Vmm.Persist;

namespace Domino.Vmm.Tests;

/// <summary>The devices behind shutdown, reboot and xl trigger: the i8042 keyboard and the ACPI GED.</summary>
public class PowerDeviceTests
{
    private static byte In(IBusDevice d, ulong off = 0) => DeviceTests.In(d, off);

    private static void Out(IBusDevice d, byte v, ulong off = 0) => DeviceTests.Out(d, off, v);

    private static (I8042 Kbd, RecordingInterruptLine Irq, DeviceTests.Events Events) Keyboard()
    {
        var events = new DeviceTests.Events();
        var irq = new RecordingInterruptLine(I8042.KeyboardIrq);
        return (new I8042(events, irq), irq, events);
    }

    /// <summary>Reads port 0x60 while the status register says the output buffer is full.</summary>
    private static List<byte> Drain(I8042 kbd)
    {
        var bytes = new List<byte>();
        while ((In(kbd) & 0x01) != 0 && bytes.Count < 64) bytes.Add(In(kbd.Data));
        return bytes;
    }

    [Fact]
    public void Ctrl_alt_del_arrives_in_set_1_by_default_with_one_interrupt_per_byte()
    {
        var (kbd, irq, _) = Keyboard();
        Assert.Equal(0x14, In(kbd)); // system flag, not inhibited, buffer empty
        Assert.True(kbd.SendCtrlAltDel());
        Assert.Equal(0x15, In(kbd));
        Assert.Equal(1, irq.Triggers);
        Assert.Equal([0x1D, 0x38, 0xE0, 0x53, 0xE0, 0xD3, 0xB8, 0x9D], Drain(kbd));
        Assert.Equal(8, irq.Triggers); // the push, then one more edge after each read that left a byte waiting
        Assert.Equal(0x00, In(kbd.Data)); // empty: reads 0
    }

    [Fact]
    public void Without_translation_the_keyboard_speaks_set_2()
    {
        var (kbd, _, _) = Keyboard();
        Out(kbd, 0x60);                       // write command byte
        Assert.Equal(0x08, In(kbd) & 0x08);   // the controller waits for the data byte
        Out(kbd.Data, 0x05);                  // keyboard interrupt + system flag, no translation
        Assert.Equal(0x05, kbd.CommandByte);
        Assert.True(kbd.SendCtrlAltDel());
        Assert.Equal([0x14, 0x11, 0xE0, 0x71, 0xE0, 0xF0, 0x71, 0xF0, 0x11, 0xF0, 0x14], Drain(kbd));
    }

    [Fact]
    public void With_the_keyboard_interrupt_disabled_keys_wait_without_an_interrupt()
    {
        var (kbd, irq, _) = Keyboard();
        Out(kbd, 0x60);
        Out(kbd.Data, 0x44); // translation + system flag, interrupt off
        Assert.True(kbd.SendCtrlAltDel());
        Assert.Equal(0, irq.Triggers);
        Assert.Equal(8, Drain(kbd).Count);
        Assert.Equal(0, irq.Triggers);
    }

    [Fact]
    public void A_full_buffer_refuses_the_whole_sequence()
    {
        var (kbd, _, _) = Keyboard();
        Assert.True(kbd.SendCtrlAltDel());   // 8 bytes
        Assert.True(kbd.SendCtrlAltDel());   // 16: full
        Assert.False(kbd.SendCtrlAltDel());
        Assert.Equal(I8042.BufferSize, kbd.Pending);
        In(kbd.Data);
        Assert.False(kbd.SendCtrlAltDel());  // 15 used, 8 needed: still all or nothing
        Assert.Equal(I8042.BufferSize - 1, kbd.Pending);
    }

    [Fact]
    public void Controller_commands_answer_on_the_data_port()
    {
        var (kbd, irq, events) = Keyboard();
        Out(kbd, 0x20);
        Assert.Equal(0x45, In(kbd.Data));     // the default command byte
        Out(kbd, 0xAA);
        Assert.Equal(0x55, In(kbd.Data));     // self test passed
        Out(kbd, 0xAB);
        Assert.Equal(0x00, In(kbd.Data));     // keyboard interface fine
        Out(kbd, 0xD0);
        Assert.Equal(0x01, In(kbd.Data) & 0x01); // reset line not asserted
        Out(kbd, 0xD2);
        Out(kbd.Data, 0x2A);                  // write keyboard buffer: comes back as a key
        Assert.Equal(0x2A, In(kbd.Data));
        Assert.Equal(1, irq.Triggers);        // only the keyboard-buffer byte interrupted
        Out(kbd.Data, 0xF2);                  // keyboard identify
        Assert.Equal([0xFA, 0xAB, 0x83], Drain(kbd));
        Out(kbd.Data, 0xFF);                  // keyboard reset
        Assert.Equal([0xFA, 0xAA], Drain(kbd));
        Out(kbd, 0xD3);
        Out(kbd.Data, 0x5A);                  // aux loopback: there is no aux port, nothing answers
        Out(kbd, 0xD4);
        Out(kbd.Data, 0xF2);                  // a command for the mouse is not one for the keyboard
        Assert.Empty(Drain(kbd));
        Assert.Empty(events.Log);
    }

    [Theory]
    [InlineData(0xFE, true)]
    [InlineData(0xF0, true)]
    [InlineData(0xFF, false)]
    [InlineData(0xF1, false)]
    public void Pulsing_output_port_bit_0_resets(byte command, bool resets)
    {
        var (kbd, _, events) = Keyboard();
        Out(kbd, command);
        Assert.Equal(resets, events.Log.Count == 1);
        if (resets) Assert.StartsWith($"reboot: i8042 reset (0x{command:X2}", events.Log[0]);
    }

    [Fact]
    public void Writing_the_output_port_with_bit_0_clear_resets()
    {
        var (kbd, _, events) = Keyboard();
        Out(kbd, 0xD1);
        Out(kbd.Data, 0x03);
        Assert.Empty(events.Log);
        Out(kbd, 0xD1);
        Out(kbd.Data, 0x02);
        Assert.Equal("reboot: i8042 reset (output port bit 0 cleared)", Assert.Single(events.Log));
    }

    [Fact]
    public void Wide_accesses_to_the_i8042_have_no_effect()
    {
        var (kbd, _, events) = Keyboard();
        kbd.Write(0, [0xFE, 0xFE]);
        Assert.Empty(events.Log);
        Assert.True(kbd.SendCtrlAltDel());
        Span<byte> two = stackalloc byte[2];
        kbd.Data.Read(0, two);               // takes one byte, the rest reads zero
        Assert.Equal(0x1D, two[0]);
        Assert.Equal(0x00, two[1]);
        kbd.Data.Read(0, Span<byte>.Empty);
        Assert.Equal(7, kbd.Pending);
    }

    [Fact]
    public void I8042_state_survives_save_and_restore_and_reads_version_1()
    {
        var (kbd, _, _) = Keyboard();
        Out(kbd, 0x60);
        Out(kbd.Data, 0x05);
        Assert.True(kbd.SendCtrlAltDel());
        In(kbd.Data);
        var w = new PersistWriter();
        kbd.SaveState(w);
        var (copy, _, _) = Keyboard();
        copy.RestoreState(new PersistReader(w.ToArray(), copy.PersistId));
        Assert.Equal(0x05, copy.CommandByte);
        Assert.Equal([0x11, 0xE0, 0x71, 0xE0, 0xF0, 0x71, 0xF0, 0x11, 0xF0, 0x14], Drain(copy));

        var v1 = new PersistWriter();
        v1.U8(1);
        var (old, _, _) = Keyboard();
        old.RestoreState(new PersistReader(v1.ToArray(), old.PersistId));
        Assert.Equal(0x45, old.CommandByte);
        Assert.Equal(0, old.Pending);
    }

    [Fact]
    public void Ged_latches_events_until_the_guest_reads_its_register()
    {
        var irq = new RecordingInterruptLine(AcpiGedDevice.Gsi);
        var ged = new AcpiGedDevice(irq);
        Assert.Equal(0, In(ged));
        ged.Notify(GedEvent.PowerButton);
        ged.Notify(GedEvent.PowerButton);
        Assert.Equal(2, irq.Triggers);
        Span<byte> four = stackalloc byte[4];
        ged.Read(0, four);                   // a 4-byte read is not the register: zeros, nothing cleared
        Assert.Equal(0u, BitConverter.ToUInt32(four));
        Assert.Equal(0, In(ged, 1));
        ged.Write(0, [0xFF]);                // read-only
        Assert.Equal(GedEvent.PowerButton, ged.Pending);
        Assert.Equal(0x08, In(ged));
        Assert.Equal(0x00, In(ged));         // reading cleared it
    }

    [Fact]
    public void Ged_state_survives_save_and_restore()
    {
        var ged = new AcpiGedDevice(new RecordingInterruptLine(AcpiGedDevice.Gsi));
        ged.Notify(GedEvent.PowerButton);
        var w = new PersistWriter();
        ged.SaveState(w);
        var copy = new AcpiGedDevice(new RecordingInterruptLine(AcpiGedDevice.Gsi));
        copy.RestoreState(new PersistReader(w.ToArray(), copy.PersistId));
        Assert.Equal(GedEvent.PowerButton, copy.Pending);
    }
}
