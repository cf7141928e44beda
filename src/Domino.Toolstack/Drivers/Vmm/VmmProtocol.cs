using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Domino.Toolstack.Api;
using Domino.Toolstack.Domains;

namespace Domino.Toolstack.Drivers.Vmm;

/// <summary>What the daemon hands a VMM process: <c>vmm/UUID.launch.json</c>, written before the process starts.</summary>
public sealed record VmmLaunch
{
    public Guid Uuid { get; init; }
    [System.Text.Json.Serialization.JsonPropertyName("domid")] public int DomId { get; init; }
    public required string Name { get; init; }
    public required DomainSpec Spec { get; init; }
    public bool Paused { get; init; }
    /// <summary>
    /// Attach the console over the process's standard streams from the guest's first byte (create -c):
    /// standard output carries a status line and then the guest's output, standard input its input.
    /// </summary>
    public bool Console { get; init; }
}

/// <summary>
/// One request on a VMM process's control socket, one JSON line. Ops: status, pause, resume, destroy,
/// history, stats, dump (path), watch (answered when the guest ends), console (then raw bytes both ways),
/// power-button, ctrl-alt-del, nmi (data: the vCPU), reset (ends the guest as a reboot), restore-report
/// (status, and the VMM's restore figures as Result when it restored its guest from a state file).
/// </summary>
public sealed record VmmRequest(string Op, bool Replay = true, string? Path = null, string? Data = null);

/// <summary>The answer, one JSON line.</summary>
public sealed record VmmResponse
{
    public bool Ok { get; init; } = true;
    public string? Error { get; init; }
    /// <summary>created (built, never run), running, paused or exited.</summary>
    public string State { get; init; } = "";
    /// <summary>When exited: poweroff, reboot, crash or stopped.</summary>
    public string? ExitReason { get; init; }
    public string? ExitDetail { get; init; }
    public double CpuTime { get; init; }
    public long RssKb { get; init; }
    public string? History { get; init; }
    /// <summary>JSON result of save and restore-report (PersistFigures).</summary>
    public string? Result { get; init; }
}

/// <summary>How the guest ended, as the VMM process records it in <c>vmm/UUID.exit</c> for a daemon that was away.</summary>
public sealed record VmmExitRecord(string Reason, string Detail);

internal static class VmmWire
{
    public static byte[] Line<T>(T value, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type)
    {
        var json = JsonSerializer.SerializeToUtf8Bytes(value, type);
        var line = new byte[json.Length + 1];
        json.CopyTo(line, 0);
        line[^1] = (byte)'\n';
        return line;
    }

    /// <summary>
    /// Reads one line and nothing after it (console bytes follow some answers). On a socket it peeks
    /// for the newline and then takes exactly the line, two system calls for a whole line; on any
    /// other stream it reads byte by byte.
    /// </summary>
    public static async Task<string?> ReadLineAsync(Stream s, CancellationToken ct)
    {
        if (s is NetworkStream { Socket: var socket }) return await ReadLineAsync(socket, ct).ConfigureAwait(false);
        var sb = new StringBuilder();
        var one = new byte[1];
        while (true)
        {
            var n = await s.ReadAsync(one, ct).ConfigureAwait(false);
            if (n == 0) return sb.Length > 0 ? sb.ToString() : null;
            if (one[0] == (byte)'\n') return sb.ToString();
            sb.Append((char)one[0]);
            if (sb.Length > 1 << 20) throw new IOException("control line too long");
        }
    }

    private static async Task<string?> ReadLineAsync(Socket socket, CancellationToken ct)
    {
        var line = new List<byte>();
        var buffer = new byte[4096];
        while (true)
        {
            var peeked = await socket.ReceiveAsync(buffer, SocketFlags.Peek, ct).ConfigureAwait(false);
            if (peeked == 0) return line.Count > 0 ? Encoding.UTF8.GetString([.. line]) : null;
            var lf = Array.IndexOf(buffer, (byte)'\n', 0, peeked);
            var take = lf < 0 ? peeked : lf + 1;
            for (var got = 0; got < take;)
            {
                var n = await socket.ReceiveAsync(buffer.AsMemory(got, take - got), SocketFlags.None, ct).ConfigureAwait(false);
                if (n == 0) throw new IOException("control connection closed inside a line");
                got += n;
            }
            line.AddRange(buffer.AsSpan(0, lf < 0 ? take : lf));
            if (lf >= 0) return Encoding.UTF8.GetString([.. line]);
            if (line.Count > 1 << 20) throw new IOException("control line too long");
        }
    }

    public static GuestExit? ToGuestExit(string? reason) => reason switch
    {
        "poweroff" => GuestExit.Poweroff,
        "reboot" => GuestExit.Reboot,
        "crash" => GuestExit.Crash,
        _ => null,
    };

    public static ToolstackJson Json => ToolstackJson.Default;

    /// <summary>Runs the control protocol's serializers once, so a spare VMM process has them ready.</summary>
    public static void WarmUp()
    {
        var launch = new VmmLaunch { Name = "warm-up", Spec = new DomainSpec { Name = "warm-up" } };
        _ = JsonSerializer.Deserialize(JsonSerializer.SerializeToUtf8Bytes(launch, Json.VmmLaunch), Json.VmmLaunch);
        var request = Line(new VmmRequest("status"), Json.VmmRequest);
        _ = JsonSerializer.Deserialize(request.AsSpan(0, request.Length - 1), Json.VmmRequest);
        _ = Line(new VmmResponse { State = "created" }, Json.VmmResponse);
        _ = JsonSerializer.Serialize(new VmmExitRecord("poweroff", ""), Json.VmmExitRecord);
        _ = JsonSerializer.Serialize(new PersistFigures { Phases = [new PhaseFigure("warm-up", 0)], InShell = true, VmmMs = 0 }, MigrationJson.Default.PersistFigures);
    }
}
