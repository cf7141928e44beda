namespace Domino.Toolstack.Domains;

/// <summary>A domain's lifecycle state. xl shows them as the six flags <c>r b p s c d</c>.</summary>
public enum DomainState
{
    /// <summary>Recorded, being built; not yet acknowledged to the client.</summary>
    Creating,
    Running,
    Paused,
    /// <summary>A shutdown or reboot was requested; the guest has not acted on it yet.</summary>
    ShuttingDown,
    /// <summary>The guest powered off (or rebooted) and <c>on_*</c> said preserve.</summary>
    Shutdown,
    /// <summary>The guest crashed (or its watchdog fired) and <c>on_*</c> said preserve.</summary>
    Crashed,
    /// <summary>Being torn down.</summary>
    Dying,
}

public static class DomainStates
{
    /// <summary>
    /// The lifecycle's valid transitions; anything else is a bug in the caller, refused with both
    /// states named. Restart of a preserved or exited domain goes back through Creating.
    /// </summary>
    public static bool IsValidTransition(DomainState from, DomainState to) => (from, to) switch
    {
        (DomainState.Creating, DomainState.Running or DomainState.Paused or DomainState.Crashed or DomainState.Dying) => true,
        (DomainState.Running, DomainState.Paused or DomainState.ShuttingDown or DomainState.Shutdown
            or DomainState.Crashed or DomainState.Dying or DomainState.Creating or DomainState.Running) => true,
        (DomainState.Paused, DomainState.Running or DomainState.ShuttingDown or DomainState.Shutdown
            or DomainState.Crashed or DomainState.Dying or DomainState.Creating) => true,
        (DomainState.ShuttingDown, DomainState.Running or DomainState.Paused or DomainState.Shutdown
            or DomainState.Crashed or DomainState.Dying or DomainState.Creating) => true,
        (DomainState.Shutdown or DomainState.Crashed, DomainState.Dying or DomainState.Creating) => true,
        _ => false,
    };

    /// <summary>xl's State column: six positions for r, b, p, s, c, d, a dash where the flag is clear.</summary>
    public static string XlFlags(this DomainState state) => state switch
    {
        DomainState.Running => "r-----",
        DomainState.Paused => "--p---",
        DomainState.ShuttingDown or DomainState.Shutdown => "---s--",
        DomainState.Crashed => "----c-",
        DomainState.Dying => "-----d",
        _ => "------",
    };

    /// <summary>The word used in messages and JSON: running, paused, shutting-down, ...</summary>
    public static string Word(this DomainState state) => state switch
    {
        DomainState.Creating => "creating",
        DomainState.Running => "running",
        DomainState.Paused => "paused",
        DomainState.ShuttingDown => "shutting-down",
        DomainState.Shutdown => "shutdown",
        DomainState.Crashed => "crashed",
        DomainState.Dying => "dying",
        _ => state.ToString().ToLowerInvariant(),
    };

    public static DomainState Parse(string word) => word switch
    {
        "creating" => DomainState.Creating,
        "running" => DomainState.Running,
        "paused" => DomainState.Paused,
        "shutting-down" => DomainState.ShuttingDown,
        "shutdown" => DomainState.Shutdown,
        "crashed" => DomainState.Crashed,
        "dying" => DomainState.Dying,
        _ => throw new FormatException($"unknown domain state '{word}'"),
    };

    /// <summary>True while a guest exists in the driver (vCPUs may run or be paused).</summary>
    public static bool IsLive(this DomainState state) =>
        state is DomainState.Running or DomainState.Paused or DomainState.ShuttingDown;
}
