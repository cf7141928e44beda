using Domino.Toolstack.Drivers;
using Domino.Toolstack.Events;
using Domino.Toolstack.Store;

namespace Domino.Toolstack.Domains;

/// <summary>
/// Daemon start: rebuild the domain table from the state dir and reconcile it with what is running.
/// Rules: a record still "creating" for a domain that was never acknowledged is rolled back (its guest,
/// if one started, is destroyed); one that was restarting is restarted again; a live domain whose guest
/// is still there is re-attached; one whose guest ended while the daemon was away gets its on_* action;
/// one whose guest vanished without a word is treated as crashed (on_crash).
/// </summary>
public sealed partial class DomainService
{
    public async Task RecoverAsync(CancellationToken ct)
    {
        var stored = Store.LoadAll(Log);
        lock (_table)
            foreach (var (record, _) in stored) _nextDomId = Math.Max(_nextDomId, record.DomId + 1);

        foreach (var (record, config) in stored)
        {
            var d = new Domain(record.Uuid, record.Name, record.Spec, config)
            {
                DomId = record.DomId,
                StartPaused = record.StartPaused,
                CreatedAt = record.CreatedAt,
                StartedAt = record.StartedAt,
                VmmPid = record.VmmPid,
                VmmStartTicks = record.VmmStartTicks,
                CurrentMemoryMb = record.MemoryMb,
                OnlineVcpus = record.Vcpus,
                Restarts = record.Restarts,
                PendingConfig = record.PendingSpec is { } ps ? (ps, record.PendingConfig ?? config) : null,
            };
            DomainState state;
            try { state = DomainStates.Parse(record.State); }
            catch (FormatException) { state = DomainState.Crashed; }
            d.RestoreState(state, record.Reason);
            lock (_table)
            {
                _byUuid[d.Uuid] = d;
                _byName[d.Name] = d;
            }

            try { await ReconcileAsync(d, record, ct).ConfigureAwait(false); }
            catch (Exception e) when (e is ToolstackException or IOException)
            {
                Log($"domain '{d.Name}': recovery failed: {e.Message}");
            }
        }
    }

    private async Task ReconcileAsync(Domain d, DomainRecord record, CancellationToken ct)
    {
        using var job = await d.Job.BeginAsync("recover", d.Name, ct).ConfigureAwait(false);
        switch (d.State)
        {
            case DomainState.Creating when record.StartedAt is null:
                Log($"domain '{d.Name}': create was interrupted; rolling it back");
                await Forget(d, quietDriverDestroy: true).ConfigureAwait(false);
                Events.Publish(new DomainEvent { Kind = DomainEventKind.Destroyed, Domain = d.Name, DomId = d.DomId, Uuid = d.Uuid, State = "dying", Reason = "create-interrupted" });
                return;

            case DomainState.Creating:
                Log($"domain '{d.Name}': restart was interrupted; starting it again");
                await Driver.DestroyAsync(Ref(d), ct).ConfigureAwait(false);
                try
                {
                    await StartGuestAsync(d, paused: false, ct).ConfigureAwait(false);
                    Emit(d, DomainEventKind.Restarted, "restart completed after daemon restart");
                }
                catch (ToolstackException e)
                {
                    Record(d, DomainState.Crashed, $"restart failed: {e.Message}", DomainEventKind.Crashed);
                }
                return;

            case DomainState.Dying:
                await DestroyLockedAsync(d, d.Reason, "destroy completed after daemon restart", ct).ConfigureAwait(false);
                return;
        }

        var found = await Driver.AttachAsync(Ref(d), record, ct).ConfigureAwait(false);
        if (!d.State.IsLive())
        {
            // Preserved (shutdown/crashed) domains stay as they are, whatever the driver still holds.
            return;
        }
        switch (found.Outcome)
        {
            case AttachOutcome.Alive:
                if (found.Paused != (d.State == DomainState.Paused))
                    d.SetState(found.Paused ? DomainState.Paused : DomainState.Running, found.Paused ? "paused" : "running");
                Persist(d);
                Log($"domain '{d.Name}' (domid {d.DomId}): re-attached, {d.State.Word()}");
                break;
            case AttachOutcome.Exited:
                Log($"domain '{d.Name}': guest ended ({Word(found.Exit)}) while the daemon was away");
                await ApplyActionLockedAsync(d, found.Exit, $"while the daemon was away; {found.Detail}").ConfigureAwait(false);
                break;
            case AttachOutcome.Vanished:
                Log($"domain '{d.Name}': guest vanished ({found.Detail}); treating it as crashed");
                await ApplyActionLockedAsync(d, GuestExit.Crash, $"vanished: {found.Detail}").ConfigureAwait(false);
                break;
        }
    }
}
