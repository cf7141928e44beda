using System.CommandLine;
using Domino.Cli.Client;
using Domino.Toolstack.Interop;
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

    /// <summary>Attaches to a domain's console: see <see cref="Run"/>.</summary>
    public static async Task<int> AttachAsync(DaemonClient client, string domain, bool replay, CancellationToken ct)
    {
        using var connection = await client.OpenConsoleAsync(domain, replay, ct).ConfigureAwait(false);
        return Run(connection, ct);
    }

    /// <summary>
    /// Copies console output to stdout and stdin to the guest until the console closes or ^] is typed.
    /// Output is copied on the calling thread and input on a thread of its own, both with blocking
    /// reads and writes (reading the daemon's socket blocks, see DaemonHttp): the first bytes of a
    /// console reach stdout without waiting for the thread pool to start a thread.
    /// </summary>
    public static int Run(DaemonHttp.Connection connection, CancellationToken ct)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        using var terminal = Terminal.RawIfInteractive();
        using var stdout = StandardStream.Output();
        var input = new Thread(() => ForwardInput(connection, stop)) { IsBackground = true, Name = "console input" };
        input.Start();

        var buffer = new byte[16 * 1024];
        try
        {
            int n;
            while ((n = connection.Read(buffer, stop.Token)) > 0) stdout.Write(buffer, 0, n);
        }
        catch (IOException) { }
        catch (OperationCanceledException) { }
        stop.Cancel();
        return 0;
    }

    /// <summary>
    /// Forwards stdin to the console until it ends or ^] is typed. Piped input is forwarded too, so
    /// scripts and tests can type into a guest; at its end the output is just followed.
    /// </summary>
    private static void ForwardInput(DaemonHttp.Connection connection, CancellationTokenSource stop)
    {
        try
        {
            using var stdin = StandardStream.Input();
            var buffer = new byte[1024];
            while (!stop.IsCancellationRequested)
            {
                var n = stdin.Read(buffer);
                if (n == 0) return;
                var esc = Array.IndexOf(buffer, Escape, 0, n);
                if (esc >= 0)
                {
                    if (esc > 0) connection.Write(buffer, 0, esc);
                    // Detach by shutting down our side: the daemon closes, which ends the output loop with
                    // what the guest printed until then; a daemon that does not close is not waited for long.
                    connection.Detach();
                    stop.CancelAfter(CloseWait);
                    return;
                }
                connection.Write(buffer, 0, n);
            }
        }
        // A stdin that cannot be read (closed, say) just means there is nothing to forward.
        catch (IOException) { }
        catch (ObjectDisposedException) { }
    }
}
