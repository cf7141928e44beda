namespace Domino.Vmm.Vcpu;

/// <summary>
/// A thread started ahead of its work and parked until it is given it, once. A VM built in a
/// <see cref="VmShell"/> takes its vCPU and console-input threads from the shell this way: a .NET
/// <c>Thread.Start</c> returns only once the new thread runs, which on a loaded host can take
/// milliseconds of scheduling delay, and that wait is then paid while nothing waits for the VM.
/// </summary>
public sealed class ParkedThread : IDisposable
{
    private readonly SemaphoreSlim _go = new(0);
    private Action? _work;
    private int _given;

    public ParkedThread()
    {
        Thread = new Thread(Park) { Name = "parked", IsBackground = true };
        Thread.Start();
    }

    public Thread Thread { get; }

    /// <summary>Runs <paramref name="work"/> on the thread, renamed <paramref name="name"/>; the thread ends when it returns.</summary>
    public void Run(Action work, string name)
    {
        if (Interlocked.Exchange(ref _given, 1) != 0) throw new InvalidOperationException("this parked thread has already been given its work");
        Thread.Name = name;
        _work = work;
        _go.Release(); // publishes _work to the thread
    }

    private void Park()
    {
        _go.Wait();
        _work?.Invoke();
    }

    /// <summary>Ends the thread if it was never given work.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _given, 1) == 0) _go.Release();
    }
}
