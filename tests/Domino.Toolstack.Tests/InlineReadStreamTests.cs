using System.Text;
using Domino.Toolstack.Interop;
using Xunit;

namespace Domino.Toolstack.Tests;

public sealed class InlineReadStreamTests : IDisposable
{
    private readonly TestPipe _pipe = new();

    public void Dispose() => _pipe.Dispose();

    private InlineReadStream Reader(string name = "test-reader") => new(_pipe.ReadFd, name);

    [Fact]
    public async Task What_awaits_a_read_runs_on_the_reading_thread_with_the_bytes_in_order()
    {
        using var reader = Reader("inline-test");
        var buffer = new byte[64];
        var pending = reader.ReadAsync(buffer).AsTask();
        _pipe.WriteEnd.Write("first"u8);
        var n = await pending.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal("first", Encoding.ASCII.GetString(buffer, 0, n));

        string? thread = null;
        Exception? nested = null;
        var next = Task.Run(async () =>
        {
            var m = await reader.ReadAsync(buffer).ConfigureAwait(false);
            thread = Thread.CurrentThread.Name; // no pool thread in between: the reader's own
            nested = Record.Exception(() => reader.Read(new byte[1], 0, 1)); // would wait for itself
            return m;
        });
        await Task.Delay(50);
        _pipe.WriteEnd.Write("second"u8);
        n = await next.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal("second", Encoding.ASCII.GetString(buffer, 0, n));
        Assert.Equal("inline-test", thread);
        Assert.IsType<InvalidOperationException>(nested);
    }

    [Fact]
    public async Task The_end_of_the_pipe_reads_as_zero()
    {
        using var reader = Reader();
        _pipe.WriteEnd.Write("x"u8);
        _pipe.WriteEnd.Dispose();
        var buffer = new byte[8];
        Assert.Equal(1, await reader.ReadAsync(buffer).AsTask().WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(0, await reader.ReadAsync(buffer).AsTask().WaitAsync(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task A_cancelled_read_ends_at_once_and_the_next_read_gets_the_bytes()
    {
        using var reader = Reader();
        var buffer = new byte[8];
        using var cts = new CancellationTokenSource();
        var pending = reader.ReadAsync(buffer, cts.Token).AsTask();
        await Task.Delay(50);
        Assert.False(pending.IsCompleted);
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => pending.WaitAsync(TimeSpan.FromSeconds(5)));

        _pipe.WriteEnd.Write("ok"u8);
        var n = await reader.ReadAsync(buffer).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal("ok", Encoding.ASCII.GetString(buffer, 0, n));
    }

    [Fact]
    public async Task Disposing_fails_a_pending_read_and_the_original_descriptor_stays_usable()
    {
        var reader = Reader();
        var pending = reader.ReadAsync(new byte[8]).AsTask();
        await Task.Delay(50);
        reader.Dispose();
        await Assert.ThrowsAsync<ObjectDisposedException>(() => pending.WaitAsync(TimeSpan.FromSeconds(5)));

        // The reader read a copy of the descriptor: the caller's own is still open.
        _pipe.WriteEnd.Write("still"u8);
        var buffer = new byte[8];
        var n = _pipe.ReadEnd.Read(buffer);
        Assert.Equal("still", Encoding.ASCII.GetString(buffer, 0, n));
    }
}
