using System.Net.Sockets;
using Domino.Daemon.Api;
using Domino.Toolstack.Domains;
using Domino.Toolstack.Drivers;
using Domino.Toolstack.Events;
using Domino.Toolstack.Interop;
using Domino.Toolstack.Scheduling;
using Domino.Toolstack.Scheduling.Api;
using Domino.Toolstack.Scheduling.Host;
using Domino.Toolstack.Store;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Domino.Daemon;

/// <summary>
/// The daemon: owns every domain through one <see cref="DomainService"/> and serves the API on two Unix
/// sockets, the owner-only read-write socket (0600) and the read-only one (0666) where state-changing
/// requests get 403. Stopping the daemon leaves guests running; the next daemon re-attaches to them.
/// </summary>
public static class DaemonHost
{
    internal const string ReadOnlyItem = "domino.read-only";

    public static async Task<int> RunAsync(DaemonOptions options, CancellationToken ct)
    {
        if (options.Background) Libc.NewSession();
        var paths = options.Paths;
        var store = new StateStore(paths.StateDir);
        var log = new DaemonLog();

        // One daemon per state dir: the lock is released by the kernel however the daemon ends.
        FileStream lockFile;
        try { lockFile = new FileStream(Path.Combine(store.Root, "daemon.lock"), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None); }
        catch (IOException)
        {
            await Console.Error.WriteLineAsync($"domino: another daemon already owns {store.Root} (pid {ReadPid(store)})").ConfigureAwait(false);
            return 1;
        }
        await using var _ = lockFile.ConfigureAwait(false);
        AtomicFile.Write(Path.Combine(store.Root, "daemon.pid"), $"{Environment.ProcessId}\n");

        await using var driver = DriverFactory.Create(options.Driver, store);
        var events = new EventBus();
        var service = new DomainService(store, driver, events, log.Write);
        log.Write($"daemon {Environment.ProcessId} starting: state {store.Root}, socket {paths.Socket}, driver {driver.Name}");
        await service.RecoverAsync(ct).ConfigureAwait(false);
        log.Write($"recovered {service.Domains().Count} domain(s)");

        // The test driver's guests have no host threads: keep pools in memory-backed host state there.
        // Without cgroup v1 and root, pools are kept in memory only, and exclusive pools are refused with the reason.
        IHostScheduler hostScheduler = driver.Name == "test" ? new InMemoryHostScheduler()
            : CgroupHostScheduler.Unavailable() is { } why ? new InMemoryHostScheduler { ConfinementRefusal = $"exclusive cpus: {why}" }
            : new CgroupHostScheduler(shield: new CpusetShield(new CgroupCpusetTree(), CpusetShield.DefaultRecord, ShieldOwner.Current(store.Root), log: log.Write), log: log.Write);
        using var scheduling = new SchedulingService(store.Root, hostScheduler, log: log.Write);
        scheduling.GateTableChanged += driver.PublishGateTable;
        service.AttachScheduling(scheduling);
        driver.OnSpareStarted(scheduling.PrepareSpare);
        if (hostScheduler is CgroupHostScheduler) scheduling.StartBalancer(TimeSpan.FromMilliseconds(500));
        log.Write($"scheduling: {scheduling.Pools().Count} pool(s), host enforcement {hostScheduler.Name}");

        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole(o => o.SingleLine = true).SetMinimumLevel(LogLevel.Warning);
        builder.Services.ConfigureHttpJsonOptions(o =>
        {
            // The same shape as the state store and the CLI read: snake_case, enums as their xl words.
            o.SerializerOptions.TypeInfoResolverChain.Insert(0, Toolstack.Api.ToolstackJson.Default);
            o.SerializerOptions.TypeInfoResolverChain.Insert(1, Toolstack.Api.MigrationJson.Default);
            o.SerializerOptions.TypeInfoResolverChain.Insert(2, SchedulingJson.Default);
            o.SerializerOptions.PropertyNamingPolicy = System.Text.Json.JsonNamingPolicy.SnakeCaseLower;
            o.SerializerOptions.DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull;
            o.SerializerOptions.Converters.Add(new System.Text.Json.Serialization.JsonStringEnumConverter());
        });
        builder.Services.AddOpenApi(o => o.AddDocumentTransformer((doc, _, _) =>
        {
            doc.Info.Title = "Domino daemon API";
            doc.Info.Description = "Domains, their lifecycle, consoles and events, over HTTP+JSON on a Unix socket.";
            return Task.CompletedTask;
        }));
        builder.Services.AddSingleton(service);
        builder.Services.AddSingleton(scheduling);
        builder.Services.AddSingleton(new DaemonInfo(driver.Name, store.Root, DateTimeOffset.UtcNow));

        foreach (var socket in new[] { paths.Socket, paths.ReadOnlySocket })
        {
            Directory.CreateDirectory(Path.GetDirectoryName(socket)!);
            RemoveStaleSocket(socket);
        }
        // Sockets are created owner-only; the read-only one is opened up after bind.
        var oldMask = Libc.SetUmask(0b000_111_111) /* 077 */;
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.ListenUnixSocket(paths.Socket);
            k.ListenUnixSocket(paths.ReadOnlySocket, lo => lo.Use(next => connection =>
            {
                connection.Items[ReadOnlyItem] = true;
                return next(connection);
            }));
        });

        var app = builder.Build();
        app.UseWebSockets();
        app.Use(ErrorMapping.Middleware);
        app.Use(async (ctx, next) =>
        {
            var readOnly = ctx.Features.Get<IConnectionItemsFeature>()?.Items.ContainsKey(ReadOnlyItem) == true;
            // Upgrades (consoles: WebSocket or domino-console) take console input, and create-console creates.
            if (readOnly && (!HttpMethods.IsGet(ctx.Request.Method) || ctx.Features.Get<IHttpUpgradeFeature>()?.IsUpgradableRequest == true))
            {
                ctx.Response.StatusCode = StatusCodes.Status403Forbidden;
                await ctx.Response.WriteAsJsonAsync(new Toolstack.Api.ErrorResponse(
                    $"{ctx.Request.Method} {ctx.Request.Path} changes state: use the read-write socket {paths.Socket}", "forbidden"),
                    Toolstack.Api.ToolstackJson.Default.ErrorResponse).ConfigureAwait(false);
                return;
            }
            await next(ctx).ConfigureAwait(false);
        });
        app.MapOpenApi("/openapi.json");
        DomainEndpoints.Map(app);
        MigrationEndpoints.Map(app);
        SchedulingEndpoints.Map(app);

        await app.StartAsync(ct).ConfigureAwait(false);
        Libc.SetUmask(oldMask);
        File.SetUnixFileMode(paths.Socket, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        File.SetUnixFileMode(paths.ReadOnlySocket, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead
            | UnixFileMode.GroupWrite | UnixFileMode.OtherRead | UnixFileMode.OtherWrite);
        log.Write($"listening on {paths.Socket} (read-write) and {paths.ReadOnlySocket} (read-only)");

        await using var migration = options.MigrateListen is { } listen ? new MigrationListener(service, MigrationListener.Parse(listen), log.Write) : null;
        migration?.Start();

        await app.WaitForShutdownAsync(ct).ConfigureAwait(false);
        log.Write("daemon stopping; guests keep running");
        await service.DrainAsync().ConfigureAwait(false);
        scheduling.ReleaseHost();
        foreach (var socket in new[] { paths.Socket, paths.ReadOnlySocket }) TryDelete(socket);
        return 0;
    }

    /// <summary>A socket file nobody answers on is left over from a daemon that died; one that answers is refused above by the lock.</summary>
    private static void RemoveStaleSocket(string path)
    {
        if (!File.Exists(path)) return;
        using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try { probe.Connect(new UnixDomainSocketEndPoint(path)); }
        catch (SocketException) { TryDelete(path); }
    }

    private static void TryDelete(string path)
    {
        try { File.Delete(path); } catch (IOException) { }
    }

    private static string ReadPid(StateStore store)
    {
        try { return File.ReadAllText(Path.Combine(store.Root, "daemon.pid")).Trim(); }
        catch (IOException) { return "?"; }
    }
}

/// <summary>Facts about this daemon that <c>GET /info</c> reports.</summary>
public sealed record DaemonInfo(string Driver, string StateDir, DateTimeOffset StartedAt);

/// <summary>The daemon's log: one time-stamped line per event, on stderr (the log file when started in the background).</summary>
internal sealed class DaemonLog
{
    private readonly Lock _sync = new();

    public void Write(string line)
    {
        lock (_sync) Console.Error.WriteLine($"{DateTimeOffset.UtcNow:yyyy-MM-ddTHH:mm:ss.fffZ} {line}");
    }
}
