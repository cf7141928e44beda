using System.ComponentModel;
using System.Diagnostics;
using System.IO.Pipes;
using Domino.Toolstack.Interop;

namespace Domino.Toolstack.Drivers.Vmm;

/// <summary>
/// One idle, warmed-up VMM process (<c>domino vmm-host --spare</c>) kept ready for the next create, so
/// a create does not wait for a .NET runtime to start and load the VMM's code. The daemon holds the
/// write end of the spare's stdin: <see cref="Take"/> writes the domain's UUID there and the spare
/// carries on exactly as a freshly started <c>vmm-host --uuid</c> would (same pid file and launch file
/// rules, so crash safety is unchanged). Closing the pipe, or the daemon dying, ends an idle spare.
/// </summary>
internal sealed class SpareVmmHost(SelfCommand host, string stateDir, bool enabled) : IDisposable
{
    private readonly Lock _lock = new();
    private VmmChild? _spare;
    private bool _disposed;
    private Action<int>? _started;

    /// <summary>Calls <paramref name="started"/> with each new spare's pid and the live spare's, on a background thread.</summary>
    public void OnStarted(Action<int> started)
    {
        int? live;
        lock (_lock)
        {
            _started = started;
            live = _spare?.Process.Id;
        }
        if (live is { } pid) _ = Task.Run(() => started(pid));
    }

    /// <summary>
    /// Hands the spare the domain <paramref name="uuid"/>; null when there is no live spare. With
    /// <paramref name="keepInput"/> its standard input stays open (a console's input), else it is closed.
    /// </summary>
    public VmmChild? Take(Guid uuid, bool keepInput = false)
    {
        VmmChild? spare;
        lock (_lock) (spare, _spare) = (_spare, null);
        if (spare is null) return null;
        try
        {
            var process = spare.Process;
            if (process.HasExited) throw new IOException($"spare VMM process {process.Id} has exited");
            process.StandardInput.Write(uuid.ToString("D") + "\n");
            process.StandardInput.Flush();
            if (!keepInput) process.StandardInput.Close();
            return spare;
        }
        catch (Exception e) when (e is IOException or InvalidOperationException)
        {
            Discard(spare);
            return null;
        }
    }

    /// <summary>Starts a new spare in the background, after <paramref name="delay"/>, unless one is ready (or spares are off).</summary>
    public void Replenish(TimeSpan delay = default)
    {
        lock (_lock) if (!enabled || _disposed || _spare is not null) return;
        _ = Task.Run(async () =>
        {
            if (delay > TimeSpan.Zero) await Task.Delay(delay).ConfigureAwait(false);
            var psi = host.StartInfo("vmm-host", "--spare", "--state-dir", stateDir);
            psi.RedirectStandardInput = true;
            psi.RedirectStandardOutput = true; // VmmHost.ServingLine, once it runs a domain
            VmmChild? started;
            try { started = VmmChild.Start(psi); }
            catch (Exception e) when (e is Win32Exception or IOException) { return; } // creates fall back to starting a VMM process each
            if (started is null) return;
            Action<int>? notify;
            bool kept;
            lock (_lock)
            {
                notify = _started;
                kept = !_disposed && _spare is null;
                if (kept) _spare = started;
            }
            if (!kept) Discard(started);
            else notify?.Invoke(started.Process.Id);
        });
    }

    private static void Discard(VmmChild spare)
    {
        try { spare.Process.StandardInput.Close(); } catch (IOException) { }
        try { if (!spare.Process.HasExited) spare.Process.Kill(); } catch (InvalidOperationException) { }
        spare.Stdout.Dispose();
        spare.Process.Dispose();
    }

    public void Dispose()
    {
        VmmChild? spare;
        lock (_lock)
        {
            _disposed = true;
            (spare, _spare) = (_spare, null);
        }
        if (spare is not null) Discard(spare);
    }
}

/// <summary>
/// A VMM process the daemon started, with a reader of its standard output whose thread exists from the
/// start: starting a thread waits until it runs, which a create should not wait for.
/// </summary>
internal sealed record VmmChild(Process Process, InlineReadStream Stdout)
{
    /// <summary>Starts the process (standard output redirected) and its reader; null when no process could be started.</summary>
    public static VmmChild? Start(ProcessStartInfo psi)
    {
        var process = Process.Start(psi);
        if (process is null) return null;
        try { return new VmmChild(process, new InlineReadStream((int)((PipeStream)process.StandardOutput.BaseStream).SafePipeHandle.DangerousGetHandle(), "vmm-stdout")); }
        catch (IOException)
        {
            try { process.Kill(); } catch (InvalidOperationException) { }
            process.Dispose();
            throw;
        }
    }
}
