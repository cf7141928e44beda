namespace Domino.Vmm.Devices.Legacy;

/// <summary>
/// The i8042 keyboard controller with a keyboard that only ever types what the host sends it
/// (Firecracker's model, with a few more controller commands): a 16-byte output buffer read at port
/// 0x60, the status register at 0x64 (output-buffer-full, system flag, command/data), the command
/// byte (keyboard interrupt, system flag, scancode translation), IRQ 1 while the keyboard interrupt
/// is enabled, and the CPU reset line (command 0xFE, or output port bit 0 cleared). There is no
/// auxiliary (mouse) port. Keys are made in
/// scancode set 2 and handed out in set 1 while the command byte's translate bit is set (the default,
/// as PC firmware leaves it). Registered twice: at 0x60 (<see cref="Data"/>) and 0x64 (this).
/// </summary>
public sealed partial class I8042 : IBusDevice
{
    public const ushort DataPort = 0x60;
    public const ushort CommandPort = 0x64;
    public const uint KeyboardIrq = 1;
    public const int BufferSize = 16;

    // Status register bits.
    internal const byte StatusOutputFull = 0x01, StatusSystemFlag = 0x04, StatusCommand = 0x08, StatusNotInhibited = 0x10;

    // Command byte bits.
    internal const byte CtrKeyboardInterrupt = 0x01, CtrSystemFlag = 0x04, CtrKeyboardDisabled = 0x10, CtrAuxDisabled = 0x20, CtrTranslate = 0x40;
    internal const byte DefaultCommandByte = CtrKeyboardInterrupt | CtrSystemFlag | CtrTranslate;

    // Controller commands (port 0x64).
    private const byte CmdReadCtr = 0x20, CmdWriteCtr = 0x60, CmdDisableAux = 0xA7, CmdEnableAux = 0xA8, CmdSelfTest = 0xAA,
        CmdKeyboardTest = 0xAB, CmdDisableKeyboard = 0xAD, CmdEnableKeyboard = 0xAE, CmdReadOutputPort = 0xD0,
        CmdWriteOutputPort = 0xD1, CmdWriteKeyboardBuffer = 0xD2, CmdWriteAuxBuffer = 0xD3, CmdWriteAux = 0xD4;

    // Keyboard commands and answers (port 0x60).
    private const byte KbdReset = 0xFF, KbdGetId = 0xF2, KbdEcho = 0xEE, KbdAck = 0xFA, KbdSelfTestPassed = 0xAA;

    /// <summary>A key with its scancodes in set 1 and set 2; extended keys carry an 0xE0 prefix in both.</summary>
    public readonly record struct Key(string Name, byte Set1, byte Set2, bool Extended = false);

    public static readonly Key LeftCtrl = new("Ctrl", 0x1D, 0x14);
    public static readonly Key LeftAlt = new("Alt", 0x38, 0x11);
    public static readonly Key Delete = new("Del", 0x53, 0x71, Extended: true);

    private readonly Lock _lock = new();
    private readonly IGuestEvents _events;
    private readonly IInterruptLine _irq;
    private readonly Queue<byte> _output = new();
    private byte _control = DefaultCommandByte;
    private byte _outputPort = 0x01; // bit 0: the CPU reset line, active low
    private byte _pendingCommand;    // a controller command waiting for its data byte, or 0
    private bool _lastWriteWasCommand;

    public I8042(IGuestEvents events, IInterruptLine irq)
    {
        _events = events;
        _irq = irq;
        Data = new DataPortDevice(this);
    }

    /// <summary>The data port's view of the same controller.</summary>
    public IBusDevice Data { get; }

    /// <summary>The command byte as the guest last set it.</summary>
    public byte CommandByte { get { lock (_lock) return _control; } }

    /// <summary>Bytes waiting in the output buffer.</summary>
    public int Pending { get { lock (_lock) return _output.Count; } }

    /// <summary>
    /// Presses and releases Ctrl-Alt-Del (Ctrl and Alt down, Del down and up, Alt and Ctrl up), as
    /// Firecracker's SendCtrlAltDel does. False, with nothing queued, when the output buffer has no
    /// room for the whole sequence (the guest has not read earlier keys).
    /// </summary>
    public bool SendCtrlAltDel() => Type([LeftCtrl, LeftAlt, Delete], [Delete, LeftAlt, LeftCtrl]);

    /// <summary>Queues make codes of <paramref name="press"/> then break codes of <paramref name="release"/>, all or nothing.</summary>
    public bool Type(IReadOnlyList<Key> press, IReadOnlyList<Key> release)
    {
        bool raise;
        lock (_lock)
        {
            var translate = (_control & CtrTranslate) != 0;
            var bytes = new List<byte>();
            foreach (var k in press) bytes.AddRange(Scancode(k, translate, make: true));
            foreach (var k in release) bytes.AddRange(Scancode(k, translate, make: false));
            if (BufferSize - _output.Count < bytes.Count) return false;
            foreach (var b in bytes) _output.Enqueue(b);
            raise = (_control & CtrKeyboardInterrupt) != 0;
        }
        if (raise) _irq.Trigger();
        return true;
    }

    /// <summary>Set 1: the code, or code | 0x80 to release. Set 2: the code, or 0xF0 then the code to release.</summary>
    internal static byte[] Scancode(Key k, bool set1, bool make)
    {
        var bytes = new List<byte>(3);
        if (k.Extended) bytes.Add(0xE0);
        if (set1) bytes.Add(make ? k.Set1 : (byte)(k.Set1 | 0x80));
        else
        {
            if (!make) bytes.Add(0xF0);
            bytes.Add(k.Set2);
        }
        return [.. bytes];
    }

    // ---- port 0x64: status (read), controller command (write) ----

    public void Read(ulong offset, Span<byte> data)
    {
        data.Clear();
        if (data.IsEmpty) return;
        lock (_lock) data[0] = Status();
    }

    private byte Status() => (byte)(
        (_output.Count > 0 ? StatusOutputFull : 0) |
        (_control & CtrSystemFlag) |
        (_lastWriteWasCommand ? StatusCommand : 0) |
        StatusNotInhibited);

    public void Write(ulong offset, ReadOnlySpan<byte> data)
    {
        if (data.Length != 1) return; // the controller's ports are byte-wide
        var command = data[0];
        var reset = false;
        lock (_lock)
        {
            _lastWriteWasCommand = true;
            _pendingCommand = 0;
            switch (command)
            {
                case CmdReadCtr: Answer(_control); break;
                case CmdWriteCtr or CmdWriteOutputPort or CmdWriteKeyboardBuffer or CmdWriteAuxBuffer or CmdWriteAux: _pendingCommand = command; break;
                case CmdDisableAux: _control |= CtrAuxDisabled; break;
                case CmdEnableAux: _control = (byte)(_control & ~CtrAuxDisabled); break;
                case CmdSelfTest: Answer(0x55); break;
                case CmdKeyboardTest: Answer(0x00); break;
                case CmdDisableKeyboard: _control |= CtrKeyboardDisabled; break;
                case CmdEnableKeyboard: _control = (byte)(_control & ~CtrKeyboardDisabled); break;
                case CmdReadOutputPort: Answer(_outputPort); break;
                // 0xF0-0xFF pulse output port bits 0-3 low for 6 us; bit 0 is the CPU reset line (0xFE).
                case >= 0xF0 when (command & 1) == 0: reset = true; break;
            }
        }
        if (reset) _events.Reboot($"i8042 reset (0x{command:X2} to port 0x64)");
    }

    /// <summary>A controller answer replaces whatever was waiting, as on the real part.</summary>
    private void Answer(byte value)
    {
        _output.Clear();
        _output.Enqueue(value);
    }

    // ---- port 0x60: output buffer (read), command data or keyboard command (write) ----

    private void ReadData(Span<byte> data)
    {
        data.Clear();
        if (data.IsEmpty) return;
        bool more;
        lock (_lock)
        {
            data[0] = _output.Count > 0 ? _output.Dequeue() : (byte)0;
            more = _output.Count > 0 && (_control & CtrKeyboardInterrupt) != 0;
        }
        // Another byte is waiting: a new edge, so an edge-triggered IOAPIC pin calls the guest again.
        if (more) _irq.Trigger();
    }

    private void WriteData(ReadOnlySpan<byte> data)
    {
        if (data.Length != 1) return;
        var value = data[0];
        bool reset = false, raise;
        lock (_lock)
        {
            _lastWriteWasCommand = false;
            var command = _pendingCommand;
            _pendingCommand = 0;
            switch (command)
            {
                case CmdWriteCtr:
                    _control = value;
                    break;
                case CmdWriteOutputPort:
                    _outputPort = value;
                    reset = (value & 1) == 0;
                    break;
                case CmdWriteKeyboardBuffer:
                    Enqueue(value);
                    break;
                case CmdWriteAuxBuffer or CmdWriteAux:
                    // No auxiliary (mouse) port: its data byte goes nowhere and nothing answers, so a
                    // driver's aux probe times out instead of mistaking the keyboard's ACK for a mouse.
                    break;
                default:
                    // A command for the keyboard itself: it acknowledges everything.
                    switch (value)
                    {
                        case KbdReset: Enqueue(KbdAck); Enqueue(KbdSelfTestPassed); break;
                        case KbdGetId: Enqueue(KbdAck); Enqueue(0xAB); Enqueue(0x83); break; // MF2 keyboard
                        case KbdEcho: Enqueue(KbdEcho); break;
                        default: Enqueue(KbdAck); break;
                    }
                    break;
            }
            raise = _output.Count > 0 && (_control & CtrKeyboardInterrupt) != 0 && command is 0 or CmdWriteKeyboardBuffer;
        }
        if (reset) _events.Reboot("i8042 reset (output port bit 0 cleared)");
        if (raise) _irq.Trigger();
    }

    private void Enqueue(byte b)
    {
        if (_output.Count < BufferSize) _output.Enqueue(b);
    }

    private sealed class DataPortDevice(I8042 controller) : IBusDevice
    {
        public void Read(ulong offset, Span<byte> data) => controller.ReadData(data);

        public void Write(ulong offset, ReadOnlySpan<byte> data) => controller.WriteData(data);
    }
}
