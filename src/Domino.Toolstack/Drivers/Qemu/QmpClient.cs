using System.Collections.Concurrent;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Domino.Toolstack.Drivers.Qemu;

/// <summary>An asynchronous QMP event: <c>{"event": NAME, "data": {...}, "timestamp": {...}}</c>.</summary>
public sealed record QmpEvent(string Name, JsonElement Data)
{
    public string? GetString(string property) =>
        Data.ValueKind == JsonValueKind.Object && Data.TryGetProperty(property, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    public bool? GetBool(string property) =>
        Data.ValueKind == JsonValueKind.Object && Data.TryGetProperty(property, out var v) && v.ValueKind is JsonValueKind.True or JsonValueKind.False ? v.GetBoolean() : null;
}

/// <summary>A QMP command that QEMU answered with <c>{"error": {"class", "desc"}}</c>.</summary>
public sealed class QmpException(string command, string errorClass, string description)
    : Exception($"QMP {command} failed: {errorClass}: {description}")
{
    public string ErrorClass { get; } = errorClass;
}

/// <summary>
/// A client for the QEMU Machine Protocol over a Unix socket: one JSON object per line, a greeting,
/// capabilities negotiation (<c>qmp_capabilities</c>) before any command, replies matched to commands
/// by <c>id</c>, and events delivered as they arrive. When QEMU exits the socket closes:
/// <see cref="Closed"/> completes and every pending command fails.
/// </summary>
public sealed class QmpClient : IAsyncDisposable
{
    private readonly Socket _socket;
    private readonly NetworkStream _stream;
    private readonly Action<QmpEvent> _onEvent;
    private readonly ConcurrentDictionary<long, (string Command, TaskCompletionSource<JsonElement> Reply)> _pending = new();
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly TaskCompletionSource _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _stop = new();
    private long _nextId;
    private Task _reader = Task.CompletedTask;

    private QmpClient(Socket socket, Action<QmpEvent> onEvent)
    {
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: true);
        _onEvent = onEvent;
    }

    /// <summary>The QEMU version from the greeting, e.g. "7.2.22".</summary>
    public string Version { get; private set; } = "";

    /// <summary>Completes when the connection ends (QEMU quit or died).</summary>
    public Task Closed => _closed.Task;

    /// <summary>Connects, reads the greeting and leaves capabilities negotiation mode.</summary>
    /// <param name="onEvent">Called on the reader task for every event; must not block.</param>
    public static async Task<QmpClient> ConnectAsync(string socketPath, Action<QmpEvent> onEvent, CancellationToken ct)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), ct).ConfigureAwait(false);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
        var client = new QmpClient(socket, onEvent);
        try
        {
            var greeting = new TaskCompletionSource<JsonElement>(TaskCreationOptions.RunContinuationsAsynchronously);
            client._reader = Task.Run(() => client.ReadLoop(greeting));
            using (ct.Register(() => greeting.TrySetCanceled(ct)))
            {
                var hello = await greeting.Task.ConfigureAwait(false);
                if (hello.TryGetProperty("version", out var v) && v.TryGetProperty("qemu", out var q))
                    client.Version = $"{q.GetProperty("major").GetInt32()}.{q.GetProperty("minor").GetInt32()}.{q.GetProperty("micro").GetInt32()}";
            }
            await client.ExecuteAsync("qmp_capabilities", null, ct).ConfigureAwait(false);
            return client;
        }
        catch
        {
            await client.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Runs one command and returns its <c>return</c> value.</summary>
    public async Task<JsonElement> ExecuteAsync(string command, JsonObject? arguments, CancellationToken ct)
    {
        var id = Interlocked.Increment(ref _nextId);
        var reply = new TaskCompletionSource<JsonElement>(TaskCreationOptions.RunContinuationsAsynchronously);
        _pending[id] = (command, reply);
        if (_closed.Task.IsCompleted) Fail(id, new IOException($"QMP {command}: QEMU's monitor connection is closed"));
        var message = new JsonObject { ["execute"] = command, ["id"] = id };
        if (arguments is not null) message["arguments"] = arguments;
        var bytes = Encoding.UTF8.GetBytes(message.ToJsonString() + "\n");
        await _writeLock.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            await _stream.WriteAsync(bytes, ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
        {
            Fail(id, new IOException($"QMP {command}: cannot write to QEMU's monitor: {e.Message}", e));
        }
        finally
        {
            _writeLock.Release();
        }
        using (ct.Register(() => { if (_pending.TryRemove(id, out var p)) p.Reply.TrySetCanceled(ct); }))
            return await reply.Task.ConfigureAwait(false);
    }

    private void Fail(long id, Exception e)
    {
        if (_pending.TryRemove(id, out var p)) p.Reply.TrySetException(e);
    }

    private async Task ReadLoop(TaskCompletionSource<JsonElement> greeting)
    {
        Exception closedBecause = new IOException("QEMU closed its monitor connection");
        try
        {
            using var reader = new StreamReader(_stream, Encoding.UTF8, false, 4096, leaveOpen: true);
            while (await reader.ReadLineAsync(_stop.Token).ConfigureAwait(false) is { } line)
            {
                if (line.Length == 0) continue;
                using var doc = JsonDocument.Parse(line);
                var root = doc.RootElement;
                if (root.TryGetProperty("QMP", out var hello)) greeting.TrySetResult(hello.Clone());
                else if (root.TryGetProperty("event", out var name))
                    _onEvent(new QmpEvent(name.GetString() ?? "", root.TryGetProperty("data", out var data) ? data.Clone() : default));
                else if (root.TryGetProperty("id", out var idElement) && idElement.TryGetInt64(out var id) && _pending.TryRemove(id, out var p))
                {
                    if (root.TryGetProperty("return", out var ret)) p.Reply.TrySetResult(ret.Clone());
                    else if (root.TryGetProperty("error", out var err))
                        p.Reply.TrySetException(new QmpException(p.Command,
                            err.TryGetProperty("class", out var c) ? c.GetString() ?? "" : "",
                            err.TryGetProperty("desc", out var d) ? d.GetString() ?? "" : ""));
                }
            }
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or OperationCanceledException or JsonException)
        {
            closedBecause = new IOException($"QEMU's monitor connection failed: {e.Message}", e);
        }
        finally
        {
            greeting.TrySetException(new IOException("QEMU closed its monitor connection before greeting"));
            foreach (var id in _pending.Keys) Fail(id, closedBecause);
            _closed.TrySetResult();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        try { _socket.Shutdown(SocketShutdown.Both); } catch (SocketException) { } catch (ObjectDisposedException) { }
        await _stream.DisposeAsync().ConfigureAwait(false);
        await _reader.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _stop.Dispose();
        _writeLock.Dispose();
    }
}
