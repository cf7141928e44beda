using static Domino.Vmm.Interop.Interop;

namespace Domino.Vmm.Vcpu;

/// <summary>
/// A thread started ahead of its work and parked until it is given it, once. A VM built in a
/// <see cref="VmShell"/> takes its vCPU and console-input threads from the shell this way: a .NET
/// <c>Thread.Start</c> returns only once the new thread runs, which on a loaded host can take
/// milliseconds of scheduling delay, and that wait is then paid while nothing waits for the VM.
/// The work can be given without waking the thread (<see cref="Give"/>, then <see cref="Wake"/>):
/// a woken thread may take the CPU from its waker, so a VM being restored wakes its threads only
/// when it starts, not half-way through the restore.
/// </summary>
public sealed class ParkedThread : IDisposable
{
    // No spinning before blocking: a shell's parked threads start while the host is busy with a guest.
    private readonly ManualResetEventSlim _go = new(false, spinCount: 0);
    private Action? _work;
    private int _given;
    private int _woken;
    private int _tid;

    public ParkedThread()
    {
        Thread = new Thread(Park) { Name = "parked", IsBackground = true };
        Thread.Start();
    }

    public Thread Thread { get; }

    /// <summary>The kernel thread id (0 until the thread has started).</summary>
    public int Tid => Volatile.Read(ref _tid);

    /// <summary>Gives the thread <paramref name="work"/> and the name <paramref name="name"/>, and wakes it to run it; the thread ends when it returns.</summary>
    public void Run(Action work, string name)
    {
        Give(work, name);
        Wake();
    }

    /// <summary>Gives the thread its work without waking it; <see cref="Wake"/> (or <see cref="Dispose"/>) lets it run.</summary>
    public void Give(Action work, string name)
    {
        if (Interlocked.Exchange(ref _given, 1) != 0) throw new InvalidOperationException("this parked thread has already been given its work");
        Thread.Name = name;
        _work = work;
    }

    /// <summary>Lets the thread run the work it was given (once; later calls do nothing).</summary>
    public void Wake()
    {
        if (Interlocked.Exchange(ref _woken, 1) == 0) _go.Set(); // the set publishes _work to the thread
    }

    private void Park()
    {
        Volatile.Write(ref _tid, Libc.GetTid());
        _go.Wait();
        _work?.Invoke();
    }

    /// <summary>Ends a thread never given work; one given work but not woken is woken to run it.</summary>
    public void Dispose()
    {
        Interlocked.Exchange(ref _given, 1);
        Wake();
    }
}
