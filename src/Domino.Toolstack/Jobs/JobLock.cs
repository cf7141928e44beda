using Domino.Toolstack.Domains;

namespace Domino.Toolstack.Jobs;

/// <summary>
/// A domain's job slot (libvirt's "state change lock"): one state-changing job at a time per domain.
/// Queries never take it. A job that cannot start within <see cref="WaitLimit"/> fails as busy, naming
/// the job that holds the domain.
/// </summary>
internal sealed class JobLock
{
    public static TimeSpan WaitLimit { get; set; } = TimeSpan.FromSeconds(30);

    private readonly SemaphoreSlim _slot = new(1, 1);
    private volatile string? _holder;

    public string? Holder => _holder;

    public async Task<Job> BeginAsync(string job, string domainName, CancellationToken ct)
    {
        if (!await _slot.WaitAsync(WaitLimit, ct).ConfigureAwait(false))
            throw new ToolstackException(ErrorKind.Busy,
                $"domain '{domainName}' is busy (job '{_holder}' did not finish within {WaitLimit.TotalSeconds:0} s)");
        _holder = job;
        return new Job(this);
    }

    private void End()
    {
        _holder = null;
        _slot.Release();
    }

    public sealed class Job(JobLock owner) : IDisposable
    {
        private int _ended;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _ended, 1) == 0) owner.End();
        }
    }
}
