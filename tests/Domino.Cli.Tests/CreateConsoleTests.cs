using System.Diagnostics;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;

namespace Domino.Cli.Tests;

/// <summary>
/// <c>create -c</c> as one request (<c>GET /create-console</c>) over the test driver: the guest runs only
/// once its console is attached, <c>-p -c</c> leaves it paused, and a refused create is one clean error
/// with nothing left behind. The vmm-driver counterparts are in <see cref="VmmEndToEndTests"/>.
/// </summary>
public sealed class CreateConsoleTests : IDisposable
{
    private readonly DominoRunner _d = new();

    public CreateConsoleTests() => _d.StartDaemon();

    public void Dispose() => _d.Dispose();

    [Fact]
    public void Create_c_prints_the_console_from_its_first_byte_and_records_the_domain_booted()
    {
        var r = _d.Run("create", "-q", "-c", _d.Config("hello", "cmdline = \"test.on_boot=poweroff\""));
        Assert.True(r.ExitCode == 0, r.ToString());
        // The test guest says "booting" when it is built (paused) and "running" when its vCPUs first run.
        Assert.StartsWith("test guest hello (domid 1) booting with 64 MiB, 1 vCPU(s)\nhello: running\n", r.Stdout, StringComparison.Ordinal);
        Assert.Contains("hello: poweroff", r.Stdout, StringComparison.Ordinal);
        // One create job took it from creating to running: no separate unpause.
        TestDriverEndToEndTests.WaitFor(() => DaemonLog().Contains("event destroyed: domain 'hello'", StringComparison.Ordinal));
        Assert.Contains("event created: domain 'hello' (domid 1) running, reason booted", DaemonLog(), StringComparison.Ordinal);
        Assert.DoesNotContain("event unpaused", DaemonLog(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Create_p_c_leaves_the_domain_paused_with_its_console_attached()
    {
        using var create = Start("create", "-q", "-p", "-c", _d.Config("hello", "cmdline = \"test.on_boot=poweroff\""));
        var stdout = new StringBuilder();
        var reading = Task.Run(async () =>
        {
            var buffer = new char[256];
            int n;
            while ((n = await create.StandardOutput.ReadAsync(buffer)) > 0)
                lock (stdout) stdout.Append(buffer, 0, n);
        });
        string Output() { lock (stdout) return stdout.ToString(); }

        TestDriverEndToEndTests.WaitFor(() => Output().Contains("booting", StringComparison.Ordinal), 30);
        Assert.Contains("--p---", _d.Run("list", "hello").Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("hello: running", Output(), StringComparison.Ordinal);
        Assert.False(create.HasExited);

        Assert.Equal(0, _d.Run("unpause", "hello").ExitCode);
        // The console stayed attached: the guest's first run and power-off reach it, then it ends.
        Assert.True(create.WaitForExit(30_000), $"create -p -c did not end after the guest powered off: {Output()}");
        await reading;
        Assert.Equal(0, create.ExitCode);
        Assert.StartsWith("test guest hello (domid 1) booting", Output(), StringComparison.Ordinal);
        Assert.Contains("hello: running\n", Output(), StringComparison.Ordinal);
        Assert.Contains("hello: poweroff\n", Output(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Console_forwards_input_and_ctrl_close_bracket_detaches_leaving_the_guest_running()
    {
        Assert.Equal(0, _d.Run("create", "-q", _d.Config("web")).ExitCode);
        using var console = Start(keepStdin: true, "console", "web");
        var stdout = new StringBuilder();
        var reading = Task.Run(async () =>
        {
            var buffer = new char[256];
            int n;
            while ((n = await console.StandardOutput.ReadAsync(buffer)) > 0)
                lock (stdout) stdout.Append(buffer, 0, n);
        });
        string Output() { lock (stdout) return stdout.ToString(); }

        TestDriverEndToEndTests.WaitFor(() => Output().Contains("web: running", StringComparison.Ordinal), 30); // the replayed history
        await console.StandardInput.WriteAsync("ping\n");
        await console.StandardInput.FlushAsync();
        TestDriverEndToEndTests.WaitFor(() => Output().Contains("ping\n", StringComparison.Ordinal), 30); // the test guest echoes
        await console.StandardInput.WriteAsync('\u001d');
        await console.StandardInput.FlushAsync();
        Assert.True(console.WaitForExit(15_000), "Ctrl-] did not detach");
        await reading;
        Assert.Equal(0, console.ExitCode);
        Assert.Matches(@"(?m)^web\s+1\s+.*r-----", _d.Run("list").Stdout);
    }

    [Fact]
    public void A_refused_create_c_is_one_line_and_leaves_nothing_behind()
    {
        Assert.Equal(0, _d.Run("create", "-q", _d.Config("web")).ExitCode);
        var records = Directory.GetDirectories(Path.Combine(_d.StateDir, "domains"));

        var duplicate = _d.Run("create", "-q", "-c", _d.Config("web"));
        Assert.Equal(1, duplicate.ExitCode);
        Assert.Equal("domino: domain 'web' already exists (pick another name or destroy it first)", duplicate.Stderr.Trim());
        Assert.Empty(duplicate.Stdout);

        var digits = _d.Run("create", "-q", "-c", _d.Config("other"), "name=\"1234\"");
        Assert.Equal(1, digits.ExitCode);
        Assert.Equal("domino: domain name '1234' is all digits (it would be read as a domain id)", digits.Stderr.Trim());

        var badConfig = _d.Run("create", "-q", "-c", _d.Config("bad", "on_reboot = \"restrat\""));
        Assert.Equal(1, badConfig.ExitCode);
        Assert.Contains("unknown action 'restrat'", badConfig.Stderr, StringComparison.Ordinal);

        var list = _d.Run("list").Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, list.Length);
        Assert.Matches(@"^web\s+1\s+.*r-----", list[1]);
        Assert.Equal(records, Directory.GetDirectories(Path.Combine(_d.StateDir, "domains")));
    }

    [Fact]
    public async Task The_endpoint_answers_with_the_domain_then_the_console()
    {
        using var ws = await ConnectAsync();
        await SendAsync(ws, CreateRequest("api", "\"paused\":false"));
        using var answer = JsonDocument.Parse(await ReceiveAsync(ws, WebSocketMessageType.Text));
        Assert.False(answer.RootElement.TryGetProperty("error", out var error), error.ToString());
        Assert.Equal("api", answer.RootElement.GetProperty("name").GetString());
        Assert.Equal("running", answer.RootElement.GetProperty("state").GetString());
        var console = Encoding.ASCII.GetString(await ReceiveAsync(ws, WebSocketMessageType.Binary));
        Assert.StartsWith("test guest api (domid 1) booting", console, StringComparison.Ordinal);

        // Input reaches the guest (the test guest echoes it).
        await ws.SendAsync("ping\n"u8.ToArray(), WebSocketMessageType.Binary, true, CancellationToken.None);
        var echoed = new StringBuilder(console);
        while (!echoed.ToString().Contains("ping\n", StringComparison.Ordinal))
            echoed.Append(Encoding.ASCII.GetString(await ReceiveAsync(ws, WebSocketMessageType.Binary)));
        await ws.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", CancellationToken.None);
        Assert.Matches(@"(?m)^api\s+1\s+.*r-----", _d.Run("list").Stdout);
    }

    [Theory]
    [InlineData("{\"spec\": ", 4400, "invalid", "bad request body")]
    [InlineData("{\"config\": \"{}\"}", 4400, "invalid", "bad request body")]
    [InlineData("{\"spec\": {\"name\": \"x\", \"memory_mb\": 0, \"vcpus\": 1}}", 4400, "invalid", "memory must be positive")]
    [InlineData("{\"spec\": {\"name\": \"web\", \"memory_mb\": 64, \"vcpus\": 1}}", 4409, "conflict", "domain 'web' already exists")]
    public async Task The_endpoint_answers_a_refused_create_with_the_error_and_a_close_status(string request, int status, string code, string message)
    {
        Assert.Equal(0, _d.Run("create", "-q", _d.Config("web")).ExitCode);
        using var ws = await ConnectAsync();
        await SendAsync(ws, request);
        using var error = JsonDocument.Parse(await ReceiveAsync(ws, WebSocketMessageType.Text));
        Assert.Contains(message, error.RootElement.GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.Equal(code, error.RootElement.GetProperty("code").GetString());
        var close = await ws.ReceiveAsync(new byte[64], CancellationToken.None);
        Assert.Equal(WebSocketMessageType.Close, close.MessageType);
        Assert.Equal(status, (int)ws.CloseStatus!.Value);
        Assert.Equal(2, _d.Run("list").Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
    }

    [Fact]
    public void The_endpoint_is_an_upgrade_and_not_on_the_read_only_socket()
    {
        var plain = TestDriverEndToEndTests.Http(_d.Socket, "GET /create-console HTTP/1.1");
        Assert.StartsWith("HTTP/1.1 400", plain, StringComparison.Ordinal);
        Assert.Contains("create-console is an upgrade endpoint", plain, StringComparison.Ordinal);
        var readOnly = TestDriverEndToEndTests.Http(_d.Socket + ".ro",
            "GET /create-console HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==");
        Assert.StartsWith("HTTP/1.1 403", readOnly, StringComparison.Ordinal);
        var readOnlyRaw = TestDriverEndToEndTests.Http(_d.Socket + ".ro", "GET /create-console HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: domino-console");
        Assert.StartsWith("HTTP/1.1 403", readOnlyRaw, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_plain_upgrade_answers_with_a_line_then_the_console_and_ends_at_the_clients_shutdown()
    {
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await socket.ConnectAsync(new UnixDomainSocketEndPoint(_d.Socket));
        // The request line goes right behind the head, before the 101.
        await socket.SendAsync(Encoding.ASCII.GetBytes("GET /create-console HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: domino-console\r\n\r\n"
            + CreateRequest("raw", "\"paused\":false") + "\n"));
        var received = new StringBuilder();
        await ReadUntilAsync(socket, received, "booting");
        var text = received.ToString();
        Assert.StartsWith("HTTP/1.1 101 ", text, StringComparison.Ordinal);
        Assert.Contains("\r\nUpgrade: domino-console\r\n", text, StringComparison.OrdinalIgnoreCase);
        var body = text[(text.IndexOf("\r\n\r\n", StringComparison.Ordinal) + 4)..];
        var answer = body[..body.IndexOf('\n', StringComparison.Ordinal)];
        using (var doc = JsonDocument.Parse(answer))
        {
            Assert.Equal("raw", doc.RootElement.GetProperty("name").GetString());
            Assert.Equal("running", doc.RootElement.GetProperty("state").GetString());
        }
        Assert.StartsWith("test guest raw (domid 1) booting", body[(answer.Length + 1)..], StringComparison.Ordinal);

        // Input reaches the guest unframed (the test guest echoes it).
        await socket.SendAsync("ping\n"u8.ToArray());
        await ReadUntilAsync(socket, received, "ping\n");
        // Shutting down our side detaches: the daemon closes, the domain runs on.
        socket.Shutdown(SocketShutdown.Send);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var buffer = new byte[4096];
        while (await socket.ReceiveAsync(buffer, timeout.Token) > 0) { }
        Assert.Matches(@"(?m)^raw\s+1\s+.*r-----", _d.Run("list").Stdout);
    }

    [Fact]
    public async Task The_plain_upgrade_answers_a_refused_create_with_the_error_line_and_closes()
    {
        Assert.Equal(0, _d.Run("create", "-q", _d.Config("web")).ExitCode);
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await socket.ConnectAsync(new UnixDomainSocketEndPoint(_d.Socket));
        await socket.SendAsync(Encoding.ASCII.GetBytes("GET /create-console HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: domino-console\r\n\r\n"
            + "{\"spec\": {\"name\": \"web\", \"memory_mb\": 64, \"vcpus\": 1}}\n"));
        var received = new StringBuilder();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var buffer = new byte[4096];
        int n;
        while ((n = await socket.ReceiveAsync(buffer, timeout.Token)) > 0) received.Append(Encoding.ASCII.GetString(buffer, 0, n));
        var text = received.ToString();
        var body = text[(text.IndexOf("\r\n\r\n", StringComparison.Ordinal) + 4)..];
        Assert.EndsWith("\n", body, StringComparison.Ordinal);
        using var error = JsonDocument.Parse(body);
        Assert.Equal("domain 'web' already exists (pick another name or destroy it first)", error.RootElement.GetProperty("error").GetString());
        Assert.Equal("conflict", error.RootElement.GetProperty("code").GetString());
    }

    private static async Task ReadUntilAsync(Socket socket, StringBuilder received, string what)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var buffer = new byte[4096];
        while (!received.ToString().Contains(what, StringComparison.Ordinal))
        {
            var n = await socket.ReceiveAsync(buffer, timeout.Token);
            Assert.True(n > 0, $"the connection ended before '{what}': {received}");
            received.Append(Encoding.ASCII.GetString(buffer, 0, n));
        }
    }

    private string DaemonLog()
    {
        lock (_d.DaemonLog!) return _d.DaemonLog.ToString();
    }

    private Process Start(params string[] args) => Start(keepStdin: false, args);

    private Process Start(bool keepStdin, params string[] args)
    {
        var psi = new ProcessStartInfo(DominoRunner.Binary) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        _d.Environment(psi);
        var p = Process.Start(psi)!;
        if (!keepStdin) p.StandardInput.Close();
        return p;
    }

    private static string CreateRequest(string name, string extra) =>
        $"{{\"spec\": {{\"name\": \"{name}\", \"memory_mb\": 64, \"vcpus\": 1, \"kernel\": \"/boot/test-kernel\"}}, \"config\": \"{{}}\", {extra}}}";

    private async Task<ClientWebSocket> ConnectAsync()
    {
        var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (_, ct) =>
            {
                var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                await s.ConnectAsync(new UnixDomainSocketEndPoint(_d.Socket), ct);
                return new NetworkStream(s, ownsSocket: true);
            },
        };
        var ws = new ClientWebSocket();
        await ws.ConnectAsync(new Uri("ws://domino/create-console"), new HttpMessageInvoker(handler), CancellationToken.None);
        return ws;
    }

    private static Task SendAsync(WebSocket ws, string json) =>
        ws.SendAsync(Encoding.UTF8.GetBytes(json), WebSocketMessageType.Text, true, CancellationToken.None);

    private static async Task<byte[]> ReceiveAsync(WebSocket ws, WebSocketMessageType expected)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        using var message = new MemoryStream();
        var buffer = new byte[4096];
        while (true)
        {
            var r = await ws.ReceiveAsync(buffer, timeout.Token);
            Assert.Equal(expected, r.MessageType);
            message.Write(buffer, 0, r.Count);
            if (r.EndOfMessage) return message.ToArray();
        }
    }
}
