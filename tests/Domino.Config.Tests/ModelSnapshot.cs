using System.Text.Json;
using System.Text.Json.Serialization;
using Domino.Config.Model;

namespace Domino.Config.Tests;

/// <summary>Structural equality for models: every public property, as JSON (source positions of unknown settings aside).</summary>
internal static class ModelSnapshot
{
    private static readonly JsonSerializerOptions Options = new()
    {
        WriteIndented = true,
        Converters = { new JsonStringEnumConverter() },
    };

    public static string Of(DomainConfig c)
    {
        var unknown = c.UnknownSettings.Select(s => $"{s.Key} = {s.Value.ToSource()}").ToList();
        var json = JsonSerializer.SerializeToNode(c, Options)!.AsObject();
        json.Remove(nameof(DomainConfig.UnknownSettings));
        return json.ToJsonString(Options) + "\nunknown:\n" + string.Join("\n", unknown);
    }
}
