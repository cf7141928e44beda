using System.Globalization;
using System.Text;
using Domino.Toolstack.Interop;

namespace Domino.Cli.Client;

/// <summary>
/// HTTP/1.1 with the daemon over its Unix socket, one connection per exchange. The CLI runs one
/// request per process, and loading System.Net.Http's client (handlers, pools, its async machinery)
/// costs more than most commands take in all; the daemon's API needs only this much of HTTP:
/// a request with an optional JSON body, a response framed by Content-Length, chunked encoding or
/// the end of the connection, and the upgrade to <c>domino-console</c> for consoles (the connection
/// then carries the console's bytes as they are; a WebSocket would need framing and, for its masks,
/// the crypto library's random source, which takes a fresh process milliseconds to load).
/// Its socket I/O blocks (see <see cref="Connection"/>): the async methods here complete before they
/// return.
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

    public static Task<Response> SendAsync(string socket, string method, string path, byte[]? json, CancellationToken ct) =>
        SendAsync(Connect(socket), method, path, json, ct);

    /// <summary>Sends one request on <paramref name="connection"/>, which the response then owns.</summary>
    public static async Task<Response> SendAsync(Connection connection, string method, string path, byte[]? json, CancellationToken ct)
    {
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
            var (status, headers) = ReadHead(connection, ct);
            return new Response(status, headers, FramedBody(connection, headers));
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// GET <paramref name="path"/> with the connection upgraded to <c>domino-console</c>: after the 101 the
    /// bytes are the console's both ways (the daemon's ConsoleChannel). <paramref name="firstLine"/>, if
    /// any, is sent right behind the request without waiting for the 101 (create-console's request).
    /// The daemon's refusal (no such domain, wrong state) comes back as an ordinary response and is
    /// returned in <paramref name="refusal"/>.
    /// </summary>
    public static Task<(Connection? Connection, Response? Refusal)> UpgradeAsync(string socket, string path, byte[]? firstLine, CancellationToken ct) =>
        UpgradeAsync(Connect(socket), path, firstLine, ct);

    /// <summary>The same on a connection already open.</summary>
    public static async Task<(Connection? Connection, Response? Refusal)> UpgradeAsync(Connection connection, string path, byte[]? firstLine, CancellationToken ct)
    {
        try
        {
            var head = UpgradeHead(path);
            await connection.WriteAsync(firstLine is null ? head : [.. head, .. firstLine, (byte)'\n'], ct).ConfigureAwait(false);
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
        return await FinishUpgradeAsync(connection, firstLine: null, ct).ConfigureAwait(false);
    }

    /// <summary>
    /// Sends only the request of an upgrade, so the daemon sets the connection up (HTTP, routing, the
    /// upgrade) while the caller prepares its first line; <see cref="FinishUpgradeAsync"/> sends that
    /// line and reads the answer. A caller that gives up disposes the connection: the daemon reads its end.
    /// </summary>
    public static void BeginUpgrade(Connection connection, string path) => connection.Write(UpgradeHead(path));

    private static byte[] UpgradeHead(string path) =>
        Encoding.ASCII.GetBytes($"GET /{path} HTTP/1.1\r\nHost: domino\r\nConnection: Upgrade\r\nUpgrade: {ConsoleProtocol}\r\n\r\n");

    /// <summary>Sends <paramref name="firstLine"/>, if any, and reads the answer to an upgrade begun on <paramref name="connection"/>.</summary>
    public static async Task<(Connection? Connection, Response? Refusal)> FinishUpgradeAsync(Connection connection, byte[]? firstLine, CancellationToken ct)
    {
        try
        {
            if (firstLine is not null) await connection.WriteAsync((byte[])[.. firstLine, (byte)'\n'], ct).ConfigureAwait(false);
            var (status, headers) = ReadHead(connection, ct);
            if (status != 101)
                return (null, new Response(status, headers, FramedBody(connection, headers)));
            if (!headers.TryGetValue("upgrade", out var upgrade) || !upgrade.Equals(ConsoleProtocol, StringComparison.OrdinalIgnoreCase))
                throw new IOException($"the daemon answered 101 without upgrading to {ConsoleProtocol}");
            return (connection, null);
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>The <c>Upgrade</c> token of a console connection.</summary>
    public const string ConsoleProtocol = "domino-console";

    /// <summary>How the body is framed (RFC 9112 §6.3): chunked wins over Content-Length; with neither it runs to the end of the connection.</summary>
    private static Stream FramedBody(Connection connection, Dictionary<string, string> headers) =>
        headers.TryGetValue("transfer-encoding", out var te) && te.Contains("chunked", StringComparison.OrdinalIgnoreCase)
            ? new ChunkedBody(connection)
            : headers.TryGetValue("content-length", out var cl) && long.TryParse(cl, NumberStyles.None, CultureInfo.InvariantCulture, out var length)
                ? new LengthBody(connection, length)
                : connection;

    /// <summary>Connects to the daemon's socket.</summary>
    public static Connection Connect(string path)
    {
        try { return new Connection(UnixSocketStream.Connect(path)); }
        catch (IOException e) { throw new IOException($"cannot reach the daemon: {e.Message}", e); }
    }

    /// <summary>Reads the status line and headers (names lower-cased; a repeated header keeps its last value).</summary>
    private static (int Status, Dictionary<string, string> Headers) ReadHead(Connection c, CancellationToken ct)
    {
        var statusLine = c.ReadLine(ct) ?? throw new IOException("the daemon closed the connection without answering");
        var parts = statusLine.Split(' ', 3);
        if (parts.Length < 2 || !parts[0].StartsWith("HTTP/1.", StringComparison.Ordinal) || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var status))
            throw new IOException($"the daemon sent a malformed status line: {statusLine}");
        var headers = new Dictionary<string, string>(StringComparer.Ordinal);
        while (c.ReadLine(ct) is { Length: > 0 } line)
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0) throw new IOException($"the daemon sent a malformed header: {line}");
            headers[line[..colon].Trim().ToLowerInvariant()] = line[(colon + 1)..].Trim();
        }
        return (status, headers);
    }

    /// <summary>
    /// The socket with a read buffer in front, so the head can be read by lines and the rest handed on;
    /// after a console upgrade, the console itself (reads are the guest's output, writes its input).
    /// Its I/O blocks, also behind ReadAsync and WriteAsync, which complete before they return: a command
    /// waits for one answer at a time anyway, and an await that never suspends builds no state machine
    /// box, where one that does makes the JIT compile a box for every async method up the chain (this
    /// client's and System.CommandLine's; ReadyToRun cannot hold them), on every run.
    /// Cancelling closes the socket, which ends a blocked read.
    /// </summary>
    internal sealed class Connection(UnixSocketStream inner) : UnseekableStream
    {
        /// <summary>Detaches a console: the daemon sees end of input and closes, which ends reading.</summary>
        public void Detach() => inner.ShutdownSend();

        /// <summary>Ends the connection both ways without closing it: a read or wait blocked in another thread returns.</summary>
        public void Shutdown() => inner.Shutdown();

        /// <summary>
        /// Waits until the connection (bytes already received count) or <paramref name="other"/>, a
        /// descriptor or -1, has something to read, or <paramref name="timeoutMs"/> passes (-1: no limit).
        /// </summary>
        public (bool Connection, bool Other) WaitReadable(int other, int timeoutMs) =>
            _start < _end ? (true, false) : inner.WaitReadable(other, timeoutMs);

        private const int MaxLine = 64 * 1024;
        private readonly byte[] _buffer = new byte[16 * 1024];
        private int _start, _end;

        /// <summary>One CRLF- (or LF-) terminated ASCII line without its terminator; null at end of stream.</summary>
        public string? ReadLine(CancellationToken ct)
        {
            var line = new StringBuilder();
            while (true)
            {
                if (_start == _end && !Fill(ct))
                    return line.Length > 0 ? line.ToString() : null;
                var lf = Array.IndexOf(_buffer, (byte)'\n', _start, _end - _start);
                var stop = lf < 0 ? _end : lf;
                line.Append(Encoding.ASCII.GetString(_buffer, _start, stop - _start));
                _start = lf < 0 ? _end : lf + 1;
                if (lf >= 0) return line.ToString().TrimEnd('\r');
                if (line.Length > MaxLine) throw new IOException("the daemon sent an over-long line");
            }
        }

        private bool Fill(CancellationToken ct)
        {
            _start = 0;
            _end = Receive(_buffer, ct);
            return _end > 0;
        }

        private int Receive(Span<byte> destination, CancellationToken ct)
        {
            ct.ThrowIfCancellationRequested();
            using var closeOnCancel = ct.UnsafeRegister(static s => ((Stream)s!).Dispose(), inner);
            int n;
            try { n = inner.Read(destination); }
            catch (Exception e) when ((e is IOException or ObjectDisposedException) && ct.IsCancellationRequested)
            {
                throw new OperationCanceledException(ct);
            }
            // Closing the socket ends a blocked read as if the daemon had hung up.
            ct.ThrowIfCancellationRequested();
            return n;
        }

        /// <summary>Reads what has come, blocking until something has; 0 at the end. Cancelling closes the connection.</summary>
        public int Read(Span<byte> destination, CancellationToken ct)
        {
            if (_start == _end) return Receive(destination, ct);
            var n = Math.Min(destination.Length, _end - _start);
            _buffer.AsSpan(_start, n).CopyTo(destination);
            _start += n;
            return n;
        }

        public override ValueTask<int> ReadAsync(Memory<byte> destination, CancellationToken ct = default)
        {
            try { return ValueTask.FromResult(Read(destination.Span, ct)); }
            catch (Exception e) { return ValueTask.FromException<int>(e); }
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken ct) =>
            ReadAsync(buffer.AsMemory(offset, count), ct).AsTask();

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count), CancellationToken.None);

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> source, CancellationToken ct = default)
        {
            try
            {
                ct.ThrowIfCancellationRequested();
                inner.Write(source.Span);
                return ValueTask.CompletedTask;
            }
            catch (Exception e) { return ValueTask.FromException(e); }
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken ct) => WriteAsync(buffer.AsMemory(offset, count), ct).AsTask();

        public override void Write(byte[] buffer, int offset, int count) => inner.Write(buffer, offset, count);

        public override Task FlushAsync(CancellationToken ct) => Task.CompletedTask;

        protected override void Dispose(bool disposing)
        {
            if (disposing) inner.Dispose();
            base.Dispose(disposing);
        }

        public override bool CanRead => true;
        public override bool CanWrite => true;
    }

    /// <summary>A read-only view of a response body; disposing it closes the connection.</summary>
    private abstract class Body(Connection connection) : UnseekableStream
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
        public override bool CanWrite => false;
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
                var sizeLine = Connection.ReadLine(ct) ?? throw new IOException("the daemon's chunked answer ended early");
                var semicolon = sizeLine.IndexOf(';', StringComparison.Ordinal);
                var size = semicolon >= 0 ? sizeLine[..semicolon] : sizeLine;
                if (!long.TryParse(size.Trim(), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out _chunkLeft) || _chunkLeft < 0)
                    throw new IOException($"the daemon sent a malformed chunk size: {sizeLine}");
                if (_chunkLeft == 0)
                {
                    // Trailers, if any, up to the empty line.
                    while (Connection.ReadLine(ct) is { Length: > 0 }) { }
                    _done = true;
                    return 0;
                }
            }
            var n = await Connection.ReadAsync(destination[..(int)Math.Min(destination.Length, _chunkLeft)], ct).ConfigureAwait(false);
            if (n == 0) throw new IOException("the daemon's chunked answer ended inside a chunk");
            _chunkLeft -= n;
            if (_chunkLeft == 0 && Connection.ReadLine(ct) is not "")
                throw new IOException("the daemon's chunked answer lacks the CRLF after a chunk");
            return n;
        }
    }
}
