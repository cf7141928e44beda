using System.Net.Sockets;
using System.Text;
using Domino.Cli.Client;

namespace Domino.Cli.Tests;

/// <summary>The CLI's HTTP/1.1 client against a canned server on a Unix socket.</summary>
public sealed class DaemonHttpTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("domino-http-").FullName;
    private string SocketPath => Path.Combine(_dir, "s.sock");

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>Serves one connection: records the request head and body, then writes <paramref name="response"/>.</summary>
    private Task<string> ServeOnce(string response, bool keepOpen = false)
    {
        var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(SocketPath));
        listener.Listen(1);
        return Task.Run(async () =>
        {
            using (listener)
            {
                using var client = await listener.AcceptAsync();
                var request = new StringBuilder();
                var buffer = new byte[4096];
                while (!request.ToString().Contains("\r\n\r\n", StringComparison.Ordinal))
                {
                    var n = await client.ReceiveAsync(buffer);
                    if (n == 0) break;
                    request.Append(Encoding.ASCII.GetString(buffer, 0, n));
                }
                var head = request.ToString();
                var lengthLine = head.Split("\r\n").FirstOrDefault(l => l.StartsWith("Content-Length:", StringComparison.Ordinal));
                var length = lengthLine is null ? 0 : int.Parse(lengthLine["Content-Length:".Length..].Trim(), System.Globalization.CultureInfo.InvariantCulture);
                while (Encoding.ASCII.GetByteCount(head[(head.IndexOf("\r\n\r\n", StringComparison.Ordinal) + 4)..]) < length)
                {
                    var n = await client.ReceiveAsync(buffer);
                    if (n == 0) break;
                    head += Encoding.ASCII.GetString(buffer, 0, n);
                }
                await client.SendAsync(Encoding.Latin1.GetBytes(response));
                if (keepOpen) await Task.Delay(200);
                client.Shutdown(SocketShutdown.Both);
                return head;
            }
        });
    }

    private async Task<(int Status, string Body, string Request)> Exchange(string response, string method = "GET", byte[]? json = null)
    {
        var server = ServeOnce(response);
        using var r = await DaemonHttp.SendAsync(SocketPath, method, "domains/a", json, CancellationToken.None);
        var body = Encoding.UTF8.GetString(await r.ReadAllAsync(CancellationToken.None));
        return (r.Status, body, await server);
    }

    [Fact]
    public async Task Sends_the_request_line_host_and_a_json_body()
    {
        var (_, _, request) = await Exchange("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}", "POST", "{\"a\":1}"u8.ToArray());
        Assert.StartsWith("POST /domains/a HTTP/1.1\r\n", request, StringComparison.Ordinal);
        Assert.Contains("\r\nHost: domino\r\n", request, StringComparison.Ordinal);
        Assert.Contains("\r\nContent-Type: application/json\r\nContent-Length: 7\r\n", request, StringComparison.Ordinal);
        Assert.EndsWith("\r\n\r\n{\"a\":1}", request, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Reads_a_content_length_body_and_stops_there()
    {
        var (status, body, _) = await Exchange("HTTP/1.1 201 Created\r\ncontent-length: 5\r\n\r\nhelloTRAILING-GARBAGE");
        Assert.Equal(201, status);
        Assert.Equal("hello", body);
    }

    [Fact]
    public async Task Decodes_a_chunked_body_with_extensions_and_trailers()
    {
        var (status, body, _) = await Exchange("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4;x=y\r\nWiki\r\n6\r\npedia \r\nE\r\nin \r\n\r\nchunks.\r\n0\r\nX-Trailer: 1\r\n\r\n");
        Assert.Equal(200, status);
        Assert.Equal("Wikipedia in \r\n\r\nchunks.", body);
    }

    [Fact]
    public async Task Chunked_encoding_wins_over_a_content_length()
    {
        var (_, body, _) = await Exchange("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n");
        Assert.Equal("hello", body);
    }

    [Fact]
    public async Task Reads_to_the_end_of_the_connection_without_framing()
    {
        var (_, body, _) = await Exchange("HTTP/1.1 200 OK\r\n\r\nuntil close");
        Assert.Equal("until close", body);
    }

    [Theory]
    [InlineData("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nshort")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort")]
    [InlineData("SMTP ready\r\n\r\n")]
    [InlineData("")]
    public async Task A_broken_answer_is_an_IOException(string response)
    {
        await Assert.ThrowsAsync<IOException>(() => Exchange(response));
    }

    [Fact]
    public async Task The_connection_that_finds_the_daemon_carries_the_first_request()
    {
        // The canned server accepts one connection only: a client that checked for the daemon on one
        // connection and sent its request on another would leave the server an empty request.
        var server = ServeOnce("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n[]");
        using var client = await DaemonClient.ConnectAsync(new Toolstack.Store.DaemonPaths(_dir, SocketPath), CancellationToken.None);
        var body = await client.GetBytesAsync("domains", CancellationToken.None);
        Assert.Equal("[]", Encoding.UTF8.GetString(body));
        Assert.StartsWith("GET /domains HTTP/1.1\r\n", await server, StringComparison.Ordinal);
    }

    [Fact]
    public async Task No_daemon_is_an_IOException_naming_the_socket()
    {
        var e = await Assert.ThrowsAsync<IOException>(() => DaemonHttp.SendAsync(SocketPath, "GET", "domains", null, CancellationToken.None));
        Assert.Contains(SocketPath, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_socket_nobody_listens_on_is_an_IOException_saying_so()
    {
        // Bound but not listening: connecting is refused, as on the file a daemon killed with SIGKILL leaves.
        using var bound = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        bound.Bind(new UnixDomainSocketEndPoint(SocketPath));
        var e = await Assert.ThrowsAsync<IOException>(() => DaemonHttp.SendAsync(SocketPath, "GET", "domains", null, CancellationToken.None));
        Assert.Equal($"cannot reach the daemon: cannot connect to {SocketPath}: Connection refused", e.Message);
    }

    [Fact]
    public async Task A_refused_upgrade_returns_the_daemons_answer()
    {
        var server = ServeOnce("HTTP/1.1 404 Not Found\r\nContent-Length: 15\r\n\r\n{\"error\":\"no\"}\n");
        var (connection, refusal) = await DaemonHttp.UpgradeAsync(SocketPath, "domains/x/console", firstLine: null, CancellationToken.None);
        Assert.Null(connection);
        using (refusal)
        {
            Assert.Equal(404, refusal!.Status);
            Assert.Equal("{\"error\":\"no\"}\n", Encoding.ASCII.GetString(await refusal.ReadAllAsync(CancellationToken.None)));
        }
        var request = await server;
        Assert.Contains("\r\nConnection: Upgrade\r\n", request, StringComparison.Ordinal);
        Assert.Contains("\r\nUpgrade: domino-console\r\n", request, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_accepted_upgrade_carries_raw_bytes_both_ways_including_those_sent_with_the_101()
    {
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(SocketPath));
        listener.Listen(1);
        var server = Task.Run(async () =>
        {
            using var client = await listener.AcceptAsync();
            var received = new List<byte>();
            var buffer = new byte[4096];
            // The request head and the first line come in one go, without waiting for the 101.
            while (!Encoding.ASCII.GetString([.. received]).Contains("{\"create\":1}\n", StringComparison.Ordinal))
                received.AddRange(buffer.AsSpan(0, await client.ReceiveAsync(buffer)).ToArray());
            // The answer line and the first console bytes in the same write as the 101.
            await client.SendAsync("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: domino-console\r\n\r\n{\"domid\":7}\nhello"u8.ToArray());
            var typed = new byte[3];
            var got = 0;
            while (got < 3) got += await client.ReceiveAsync(typed.AsMemory(got));
            // The client's detach is a shutdown of its sending side: end of file here.
            var eof = await client.ReceiveAsync(buffer);
            await client.SendAsync("bye"u8.ToArray());
            return (Encoding.ASCII.GetString([.. received]), Encoding.ASCII.GetString(typed), eof);
        });
        var (connection, refusal) = await DaemonHttp.UpgradeAsync(SocketPath, "create-console", "{\"create\":1}"u8.ToArray(), CancellationToken.None);
        Assert.Null(refusal);
        using (connection)
        {
            Assert.Equal("{\"domid\":7}", connection!.ReadLine(CancellationToken.None));
            var buffer = new byte[16];
            Assert.Equal("hello", Encoding.ASCII.GetString(buffer, 0, await connection.ReadAsync(buffer.AsMemory(), CancellationToken.None)));
            await connection.WriteAsync("abc"u8.ToArray(), CancellationToken.None);
            connection.Detach();
            Assert.Equal("bye", Encoding.ASCII.GetString(buffer, 0, await connection.ReadAsync(buffer.AsMemory(), CancellationToken.None)));
        }
        var (request, typedIn, eofRead) = await server;
        Assert.StartsWith("GET /create-console HTTP/1.1\r\n", request, StringComparison.Ordinal);
        Assert.EndsWith("\r\n\r\n{\"create\":1}\n", request, StringComparison.Ordinal);
        Assert.Equal("abc", typedIn);
        Assert.Equal(0, eofRead);
    }

    [Fact]
    public async Task A_101_without_the_console_upgrade_is_refused()
    {
        var server = ServeOnce("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n");
        var e = await Assert.ThrowsAsync<IOException>(() => DaemonHttp.UpgradeAsync(SocketPath, "domains/x/console", firstLine: null, CancellationToken.None));
        Assert.Contains("without upgrading to domino-console", e.Message, StringComparison.Ordinal);
        await server;
    }

    [Fact]
    public async Task Reads_block_yet_a_cancelled_request_ends_at_once()
    {
        // A daemon that takes the request and never answers.
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(SocketPath));
        listener.Listen(1);
        var accepted = listener.AcceptAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var send = Task.Run(() => DaemonHttp.SendAsync(SocketPath, "GET", "domains", null, cts.Token));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => send);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"the cancelled read took {clock.Elapsed}");
        (await accepted).Dispose();
    }

    [Fact]
    public async Task A_console_read_blocked_on_the_socket_ends_when_cancelled()
    {
        // A daemon that upgrades and then sends nothing, keeping the connection open.
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(SocketPath));
        listener.Listen(1);
        var server = Task.Run(async () =>
        {
            var client = await listener.AcceptAsync();
            var buffer = new byte[4096];
            var request = "";
            while (!request.Contains("\r\n\r\n", StringComparison.Ordinal))
                request += Encoding.ASCII.GetString(buffer, 0, await client.ReceiveAsync(buffer));
            await client.SendAsync("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: domino-console\r\n\r\n"u8.ToArray());
            return client;
        });
        var (connection, _) = await DaemonHttp.UpgradeAsync(SocketPath, "domains/x/console", firstLine: null, CancellationToken.None);
        using var held = await server;
        using (connection)
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
            var clock = System.Diagnostics.Stopwatch.StartNew();
            var e = await Record.ExceptionAsync(() => Task.Run(async () => await connection!.ReadAsync(new byte[16].AsMemory(), cts.Token)));
            Assert.IsType<OperationCanceledException>(e, exactMatch: false);
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"the cancelled read took {clock.Elapsed}");
        }
    }
}
