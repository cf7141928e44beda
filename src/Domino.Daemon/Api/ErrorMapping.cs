using Domino.Toolstack.Api;
using Domino.Toolstack.Domains;
using Microsoft.AspNetCore.Http;

namespace Domino.Daemon.Api;

/// <summary>Turns toolstack errors into HTTP statuses with <c>{"error": ..., "code": ...}</c> bodies.</summary>
internal static class ErrorMapping
{
    public static async Task Middleware(HttpContext ctx, RequestDelegate next)
    {
        try
        {
            await next(ctx).ConfigureAwait(false);
        }
        catch (Exception e) when ((e is ToolstackException or System.Text.Json.JsonException) && !ctx.Response.HasStarted)
        {
            var (status, body) = For(e);
            await Write(ctx, status, body).ConfigureAwait(false);
        }
        catch (BadHttpRequestException e) when (!ctx.Response.HasStarted)
        {
            await Write(ctx, StatusCodes.Status400BadRequest, new ErrorResponse($"bad request: {e.Message}", "invalid")).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (ctx.RequestAborted.IsCancellationRequested)
        {
            // The client went away.
        }
    }

    /// <summary>The HTTP status and body an error is answered with (for answers that cannot be an HTTP response, such as a WebSocket's).</summary>
    public static (int Status, ErrorResponse Body) For(Exception e) => e switch
    {
        ToolstackException t => (Status(t.Kind), new ErrorResponse(t.Message, Code(t.Kind))),
        System.Text.Json.JsonException j => (StatusCodes.Status400BadRequest, new ErrorResponse($"bad request body: {j.Message}", "invalid")),
        _ => (StatusCodes.Status500InternalServerError, new ErrorResponse(e.Message, "failed")),
    };

    private static Task Write(HttpContext ctx, int status, ErrorResponse body)
    {
        ctx.Response.StatusCode = status;
        return ctx.Response.WriteAsJsonAsync(body, ToolstackJson.Default.ErrorResponse);
    }

    public static int Status(ErrorKind kind) => kind switch
    {
        ErrorKind.Invalid => StatusCodes.Status400BadRequest,
        ErrorKind.NotFound => StatusCodes.Status404NotFound,
        ErrorKind.Conflict or ErrorKind.InvalidState => StatusCodes.Status409Conflict,
        ErrorKind.Unsupported => StatusCodes.Status501NotImplemented,
        ErrorKind.Forbidden => StatusCodes.Status403Forbidden,
        ErrorKind.Busy => StatusCodes.Status503ServiceUnavailable,
        _ => StatusCodes.Status500InternalServerError,
    };

    public static string Code(ErrorKind kind) => kind switch
    {
        ErrorKind.InvalidState => "invalid-state",
        _ => kind.ToString().ToLowerInvariant(),
    };
}
