using System.Globalization;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;

namespace Domino.Cli.Client;

/// <summary>
/// HTTP/1.1 with the daemon over its Unix socket, one connection per exchange. The CLI runs one
/// request per process, and loading System.Net.Http's client (handlers, pools, its async machinery)
/// costs more than most commands take in all; the daemon's API needs only this much of HTTP:
/// a request with an optional JSON body, a response framed by Content-Length, chunked encoding or
/// the end of the connection, and the WebSocket upgrade for consoles (RFC 6455 framing is then the
/// framework's own <see cref="WebSocket.CreateFromStream(Stream, WebSocketCreationOptions)"/>).
/// </summary>
internal static class DaemonHttp
{
    /// <summary>The status and headers of a response; <see cref="Body"/> yields the decoded body and owns the connection.</summary>
    public sealed class Response(int status, Dictionary<string, string> headers, Stream body) : IDisposable
    {
        public int Status { get; } = status;
        public bool IsSuccess => Status is >= 200 and < 300;
        public Dictionary<string, string> Headers { get; } = headers;
        public Stream Body { get; } = body;

        public async Task<byte[]> ReadAllAsync(CancellationToken ct)
        {
            using var all = new MemoryStream();
            await Body.CopyToAsync(all, ct).ConfigureAwait(false);
            return all.ToArray();
        }

        public void Dispose() => Body.Dispose();
    }

    public static async Task<Response> SendAsync(string socket, string method, string path, byte[]? json, CancellationToken ct)
    {
        var connection = await ConnectAsync(socket, ct).ConfigureAwait(false);
        try
        {
            var head = new StringBuilder()
                .Append(CultureInfo.InvariantCulture, $"{method} /{path} HTTP/1.1\r\nHost: domino\r\nConnection: close\r\n");
            if (json is not null)
                head.Append(CultureInfo.InvariantCulture, $"Content-Type: application/json\r\nContent-Length: {json.Length}\r\n");
            else if (method is "POST" or "PUT")
                head.Append("Content-Length: 0\r\n");
            head.Append("\r\n");
            await connection.WriteAsync(Encoding.ASCII.GetBytes(head.ToString()), ct).ConfigureAwait(false);
            if (json is not null) await connection.WriteAsync(json, ct).ConfigureAwait(false);
            var (status, headers) = await ReadHeadAsync(connection, ct).ConfigureAwait(false);
            return new Response(status, headers, FramedBody(connection, headers));
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// GET <paramref name="path"/> upgraded to a WebSocket. The daemon's refusal (no such domain, wrong
    /// state) comes back as an ordinary response and is returned in <paramref name="refusal"/>.
    /// </summary>
    public static async Task<(WebSocket? Socket, Response? Refusal)> UpgradeAsync(string socket, string path, CancellationToken ct)
    {
        var connection = await ConnectAsync(socket, ct).ConfigureAwait(false);
        try
        {
            // The key only guards against caches and cross-protocol confusion on shared networks; on the
            // daemon's private socket the 101 and its Upgrade header are what matter, so the accept hash is
            // not checked (that would load the crypto stack for nothing).
            Span<byte> nonce = stackalloc byte[16];
            Random.Shared.NextBytes(nonce);
            var head = $"GET /{path} HTTP/1.1\r\nHost: domino\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n" +
                       $"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {Convert.ToBase64String(nonce)}\r\n\r\n";
            await connection.WriteAsync(Encoding.ASCII.GetBytes(head), ct).ConfigureAwait(false);
            var (status, headers) = await ReadHeadAsync(connection, ct).ConfigureAwait(false);
            if (status != 101)
            {
                return (null, new Response(status, headers, FramedBody(connection, headers)));
            }
            if (!headers.TryGetValue("upgrade", out var upgrade) || !upgrade.Equals("websocket", StringComparison.OrdinalIgnoreCase))
                throw new IOException("the daemon answered 101 without upgrading to a WebSocket");
            return (WebSocket.CreateFromStream(connection, new WebSocketCreationOptions { IsServer = false, KeepAliveInterval = Timeout.InfiniteTimeSpan }), null);
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>How the body is framed (RFC 9112 §6.3): chunked wins over Content-Length; with neither it runs to the end of the connection.</summary>
    private static Stream FramedBody(Connection connection, Dictionary<string, string> headers) =>
        headers.TryGetValue("transfer-encoding", out var te) && te.Contains("chunked", StringComparison.OrdinalIgnoreCase)
            ? new ChunkedBody(connection)
            : headers.TryGetValue("content-length", out var cl) && long.TryParse(cl, NumberStyles.None, CultureInfo.InvariantCulture, out var length)
                ? new LengthBody(connection, length)
                : connection;

    private static async Task<Connection> ConnectAsync(string path, CancellationToken ct)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(path), ct).ConfigureAwait(false);
            return new Connection(new NetworkStream(socket, ownsSocket: true));
        }
        catch (SocketException e)
        {
            socket.Dispose();
            throw new IOException($"cannot reach the daemon on {path}: {e.Message}", e);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Reads the status line and headers (names lower-cased; a repeated header keeps its last value).</summary>
    private static async Task<(int Status, Dictionary<string, string> Headers)> ReadHeadAsync(Connection c, CancellationToken ct)
    {
        var statusLine = await c.ReadLineAsync(ct).ConfigureAwait(false) ?? throw new IOException("the daemon closed the connection without answering");
        var parts = statusLine.Split(' ', 3);
        if (parts.Length < 2 || !parts[0].StartsWith("HTTP/1.", StringComparison.Ordinal) || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var status))
            throw new IOException($"the daemon sent a malformed status line: {statusLine}");
        var headers = new Dictionary<string, string>(StringComparer.Ordinal);
        while (await c.ReadLineAsync(ct).ConfigureAwait(false) is { Length: > 0 } line)
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0) throw new IOException($"the daemon sent a malformed header: {line}");
            headers[line[..colon].Trim().ToLowerInvariant()] = line[(colon + 1)..].Trim();
        }
        return (status, headers);
    }

    /// <summary>The socket with a read buffer in front, so the head can be read by lines and the rest handed on.</summary>
    private sealed class Connection(NetworkStream inner) : Stream
    {
        private const int MaxLine = 64 * 1024;
        private readonly byte[] _buffer = new byte[16 * 1024];
        private int _start, _end;

        /// <summary>One CRLF- (or LF-) terminated ASCII line without its terminator; null at end of stream.</summary>
        public async Task<string?> ReadLineAsync(CancellationToken ct)
        {
            var line = new StringBuilder();
            while (true)
            {
                if (_start == _end && !await FillAsync(ct).ConfigureAwait(false))
                    return line.Length > 0 ? line.ToString() : null;
                var lf = Array.IndexOf(_buffer, (byte)'\n', _start, _end - _start);
                var stop = lf < 0 ? _end : lf;
                line.Append(Encoding.ASCII.GetString(_buffer, _start, stop - _start));
                _start = lf < 0 ? _end : lf + 1;
                if (lf >= 0) return line.ToString().TrimEnd('\r');
                if (line.Length > MaxLine) throw new IOException("the daemon sent an over-long line");
            }
        }

        private async Task<bool> FillAsync(CancellationToken ct)
        {
            _start = 0;
            _end = await inner.ReadAsync(_buffer, ct).ConfigureAwait(false);
            return _end > 0;
        }

        public override async ValueTask<int> ReadAsync(Memory<byte> destination, CancellationToken ct = default)
        {
            if (_start == _end) return await inner.ReadAsync(destination, ct).ConfigureAwait(false);
            var n = Math.Min(destination.Length, _end - _start);
            _buffer.AsMemory(_start, n).CopyTo(destination);
            _start += n;
            return n;
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken ct) =>
            ReadAsync(buffer.AsMemory(offset, count), ct).AsTask();

        public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> source, CancellationToken ct = default) => inner.WriteAsync(source, ct);

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken ct) => inner.WriteAsync(buffer, offset, count, ct);

        public override void Write(byte[] buffer, int offset, int count) => inner.Write(buffer, offset, count);

        public override Task FlushAsync(CancellationToken ct) => inner.FlushAsync(ct);

        public override void Flush() => inner.Flush();

        protected override void Dispose(bool disposing)
        {
            if (disposing) inner.Dispose();
            base.Dispose(disposing);
        }

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
    }

    /// <summary>A read-only view of a response body; disposing it closes the connection.</summary>
    private abstract class Body(Connection connection) : Stream
    {
        protected Connection Connection { get; } = connection;

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken ct) =>
            ReadAsync(buffer.AsMemory(offset, count), ct).AsTask();

        public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

        protected override void Dispose(bool disposing)
        {
            if (disposing) Connection.Dispose();
            base.Dispose(disposing);
        }

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    /// <summary>A body of Content-Length bytes.</summary>
    private sealed class LengthBody(Connection connection, long length) : Body(connection)
    {
        private long _left = length;

        public override async ValueTask<int> ReadAsync(Memory<byte> destination, CancellationToken ct = default)
        {
            if (_left == 0 || destination.Length == 0) return 0;
            var n = await Connection.ReadAsync(destination[..(int)Math.Min(destination.Length, _left)], ct).ConfigureAwait(false);
            if (n == 0) throw new IOException($"the daemon closed the connection with {_left} bytes of its answer unsent");
            _left -= n;
            return n;
        }
    }

    /// <summary>A chunked body (RFC 9112 §7.1): size line in hex, data, CRLF; a zero size ends it.</summary>
    private sealed class ChunkedBody(Connection connection) : Body(connection)
    {
        private long _chunkLeft;
        private bool _done;

        public override async ValueTask<int> ReadAsync(Memory<byte> destination, CancellationToken ct = default)
        {
            if (_done || destination.Length == 0) return 0;
            if (_chunkLeft == 0)
            {
                var sizeLine = await Connection.ReadLineAsync(ct).ConfigureAwait(false) ?? throw new IOException("the daemon's chunked answer ended early");
                var semicolon = sizeLine.IndexOf(';', StringComparison.Ordinal);
                var size = semicolon >= 0 ? sizeLine[..semicolon] : sizeLine;
                if (!long.TryParse(size.Trim(), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out _chunkLeft) || _chunkLeft < 0)
                    throw new IOException($"the daemon sent a malformed chunk size: {sizeLine}");
                if (_chunkLeft == 0)
                {
                    // Trailers, if any, up to the empty line.
                    while (await Connection.ReadLineAsync(ct).ConfigureAwait(false) is { Length: > 0 }) { }
                    _done = true;
                    return 0;
                }
            }
            var n = await Connection.ReadAsync(destination[..(int)Math.Min(destination.Length, _chunkLeft)], ct).ConfigureAwait(false);
            if (n == 0) throw new IOException("the daemon's chunked answer ended inside a chunk");
            _chunkLeft -= n;
            if (_chunkLeft == 0 && await Connection.ReadLineAsync(ct).ConfigureAwait(false) is not "")
                throw new IOException("the daemon's chunked answer lacks the CRLF after a chunk");
            return n;
        }
    }
}
