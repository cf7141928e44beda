using System.Text.Json.Serialization;

namespace Domino.Toolstack.Domains;

public enum GuestType
{
    [JsonStringEnumMemberName("pvh")] Pvh,
    [JsonStringEnumMemberName("pv")] Pv,
    [JsonStringEnumMemberName("hvm")] Hvm,
}

/// <summary>xl.cfg(5) actions for on_poweroff, on_reboot, on_watchdog, on_crash and on_soft_reset.</summary>
public enum LifecycleAction
{
    [JsonStringEnumMemberName("destroy")] Destroy,
    [JsonStringEnumMemberName("restart")] Restart,
    [JsonStringEnumMemberName("rename-restart")] RenameRestart,
    [JsonStringEnumMemberName("preserve")] Preserve,
    [JsonStringEnumMemberName("coredump-destroy")] CoredumpDestroy,
    [JsonStringEnumMemberName("coredump-restart")] CoredumpRestart,
    [JsonStringEnumMemberName("soft-reset")] SoftReset,
}

/// <summary>How a guest stopped running by itself, as the driver reports it.</summary>
public enum GuestExit
{
    [JsonStringEnumMemberName("poweroff")] Poweroff,
    [JsonStringEnumMemberName("reboot")] Reboot,
    [JsonStringEnumMemberName("crash")] Crash,
    [JsonStringEnumMemberName("watchdog")] Watchdog,
    [JsonStringEnumMemberName("soft-reset")] SoftReset,
}

/// <summary>
/// What the toolstack needs to know about a domain's configuration: the typed subset of xl.cfg that
/// drivers and lifecycle handling act on. The full config travels beside it as libxl JSON.
/// </summary>
public sealed record DomainSpec
{
    public required string Name { get; init; }
    public Guid Uuid { get; init; }
    public GuestType Type { get; init; } = GuestType.Pvh;
    public string? Kernel { get; init; }
    public string? Ramdisk { get; init; }
    public string? Cmdline { get; init; }
    public long MemoryMb { get; init; } = 128;
    public long MaxMemMb { get; init; }
    public int Vcpus { get; init; } = 1;
    public int MaxVcpus { get; init; }
    public string? Cpus { get; init; }
    public string? CpusSoft { get; init; }
    public IReadOnlyList<string> Disks { get; init; } = [];
    public LifecycleAction OnPoweroff { get; init; } = LifecycleAction.Destroy;
    public LifecycleAction OnReboot { get; init; } = LifecycleAction.Restart;
    public LifecycleAction OnWatchdog { get; init; } = LifecycleAction.Destroy;
    public LifecycleAction OnCrash { get; init; } = LifecycleAction.Destroy;
    public LifecycleAction OnSoftReset { get; init; } = LifecycleAction.SoftReset;

    public long EffectiveMaxMemMb => Math.Max(MaxMemMb, MemoryMb);
    public int EffectiveMaxVcpus => Math.Max(MaxVcpus, Vcpus);

    /// <summary>The action configured for one way of exiting (xl.cfg(5) "EVENT ACTIONS").</summary>
    public LifecycleAction ActionFor(GuestExit exit) => exit switch
    {
        GuestExit.Poweroff => OnPoweroff,
        GuestExit.Reboot => OnReboot,
        GuestExit.Watchdog => OnWatchdog,
        GuestExit.Crash => OnCrash,
        GuestExit.SoftReset => OnSoftReset,
        _ => LifecycleAction.Destroy,
    };

    /// <summary>Names xl accepts: letters, digits and <c>-_.:</c>, not all digits (it would read as a domid).</summary>
    public static string? ValidateName(string name)
    {
        if (name.Length == 0) return "domain name is empty";
        if (name.Length > 64) return $"domain name '{name}' is longer than 64 characters";
        if (name.All(char.IsAsciiDigit)) return $"domain name '{name}' is all digits (it would be read as a domain id)";
        foreach (var c in name)
            if (!(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or ':'))
                return $"domain name '{name}' has '{c}' (allowed: letters, digits, '-', '_', '.', ':')";
        return null;
    }
}
