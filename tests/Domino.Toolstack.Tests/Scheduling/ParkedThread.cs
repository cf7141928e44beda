using Domino.Vmm.Scheduling;

namespace Domino.Toolstack.Tests.Scheduling;

/// <summary>
/// A thread of the test process standing in for a vCPU thread in host tests: it sleeps until disposed
/// (as a paused vCPU does), and on <see cref="RunFor"/> spins for a while, which is when the kernel
/// moves a sleeping thread to the CPUs it was given.
/// </summary>
internal sealed class ParkedThread : IDisposable
{
    private readonly Thread _thread;
    private readonly ManualResetEventSlim _release = new();
    private readonly SemaphoreSlim _run = new(0);
    private readonly SemaphoreSlim _ran = new(0);
    private long _spinNs;

    /// <param name="onStart">Runs on the thread before it first sleeps (for example to pin itself).</param>
    public ParkedThread(Action? onStart = null)
    {
        using var ready = new ManualResetEventSlim();
        _thread = new Thread(() =>
        {
            Tid = HostThread.CurrentTid();
            onStart?.Invoke();
            ready.Set();
            while (WaitHandle.WaitAny([_release.WaitHandle, _run.AvailableWaitHandle]) == 1 && _run.Wait(0))
            {
                var until = HostThread.MonotonicNs() + _spinNs;
                while (HostThread.MonotonicNs() < until) { }
                _ran.Release();
            }
        }) { IsBackground = true };
        _thread.Start();
        ready.Wait();
    }

    public int Tid { get; private set; }

    /// <summary>Wakes the thread, lets it spin for <paramref name="time"/> and returns when it has.</summary>
    public void RunFor(TimeSpan time)
    {
        _spinNs = (long)time.TotalNanoseconds;
        _run.Release();
        _ran.Wait();
    }

    public void Dispose()
    {
        _release.Set();
        _thread.Join();
        _release.Dispose();
        _run.Dispose();
        _ran.Dispose();
    }
}
