using System.Text.RegularExpressions;

namespace Domino.Vmm.Tests;

/// <summary>The VMM core's structural rules (interop in one place, SAFETY comments), checked like behaviour.</summary>
public sealed partial class VmmStyleTests
{
    private static string VmmSource => Path.Combine(GuestKit.Root, "src", "Domino.Vmm");

    /// <summary>Core sources; Devices/Virtio has its own style tests.</summary>
    private static IEnumerable<string> CoreFiles() =>
        Directory.EnumerateFiles(VmmSource, "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}")
                && !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}")
                && !f.Contains(Path.Combine("Devices", "Virtio")));

    private static string Relative(string f) => Path.GetRelativePath(VmmSource, f);

    [GeneratedRegex(@"\bunsafe\b|\bfixed\s*\(")]
    private static partial Regex UnsafeCode();

    [Fact]
    public void Every_unsafe_or_fixed_has_a_SAFETY_comment_just_above()
    {
        var missing = new List<string>();
        foreach (var file in CoreFiles())
        {
            var lines = File.ReadAllLines(file);
            for (var i = 0; i < lines.Length; i++)
            {
                var code = lines[i].Split("//")[0];
                if (code.TrimStart().StartsWith("///", StringComparison.Ordinal) || !UnsafeCode().IsMatch(code)) continue;
                if (!lines[Math.Max(0, i - 4)..(i + 1)].Any(l => l.Contains("// SAFETY:", StringComparison.Ordinal)))
                    missing.Add($"{Relative(file)}:{i + 1}: {lines[i].Trim()}");
            }
        }
        Assert.Empty(missing);
    }

    [Fact]
    public void Native_imports_live_only_in_Interop()
    {
        var offenders = CoreFiles()
            .Where(f => !Relative(f).StartsWith("Interop", StringComparison.Ordinal))
            .Where(f => File.ReadAllText(f).Contains("[LibraryImport", StringComparison.Ordinal) || File.ReadAllText(f).Contains("[DllImport", StringComparison.Ordinal))
            .Select(Relative);
        Assert.Empty(offenders);
    }

    [Fact]
    public void Nothing_above_the_hypervisor_layer_touches_kvm_run()
    {
        var offenders = CoreFiles()
            .Where(f => !Relative(f).StartsWith("Interop", StringComparison.Ordinal) && !Relative(f).StartsWith("Hypervisor", StringComparison.Ordinal))
            .Where(f => File.ReadAllText(f).Contains("kvm_run", StringComparison.Ordinal))
            .Select(Relative);
        Assert.Empty(offenders);
    }
}
