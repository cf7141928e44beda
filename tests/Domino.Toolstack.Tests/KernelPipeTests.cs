using System.Text;
using Domino.Toolstack.Interop;
using Xunit;

namespace Domino.Toolstack.Tests;

public sealed class KernelPipeTests
{
    [Fact]
    public void Offered_bytes_are_read_in_order()
    {
        using var pipe = new KernelPipe();
        Assert.Equal(3, pipe.Offer("abc"u8));
        Assert.Equal(2, pipe.Offer("de"u8));
        var buffer = new byte[16];
        var n = pipe.Read(buffer);
        Assert.Equal("abcde", Encoding.ASCII.GetString(buffer, 0, n));
    }

    [Fact]
    public async Task Offering_more_than_fits_returns_at_once_with_what_went_in()
    {
        using var pipe = new KernelPipe();
        var big = new byte[4 << 20];
        var offered = await Task.Run(() => pipe.Offer(big)).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.InRange(offered, 1, big.Length - 1);
        Assert.Equal(0, pipe.Offer("more"u8));
    }

    [Fact]
    public void A_blocked_reader_reads_what_comes_then_the_end_once_the_pipe_is_disposed()
    {
        var pipe = new KernelPipe();
        var reads = new List<string>();
        var reader = new Thread(() =>
        {
            var buffer = new byte[16];
            int n;
            while ((n = pipe.Read(buffer)) > 0) reads.Add(Encoding.ASCII.GetString(buffer, 0, n));
        });
        reader.Start();
        Thread.Sleep(50);
        Assert.True(reader.IsAlive, "the reader did not block on an empty pipe");
        pipe.Offer("x"u8);
        pipe.Dispose();
        Assert.True(reader.Join(TimeSpan.FromSeconds(10)), "the reader did not see the end");
        Assert.Equal("x", string.Concat(reads));
        Assert.Equal(0, pipe.Offer("after"u8));
        Assert.Equal(0, pipe.Read(new byte[4]));
    }
}
