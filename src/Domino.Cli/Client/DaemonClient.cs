using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Domino.Toolstack.Api;
using Domino.Toolstack.Store;

namespace Domino.Cli.Client;

/// <summary>
/// Talks to the daemon's HTTP+JSON API over its Unix socket, starting a local daemon first when none
/// answers (detached, logging to STATE/logs/daemon.log). <c>DOMINO_NO_AUTOSTART=1</c> turns that off.
/// </summary>
internal sealed class DaemonClient : IDisposable
{
    private static readonly TimeSpan StartLimit = TimeSpan.FromSeconds(60);
    private readonly SocketsHttpHandler _handler;
    private readonly HttpClient _http;

    private DaemonClient(DaemonPaths paths)
    {
        Paths = paths;
        _handler = new SocketsHttpHandler
        {
            ConnectCallback = async (_, ct) =>
            {
                var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                try
                {
                    await socket.ConnectAsync(new UnixDomainSocketEndPoint(Paths.Socket), ct).ConfigureAwait(false);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
            PooledConnectionIdleTimeout = TimeSpan.FromSeconds(30),
        };
        _http = new HttpClient(_handler, disposeHandler: false) { BaseAddress = new Uri("http://domino/"), Timeout = Timeout.InfiniteTimeSpan };
    }

    public DaemonPaths Paths { get; }

    /// <summary>A client for the daemon at the configured socket, started if need be.</summary>
    public static async Task<DaemonClient> ConnectAsync(CancellationToken ct)
    {
        var paths = DaemonPaths.Resolve();
        if (!await AnswersAsync(paths.Socket, ct).ConfigureAwait(false))
        {
            if (Environment.GetEnvironmentVariable("DOMINO_NO_AUTOSTART") == "1")
                throw new CliException($"no daemon answers on {paths.Socket} (start one with 'domino daemon')");
            await StartDaemonAsync(paths, ct).ConfigureAwait(false);
        }
        return new DaemonClient(paths);
    }

    private static async Task<bool> AnswersAsync(string socketPath, CancellationToken ct)
    {
        if (!File.Exists(socketPath)) return false;
        using var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            await s.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), ct).ConfigureAwait(false);
            return true;
        }
        catch (SocketException) { return false; }
    }

    private static async Task StartDaemonAsync(DaemonPaths paths, CancellationToken ct)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(paths.LogFile)!);
        var self = Environment.ProcessPath ?? throw new CliException("cannot find the domino executable to start a daemon");
        // sh backgrounds it so we do not wait; the daemon calls setsid() itself (--background).
        var psi = new ProcessStartInfo("/bin/sh")
        {
            ArgumentList = { "-c", "exec \"$0\" daemon --background --state-dir \"$1\" --socket \"$2\" >>\"$3\" 2>&1 </dev/null &",
                self, paths.StateDir, paths.Socket, paths.LogFile },
            UseShellExecute = false,
        };
        using (var sh = Process.Start(psi) ?? throw new CliException("cannot start /bin/sh to launch the daemon"))
            await sh.WaitForExitAsync(ct).ConfigureAwait(false);

        var deadline = DateTime.UtcNow + StartLimit;
        while (DateTime.UtcNow < deadline)
        {
            if (await AnswersAsync(paths.Socket, ct).ConfigureAwait(false)) return;
            await Task.Delay(10, ct).ConfigureAwait(false);
        }
        throw new CliException($"started a daemon but it did not answer on {paths.Socket} within {StartLimit.TotalSeconds:0} s (see {paths.LogFile})");
    }

    public async Task<T> GetAsync<T>(string path, JsonTypeInfo<T> type, CancellationToken ct)
    {
        using var response = await _http.GetAsync(path, ct).ConfigureAwait(false);
        return await ReadAsync(response, type, ct).ConfigureAwait(false);
    }

    public async Task<byte[]> GetBytesAsync(string path, CancellationToken ct)
    {
        using var response = await _http.GetAsync(path, ct).ConfigureAwait(false);
        await ThrowIfErrorAsync(response, ct).ConfigureAwait(false);
        return await response.Content.ReadAsByteArrayAsync(ct).ConfigureAwait(false);
    }

    public async Task<TResult> PostAsync<TBody, TResult>(string path, TBody body, JsonTypeInfo<TBody> bodyType, JsonTypeInfo<TResult> resultType, CancellationToken ct)
    {
        using var response = await _http.PostAsync(path, JsonContent.Create(body, bodyType), ct).ConfigureAwait(false);
        return await ReadAsync(response, resultType, ct).ConfigureAwait(false);
    }

    public async Task<TResult> PostAsync<TResult>(string path, JsonTypeInfo<TResult> resultType, CancellationToken ct)
    {
        using var response = await _http.PostAsync(path, content: null, ct).ConfigureAwait(false);
        return await ReadAsync(response, resultType, ct).ConfigureAwait(false);
    }

    public async Task<TResult> DeleteAsync<TResult>(string path, JsonTypeInfo<TResult> resultType, CancellationToken ct)
    {
        using var response = await _http.DeleteAsync(path, ct).ConfigureAwait(false);
        return await ReadAsync(response, resultType, ct).ConfigureAwait(false);
    }

    /// <summary>The event stream: one JSON object per line until cancelled or the daemon goes away.</summary>
    public async IAsyncEnumerable<string> EventLinesAsync(string? domain, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken ct)
    {
        var path = domain is null ? "events" : $"events?domain={Uri.EscapeDataString(domain)}";
        using var response = await _http.GetAsync(path, HttpCompletionOption.ResponseHeadersRead, ct).ConfigureAwait(false);
        await ThrowIfErrorAsync(response, ct).ConfigureAwait(false);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(ct).ConfigureAwait(false));
        while (await reader.ReadLineAsync(ct).ConfigureAwait(false) is { } line)
            if (line.Length > 0) yield return line;
    }

    /// <summary>Opens a domain's console as a WebSocket over the daemon socket.</summary>
    public async Task<WebSocket> OpenConsoleAsync(string domain, bool replay, CancellationToken ct)
    {
        var ws = new ClientWebSocket();
        ws.Options.HttpVersion = HttpVersion.Version11;
        ws.Options.HttpVersionPolicy = HttpVersionPolicy.RequestVersionExact;
        try
        {
            await ws.ConnectAsync(new Uri($"ws://domino/domains/{Uri.EscapeDataString(domain)}/console?replay={(replay ? "true" : "false")}"),
                new HttpMessageInvoker(_handler, disposeHandler: false), ct).ConfigureAwait(false);
        }
        catch (WebSocketException)
        {
            ws.Dispose();
            // Ask again over plain HTTP to get the daemon's error message (no such domain, wrong state...).
            await GetBytesAsync($"domains/{Uri.EscapeDataString(domain)}/console/history", ct).ConfigureAwait(false);
            throw new CliException($"cannot attach to the console of domain '{domain}'");
        }
        return ws;
    }

    private static async Task<T> ReadAsync<T>(HttpResponseMessage response, JsonTypeInfo<T> type, CancellationToken ct)
    {
        await ThrowIfErrorAsync(response, ct).ConfigureAwait(false);
        return await response.Content.ReadFromJsonAsync(type, ct).ConfigureAwait(false)
            ?? throw new CliException($"the daemon sent an empty answer to {response.RequestMessage?.RequestUri?.AbsolutePath}");
    }

    private static async Task ThrowIfErrorAsync(HttpResponseMessage response, CancellationToken ct)
    {
        if (response.IsSuccessStatusCode) return;
        var body = await response.Content.ReadAsStringAsync(ct).ConfigureAwait(false);
        string message;
        try { message = JsonSerializer.Deserialize(body, ToolstackJson.Default.ErrorResponse)?.Error ?? body; }
        catch (JsonException) { message = $"daemon answered {(int)response.StatusCode}: {body}"; }
        throw new CliException(message, (int)response.StatusCode);
    }

    public void Dispose()
    {
        _http.Dispose();
        _handler.Dispose();
    }
}

/// <summary>An error to print as <c>domino: MESSAGE</c> with exit status 1.</summary>
internal sealed class CliException(string message, int status = 0) : Exception(message)
{
    public int HttpStatus { get; } = status;
}
