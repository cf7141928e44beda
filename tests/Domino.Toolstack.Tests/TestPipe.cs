using System.IO.Pipes;
using Domino.Toolstack.Interop;

namespace Domino.Toolstack.Tests;

/// <summary>A pipe(2) for tests of code that reads or writes a descriptor: both ends, their numbers, and whether the read end has something.</summary>
internal sealed class TestPipe : IDisposable
{
    public AnonymousPipeServerStream WriteEnd { get; } = new(PipeDirection.Out);
    public AnonymousPipeClientStream ReadEnd { get; }

    public TestPipe() => ReadEnd = new AnonymousPipeClientStream(PipeDirection.In, WriteEnd.ClientSafePipeHandle);

    public int WriteFd => (int)WriteEnd.SafePipeHandle.DangerousGetHandle();
    public int ReadFd => (int)ReadEnd.SafePipeHandle.DangerousGetHandle();

    /// <summary>Whether a read of the read end would return at once (poll(2) with no wait).</summary>
    public bool Readable()
    {
        Span<Libc.PollFd> fds = [new Libc.PollFd { fd = ReadFd, events = Libc.POLLIN }];
        return Libc.Poll(fds, 0) > 0;
    }

    public void Dispose()
    {
        ReadEnd.Dispose();
        WriteEnd.Dispose();
    }
}
