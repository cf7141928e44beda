using Microsoft.Win32.SafeHandles;
using static Domino.Vmm.Interop.Interop;

namespace Domino.Vmm.Interop;

/// <summary>
/// Puts the host terminal on stdin into a raw-ish mode for a guest console: no line editing and no
/// local echo (the guest echoes), CR passed through, but signals kept so Ctrl-C still stops the VMM.
/// Disposing restores the saved settings. When stdin is not a terminal nothing changes.
/// </summary>
public sealed class HostTerminal : IDisposable
{
    private readonly int _fd;
    private readonly Libc.termios _saved;
    private int _restored;

    private HostTerminal(int fd, Libc.termios saved)
    {
        _fd = fd;
        _saved = saved;
        // Read the descriptor itself: .NET's console stream on a terminal does its own line editing and echo.
        Input = new FileStream(new SafeFileHandle(fd, ownsHandle: false), FileAccess.Read, bufferSize: 0);
    }

    /// <summary>Unbuffered bytes from the terminal, as typed.</summary>
    public Stream Input { get; }

    /// <summary>Returns the active raw mode, or null when <paramref name="fd"/> is not a terminal.</summary>
    public static HostTerminal? EnterRawMode(int fd = 0)
    {
        if (!Libc.IsATty(fd) || !Libc.TryGetTermios(fd, out var saved)) return null;
        var raw = saved;
        raw.c_lflag &= ~(Libc.ICANON | Libc.ECHO | Libc.IEXTEN);
        raw.c_iflag &= ~(Libc.ICRNL | Libc.IXON);
        SetReadOneByte(ref raw);
        return Libc.TrySetTermios(fd, raw) ? new HostTerminal(fd, saved) : null;
    }

    private static void SetReadOneByte(ref Libc.termios t)
    {
        // SAFETY: VMIN and VTIME are indices below the 32-byte c_cc array of this local copy.
        unsafe
        {
            t.c_cc[Libc.VMIN] = 1;
            t.c_cc[Libc.VTIME] = 0;
        }
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _restored, 1) == 0) Libc.TrySetTermios(_fd, _saved);
        Input.Dispose();
    }
}
