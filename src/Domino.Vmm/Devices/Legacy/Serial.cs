namespace Domino.Vmm.Devices.Legacy;

/// <summary>
/// A 16550A UART (COM1: ports 0x3f8-0x3ff, IRQ 4). Transmit is instantaneous: THR bytes go straight
/// to the console sink, so THRE/TEMT are always set. Received bytes wait in a FIFO. The interrupt
/// line follows the UART's INTR output: high while an enabled interrupt (RX data, THR empty) is pending.
/// </summary>
public sealed class Serial : IBusDevice
{
    public const ushort Com1Base = 0x3F8;
    public const uint Com1Irq = 4;
    public const int MaxInput = 1 << 20;

    // Register offsets.
    private const int RBR_THR_DLL = 0, IER_DLM = 1, IIR_FCR = 2, LCR = 3, MCR = 4, LSR = 5, MSR = 6, SCR = 7;

    // IER bits.
    private const byte IER_RDA = 0x01, IER_THRE = 0x02, IER_MASK = 0x0F;
    // IIR values.
    private const byte IIR_NONE = 0x01, IIR_THRE = 0x02, IIR_RDA = 0x04, IIR_FIFO = 0xC0;
    // LCR / MCR / LSR / MSR bits.
    private const byte LCR_DLAB = 0x80;
    private const byte MCR_LOOP = 0x10;
    private const byte LSR_DR = 0x01, LSR_THRE = 0x20, LSR_TEMT = 0x40;
    private const byte MSR_CTS = 0x10, MSR_DSR = 0x20, MSR_RI = 0x40, MSR_DCD = 0x80;

    private readonly Lock _lock = new();
    private readonly Queue<byte> _rx = new();
    private readonly IInterruptLine _irq;
    private readonly Action<byte> _output;
    private byte _ier, _lcr = 0x03, _mcr = 0x08, _scr, _fcr, _dll = 0x0C, _dlm;
    private bool _thrEmptyPending;
    private bool _irqLevel;

    /// <param name="irq">The UART's interrupt line.</param>
    /// <param name="output">Receives every byte the guest transmits (not called in loopback mode).</param>
    public Serial(IInterruptLine irq, Action<byte> output)
    {
        _irq = irq;
        _output = output;
    }

    /// <summary>Divisor latch (baud = 115200 / divisor).</summary>
    public ushort Divisor { get { lock (_lock) return (ushort)(_dll | (_dlm << 8)); } }

    /// <summary>Queues bytes from the console for the guest to read; drops what exceeds <see cref="MaxInput"/>.</summary>
    public void EnqueueInput(ReadOnlySpan<byte> bytes)
    {
        lock (_lock)
        {
            foreach (var b in bytes)
            {
                if (_rx.Count >= MaxInput) break;
                _rx.Enqueue(b);
            }
            UpdateInterrupt();
        }
    }

    public int PendingInput { get { lock (_lock) return _rx.Count; } }

    public void Read(ulong offset, Span<byte> data)
    {
        if (data.IsEmpty) return;
        data.Clear();
        lock (_lock)
        {
            data[0] = offset switch
            {
                RBR_THR_DLL when (_lcr & LCR_DLAB) != 0 => _dll,
                RBR_THR_DLL => _rx.Count > 0 ? _rx.Dequeue() : (byte)0,
                IER_DLM when (_lcr & LCR_DLAB) != 0 => _dlm,
                IER_DLM => _ier,
                IIR_FCR => ReadIir(),
                LCR => _lcr,
                MCR => _mcr,
                LSR => (byte)(LSR_THRE | LSR_TEMT | (_rx.Count > 0 ? LSR_DR : 0)),
                MSR => ReadMsr(),
                SCR => _scr,
                _ => 0xFF,
            };
            UpdateInterrupt();
        }
    }

    public void Write(ulong offset, ReadOnlySpan<byte> data)
    {
        if (data.IsEmpty) return;
        var value = data[0];
        var transmit = false;
        lock (_lock)
        {
            switch (offset)
            {
                case RBR_THR_DLL when (_lcr & LCR_DLAB) != 0:
                    _dll = value;
                    break;
                case RBR_THR_DLL:
                    if ((_mcr & MCR_LOOP) != 0)
                    {
                        if (_rx.Count < MaxInput) _rx.Enqueue(value);
                    }
                    else
                    {
                        transmit = true;
                    }
                    _thrEmptyPending = true; // transmitted at once: THR is empty again
                    break;
                case IER_DLM when (_lcr & LCR_DLAB) != 0:
                    _dlm = value;
                    break;
                case IER_DLM:
                    var wasThre = (_ier & IER_THRE) != 0;
                    _ier = (byte)(value & IER_MASK);
                    if (!wasThre && (_ier & IER_THRE) != 0) _thrEmptyPending = true; // enabling THRE with an empty THR interrupts
                    break;
                case IIR_FCR:
                    // Host input counts as still on the line until the guest reads it, so a receive
                    // FIFO reset (bit 1) drops nothing: input typed before the guest set up its UART
                    // must not vanish when the driver initialises it.
                    _fcr = value;
                    break;
                case LCR:
                    _lcr = value;
                    break;
                case MCR:
                    _mcr = (byte)(value & 0x1F);
                    break;
                case SCR:
                    _scr = value;
                    break;
            }
            UpdateInterrupt();
        }
        if (transmit) _output(value);
    }

    private byte ReadIir()
    {
        var fifo = (_fcr & 0x01) != 0 ? IIR_FIFO : (byte)0;
        if ((_ier & IER_RDA) != 0 && _rx.Count > 0) return (byte)(IIR_RDA | fifo);
        if ((_ier & IER_THRE) != 0 && _thrEmptyPending)
        {
            _thrEmptyPending = false; // reading IIR with THRE the source clears it
            return (byte)(IIR_THRE | fifo);
        }
        return (byte)(IIR_NONE | fifo);
    }

    private byte ReadMsr()
    {
        if ((_mcr & MCR_LOOP) == 0) return MSR_DCD | MSR_DSR | MSR_CTS;
        // Loopback: RTS->CTS, DTR->DSR, OUT1->RI, OUT2->DCD (Linux's probe checks this).
        byte msr = 0;
        if ((_mcr & 0x02) != 0) msr |= MSR_CTS;
        if ((_mcr & 0x01) != 0) msr |= MSR_DSR;
        if ((_mcr & 0x04) != 0) msr |= MSR_RI;
        if ((_mcr & 0x08) != 0) msr |= MSR_DCD;
        return msr;
    }

    private void UpdateInterrupt()
    {
        var level = ((_ier & IER_RDA) != 0 && _rx.Count > 0) || ((_ier & IER_THRE) != 0 && _thrEmptyPending);
        if (level == _irqLevel) return;
        _irqLevel = level;
        _irq.SetLevel(level);
    }
}
