using Domino.Config.Model;
using ConfigAction = Domino.Config.Model.LifecycleAction;

namespace Domino.Toolstack.Domains;

/// <summary>From the parsed xl.cfg model to the toolstack's spec, applying xl's defaults for what is unset.</summary>
public static class DomainSpecMapping
{
    /// <summary>xl's default when <c>memory=</c> is not set.</summary>
    public const long DefaultMemoryMb = 128;

    /// <param name="resolvePath">Makes kernel, ramdisk and disk paths absolute (the daemon does not share the client's cwd).</param>
    public static DomainSpec ToSpec(DomainConfig config, Func<string, string>? resolvePath = null)
    {
        resolvePath ??= p => p;
        var memory = config.MemoryMb ?? DefaultMemoryMb;
        var vcpus = config.Vcpus ?? 1;
        return new DomainSpec
        {
            Name = config.Name ?? throw new ToolstackException(ErrorKind.Invalid, "the configuration has no name= (every domain needs one)"),
            Uuid = config.Uuid ?? Guid.Empty,
            Type = config.Type switch
            {
                DomainType.Pvh => GuestType.Pvh,
                DomainType.Hvm => GuestType.Hvm,
                _ => GuestType.Pv,
            },
            Kernel = config.Kernel is { } k ? resolvePath(k) : null,
            Ramdisk = config.Ramdisk is { } r ? resolvePath(r) : null,
            Cmdline = config.Cmdline,
            MemoryMb = memory,
            MaxMemMb = Math.Max(config.MaxMemMb ?? memory, memory),
            Vcpus = vcpus,
            MaxVcpus = Math.Max(config.MaxVcpus ?? vcpus, vcpus),
            Cpus = Affinity(config.Cpus),
            CpusSoft = Affinity(config.CpusSoft),
            Disks = [.. config.Disks.Select(d => d.Target.Length > 0 ? resolvePath(d.Target) : d.Target)],
            OnPoweroff = Map(config.OnPoweroff),
            OnReboot = Map(config.OnReboot),
            OnWatchdog = Map(config.OnWatchdog),
            OnCrash = Map(config.OnCrash),
            OnSoftReset = Map(config.OnSoftReset),
        };
    }

    private static string? Affinity(CpuAffinity? a) => a is null ? null : string.Join(",", a.Sets.Select(s => s.Spec));

    private static LifecycleAction Map(ConfigAction action) => action switch
    {
        ConfigAction.Destroy => LifecycleAction.Destroy,
        ConfigAction.Restart => LifecycleAction.Restart,
        ConfigAction.RenameRestart => LifecycleAction.RenameRestart,
        ConfigAction.Preserve => LifecycleAction.Preserve,
        ConfigAction.CoredumpDestroy => LifecycleAction.CoredumpDestroy,
        ConfigAction.CoredumpRestart => LifecycleAction.CoredumpRestart,
        ConfigAction.SoftReset => LifecycleAction.SoftReset,
        _ => LifecycleAction.Destroy,
    };
}
