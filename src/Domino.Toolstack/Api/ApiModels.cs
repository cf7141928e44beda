using System.Text.Json;
using System.Text.Json.Serialization;
using Domino.Toolstack.Domains;
using Domino.Toolstack.Drivers;
using Domino.Toolstack.Drivers.Test;
using Domino.Toolstack.Events;
using Domino.Toolstack.Store;

namespace Domino.Toolstack.Api;

/// <summary><c>POST /domains</c>: the typed spec plus the full config as libxl JSON.</summary>
public sealed record CreateDomainRequest
{
    public required DomainSpec Spec { get; init; }
    /// <summary>The whole configuration as libxl JSON text, stored verbatim.</summary>
    public string? Config { get; init; }
    public bool Paused { get; init; }
}

public sealed record ConfigUpdateRequest
{
    public required DomainSpec Spec { get; init; }
    public string? Config { get; init; }
}

public sealed record RenameRequest(string Name);
public sealed record VcpuSetRequest(int Count);
/// <summary>vCPU -1 means all. A null affinity leaves that one unchanged.</summary>
public sealed record VcpuPinRequest(int Vcpu, string? Hard, string? Soft);
public sealed record MemoryRequest(long Mb);
public sealed record InjectRequest(GuestExit Event);
/// <summary>xl trigger: nmi, reset, init, power, sleep or s3resume; the vCPU (default 0) for nmi and init.</summary>
public sealed record TriggerRequest(string Trigger, int? Vcpu = null);
public sealed record ErrorResponse(string Error, string Code);

/// <summary><c>GET /domains/ID/config</c>: what <c>list -l</c> shows.</summary>
public sealed record DomainDetail
{
    public required DomainInfo Info { get; init; }
    public required DomainSpec Spec { get; init; }
    public JsonElement? Config { get; init; }

    /// <summary>How the driver runs the guest (e.g. QEMU's pid and accelerator); null when not live.</summary>
    public Drivers.DriverDetail? Driver { get; init; }
}

/// <summary><c>GET /info</c>: the host and daemon, as <c>domino info</c> prints them.</summary>
public sealed record HostInfo
{
    public required string Version { get; init; }
    public required string Driver { get; init; }
    public required string StateDir { get; init; }
    public required string Hostname { get; init; }
    public required string Kernel { get; init; }
    public int NrCpus { get; init; }
    public long TotalMemoryMb { get; init; }
    public long FreeMemoryMb { get; init; }
    public int Domains { get; init; }
    public int DaemonPid { get; init; }
    public double DaemonUptime { get; init; }
    public bool Kvm { get; init; }
}

/// <summary>Source-generated JSON for everything the API and the state store write: snake_case names.</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web,
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    UseStringEnumConverter = true,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    WriteIndented = false)]
[JsonSerializable(typeof(DomainRecord))]
[JsonSerializable(typeof(DomainInfo))]
[JsonSerializable(typeof(List<DomainInfo>))]
[JsonSerializable(typeof(DomainDetail))]
[JsonSerializable(typeof(List<DomainDetail>))]
[JsonSerializable(typeof(DomainEvent))]
[JsonSerializable(typeof(CreateDomainRequest))]
[JsonSerializable(typeof(ConfigUpdateRequest))]
[JsonSerializable(typeof(RenameRequest))]
[JsonSerializable(typeof(VcpuSetRequest))]
[JsonSerializable(typeof(VcpuPinRequest))]
[JsonSerializable(typeof(MemoryRequest))]
[JsonSerializable(typeof(InjectRequest))]
[JsonSerializable(typeof(TriggerRequest))]
[JsonSerializable(typeof(ErrorResponse))]
[JsonSerializable(typeof(HostInfo))]
[JsonSerializable(typeof(List<VcpuInfo>))]
[JsonSerializable(typeof(Drivers.DriverDetail))]
[JsonSerializable(typeof(TestGuestMarker))]
[JsonSerializable(typeof(Drivers.Vmm.VmmLaunch))]
[JsonSerializable(typeof(Drivers.Vmm.VmmRequest))]
[JsonSerializable(typeof(Drivers.Vmm.VmmResponse))]
[JsonSerializable(typeof(Drivers.Vmm.VmmExitRecord))]
public sealed partial class ToolstackJson : JsonSerializerContext;

/// <summary>
/// The small request bodies the CLI sends, with exactly <see cref="ToolstackJson"/>'s options,
/// generated for writing only. Writing is then straight-line code over the properties: a client does
/// not build the serializer's per-property metadata (generic instantiations the JIT compiles on every
/// run because ReadyToRun cannot hold them). Requests that carry a spec go through
/// <see cref="SpecRequestWriter"/>, which skips the serializer altogether. The daemon reads the same
/// bytes with ToolstackJson; a test checks both contexts write identical JSON, so the two attribute
/// lists below must stay alike.
/// </summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web,
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    UseStringEnumConverter = true,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    WriteIndented = false,
    GenerationMode = JsonSourceGenerationMode.Serialization)]
[JsonSerializable(typeof(RenameRequest))]
[JsonSerializable(typeof(VcpuSetRequest))]
[JsonSerializable(typeof(VcpuPinRequest))]
[JsonSerializable(typeof(MemoryRequest))]
[JsonSerializable(typeof(InjectRequest))]
[JsonSerializable(typeof(TriggerRequest))]
public sealed partial class ToolstackRequestJson : JsonSerializerContext;
