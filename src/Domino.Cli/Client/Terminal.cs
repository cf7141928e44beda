using System.Runtime.InteropServices;

namespace Domino.Cli.Client;

/// <summary>Puts an interactive terminal in raw mode for the console and restores it on dispose.</summary>
internal sealed partial class Terminal : IDisposable
{
    private const int StdinFd = 0, TCSANOW = 0;
    private readonly byte[]? _saved;

    private Terminal(byte[]? saved) => _saved = saved;

    public bool IsRaw => _saved is not null;

    public static Terminal RawIfInteractive()
    {
        if (Console.IsInputRedirected || isatty(StdinFd) != 1) return new Terminal(null);
        var saved = new byte[256]; // struct termios is 60 bytes on x86-64 glibc; room to spare
        if (tcgetattr(StdinFd, saved) != 0) return new Terminal(null);
        var raw = (byte[])saved.Clone();
        cfmakeraw(raw);
        return tcsetattr(StdinFd, TCSANOW, raw) == 0 ? new Terminal(saved) : new Terminal(null);
    }

    public void Dispose()
    {
        if (_saved is not null) _ = tcsetattr(StdinFd, TCSANOW, _saved);
    }

    [LibraryImport("libc")] private static partial int isatty(int fd);
    [LibraryImport("libc")] private static partial int tcgetattr(int fd, [Out] byte[] termios);
    [LibraryImport("libc")] private static partial int tcsetattr(int fd, int action, [In] byte[] termios);
    [LibraryImport("libc")] private static partial void cfmakeraw([In, Out] byte[] termios);
}
