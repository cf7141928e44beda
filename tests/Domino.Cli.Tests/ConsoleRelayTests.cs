using System.Text;
using Domino.Daemon.Api;
using Domino.Toolstack.Interop;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace Domino.Cli.Tests;

/// <summary>The daemon's console relay between a client's connection and a guest's console.</summary>
public sealed class ConsoleRelayTests
{
    [Fact]
    public async Task The_first_console_read_is_asked_for_on_the_relaying_thread_before_the_relay_waits()
    {
        var connection = new FakeConnection();
        await using var channel = await AcceptRaw(connection);
        var console = new ScriptedConsole();

        var relay = channel.RelayAsync(console, CancellationToken.None);

        // Asked for before RelayAsync returned, on this thread: no pool thread has to start first.
        Assert.Equal(Environment.CurrentManagedThreadId, console.FirstReadThread);
        Assert.False(relay.IsCompleted);

        console.Deliver("hello\n"u8.ToArray());
        console.Deliver([]); // the guest's console ends
        await relay.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal("hello\n", connection.Written);
    }

    private static async Task<ConsoleChannel> AcceptRaw(Stream connection)
    {
        var ctx = new DefaultHttpContext();
        ctx.Request.Headers.Upgrade = ConsoleChannel.RawProtocol;
        ctx.Features.Set<IHttpUpgradeFeature>(new Upgrade(connection));
        return await ConsoleChannel.AcceptAsync(ctx) ?? throw new InvalidOperationException("not accepted as a domino-console upgrade");
    }

    private sealed class Upgrade(Stream connection) : IHttpUpgradeFeature
    {
        public bool IsUpgradableRequest => true;
        public Task<Stream> UpgradeAsync() => Task.FromResult(connection);
    }

    /// <summary>A client that sends nothing (its reads wait until disposed) and whose received bytes are kept.</summary>
    private sealed class FakeConnection : UnseekableStream
    {
        private readonly MemoryStream _written = new();
        private readonly TaskCompletionSource<int> _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public string Written { get { lock (_written) return Encoding.UTF8.GetString(_written.ToArray()); } }

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken ct = default) => new(_closed.Task.WaitAsync(ct));
        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken ct = default)
        {
            lock (_written) _written.Write(buffer.Span);
            return ValueTask.CompletedTask;
        }
        public override Task FlushAsync(CancellationToken ct) => Task.CompletedTask;
        protected override void Dispose(bool disposing)
        {
            _closed.TrySetResult(0);
            base.Dispose(disposing);
        }

        public override bool CanRead => true;
        public override bool CanWrite => true;
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();
    }

    /// <summary>A guest console whose reads wait until the test delivers bytes (none: the end); it notes the thread of the first read.</summary>
    private sealed class ScriptedConsole : UnseekableStream
    {
        private readonly Lock _sync = new();
        private TaskCompletionSource<int>? _pending;
        private Memory<byte> _buffer;

        public int? FirstReadThread { get; private set; }

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken ct = default)
        {
            lock (_sync)
            {
                FirstReadThread ??= Environment.CurrentManagedThreadId;
                _buffer = buffer;
                _pending = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
                return new(_pending.Task.WaitAsync(ct));
            }
        }

        /// <summary>Completes the read in progress (waiting for one to be asked for).</summary>
        public void Deliver(byte[] bytes)
        {
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
            while (true)
            {
                lock (_sync)
                {
                    if (_pending is { } pending)
                    {
                        bytes.CopyTo(_buffer);
                        _pending = null;
                        pending.SetResult(bytes.Length);
                        return;
                    }
                }
                if (DateTime.UtcNow > deadline) throw new TimeoutException("the relay did not ask for another read");
                Thread.Sleep(1);
            }
        }

        public override bool CanRead => true;
        public override bool CanWrite => true;
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) { }
    }
}
