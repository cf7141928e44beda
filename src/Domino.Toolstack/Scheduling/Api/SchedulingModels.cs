using System.Text.Json;
using System.Text.Json.Serialization;
using Domino.Toolstack.Scheduling.Arinc653;

namespace Domino.Toolstack.Scheduling.Api;

/// <summary><c>GET /cpupools</c>: one pool as cpupool-list shows it; exclusive: the host's processes are kept off its CPUs.</summary>
public sealed record PoolInfo(int Id, string Name, SchedulerKind Scheduler, string Cpus, int CpuCount, IReadOnlyList<string> Domains, bool Exclusive = false);

public sealed record PoolCreateRequest(string Name, SchedulerKind Scheduler = SchedulerKind.Credit, string? Cpus = null, bool Exclusive = false);
public sealed record PoolExclusiveRequest(bool Exclusive);
public sealed record PoolRenameRequest(string Name);
public sealed record PoolCpusRequest(string Cpus);
public sealed record PoolMigrateRequest(string Pool);

/// <summary>One domain's credit or credit2 parameters.</summary>
public sealed record CreditDomainInfo(string Name, int DomId, int Weight, int Cap);

/// <summary>A pool running credit or credit2, with its parameters and domains.</summary>
public sealed record CreditPoolInfo(string Pool, SchedulerKind Scheduler, int TsliceMs, int RatelimitUs, IReadOnlyList<CreditDomainInfo> Domains);

public sealed record CreditDomainRequest(int? Weight, int? Cap);
public sealed record CreditPoolRequest(int? TsliceMs, int? RatelimitUs);

public sealed record RtdsVcpuInfo(string Name, int DomId, int Vcpu, int PeriodUs, int BudgetUs, bool Extratime);
public sealed record RtdsPoolInfo(string Pool, IReadOnlyList<RtdsVcpuInfo> Vcpus);

/// <summary>vCPU -1: all of them. Unset fields keep their values.</summary>
public sealed record RtdsRequest(int Vcpu, int? PeriodUs, int? BudgetUs, bool? Extratime);

public sealed record Arinc653Info(string Pool, Arinc653Schedule Schedule);

/// <summary>One vCPU's affinity as vcpu-list shows it.</summary>
public sealed record VcpuAffinityInfo(int Vcpu, string Hard, string Soft, string Mask);

/// <summary>Source-generated JSON for the scheduling API and STATE/scheduling.json.</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web,
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    UseStringEnumConverter = true,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(SchedulingRecord))]
[JsonSerializable(typeof(PoolInfo))]
[JsonSerializable(typeof(List<PoolInfo>))]
[JsonSerializable(typeof(PoolCreateRequest))]
[JsonSerializable(typeof(PoolRenameRequest))]
[JsonSerializable(typeof(PoolExclusiveRequest))]
[JsonSerializable(typeof(PoolCpusRequest))]
[JsonSerializable(typeof(PoolMigrateRequest))]
[JsonSerializable(typeof(List<CreditPoolInfo>))]
[JsonSerializable(typeof(CreditDomainRequest))]
[JsonSerializable(typeof(CreditPoolRequest))]
[JsonSerializable(typeof(CreditDomainInfo))]
[JsonSerializable(typeof(List<RtdsPoolInfo>))]
[JsonSerializable(typeof(List<RtdsVcpuInfo>))]
[JsonSerializable(typeof(RtdsRequest))]
[JsonSerializable(typeof(Arinc653Info))]
[JsonSerializable(typeof(Arinc653Schedule))]
[JsonSerializable(typeof(List<VcpuAffinityInfo>))]
public sealed partial class SchedulingJson : JsonSerializerContext;
