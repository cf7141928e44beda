using System.Text;
using Domino.Toolstack.Drivers;
using Domino.Toolstack.Interop;
using Xunit;

namespace Domino.Toolstack.Tests;

/// <summary>A console ring's feeds, over real pipes: what the writing thread writes and when, what waits, what ends them.</summary>
public sealed class ConsoleFeedTests : IDisposable
{
    private readonly TestPipe _pipe = new();

    public void Dispose() => _pipe.Dispose();

    private NonBlockingOutput Output() => new(_pipe.WriteFd);

    private string ReadAvailable()
    {
        var text = new StringBuilder();
        var buffer = new byte[64 * 1024];
        while (_pipe.Readable())
        {
            var n = _pipe.ReadEnd.Read(buffer);
            if (n == 0) break;
            text.Append(Encoding.ASCII.GetString(buffer, 0, n));
        }
        return text.ToString();
    }

    private async Task<string> ReadAsync(int count)
    {
        var text = new StringBuilder();
        var buffer = new byte[64 * 1024];
        while (text.Length < count)
        {
            var n = await _pipe.ReadEnd.ReadAsync(buffer).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
            if (n == 0) break;
            text.Append(Encoding.ASCII.GetString(buffer, 0, n));
        }
        return text.ToString();
    }

    [Fact]
    public async Task Output_is_written_before_the_write_returns_after_what_start_puts_first()
    {
        var ring = new ConsoleRing();
        using var feed = ring.AttachFeed(Output(), replay: false);
        feed.Start("status\n"u8);
        Assert.Equal("status\n", await ReadAsync(7));

        ring.Write("H"u8);
        // No other thread had to run: the byte is in the pipe as the write returns.
        Assert.True(_pipe.Readable(), "the output was not written on the writing thread");
        ring.Write("ello\n"u8);
        Assert.Equal("Hello\n", ReadAvailable());
    }

    [Fact]
    public async Task Nothing_flows_until_start_then_the_history_and_what_came_meanwhile_follow_in_order()
    {
        var ring = new ConsoleRing();
        ring.Write("before "u8);
        using var feed = ring.AttachFeed(Output(), replay: true);
        ring.Write("meanwhile "u8);
        Assert.False(_pipe.Readable(), "output flowed before Start");

        feed.Start("{\"state\":\"running\"}\n"u8);
        ring.Write("after"u8);
        Assert.Equal("{\"state\":\"running\"}\nbefore meanwhile after", await ReadAsync(40));
    }

    [Fact]
    public async Task A_reader_that_falls_behind_never_stalls_the_writer_and_loses_only_its_oldest_output()
    {
        var ring = new ConsoleRing(capacity: 64 * 1024);
        using var feed = ring.AttachFeed(Output(), replay: false);
        feed.Start();
        // 4 MiB as 8-byte records "%07d\n" while nobody reads: far more than the pipe and the backlog hold.
        const int records = 512 * 1024;
        var writing = Task.Run(() =>
        {
            for (var i = 0; i < records; i++) ring.Write(Encoding.ASCII.GetBytes($"{i:D7}\n"));
        });
        await writing.WaitAsync(TimeSpan.FromSeconds(60)); // throws if a write blocked on the full pipe

        ring.Close();
        var readAll = Task.Run(() =>
        {
            using var all = new MemoryStream();
            var buffer = new byte[64 * 1024];
            // The test holds its own copy of the write end, so read until the feed has ended and the pipe is empty.
            while (!feed.Ended.IsCompleted || _pipe.Readable())
            {
                if (!_pipe.Readable()) { Thread.Sleep(5); continue; }
                all.Write(buffer, 0, _pipe.ReadEnd.Read(buffer));
            }
            return Encoding.ASCII.GetString(all.ToArray());
        });
        var text = await readAll.WaitAsync(TimeSpan.FromSeconds(30));
        await feed.Ended.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.True(feed.Dropped > 0, "nothing was dropped although the reader never read");
        Assert.Equal(records * 8L, text.Length + feed.Dropped);
        // What arrived is the start of the output, then its end: in order, with one gap at most.
        var numbers = text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => l.Length == 7).Select(int.Parse).ToList();
        Assert.Equal(0, numbers[0]);
        Assert.Equal(records - 1, numbers[^1]);
        Assert.True(numbers.Zip(numbers.Skip(1)).Count(p => p.Second != p.First + 1) <= 1, "the output arrived out of order");
        Assert.True(numbers.Zip(numbers.Skip(1)).All(p => p.Second > p.First), "the output arrived out of order");
    }

    [Fact]
    public async Task A_reader_that_goes_away_ends_the_feed_and_the_ring_carries_on()
    {
        var ring = new ConsoleRing();
        var feed = ring.AttachFeed(Output(), replay: false);
        feed.Start();
        _pipe.ReadEnd.Dispose();
        ring.Write("nobody reads this"u8);
        await feed.Ended.WaitAsync(TimeSpan.FromSeconds(10));
        ring.Write("still fine"u8);
        Assert.EndsWith("still fine", Encoding.ASCII.GetString(ring.History()));
    }

    [Fact]
    public async Task Closing_the_ring_ends_the_feed_once_its_backlog_is_written()
    {
        var ring = new ConsoleRing(capacity: 256 * 1024);
        using var feed = ring.AttachFeed(Output(), replay: false);
        feed.Start();
        var chunk = Encoding.ASCII.GetBytes(new string('x', 1024));
        for (var i = 0; i < 128; i++) ring.Write(chunk); // 128 KiB: the pipe holds 64, the backlog the rest
        ring.Write("END"u8);
        ring.Close();
        await Task.Delay(100);
        Assert.False(feed.Ended.IsCompleted, "the feed ended with output not yet written");

        var text = await ReadAsync(128 * 1024 + 3);
        Assert.EndsWith("END", text);
        await feed.Ended.WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task A_disposed_feed_writes_nothing_more()
    {
        var ring = new ConsoleRing();
        var feed = ring.AttachFeed(Output(), replay: false);
        feed.Start();
        ring.Write("one"u8);
        Assert.Equal("one", ReadAvailable());
        feed.Dispose();
        await feed.Ended.WaitAsync(TimeSpan.FromSeconds(10));
        ring.Write("two"u8);
        Assert.False(_pipe.Readable(), "a disposed feed still wrote");
    }
}
