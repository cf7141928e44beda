using Domino.Config.Output;

namespace Domino.Config.Tests;

/// <summary>Where the golden files and examples are copied next to the test assembly.</summary>
internal static class TestFiles
{
    public static string Golden => Path.Combine(AppContext.BaseDirectory, "Golden");

    public static string Examples => Path.Combine(AppContext.BaseDirectory, "examples");

    /// <summary>The host the golden JSON was recorded on: 2 CPUs (bitmaps 8 bits wide), one NUMA node.</summary>
    public static readonly HostInfo GoldenHost = new(2, [0, 0]);

    public static IEnumerable<object[]> GoldenConfigs(string expectedExtension) =>
        Directory.GetFiles(Golden, "*.cfg")
            .Where(f => File.Exists(Path.ChangeExtension(f, expectedExtension)))
            .Select(f => new object[] { Path.GetFileName(f) })
            .OrderBy(o => (string)o[0], StringComparer.Ordinal);

    public static IReadOnlyList<string> ArgsFor(string cfgPath)
    {
        var args = Path.ChangeExtension(cfgPath, ".args");
        return File.Exists(args) ? File.ReadAllLines(args).Where(l => l.Length > 0).ToList() : [];
    }
}
