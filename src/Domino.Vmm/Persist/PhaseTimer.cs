using System.Diagnostics;

namespace Domino.Vmm.Persist;

/// <summary>One named step of a restore and how long it took.</summary>
public readonly record struct PersistPhase(string Step, TimeSpan Elapsed)
{
    public override string ToString() => $"{Step} {Elapsed.TotalMilliseconds:0.000} ms";
}

/// <summary>
/// Splits one operation into named steps: <see cref="Mark"/> closes the step that ran since the
/// previous mark. Costs one Stopwatch read per step, so it stays on in production restores.
/// </summary>
public sealed class PhaseTimer
{
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly List<PersistPhase> _phases = [];
    private TimeSpan _last;

    public TimeSpan Elapsed => _clock.Elapsed;

    public IReadOnlyList<PersistPhase> Phases => _phases;

    public void Mark(string step)
    {
        var now = _clock.Elapsed;
        _phases.Add(new PersistPhase(step, now - _last));
        _last = now;
    }
}
