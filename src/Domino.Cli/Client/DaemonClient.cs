using System.Diagnostics;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Domino.Toolstack;
using Domino.Toolstack.Api;
using Domino.Toolstack.Interop;
using Domino.Toolstack.Store;

namespace Domino.Cli.Client;

/// <summary>
/// Talks to the daemon's HTTP+JSON API over its Unix socket, starting a local daemon first when none
/// answers (detached, logging to STATE/logs/daemon.log). <c>DOMINO_NO_AUTOSTART=1</c> turns that off.
/// </summary>
internal sealed partial class DaemonClient : IDisposable
{
    private static readonly TimeSpan StartLimit = TimeSpan.FromSeconds(60);

    // The connection that found the daemon answering carries the first request, unless it has waited
    // longer than this (the daemon's server drops connections that send nothing for long).
    private static readonly TimeSpan FirstConnectionLife = TimeSpan.FromSeconds(5);

    private DaemonHttp.Connection? _first;
    private readonly long _firstOpened = Environment.TickCount64;

    private DaemonClient(DaemonPaths paths, DaemonHttp.Connection? first)
    {
        Paths = paths;
        _first = first;
    }

    public DaemonPaths Paths { get; }

    /// <summary>A client for the daemon at the configured socket, started if need be.</summary>
    public static Task<DaemonClient> ConnectAsync(CancellationToken ct) => ConnectAsync(DaemonPaths.Resolve(), ct);

    internal static async Task<DaemonClient> ConnectAsync(DaemonPaths paths, CancellationToken ct)
    {
        var first = TryConnect(paths.Socket);
        if (first is null)
        {
            if (Environment.GetEnvironmentVariable("DOMINO_NO_AUTOSTART") == "1")
                throw new CliException($"no daemon answers on {paths.Socket} (start one with 'domino daemon')");
            first = await StartDaemonAsync(paths, ct).ConfigureAwait(false);
        }
        return new DaemonClient(paths, first);
    }

    private static DaemonHttp.Connection? TryConnect(string socketPath)
    {
        if (!File.Exists(socketPath)) return null;
        try { return DaemonHttp.Connect(socketPath); }
        catch (IOException) { return null; }
    }

    /// <summary>A connection for the next request: the first one's if it is still fresh, else a new one.</summary>
    private DaemonHttp.Connection Open()
    {
        var first = Interlocked.Exchange(ref _first, null);
        if (first is not null)
        {
            if (Environment.TickCount64 - _firstOpened < FirstConnectionLife.TotalMilliseconds) return first;
            first.Dispose();
        }
        return DaemonHttp.Connect(Paths.Socket);
    }

    private static async Task<DaemonHttp.Connection> StartDaemonAsync(DaemonPaths paths, CancellationToken ct)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(paths.LogFile)!);
        // sh backgrounds it so we do not wait; the daemon calls setsid() itself (--background).
        // $0 is the log; the daemon's command line follows (this program again, maybe as `dotnet domino.dll`).
        var psi = new ProcessStartInfo("/bin/sh") { UseShellExecute = false };
        foreach (var a in new[] { "-c", "log=$0; exec \"$@\" >>\"$log\" 2>&1 </dev/null &", paths.LogFile }
                     .Concat(SelfCommand.Current().CommandLine("daemon", "--background", "--state-dir", paths.StateDir, "--socket", paths.Socket)))
            psi.ArgumentList.Add(a);
        using (var sh = Process.Start(psi) ?? throw new CliException("cannot start /bin/sh to launch the daemon"))
            await sh.WaitForExitAsync(ct).ConfigureAwait(false);

        var deadline = DateTime.UtcNow + StartLimit;
        while (DateTime.UtcNow < deadline)
        {
            if (TryConnect(paths.Socket) is { } connection) return connection;
            await Task.Delay(10, ct).ConfigureAwait(false);
        }
        throw new CliException($"started a daemon but it did not answer on {paths.Socket} within {StartLimit.TotalSeconds:0} s (see {paths.LogFile})");
    }

    public async Task<T> GetAsync<T>(string path, JsonTypeInfo<T> type, CancellationToken ct)
    {
        using var response = await SendAsync("GET", path, null, ct).ConfigureAwait(false);
        return await ReadAsync(response, type, path, ct).ConfigureAwait(false);
    }

    public async Task<byte[]> GetBytesAsync(string path, CancellationToken ct)
    {
        using var response = await SendAsync("GET", path, null, ct).ConfigureAwait(false);
        await ThrowIfErrorAsync(response, ct).ConfigureAwait(false);
        return await response.ReadAllAsync(ct).ConfigureAwait(false);
    }

    public async Task<TResult> PostAsync<TBody, TResult>(string path, TBody body, JsonTypeInfo<TBody> bodyType, JsonTypeInfo<TResult> resultType, CancellationToken ct)
    {
        using var response = await SendAsync("POST", path, JsonSerializer.SerializeToUtf8Bytes(body, bodyType), ct).ConfigureAwait(false);
        return await ReadAsync(response, resultType, path, ct).ConfigureAwait(false);
    }

    // Requests whose answer (mostly the domain, as it is after the change) the command does not print:
    // only the status is checked. Reading it would cost the JIT what reading it for a query costs.

    /// <summary>POSTs a body written beforehand and checks the status.</summary>
    public async Task PostAsync(string path, byte[] json, CancellationToken ct)
    {
        using var response = await SendAsync("POST", path, json, ct).ConfigureAwait(false);
        await ThrowIfErrorAsync(response, ct).ConfigureAwait(false);
    }

    /// <summary>POSTs <paramref name="body"/> and checks the status.</summary>
    public Task PostAsync<TBody>(string path, TBody body, JsonTypeInfo<TBody> bodyType, CancellationToken ct) =>
        PostAsync(path, JsonSerializer.SerializeToUtf8Bytes(body, bodyType), ct);

    /// <summary>POSTs without a body and checks the status.</summary>
    public async Task PostAsync(string path, CancellationToken ct)
    {
        using var response = await SendAsync("POST", path, null, ct).ConfigureAwait(false);
        await ThrowIfErrorAsync(response, ct).ConfigureAwait(false);
    }

    /// <summary>DELETEs and checks the status.</summary>
    public async Task DeleteAsync(string path, CancellationToken ct)
    {
        using var response = await SendAsync("DELETE", path, null, ct).ConfigureAwait(false);
        await ThrowIfErrorAsync(response, ct).ConfigureAwait(false);
    }

    public async Task<TResult> PostAsync<TResult>(string path, JsonTypeInfo<TResult> resultType, CancellationToken ct)
    {
        using var response = await SendAsync("POST", path, null, ct).ConfigureAwait(false);
        return await ReadAsync(response, resultType, path, ct).ConfigureAwait(false);
    }

    public async Task<TResult> DeleteAsync<TResult>(string path, JsonTypeInfo<TResult> resultType, CancellationToken ct)
    {
        using var response = await SendAsync("DELETE", path, null, ct).ConfigureAwait(false);
        return await ReadAsync(response, resultType, path, ct).ConfigureAwait(false);
    }

    /// <summary>The event stream: one JSON object per line until cancelled or the daemon goes away.</summary>
    public async IAsyncEnumerable<string> EventLinesAsync(string? domain, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken ct)
    {
        var path = domain is null ? "events" : $"events?domain={Uri.EscapeDataString(domain)}";
        using var response = await SendAsync("GET", path, null, ct).ConfigureAwait(false);
        await ThrowIfErrorAsync(response, ct).ConfigureAwait(false);
        using var reader = new StreamReader(response.Body);
        while (await reader.ReadLineAsync(ct).ConfigureAwait(false) is { } line)
            if (line.Length > 0) yield return line;
    }

    /// <summary>Opens a domain's console over the daemon socket (a <c>domino-console</c> upgrade).</summary>
    public async Task<DaemonHttp.Connection> OpenConsoleAsync(string domain, bool replay, CancellationToken ct)
    {
        var (connection, refusal) = await DaemonHttp.UpgradeAsync(Open(),
            $"domains/{Uri.EscapeDataString(domain)}/console?replay={(replay ? "true" : "false")}", firstLine: null, ct).ConfigureAwait(false);
        if (connection is not null) return connection;
        using (refusal) await ThrowIfErrorAsync(refusal!, ct).ConfigureAwait(false);
        throw new CliException($"cannot attach to the console of domain '{domain}'");
    }

    /// <summary>
    /// Creates a domain with its console attached, in one request (<c>GET /create-console</c>): the
    /// console shows the guest's output from its first byte. A refused create throws the daemon's error.
    /// </summary>
    public async Task<DaemonHttp.Connection> CreateWithConsoleAsync(byte[] request, CancellationToken ct) =>
        await CreateWithConsoleAnswerAsync(await DaemonHttp.UpgradeAsync(Open(), "create-console", firstLine: request, ct).ConfigureAwait(false), ct).ConfigureAwait(false);

    /// <summary>
    /// Begins a create with its console before the request is ready, when a daemon already answers:
    /// the connection is opened and the upgrade asked for, so the daemon's side of that overlaps the
    /// reading of the config. Null when no daemon answers (the create then starts one, as any command).
    /// </summary>
    public static DaemonHttp.Connection? TryBeginCreateWithConsole()
    {
        var connection = TryConnect(DaemonPaths.Resolve().Socket);
        if (connection is null) return null;
        try
        {
            DaemonHttp.BeginUpgrade(connection, "create-console");
            return connection;
        }
        catch (IOException)
        {
            connection.Dispose();
            return null;
        }
    }

    /// <summary>Finishes a create begun with <see cref="TryBeginCreateWithConsole"/>: see <see cref="CreateWithConsoleAsync"/>.</summary>
    public static async Task<DaemonHttp.Connection> FinishCreateWithConsoleAsync(DaemonHttp.Connection begun, byte[] request, CancellationToken ct) =>
        await CreateWithConsoleAnswerAsync(await DaemonHttp.FinishUpgradeAsync(begun, request, ct).ConfigureAwait(false), ct).ConfigureAwait(false);

    private static async Task<DaemonHttp.Connection> CreateWithConsoleAnswerAsync((DaemonHttp.Connection? Connection, DaemonHttp.Response? Refusal) upgrade, CancellationToken ct)
    {
        var (connection, refusal) = upgrade;
        if (connection is null)
        {
            using (refusal) await ThrowIfErrorAsync(refusal!, ct).ConfigureAwait(false);
            throw new CliException("the daemon refused to create the domain");
        }
        try
        {
            // One line answers: the new domain, or an error (and the connection ends).
            var answer = connection.ReadLine(ct)
                ?? throw new CliException("the daemon closed the console before answering the create");
            if (ErrorMessage(Encoding.UTF8.GetBytes(answer)) is { } error) throw new CliException(error);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private Task<DaemonHttp.Response> SendAsync(string method, string path, byte[]? json, CancellationToken ct) =>
        DaemonHttp.SendAsync(Open(), method, path, json, ct);

    private static async Task<T> ReadAsync<T>(DaemonHttp.Response response, JsonTypeInfo<T> type, string path, CancellationToken ct)
    {
        await ThrowIfErrorAsync(response, ct).ConfigureAwait(false);
        return JsonSerializer.Deserialize(await response.ReadAllAsync(ct).ConfigureAwait(false), type)
            ?? throw new CliException($"the daemon sent an empty answer to /{path}");
    }

    private static async Task ThrowIfErrorAsync(DaemonHttp.Response response, CancellationToken ct)
    {
        if (response.IsSuccess) return;
        var body = await response.ReadAllAsync(ct).ConfigureAwait(false);
        throw new CliException(ErrorMessage(body) ?? $"daemon answered {response.Status}: {Encoding.UTF8.GetString(body)}", response.Status);
    }

    /// <summary>
    /// The message of an <see cref="ErrorResponse"/> (<c>{"error": ..., "code": ...}</c>), or null when
    /// <paramref name="json"/> is something else (the create-console answer is the new domain or an error).
    /// Read with a bare reader, top-level properties only: no serializer metadata to build, and no
    /// document, whose pooled buffers would cost a fresh process the shared array pool's start-up
    /// (a timing loop that picks how to find the current CPU) on every create -c.
    /// </summary>
    internal static string? ErrorMessage(ReadOnlySpan<byte> json)
    {
        try
        {
            var reader = new Utf8JsonReader(json);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject) return null;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var isError = reader.ValueTextEquals("error"u8);
                if (!reader.Read()) return null;
                if (isError && reader.TokenType == JsonTokenType.String) return reader.GetString();
                reader.Skip();
            }
            return null;
        }
        catch (JsonException) { return null; }
    }

    public void Dispose() => Interlocked.Exchange(ref _first, null)?.Dispose();
}

/// <summary>An error to print as <c>domino: MESSAGE</c> with exit status 1.</summary>
internal sealed class CliException(string message, int status = 0) : Exception(message)
{
    public int HttpStatus { get; } = status;
}
