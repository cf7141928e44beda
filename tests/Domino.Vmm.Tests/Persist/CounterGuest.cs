using System.Text.RegularExpressions;

namespace Domino.Vmm.Tests.Persist;

/// <summary>Helpers around guests that print a growing number: counter ("counter: N") and dirty ("dirty: pass N").</summary>
internal static partial class CounterGuest
{
    public const long Every = 20_000_000;

    [GeneratedRegex(@"(?:counter:|dirty: pass) (\d+)\n")]
    private static partial Regex Line();

    public static List<long> Values(string console) => Line().Matches(console).Select(m => long.Parse(m.Groups[1].Value)).ToList();

    /// <summary>Waits until the console shows at least <paramref name="count"/> values.</summary>
    public static List<long> WaitForValues(ConsoleCapture console, int count, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var values = Values(console.Text);
            if (values.Count >= count) return values;
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"guest printed {values.Count} of {count} values in {timeout.TotalSeconds} s; console:\n{console.Text}");
            Thread.Sleep(5);
        }
    }

    /// <summary>The values printed across a save/restore must continue one step at a time: no restart, no repeat.</summary>
    public static void AssertContinues(IReadOnlyList<long> values, long step)
    {
        Assert.True(values.Count >= 2, $"only {values.Count} values");
        for (var i = 1; i < values.Count; i++)
            Assert.True(values[i] == values[i - 1] + step, $"value {i} is {values[i]} after {values[i - 1]} (expected +{step}): {string.Join(", ", values)}");
    }

    public static VirtualMachine Boot(string guest, string cmdline, ConsoleCapture console, int memoryMiB = 128, int vcpus = 1) =>
        VirtualMachine.Build(new VmConfig
        {
            KernelPath = GuestKit.Guest(guest),
            CommandLine = cmdline,
            MemoryMiB = memoryMiB,
            Vcpus = vcpus,
            ConsoleOutput = console,
        });
}
