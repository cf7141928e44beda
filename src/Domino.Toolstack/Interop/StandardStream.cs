using System.Runtime.InteropServices;

namespace Domino.Toolstack.Interop;

/// <summary>
/// One of this process's standard streams (fd 0, 1 or 2, or a duplicate of one) read and written with
/// read(2) and write(2) as it is, whatever it is: a terminal, a pipe or a file (at the descriptor's own offset, so output
/// appended to a file interleaves with whatever else writes there). System.Console's streams would
/// first set up its terminal and signal handling; a FileStream would write a file at offsets of its own.
/// The descriptor is not closed on dispose.
/// </summary>
public sealed partial class StandardStream(int fd, bool writable) : DescriptorStream
{
    public const int InputFd = 0, OutputFd = 1;

    public static StandardStream Input() => new(InputFd, writable: false);

    public static StandardStream Output() => new(OutputFd, writable: true);

    protected override string What => $"fd {fd}";

    protected override nint ReadOnce(Span<byte> buffer) => read(fd, buffer, buffer.Length);

    protected override nint WriteOnce(ReadOnlySpan<byte> buffer) => write(fd, buffer, buffer.Length);

    public override bool CanRead => !writable;
    public override bool CanWrite => writable;

    [LibraryImport("libc", SetLastError = true)]
    private static partial nint read(int fd, Span<byte> buffer, nint count);

    [LibraryImport("libc", SetLastError = true)]
    private static partial nint write(int fd, ReadOnlySpan<byte> buffer, nint count);
}
