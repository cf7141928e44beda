using System.Text.Json;
using System.Threading.Channels;
using Domino.Toolstack.Api;
using Domino.Toolstack.Domains;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Domino.Daemon.Api;

/// <summary>
/// save, restore, migrate and remus. Save and restore answer with NDJSON <see cref="OperationLine"/>s
/// (progress, then the result or an error) so the CLI can draw a progress bar; an error found before
/// the work starts (no such domain, wrong state, bad file) is an ordinary HTTP error.
/// </summary>
internal static class MigrationEndpoints
{
    public static void Map(IEndpointRouteBuilder app)
    {
        var domains = app.MapGroup("/domains").WithTags("migration");
        domains.MapPost("/{id}/save", (HttpContext ctx, string id, SaveRequest req, DomainService s) =>
            Stream(ctx, (progress, ct) => s.SaveAsync(id, req.Path, req.Checkpoint, req.LeavePaused, progress, ct)))
            .WithSummary("Save a domain's state to a file (checkpoint: keep it running; leave_paused: keep it paused; else it is destroyed)");
        domains.MapPost("/restore", (HttpContext ctx, RestoreRequest req, DomainService s) =>
            Stream(ctx, (progress, ct) => s.RestoreAsync(req.Path, req.Paused, progress, ct)))
            .WithSummary("Create a domain from a saved state file");
        domains.MapPost("/{id}/migrate", (string id, MigrateRequest req, DomainService s, CancellationToken ct) =>
            s.MigrateAsync(id, req.Host, req.Port, ct)).WithSummary("Live-migrate a domain to the daemon listening at host:port");
        domains.MapPost("/{id}/remus", (string id, MigrateRequest req, DomainService s, CancellationToken ct) =>
            s.StartRemusAsync(id, req.Host, req.Port, TimeSpan.FromMilliseconds(req.IntervalMs), ct))
            .WithSummary("Protect a domain with Remus checkpoints to the daemon at host:port");
        domains.MapDelete("/{id}/remus", (string id, DomainService s) =>
            s.StopRemus(s.Lookup(id).Uuid) ? Results.NoContent() : Results.NotFound()).WithSummary("Stop Remus protection (the backup stands down)");
    }

    private static async Task Stream(HttpContext ctx, Func<IProgress<double>, CancellationToken, Task<OperationResult>> run)
    {
        var ct = ctx.RequestAborted;
        var lines = Channel.CreateUnbounded<OperationLine>();
        var last = -1.0;
        var progress = new Progress(p =>
        {
            // At most a hundred steps: the bar does not need more.
            var rounded = Math.Round(p, 2);
            if (rounded <= last) return;
            last = rounded;
            lines.Writer.TryWrite(new OperationLine { Progress = rounded });
        });
        var work = run(progress, ct);
        // Fail as plain HTTP while nothing has been streamed yet.
        var first = await Task.WhenAny(work, lines.Reader.WaitToReadAsync(ct).AsTask()).ConfigureAwait(false);
        if (first == work && work.IsFaulted) await work.ConfigureAwait(false);
        ctx.Response.ContentType = "application/x-ndjson";
        _ = work.ContinueWith(t =>
        {
            lines.Writer.TryWrite(t.IsCompletedSuccessfully
                ? new OperationLine { Done = t.Result }
                : new OperationLine { Error = t.Exception?.InnerException?.Message ?? "cancelled", Code = (t.Exception?.InnerException as ToolstackException)?.Kind.ToString().ToLowerInvariant() ?? "failed" });
            lines.Writer.TryComplete();
        }, TaskScheduler.Default);
        await foreach (var line in lines.Reader.ReadAllAsync(ct).ConfigureAwait(false))
        {
            await ctx.Response.Body.WriteAsync(JsonSerializer.SerializeToUtf8Bytes(line, MigrationJson.Default.OperationLine), ct).ConfigureAwait(false);
            await ctx.Response.Body.WriteAsync("\n"u8.ToArray(), ct).ConfigureAwait(false);
            await ctx.Response.Body.FlushAsync(ct).ConfigureAwait(false);
        }
    }

    private sealed class Progress(Action<double> report) : IProgress<double>
    {
        public void Report(double value) => report(value);
    }
}
