using Domino.Toolstack.Domains;
using Domino.Toolstack.Scheduling;
using Domino.Toolstack.Scheduling.Api;
using Domino.Toolstack.Scheduling.Arinc653;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Domino.Daemon.Api;

/// <summary>
/// CPU pools and scheduler parameters: a thin mapping onto <see cref="SchedulingService"/>. Domain
/// ids ({id}, ?domain=) are resolved by the domain service, so they accept names, domids and UUIDs.
/// </summary>
internal static class SchedulingEndpoints
{
    public static void Map(IEndpointRouteBuilder app)
    {
        var pools = app.MapGroup("/cpupools").WithTags("cpupools");
        pools.MapGet("/", (SchedulingService s) => s.Pools()).WithSummary("List CPU pools (cpupool-list)");
        pools.MapPost("/", (PoolCreateRequest req, SchedulingService s) =>
            Results.Json(s.CreatePool(req.Name, req.Scheduler, req.Cpus, req.Exclusive), SchedulingJson.Default.PoolInfo, statusCode: 201)).WithSummary("Create a pool");
        pools.MapPost("/numa-split", (SchedulingService s) => s.NumaSplit()).WithSummary("One pool per NUMA node");
        pools.MapGet("/{pool}", (string pool, SchedulingService s) => s.Pool(pool));
        pools.MapDelete("/{pool}", (string pool, SchedulingService s) =>
        {
            var info = s.Pool(pool);
            s.DestroyPool(pool);
            return info;
        }).WithSummary("Destroy an empty pool (answers with the pool as it was)");
        pools.MapPost("/{pool}/rename", (string pool, PoolRenameRequest req, SchedulingService s) => s.RenamePool(pool, req.Name));
        pools.MapPost("/{pool}/exclusive", (string pool, PoolExclusiveRequest req, SchedulingService s) => s.SetExclusive(pool, req.Exclusive))
            .WithSummary("Make a pool own its CPUs against the host's processes, or share them again");
        pools.MapPost("/{pool}/cpus/add", (string pool, PoolCpusRequest req, SchedulingService s) => s.AddCpus(pool, req.Cpus));
        pools.MapPost("/{pool}/cpus/remove", (string pool, PoolCpusRequest req, SchedulingService s) => s.RemoveCpus(pool, req.Cpus));
        pools.MapGet("/{pool}/arinc653", (string pool, SchedulingService s) => s.Arinc653(pool)).WithSummary("A pool's ARINC653 schedule");
        pools.MapPost("/{pool}/arinc653", (string pool, Arinc653Schedule schedule, SchedulingService s) => s.SetArinc653(pool, schedule))
            .WithSummary("Validate and install a pool's ARINC653 schedule");

        app.MapPost("/domains/{id}/cpupool", (string id, PoolMigrateRequest req, DomainService d, SchedulingService s) =>
        {
            var dom = d.Lookup(id);
            return s.Migrate(dom.Uuid, dom.Name, req.Pool);
        }).WithTags("cpupools").WithSummary("Move a domain to another pool (cpupool-migrate)");

        var sched = app.MapGroup("/scheduling").WithTags("scheduling");
        foreach (var kind in new[] { SchedulerKind.Credit, SchedulerKind.Credit2 })
        {
            var word = kind.Word();
            sched.MapGet($"/{word}", (string? pool, string? domain, DomainService d, SchedulingService s) =>
                s.Credit(kind, pool, domain is null ? null : d.Lookup(domain).Uuid)).WithSummary($"{word} parameters of pools and domains");
            sched.MapPost($"/{word}/domains/{{id}}", (string id, CreditDomainRequest req, DomainService d, SchedulingService s) =>
            {
                var dom = d.Lookup(id);
                return s.SetCredit(kind, dom.Uuid, dom.Name, req.Weight, req.Cap);
            }).WithSummary($"Set a domain's {word} weight and cap");
            sched.MapPost($"/{word}/pools/{{pool}}", (string pool, CreditPoolRequest req, SchedulingService s) =>
                s.SetCreditPool(kind, pool, req.TsliceMs, req.RatelimitUs)).WithSummary($"Set a {word} pool's time slice and rate limit");
        }
        sched.MapGet("/rtds", (string? pool, string? domain, DomainService d, SchedulingService s) =>
            s.Rtds(pool, domain is null ? null : d.Lookup(domain).Uuid)).WithSummary("RTDS parameters per vCPU");
        sched.MapPost("/rtds/domains/{id}", (string id, RtdsRequest req, DomainService d, SchedulingService s) =>
        {
            var dom = d.Lookup(id);
            return s.SetRtds(dom.Uuid, dom.Name, req.Vcpu, req.PeriodUs, req.BudgetUs, req.Extratime);
        }).WithSummary("Set RTDS period, budget and extratime of one vCPU or all");
    }
}
