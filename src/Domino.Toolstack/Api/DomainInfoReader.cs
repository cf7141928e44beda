using System.Text.Json;
using Domino.Toolstack.Domains;

namespace Domino.Toolstack.Api;

/// <summary>
/// Reads the API's domain objects (<see cref="DomainInfo"/>, one or a list of them) as
/// <see cref="ToolstackJson"/> reads them, with a plain <see cref="Utf8JsonReader"/>. Deserializing
/// through the context makes a fresh process build the options and every property's metadata (generic
/// instantiations over Guid, DateTimeOffset, nullables..., about a hundred methods the JIT compiles on
/// every run since ReadyToRun cannot hold them): most of what <c>domino list</c> spends beyond the
/// runtime's own start. The CLI reads domains here. Properties it does not know are skipped, as the
/// serializer skips them; ApiJsonTests reads what ToolstackJson writes for a DomainInfo whose every
/// property is filled by reflection, so a property added to DomainInfo fails it until it is read here.
/// </summary>
public static class DomainInfoReader
{
    public static DomainInfo Read(byte[] json)
    {
        var reader = new Utf8JsonReader(json);
        reader.Read();
        return ReadDomain(ref reader);
    }

    public static List<DomainInfo> ReadList(byte[] json)
    {
        var reader = new Utf8JsonReader(json);
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartArray) throw new JsonException("expected a list of domains");
        var list = new List<DomainInfo>();
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray) list.Add(ReadDomain(ref reader));
        return list;
    }

    private static DomainInfo ReadDomain(ref Utf8JsonReader r)
    {
        if (r.TokenType != JsonTokenType.StartObject) throw new JsonException($"expected a domain object, found {r.TokenType}");
        string? name = null, state = null, flags = null, reason = null, job = null;
        int domId = 0, vcpus = 0, maxVcpus = 0, restarts = 0;
        int? vmmPid = null;
        long memoryMb = 0, maxMemMb = 0;
        double cpuTime = 0;
        var uuid = Guid.Empty;
        DateTimeOffset createdAt = default;
        DateTimeOffset? startedAt = null;
        while (r.Read() && r.TokenType == JsonTokenType.PropertyName)
        {
            var property = r; // the name; r moves on to the value
            r.Read();
            if (r.TokenType == JsonTokenType.Null) continue; // as unset
            if (property.ValueTextEquals("name"u8)) name = r.GetString();
            else if (property.ValueTextEquals("domid"u8)) domId = r.GetInt32();
            else if (property.ValueTextEquals("uuid"u8)) uuid = r.GetGuid();
            else if (property.ValueTextEquals("state"u8)) state = r.GetString();
            else if (property.ValueTextEquals("flags"u8)) flags = r.GetString();
            else if (property.ValueTextEquals("reason"u8)) reason = r.GetString();
            else if (property.ValueTextEquals("memory_mb"u8)) memoryMb = r.GetInt64();
            else if (property.ValueTextEquals("max_mem_mb"u8)) maxMemMb = r.GetInt64();
            else if (property.ValueTextEquals("vcpus"u8)) vcpus = r.GetInt32();
            else if (property.ValueTextEquals("max_vcpus"u8)) maxVcpus = r.GetInt32();
            else if (property.ValueTextEquals("cpu_time"u8)) cpuTime = r.GetDouble();
            else if (property.ValueTextEquals("created_at"u8)) createdAt = r.GetDateTimeOffset();
            else if (property.ValueTextEquals("started_at"u8)) startedAt = r.GetDateTimeOffset();
            else if (property.ValueTextEquals("vmm_pid"u8)) vmmPid = r.GetInt32();
            else if (property.ValueTextEquals("restarts"u8)) restarts = r.GetInt32();
            else if (property.ValueTextEquals("job"u8)) job = r.GetString();
            else r.Skip();
        }
        if (r.TokenType != JsonTokenType.EndObject) throw new JsonException($"malformed domain object ({r.TokenType})");
        return new DomainInfo
        {
            Name = name ?? throw Missing("name"),
            DomId = domId,
            Uuid = uuid,
            State = state ?? throw Missing("state"),
            Flags = flags ?? throw Missing("flags"),
            Reason = reason ?? throw Missing("reason"),
            MemoryMb = memoryMb,
            MaxMemMb = maxMemMb,
            Vcpus = vcpus,
            MaxVcpus = maxVcpus,
            CpuTime = cpuTime,
            CreatedAt = createdAt,
            StartedAt = startedAt,
            VmmPid = vmmPid,
            Restarts = restarts,
            Job = job,
        };
    }

    private static JsonException Missing(string property) => new($"a domain object lacks its required property '{property}'");
}
