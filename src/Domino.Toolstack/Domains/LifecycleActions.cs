using System.Globalization;
using Domino.Toolstack.Drivers;
using Domino.Toolstack.Events;

namespace Domino.Toolstack.Domains;

/// <summary>What happens when a guest powers off, reboots, crashes or trips its watchdog (xl.cfg(5) on_*).</summary>
public sealed partial class DomainService
{
    void IDriverEvents.GuestExited(GuestRef guest, GuestExit exit, string detail)
    {
        var work = Task.Run(async () =>
        {
            try { await HandleGuestExitAsync(guest, exit, detail).ConfigureAwait(false); }
            catch (Exception e) { Log($"domain '{guest.Name}': handling {Word(exit)} failed: {e}"); }
        });
        lock (_background) _background.Add(work);
    }

    private async Task HandleGuestExitAsync(GuestRef guest, GuestExit exit, string detail)
    {
        Domain? d;
        lock (_table) _byUuid.TryGetValue(guest.Uuid, out d);
        if (d is null) return;
        using (await d.Job.BeginAsync($"on_{Word(exit).Replace('-', '_')}", d.Name, CancellationToken.None).ConfigureAwait(false))
        {
            // A report about an earlier incarnation, or about a guest already being torn down, changes nothing.
            if (!IsCurrent(d) || d.DomId != guest.DomId || !d.State.IsLive()) return;
            await ApplyActionLockedAsync(d, exit, detail).ConfigureAwait(false);
        }
    }

    /// <summary>Applies the configured on_* action; the caller holds the domain's job.</summary>
    private async Task ApplyActionLockedAsync(Domain d, GuestExit exit, string detail)
    {
        var action = d.Spec.ActionFor(exit);
        var reason = Word(exit);
        var exitedState = exit is GuestExit.Crash or GuestExit.Watchdog ? DomainState.Crashed : DomainState.Shutdown;
        var exitedEvent = exitedState == DomainState.Crashed ? DomainEventKind.Crashed : DomainEventKind.Shutdown;
        var key = exit == GuestExit.SoftReset ? "on_soft_reset" : $"on_{reason}";
        var how = $"{key}={ActionWord(action)}{(detail.Length > 0 ? $"; {detail}" : "")}";
        var ct = CancellationToken.None;

        switch (action)
        {
            case LifecycleAction.Destroy:
                Record(d, exitedState, reason, exitedEvent, how);
                await DestroyLockedAsync(d, reason, how, ct).ConfigureAwait(false);
                break;

            case LifecycleAction.Preserve:
                Record(d, exitedState, reason, exitedEvent, how);
                break;

            case LifecycleAction.Restart:
                Record(d, exitedState, reason, exitedEvent, how);
                await RestartLockedAsync(d, reason, how, ct).ConfigureAwait(false);
                break;

            case LifecycleAction.RenameRestart:
                Record(d, exitedState, reason, exitedEvent, how);
                if (RestartLimitReached(d, reason, how)) break;
                await RenameRestartLockedAsync(d, how, ct).ConfigureAwait(false);
                break;

            case LifecycleAction.CoredumpDestroy:
            case LifecycleAction.CoredumpRestart:
                Record(d, exitedState, reason, exitedEvent, how);
                await DumpCoreLockedAsync(d, ct).ConfigureAwait(false);
                if (action == LifecycleAction.CoredumpDestroy) await DestroyLockedAsync(d, reason, how, ct).ConfigureAwait(false);
                else await RestartLockedAsync(d, reason, how, ct).ConfigureAwait(false);
                break;

            case LifecycleAction.SoftReset:
                try
                {
                    await Driver.SoftResetAsync(Ref(d), ct).ConfigureAwait(false);
                    Record(d, DomainState.Running, "soft-reset", DomainEventKind.Restarted, how);
                }
                catch (ToolstackException e) when (e.Kind == ErrorKind.Unsupported)
                {
                    Record(d, exitedState, reason, exitedEvent, how);
                    await DestroyLockedAsync(d, reason, $"{how}; {e.Message}", ct).ConfigureAwait(false);
                }
                break;
        }
    }

    /// <summary>Starts a new incarnation (new domid) of the same domain, unless it is restarting in a loop.</summary>
    private async Task RestartLockedAsync(Domain d, string reason, string how, CancellationToken ct)
    {
        if (RestartLimitReached(d, reason, how)) return;
        await Driver.DestroyAsync(Ref(d), ct).ConfigureAwait(false);
        lock (d.Sync)
        {
            if (d.PendingConfig is { } pending)
            {
                d.Spec = pending.Spec with { Name = d.Name };
                d.ConfigJson = pending.ConfigJson;
                d.PendingConfig = null;
            }
            d.Restarts++;
        }
        lock (_table) d.DomId = _nextDomId++;
        d.SetState(DomainState.Creating, "restarting");
        Persist(d, withConfig: true);
        try
        {
            await StartGuestAsync(d, paused: false, ct).ConfigureAwait(false);
            d.SetState(DomainState.Running, $"{reason}-restart");
            Persist(d);
            Emit(d, DomainEventKind.Restarted, how);
        }
        catch (Exception e) when (e is ToolstackException or IOException or InvalidOperationException)
        {
            Record(d, DomainState.Crashed, $"restart failed: {e.Message}", DomainEventKind.Crashed, how);
        }
    }

    /// <summary>Counts a restart; past the limit the domain is preserved in its exited state with the reason.</summary>
    private bool RestartLimitReached(Domain d, string reason, string how)
    {
        if (d.RestartHistory.TryRecord(DateTimeOffset.UtcNow)) return false;
        var limit = $"restart limit reached ({RestartHistory.MaxRestarts} restarts within {RestartHistory.Window.TotalSeconds:0} s); preserved";
        Record(d, d.State, $"{reason}: {limit}", d.State == DomainState.Crashed ? DomainEventKind.Crashed : DomainEventKind.Shutdown, how);
        return true;
    }

    /// <summary>xl's rename-restart: the old domain is kept under a time-stamped name, a new one starts under the old name.</summary>
    private async Task RenameRestartLockedAsync(Domain d, string how, CancellationToken ct)
    {
        var name = d.Name;
        var stamp = DateTimeOffset.UtcNow.ToString("yyyyMMdd'T'HHmm'Z'", CultureInfo.InvariantCulture);
        var preserved = $"{name}-{stamp}";
        lock (_table)
            for (var i = 2; _byName.ContainsKey(preserved); i++) preserved = $"{name}-{stamp}-{i}";
        RenameLocked(d, preserved);
        Emit(d, DomainEventKind.Renamed, $"was '{name}'; {how}");

        var spec = (d.PendingConfig?.Spec ?? d.Spec) with { Name = name, Uuid = Guid.Empty };
        var config = d.PendingConfig?.ConfigJson ?? d.ConfigJson;
        // The new domain is created outside this job (it takes its own), after the old one's job ends.
        var work = Task.Run(async () =>
        {
            try { await CreateAsync(spec, config, paused: false, d.RestartHistory, ct).ConfigureAwait(false); }
            catch (Exception e) { Log($"domain '{name}': rename-restart could not start the new domain: {e.Message}"); }
        });
        lock (_background) _background.Add(work);
        await Task.CompletedTask.ConfigureAwait(false);
    }

    private async Task DumpCoreLockedAsync(Domain d, CancellationToken ct)
    {
        var stamp = DateTimeOffset.UtcNow.ToString("yyyyMMdd'T'HHmmss", CultureInfo.InvariantCulture);
        var path = Path.Combine(Store.DumpsDir, $"{d.Name}-{d.DomId}-{stamp}.core");
        try
        {
            await Driver.WriteCoreDumpAsync(Ref(d), path, ct).ConfigureAwait(false);
            Emit(d, DomainEventKind.CoreDumped, path);
        }
        catch (Exception e) when (e is ToolstackException or IOException)
        {
            Emit(d, DomainEventKind.CoreDumped, $"core dump failed: {e.Message}");
        }
    }

    internal static string Word(GuestExit exit) => exit switch
    {
        GuestExit.Poweroff => "poweroff",
        GuestExit.Reboot => "reboot",
        GuestExit.Crash => "crash",
        GuestExit.Watchdog => "watchdog",
        GuestExit.SoftReset => "soft-reset",
        _ => exit.ToString().ToLowerInvariant(),
    };

    public static string ActionWord(LifecycleAction action) => action switch
    {
        LifecycleAction.Destroy => "destroy",
        LifecycleAction.Restart => "restart",
        LifecycleAction.RenameRestart => "rename-restart",
        LifecycleAction.Preserve => "preserve",
        LifecycleAction.CoredumpDestroy => "coredump-destroy",
        LifecycleAction.CoredumpRestart => "coredump-restart",
        LifecycleAction.SoftReset => "soft-reset",
        _ => action.ToString().ToLowerInvariant(),
    };
}
