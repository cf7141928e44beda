using System.CommandLine;
using System.Globalization;
using Domino.Cli.Client;

namespace Domino.Cli.Commands;

/// <summary>What every client command shares: connecting, error reporting (<c>domino: MESSAGE</c>, exit 1), argument parsing.</summary>
internal static class CommandHelpers
{
    public static Argument<string> DomainArgument(string description = "Domain name, domid or UUID") =>
        new("domain") { Description = description };

    /// <summary>Sets an action that runs against the daemon; failures print one line and exit 1.</summary>
    public static void SetClientAction(this Command command, Func<ParseResult, DaemonClient, CancellationToken, Task<int>> action) =>
        command.SetAction(async (parse, ct) =>
        {
            try
            {
                using var client = await DaemonClient.ConnectAsync(ct).ConfigureAwait(false);
                return await action(parse, client, ct).ConfigureAwait(false);
            }
            catch (Exception e) when (e is CliException or IOException or System.Text.Json.JsonException or System.Net.WebSockets.WebSocketException)
            {
                await Console.Error.WriteLineAsync($"domino: {e.Message}").ConfigureAwait(false);
                return 1;
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return 130;
            }
        });

    public static string Escape(string id) => Uri.EscapeDataString(id);

    /// <summary>Parses xl's memory sizes: a number with an optional unit b, k, m, g, t (default <paramref name="defaultUnit"/>), in MiB.</summary>
    public static long ParseMemoryMb(string text, char defaultUnit = 'm')
    {
        var t = text.Trim().ToLowerInvariant();
        var unit = t.Length > 0 && char.IsAsciiLetter(t[^1]) ? t[^1] : defaultUnit;
        var number = char.IsAsciiLetter(t.Length > 0 ? t[^1] : '0') ? t[..^1] : t;
        if (!long.TryParse(number, NumberStyles.None, CultureInfo.InvariantCulture, out var n))
            throw new CliException($"invalid memory size '{text}' (expected a number with an optional unit b, k, m, g or t)");
        double mb = unit switch
        {
            'b' => n / 1048576.0,
            'k' => n / 1024.0,
            'm' => n,
            'g' => n * 1024.0,
            't' => n * 1048576.0,
            _ => throw new CliException($"invalid memory unit '{unit}' in '{text}' (expected b, k, m, g or t)"),
        };
        return (long)Math.Ceiling(mb);
    }

    public static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
