namespace Domino.Toolstack.Store;

/// <summary>
/// Where the daemon keeps its state and listens, shared by the daemon and the CLI so both find the same
/// socket. Order: explicit option, then <c>DOMINO_STATE_DIR</c> / <c>DOMINO_SOCKET</c>, then defaults:
/// root uses <c>/run/domino</c> (guests do not outlive the host, nor need their records to); other users
/// use <c>$XDG_RUNTIME_DIR/domino</c> when set, else <c>~/.local/state/domino</c>.
/// The socket defaults to <c>STATE/domino.sock</c>; the read-only socket is the same path plus <c>.ro</c>.
/// </summary>
public sealed record DaemonPaths(string StateDir, string Socket)
{
    public string ReadOnlySocket => Socket + ".ro";
    public string LogFile => Path.Combine(StateDir, "logs", "daemon.log");

    public static DaemonPaths Resolve(string? stateDir = null, string? socket = null)
    {
        stateDir ??= Env("DOMINO_STATE_DIR") ?? DefaultStateDir();
        socket ??= Env("DOMINO_SOCKET") ?? Path.Combine(stateDir, "domino.sock");
        return new DaemonPaths(Path.GetFullPath(stateDir), Path.GetFullPath(socket));
    }

    private static string DefaultStateDir()
    {
        if (Environment.UserName == "root" || Environment.GetEnvironmentVariable("USER") == "root") return "/run/domino";
        if (Env("XDG_RUNTIME_DIR") is { } runtime) return Path.Combine(runtime, "domino");
        return Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".local", "state", "domino");
    }

    private static string? Env(string name) => Environment.GetEnvironmentVariable(name) is { Length: > 0 } v ? v : null;
}
