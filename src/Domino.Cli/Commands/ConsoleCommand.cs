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
    /// Copies console output to stdout and stdin to the guest until the console closes or ^] is typed,
    /// on the calling thread: one poll(2) waits for both (no thread to start, so the first bytes of a
    /// console reach stdout as soon as they come), and the streams are plain read(2) and write(2).
    /// </summary>
    public static int Run(DaemonHttp.Connection connection, CancellationToken ct)
    {
        using var terminal = Terminal.RawIfInteractive();
        using var stdout = StandardStream.Output();
        using var stdin = StandardStream.Input();
        // Cancelled (SIGINT or SIGTERM without a raw terminal): ending the connection wakes the wait.
        using var cancel = ct.UnsafeRegister(static c => ((DaemonHttp.Connection)c!).Shutdown(), connection);
        var output = new byte[16 * 1024];
        var input = new byte[1024];
        var forwarding = true; // until stdin ends or ^] is typed
        long detachedUntil = -1; // after ^], how long the daemon has to close
        try
        {
            while (!ct.IsCancellationRequested)
            {
                var timeout = detachedUntil < 0 ? -1 : (int)Math.Max(0, detachedUntil - Environment.TickCount64);
                var (fromDaemon, fromUser) = connection.WaitReadable(forwarding ? StandardStream.InputFd : -1, timeout);
                if (!fromDaemon && !fromUser)
                {
                    if (detachedUntil >= 0 && Environment.TickCount64 >= detachedUntil) break;
                    continue; // a signal interrupted the wait
                }
                if (fromDaemon)
                {
                    var n = connection.Read(output, CancellationToken.None);
                    if (n == 0) break;
                    stdout.Write(output, 0, n);
                }
                if (fromUser && Forward(connection, stdin, input) is var left and not InputLeft.More)
                {
                    forwarding = false;
                    if (left == InputLeft.Detached) detachedUntil = Environment.TickCount64 + (long)CloseWait.TotalMilliseconds;
                }
            }
        }
        catch (IOException) { } // the daemon went away
        return 0;
    }

    private enum InputLeft { More, Ended, Detached }

    /// <summary>
    /// Forwards what stdin has to the console. Then there is more to come, or none: stdin ended (piped
    /// input is forwarded too, so scripts and tests can type into a guest; then the output is just
    /// followed) or cannot be read, or ^] was typed, which detaches.
    /// </summary>
    private static InputLeft Forward(DaemonHttp.Connection connection, StandardStream stdin, byte[] buffer)
    {
        int n;
        try { n = stdin.Read(buffer); }
        catch (IOException) { return InputLeft.Ended; }
        if (n == 0) return InputLeft.Ended;
        var esc = Array.IndexOf(buffer, Escape, 0, n);
        if (esc < 0)
        {
            connection.Write(buffer, 0, n);
            return InputLeft.More;
        }
        if (esc > 0) connection.Write(buffer, 0, esc);
        // Detach by shutting down our side: the daemon closes, which ends the output with what the
        // guest printed until then; a daemon that does not close is not waited for long.
        connection.Detach();
        return InputLeft.Detached;
    }
}
