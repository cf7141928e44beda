using System.Text.Json;
using Domino.Toolstack.Api;
using Domino.Toolstack.Domains;
using Domino.Toolstack.Events;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Domino.Daemon.Api;

/// <summary>
/// The HTTP API: a thin mapping of routes onto <see cref="DomainService"/>. {id} is a domain name,
/// domid or UUID. Errors come back as <c>{"error", "code"}</c> with 400/404/409/501/503.
/// </summary>
internal static class DomainEndpoints
{
    private static readonly TimeSpan WaitLimit = TimeSpan.FromMinutes(5);

    public static void Map(IEndpointRouteBuilder app)
    {
        app.MapGet("/info", (DomainService s, DaemonInfo info) => HostInfoFor(s, info)).WithSummary("Host and daemon information");

        var domains = app.MapGroup("/domains").WithTags("domains");
        domains.MapGet("/", (DomainService s, CancellationToken ct) => s.ListAsync(ct)).WithSummary("List domains");
        domains.MapGet("/details", async (DomainService s, CancellationToken ct) =>
        {
            var list = new List<DomainDetail>();
            foreach (var d in s.Domains()) list.Add(await s.DetailAsync(d, ct).ConfigureAwait(false));
            return list;
        }).WithSummary("List domains with their configs (list -l)");
        domains.MapPost("/", async (CreateDomainRequest req, DomainService s, CancellationToken ct) =>
            Results.Json(await s.CreateAsync(req.Spec, req.Config, req.Paused, ct).ConfigureAwait(false), ToolstackJson.Default.DomainInfo, statusCode: 201))
            .WithSummary("Create and start a domain");
        domains.MapGet("/{id}", (string id, DomainService s, CancellationToken ct) => s.InfoAsync(s.Lookup(id), ct)).WithSummary("One domain");
        domains.MapGet("/{id}/config", (string id, DomainService s, CancellationToken ct) => s.DetailAsync(s.Lookup(id), ct)).WithSummary("A domain with its config");
        domains.MapDelete("/{id}", (string id, DomainService s, CancellationToken ct) => s.DestroyAsync(id, ct)).WithSummary("Destroy a domain");
        domains.MapPost("/{id}/pause", (string id, DomainService s, CancellationToken ct) => s.PauseAsync(id, ct));
        domains.MapPost("/{id}/unpause", (string id, DomainService s, CancellationToken ct) => s.UnpauseAsync(id, ct));
        domains.MapPost("/{id}/shutdown", (string id, bool? wait, DomainService s, CancellationToken ct) =>
            RequestAndMaybeWait(s, id, wait == true, reboot: false, ct)).WithSummary("Ask the guest to power off (wait=true: until it has)");
        domains.MapPost("/{id}/reboot", (string id, bool? wait, DomainService s, CancellationToken ct) =>
            RequestAndMaybeWait(s, id, wait == true, reboot: true, ct)).WithSummary("Ask the guest to reboot (wait=true: until it has)");
        domains.MapPost("/{id}/trigger", (string id, TriggerRequest req, DomainService s, CancellationToken ct) => s.TriggerAsync(id, req.Trigger, req.Vcpu, ct))
            .WithSummary("Send the guest a hardware event (xl trigger): power, reset, nmi (init, sleep, s3resume where the driver can)");
        domains.MapPost("/{id}/rename", (string id, RenameRequest req, DomainService s, CancellationToken ct) => s.RenameAsync(id, req.Name, ct));
        domains.MapPost("/{id}/vcpus", (string id, VcpuSetRequest req, DomainService s, CancellationToken ct) => s.SetVcpusAsync(id, req.Count, ct));
        domains.MapPost("/{id}/vcpu-pin", (string id, VcpuPinRequest req, DomainService s, CancellationToken ct) => s.PinVcpuAsync(id, req.Vcpu, req.Hard, req.Soft, ct));
        domains.MapGet("/{id}/vcpus", (string id, DomainService s, CancellationToken ct) => s.VcpusWithAffinityAsync(s.Lookup(id), ct));
        domains.MapPost("/{id}/memory", (string id, MemoryRequest req, DomainService s, CancellationToken ct) => s.SetMemoryAsync(id, req.Mb, ct));
        domains.MapPost("/{id}/max-memory", (string id, MemoryRequest req, DomainService s, CancellationToken ct) => s.SetMaxMemoryAsync(id, req.Mb, ct));
        domains.MapPost("/{id}/config", (string id, ConfigUpdateRequest req, DomainService s, CancellationToken ct) => s.UpdateConfigAsync(id, req.Spec, req.Config, ct));
        domains.MapPost("/{id}/inject", (string id, InjectRequest req, DomainService s, CancellationToken ct) => s.InjectAsync(id, req.Event, ct))
            .WithSummary("Make the guest power off, reboot, crash or trip its watchdog (test driver)");
        domains.MapGet("/{id}/console/history", async (string id, DomainService s, CancellationToken ct) =>
            Results.Bytes(await s.ConsoleHistoryAsync(s.Lookup(id), ct).ConfigureAwait(false), "application/octet-stream"))
            .WithSummary("Recent console output (dmesg)");
        domains.MapGet("/{id}/console", Console).AsUpgrade()
            .WithSummary("Console: a WebSocket (binary frames both ways) or, with Upgrade: domino-console, the connection itself (replay=false: no history)")
            .WithDescription("With Upgrade: domino-console the bytes after the 101 are the console's both ways, unframed; the client detaches by " +
                "shutting down its sending side, and the daemon closes the connection when the console ends.");
        app.MapGet("/create-console", CreateWithConsole).AsUpgrade().WithTags("domains")
            .WithSummary("Create a domain with its console attached (xl create -c) in one request: WebSocket or domino-console")
            .WithDescription("The first message (WebSocket: a text message; domino-console: one line) is a create request, as the body of " +
                "POST /domains. The daemon answers with one message (one line), the new domain (as POST /domains does) or an error " +
                "{\"error\", \"code\"}, after which a WebSocket is closed with status 4000 + the HTTP status the error has elsewhere " +
                "and a domino-console connection is closed; then the console follows as on /domains/{id}/console, from the guest's first " +
                "byte. \"paused\": true leaves the guest paused.");

        app.MapGet("/events", Events).WithSummary("Event stream: one JSON object per line");
    }

    /// <summary>An upgrade endpoint answers 101; a request that is not an upgrade gets 400.</summary>
    private static RouteHandlerBuilder AsUpgrade(this RouteHandlerBuilder endpoint) =>
        endpoint.Produces(StatusCodes.Status101SwitchingProtocols).Produces<ErrorResponse>(StatusCodes.Status400BadRequest);

    private static HostInfo HostInfoFor(DomainService s, DaemonInfo info)
    {
        var (total, free) = MemInfo();
        return new HostInfo
        {
            Version = typeof(DomainEndpoints).Assembly.GetName().Version?.ToString() ?? "0",
            Driver = info.Driver,
            StateDir = info.StateDir,
            Hostname = Environment.MachineName,
            Kernel = Environment.OSVersion.VersionString,
            NrCpus = Config.Output.HostInfo.Current.CpuCount,
            TotalMemoryMb = total,
            FreeMemoryMb = free,
            Domains = s.Domains().Count,
            DaemonPid = Environment.ProcessId,
            DaemonUptime = Math.Round((DateTimeOffset.UtcNow - info.StartedAt).TotalSeconds, 1),
            Kvm = File.Exists("/dev/kvm"),
        };
    }

    private static (long Total, long Free) MemInfo()
    {
        long total = 0, free = 0;
        try
        {
            foreach (var line in File.ReadLines("/proc/meminfo"))
            {
                var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (parts.Length < 2 || !long.TryParse(parts[1], out var kb)) continue;
                if (parts[0] == "MemTotal:") total = kb / 1024;
                else if (parts[0] == "MemAvailable:") free = kb / 1024;
            }
        }
        catch (IOException) { }
        return (total, free);
    }

    /// <summary>Sends the request; with wait, returns once this incarnation has shut down, crashed, restarted or gone.</summary>
    private static async Task<DomainInfo> RequestAndMaybeWait(DomainService s, string id, bool wait, bool reboot, CancellationToken ct)
    {
        using var sub = wait ? s.Events.Subscribe() : null;
        var info = reboot ? await s.RebootAsync(id, ct).ConfigureAwait(false) : await s.ShutdownAsync(id, ct).ConfigureAwait(false);
        if (sub is null) return info;
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(ct);
        limit.CancelAfter(WaitLimit);
        await foreach (var e in sub.Reader.ReadAllAsync(limit.Token).ConfigureAwait(false))
        {
            if (e.Uuid != info.Uuid) continue;
            if (e.Kind is DomainEventKind.Shutdown or DomainEventKind.Crashed or DomainEventKind.Destroyed or DomainEventKind.Restarted)
                return s.Domains().FirstOrDefault(d => d.Uuid == info.Uuid)?.Snapshot() ?? info with { State = e.State, Reason = e.Reason };
        }
        return info;
    }

    private static async Task Console(HttpContext ctx, string id, bool? replay, DomainService s)
    {
        var domain = s.Lookup(id);
        if (!IsConsoleUpgrade(ctx))
            throw new ToolstackException(ErrorKind.Invalid, "the console is an upgrade endpoint (WebSocket or domino-console; use domino console)");
        var ct = ctx.RequestAborted;
        await using var console = await s.OpenConsoleAsync(domain, replay ?? true, ct).ConfigureAwait(false);
        await using var channel = (await ConsoleChannel.AcceptAsync(ctx).ConfigureAwait(false))!;
        await channel.RelayAsync(console, ct).ConfigureAwait(false);
    }

    private static bool IsConsoleUpgrade(HttpContext ctx) => ctx.WebSockets.IsWebSocketRequest || ConsoleChannel.IsRawUpgrade(ctx);

    /// <summary>
    /// create -c in one request: the create request arrives first on the upgraded connection (an upgrade
    /// carries no body), the answer or the error goes back as one message, then the console.
    /// </summary>
    private static async Task CreateWithConsole(HttpContext ctx, DomainService s)
    {
        if (!IsConsoleUpgrade(ctx))
            throw new ToolstackException(ErrorKind.Invalid, "create-console is an upgrade endpoint (WebSocket or domino-console; use domino create -c)");
        var ct = ctx.RequestAborted;
        await using var channel = (await ConsoleChannel.AcceptAsync(ctx).ConfigureAwait(false))!;
        DomainInfo info;
        Stream console;
        try
        {
            if (await channel.ReceiveRequestAsync(ct).ConfigureAwait(false) is not { } message) return; // the client left without asking
            var request = JsonSerializer.Deserialize(message, ToolstackJson.Default.CreateDomainRequest)
                ?? throw new ToolstackException(ErrorKind.Invalid, "bad request body: the create request is null");
            (info, console) = await s.CreateWithConsoleAsync(request.Spec, request.Config, request.Paused, ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is ToolstackException or JsonException)
        {
            var (status, error) = ErrorMapping.For(e);
            await channel.FailAsync(status, error, ct).ConfigureAwait(false);
            return;
        }
        await using (console.ConfigureAwait(false))
        {
            await channel.SendAnswerAsync(JsonSerializer.SerializeToUtf8Bytes(info, ToolstackJson.Default.DomainInfo), ct).ConfigureAwait(false);
            await channel.RelayAsync(console, ct).ConfigureAwait(false);
        }
    }

    private static async Task Events(HttpContext ctx, string? domain, DomainService s)
    {
        ctx.Response.ContentType = "application/x-ndjson";
        using var sub = s.Events.Subscribe();
        await ctx.Response.StartAsync(ctx.RequestAborted).ConfigureAwait(false);
        await ctx.Response.Body.FlushAsync(ctx.RequestAborted).ConfigureAwait(false);
        try
        {
            await foreach (var e in sub.Reader.ReadAllAsync(ctx.RequestAborted).ConfigureAwait(false))
            {
                if (domain is not null && e.Domain != domain && e.Uuid.ToString() != domain) continue;
                var line = JsonSerializer.SerializeToUtf8Bytes(e, ToolstackJson.Default.DomainEvent);
                await ctx.Response.Body.WriteAsync(line, ctx.RequestAborted).ConfigureAwait(false);
                await ctx.Response.Body.WriteAsync("\n"u8.ToArray(), ctx.RequestAborted).ConfigureAwait(false);
                await ctx.Response.Body.FlushAsync(ctx.RequestAborted).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) { }
    }
}
