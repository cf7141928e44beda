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
        catch (ToolstackException e) when (!ctx.Response.HasStarted)
        {
            await Write(ctx, Status(e.Kind), e.Message, Code(e.Kind)).ConfigureAwait(false);
        }
        catch (BadHttpRequestException e) when (!ctx.Response.HasStarted)
        {
            await Write(ctx, StatusCodes.Status400BadRequest, $"bad request: {e.Message}", "invalid").ConfigureAwait(false);
        }
        catch (System.Text.Json.JsonException e) when (!ctx.Response.HasStarted)
        {
            await Write(ctx, StatusCodes.Status400BadRequest, $"bad request body: {e.Message}", "invalid").ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (ctx.RequestAborted.IsCancellationRequested)
        {
            // The client went away.
        }
    }

    private static Task Write(HttpContext ctx, int status, string message, string code)
    {
        ctx.Response.StatusCode = status;
        return ctx.Response.WriteAsJsonAsync(new ErrorResponse(message, code), ToolstackJson.Default.ErrorResponse);
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
