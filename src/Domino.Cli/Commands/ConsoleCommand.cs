using System.CommandLine;
using Domino.Cli.Client;
using static Domino.Cli.Commands.CommandHelpers;

namespace Domino.Cli.Commands;

/// <summary><c>domino console</c>: attach the terminal to a domain's console; Ctrl-] detaches.</summary>
internal static class ConsoleCommand
{
    private const byte Escape = 0x1d; // ^]
    private static readonly TimeSpan CloseWait = TimeSpan.FromSeconds(1);

    public static Command Create()
    {
        var domain = DomainArgument();
        var type = new Option<string?>("-t") { Description = "Console type: pv or serial (both reach the guest's first serial console)" };
        var number = new Option<int?>("-n") { Description = "Console number (only 0 exists)" };
        var command = new Command("console", "Attach to a domain's console (Ctrl-] detaches)") { domain, type, number };
        command.SetClientAction(async (parse, client, ct) =>
        {
            if (parse.GetValue(type) is { } t && t is not ("pv" or "serial"))
                throw new CliException($"unknown console type '{t}' (expected pv or serial)");
            if (parse.GetValue(number) is { } n && n != 0)
                throw new CliException($"domain has no console {n} (only console 0 exists)");
            return await AttachAsync(client, parse.GetValue(domain)!, replay: true, ct).ConfigureAwait(false);
        });
        return command;
    }

    /// <summary>Attaches to a domain's console: see <see cref="RunAsync"/>.</summary>
    public static async Task<int> AttachAsync(DaemonClient client, string domain, bool replay, CancellationToken ct)
    {
        using var connection = await client.OpenConsoleAsync(domain, replay, ct).ConfigureAwait(false);
        return await RunAsync(connection, ct).ConfigureAwait(false);
    }

    /// <summary>Copies console output to stdout and stdin to the guest until the console closes or ^] is typed.</summary>
    public static async Task<int> RunAsync(DaemonHttp.Connection connection, CancellationToken ct)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        using var terminal = Terminal.RawIfInteractive();
        using var stdout = Console.OpenStandardOutput();

        // Each direction runs on a thread of its own: reading the daemon's socket blocks (see DaemonHttp), and so
        // does reading stdin; neither should hold a thread-pool thread.
        var output = OnOwnThread(async () =>
        {
            var buffer = new byte[16 * 1024];
            try
            {
                int n;
                while ((n = await connection.ReadAsync(buffer.AsMemory(), stop.Token).ConfigureAwait(false)) > 0)
                {
                    await stdout.WriteAsync(buffer.AsMemory(0, n), stop.Token).ConfigureAwait(false);
                    await stdout.FlushAsync(stop.Token).ConfigureAwait(false);
                }
            }
            catch (IOException) { }
            catch (OperationCanceledException) { }
        });

        var input = OnOwnThread(async () =>
        {
            // Piped input is forwarded too, so scripts and tests can type into a guest; at its end we just follow the output.
            using var stdin = Console.OpenStandardInput();
            var buffer = new byte[1024];
            try
            {
                while (true)
                {
                    var n = stdin.Read(buffer);
                    if (n == 0) return;
                    var esc = Array.IndexOf(buffer, Escape, 0, n);
                    if (esc >= 0)
                    {
                        if (esc > 0) await connection.WriteAsync(buffer.AsMemory(0, esc), stop.Token).ConfigureAwait(false);
                        // Detach by shutting down our side: the daemon closes, which ends the output loop with
                        // what the guest printed until then; a daemon that does not close is not waited for long.
                        connection.Detach();
                        stop.CancelAfter(CloseWait);
                        return;
                    }
                    await connection.WriteAsync(buffer.AsMemory(0, n), stop.Token).ConfigureAwait(false);
                }
            }
            catch (IOException) { }
            catch (OperationCanceledException) { }
        });

        await output.ConfigureAwait(false);
        await stop.CancelAsync().ConfigureAwait(false);
        return 0;
    }

    private static Task OnOwnThread(Func<Task> pump) =>
        Task.Factory.StartNew(pump, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default).Unwrap();
}
