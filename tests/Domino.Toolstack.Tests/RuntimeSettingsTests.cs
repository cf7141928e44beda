using Xunit;

namespace Domino.Toolstack.Tests;

/// <summary>
/// Runtime settings every project gets from Directory.Build.props; this test process is built with
/// the same props as the daemon and the VMM.
/// </summary>
public sealed class RuntimeSettingsTests
{
    [Fact]
    public void Thread_pool_workers_block_without_spinning_first()
    {
        // Spinning idle workers hold a CPU the guests' vCPU threads and the console path need.
        Assert.Equal("0", AppContext.GetData("System.Threading.ThreadPool.UnfairSemaphoreSpinLimit")?.ToString());
    }
}
