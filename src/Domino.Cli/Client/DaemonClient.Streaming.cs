using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Domino.Toolstack.Api;

namespace Domino.Cli.Client;

internal sealed partial class DaemonClient
{
    /// <summary>POSTs and reads the NDJSON answer of a long operation: progress to <paramref name="progress"/>, then the result.</summary>
    public async Task<OperationResult> PostOperationAsync<TBody>(string path, TBody body, JsonTypeInfo<TBody> bodyType, Action<double> progress, CancellationToken ct)
    {
        using var response = await SendAsync("POST", path, JsonSerializer.SerializeToUtf8Bytes(body, bodyType), ct).ConfigureAwait(false);
        await ThrowIfErrorAsync(response, ct).ConfigureAwait(false);
        using var reader = new StreamReader(response.Body);
        while (await reader.ReadLineAsync(ct).ConfigureAwait(false) is { } line)
        {
            if (line.Length == 0) continue;
            var message = JsonSerializer.Deserialize(line, MigrationJson.Default.OperationLine)
                ?? throw new CliException("the daemon sent an empty progress line");
            if (message.Error is not null) throw new CliException(message.Error);
            if (message.Done is not null) return message.Done;
            if (message.Progress is { } p) progress(p);
        }
        throw new CliException($"the daemon ended {path} without a result");
    }
}
