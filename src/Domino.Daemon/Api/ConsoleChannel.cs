using System.Net.WebSockets;
using System.Text.Json;
using Domino.Toolstack.Api;
using Domino.Toolstack.Domains;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace Domino.Daemon.Api;

/// <summary>
/// A console client's connection, in either of the two forms the console endpoints accept:
/// <list type="bullet">
/// <item>a WebSocket (<c>Upgrade: websocket</c>), for browsers and WebSocket libraries: text messages
/// for the create request and the answer, binary messages for console bytes, a close to end;</item>
/// <item>the connection itself (<c>Upgrade: domino-console</c>, the CLI's): after the 101, a create
/// request is one line of JSON, the answer one line of JSON, then console bytes as they are both ways;
/// the client detaches by shutting down its sending side, the daemon ends the console by closing.
/// No framing and no masking: a client needs neither a WebSocket implementation nor the random
/// source its masks come from.</item>
/// </list>
/// </summary>
internal abstract class ConsoleChannel : IAsyncDisposable
{
    /// <summary>The <c>Upgrade</c> token of a plain console connection.</summary>
    public const string RawProtocol = "domino-console";

    /// <summary>The most a create request may hold.</summary>
    protected const int MaxRequest = 1 << 20;

    /// <summary>How long a WebSocket client has to answer our close once the console has ended.</summary>
    private static readonly TimeSpan CloseWait = TimeSpan.FromSeconds(5);

    /// <summary>Accepts the upgrade the request asks for; null when it asks for neither (the caller answers 400).</summary>
    public static async Task<ConsoleChannel?> AcceptAsync(HttpContext ctx)
    {
        if (ctx.WebSockets.IsWebSocketRequest)
            return new WebSocketChannel(await ctx.WebSockets.AcceptWebSocketAsync().ConfigureAwait(false));
        if (IsRawUpgrade(ctx))
        {
            ctx.Response.Headers.Upgrade = RawProtocol;
            return new RawChannel(await ctx.Features.Get<IHttpUpgradeFeature>()!.UpgradeAsync().ConfigureAwait(false));
        }
        return null;
    }

    public static bool IsRawUpgrade(HttpContext ctx) =>
        ctx.Features.Get<IHttpUpgradeFeature>() is { IsUpgradableRequest: true }
        && string.Equals(ctx.Request.Headers.Upgrade.ToString(), RawProtocol, StringComparison.OrdinalIgnoreCase);

    /// <summary>The create request (create-console); null if the client left without sending one.</summary>
    public abstract Task<byte[]?> ReceiveRequestAsync(CancellationToken ct);

    /// <summary>Sends the create answer: the new domain, as JSON.</summary>
    public abstract Task SendAnswerAsync(byte[] json, CancellationToken ct);

    /// <summary>Sends an error as the answer and ends the connection.</summary>
    public abstract Task FailAsync(int status, ErrorResponse error, CancellationToken ct);

    /// <summary>
    /// Console bytes both ways between the client and the guest until either side ends. Writes to the
    /// client are never cancelled: output the guest printed last (a whole short-lived guest's, under
    /// create -c) must reach the client before the connection ends.
    /// </summary>
    public async Task RelayAsync(Stream console, CancellationToken ct)
    {
        using var detached = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var fromClient = Task.Run(async () =>
        {
            var buffer = new byte[4096];
            int n;
            while ((n = await ReceiveConsoleAsync(buffer, ct).ConfigureAwait(false)) > 0)
                await console.WriteAsync(buffer.AsMemory(0, n), ct).ConfigureAwait(false);
        }, CancellationToken.None);
        // Started on this thread rather than queued for a pool thread, so the first read is asked for
        // at once: on a busy host a queued task can wait longer for a CPU than a guest takes to print.
        // It runs here until a read has to wait; a VMM's console then completes reads on its own thread.
        var toClient = ToClientAsync();

        async Task ToClientAsync()
        {
            var buffer = new byte[16 * 1024];
            try
            {
                int n;
                while ((n = await console.ReadAsync(buffer, detached.Token).ConfigureAwait(false)) > 0)
                    await SendConsoleAsync(buffer.AsMemory(0, n), ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (detached.IsCancellationRequested) { }
            catch (IOException) { } // the guest's console went away
            await EndConsoleAsync(ct).ConfigureAwait(false);
        }

        try
        {
            if (await Task.WhenAny(toClient, fromClient).ConfigureAwait(false) == fromClient)
            {
                await detached.CancelAsync().ConfigureAwait(false); // the client detached: stop reading the console
                await toClient.ConfigureAwait(false);
                await fromClient.ConfigureAwait(false);
            }
            else
            {
                await toClient.ConfigureAwait(false);
                // A WebSocket client answers our close; a plain connection ends when the endpoint returns.
                if (AnswersClose) await fromClient.WaitAsync(CloseWait, ct).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is WebSocketException or IOException or TimeoutException or OperationCanceledException or ObjectDisposedException)
        {
            // The client went away without closing, or never answered: nothing left to tell it.
        }
    }

    /// <summary>Console bytes to the client.</summary>
    protected abstract Task SendConsoleAsync(ReadOnlyMemory<byte> bytes, CancellationToken ct);

    /// <summary>Console bytes from the client; 0 once it has detached.</summary>
    protected abstract Task<int> ReceiveConsoleAsync(Memory<byte> buffer, CancellationToken ct);

    /// <summary>Tells the client the console has ended.</summary>
    protected abstract Task EndConsoleAsync(CancellationToken ct);

    /// <summary>Whether the client acknowledges the end of the console (a WebSocket close handshake).</summary>
    protected abstract bool AnswersClose { get; }

    public abstract ValueTask DisposeAsync();

    private sealed class WebSocketChannel(WebSocket ws) : ConsoleChannel
    {
        public override async Task<byte[]?> ReceiveRequestAsync(CancellationToken ct)
        {
            using var message = new MemoryStream();
            var buffer = new byte[16 * 1024];
            while (true)
            {
                var r = await ws.ReceiveAsync(buffer.AsMemory(), ct).ConfigureAwait(false);
                if (r.MessageType == WebSocketMessageType.Close) return null;
                if (r.MessageType != WebSocketMessageType.Text)
                    throw new ToolstackException(ErrorKind.Invalid, "the first message must be the create request as JSON text");
                if (message.Length + r.Count > MaxRequest)
                    throw new ToolstackException(ErrorKind.Invalid, $"the create request is larger than {MaxRequest >> 20} MiB");
                message.Write(buffer, 0, r.Count);
                if (r.EndOfMessage) return message.ToArray();
            }
        }

        public override Task SendAnswerAsync(byte[] json, CancellationToken ct) =>
            ws.SendAsync(json, WebSocketMessageType.Text, true, ct);

        public override async Task FailAsync(int status, ErrorResponse error, CancellationToken ct)
        {
            try
            {
                await ws.SendAsync(JsonSerializer.SerializeToUtf8Bytes(error, ToolstackJson.Default.ErrorResponse), WebSocketMessageType.Text, true, ct).ConfigureAwait(false);
                await ws.CloseOutputAsync((WebSocketCloseStatus)(4000 + status), error.Code, ct).ConfigureAwait(false);
            }
            catch (WebSocketException) { }
        }

        protected override Task SendConsoleAsync(ReadOnlyMemory<byte> bytes, CancellationToken ct) =>
            ws.SendAsync(bytes, WebSocketMessageType.Binary, true, ct).AsTask();

        protected override async Task<int> ReceiveConsoleAsync(Memory<byte> buffer, CancellationToken ct)
        {
            while (true)
            {
                var r = await ws.ReceiveAsync(buffer, ct).ConfigureAwait(false);
                if (r.MessageType == WebSocketMessageType.Close) return 0;
                if (r.Count > 0) return r.Count;
            }
        }

        protected override bool AnswersClose => true;

        protected override async Task EndConsoleAsync(CancellationToken ct)
        {
            if (ws.State is WebSocketState.Open or WebSocketState.CloseReceived)
                await ws.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "console closed", ct).ConfigureAwait(false);
        }

        public override ValueTask DisposeAsync()
        {
            ws.Dispose();
            return ValueTask.CompletedTask;
        }
    }

    private sealed class RawChannel(Stream connection) : ConsoleChannel
    {
        // Bytes the client sent after its request line (typed ahead): console input, delivered first.
        private byte[] _ahead = [];

        public override async Task<byte[]?> ReceiveRequestAsync(CancellationToken ct)
        {
            using var line = new MemoryStream();
            var buffer = new byte[16 * 1024];
            while (true)
            {
                var n = await connection.ReadAsync(buffer, ct).ConfigureAwait(false);
                if (n == 0) return null;
                var lf = Array.IndexOf(buffer, (byte)'\n', 0, n);
                if (line.Length + (lf < 0 ? n : lf) > MaxRequest)
                    throw new ToolstackException(ErrorKind.Invalid, $"the create request is larger than {MaxRequest >> 20} MiB");
                if (lf < 0)
                {
                    line.Write(buffer, 0, n);
                    continue;
                }
                line.Write(buffer, 0, lf);
                _ahead = buffer[(lf + 1)..n];
                return line.ToArray();
            }
        }

        public override async Task SendAnswerAsync(byte[] json, CancellationToken ct)
        {
            await connection.WriteAsync(json, ct).ConfigureAwait(false);
            await connection.WriteAsync("\n"u8.ToArray(), ct).ConfigureAwait(false);
            await connection.FlushAsync(ct).ConfigureAwait(false);
        }

        public override async Task FailAsync(int status, ErrorResponse error, CancellationToken ct)
        {
            try { await SendAnswerAsync(JsonSerializer.SerializeToUtf8Bytes(error, ToolstackJson.Default.ErrorResponse), ct).ConfigureAwait(false); }
            catch (IOException) { }
        }

        protected override async Task SendConsoleAsync(ReadOnlyMemory<byte> bytes, CancellationToken ct)
        {
            await connection.WriteAsync(bytes, ct).ConfigureAwait(false);
            await connection.FlushAsync(ct).ConfigureAwait(false);
        }

        protected override async Task<int> ReceiveConsoleAsync(Memory<byte> buffer, CancellationToken ct)
        {
            if (_ahead.Length > 0)
            {
                var n = Math.Min(buffer.Length, _ahead.Length);
                _ahead.AsMemory(0, n).CopyTo(buffer);
                _ahead = _ahead[n..];
                return n;
            }
            return await connection.ReadAsync(buffer, ct).ConfigureAwait(false);
        }

        // The connection ends when the endpoint returns: the client reads end of file.
        protected override Task EndConsoleAsync(CancellationToken ct) => Task.CompletedTask;

        protected override bool AnswersClose => false;

        public override ValueTask DisposeAsync() => connection.DisposeAsync();
    }
}
