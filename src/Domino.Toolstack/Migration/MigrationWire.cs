using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace Domino.Toolstack.Migration;

/// <summary>One-JSON-object-per-line messages before the driver's own stream takes over the connection.</summary>
public static class MigrationWire
{
    public static async Task WriteLineAsync<T>(Stream s, T value, JsonTypeInfo<T> type, CancellationToken ct)
    {
        var json = JsonSerializer.SerializeToUtf8Bytes(value, type);
        var line = new byte[json.Length + 1];
        json.CopyTo(line, 0);
        line[^1] = (byte)'\n';
        await s.WriteAsync(line, ct).ConfigureAwait(false);
        await s.FlushAsync(ct).ConfigureAwait(false);
    }

    /// <summary>Reads one line byte by byte so nothing after it is consumed; null at end of stream.</summary>
    public static async Task<T?> ReadLineAsync<T>(Stream s, JsonTypeInfo<T> type, CancellationToken ct) where T : class
    {
        var bytes = new List<byte>();
        var one = new byte[1];
        while (true)
        {
            var n = await s.ReadAsync(one, ct).ConfigureAwait(false);
            if (n == 0)
            {
                if (bytes.Count == 0) return null;
                break;
            }
            if (one[0] == (byte)'\n') break;
            bytes.Add(one[0]);
            if (bytes.Count > 16 << 20) throw new IOException("migration control line too long");
        }
        try
        {
            return JsonSerializer.Deserialize(bytes.ToArray(), type);
        }
        catch (JsonException e)
        {
            throw new IOException($"malformed migration control line: {e.Message} ({Encoding.UTF8.GetString(bytes.ToArray()[..Math.Min(bytes.Count, 80)])})");
        }
    }
}
