using System.Text.RegularExpressions;
using Xunit;

namespace Domino.Vmm.Tests.Virtio;

/// <summary>Style rules for the virtio devices, checked like any other behaviour.</summary>
public sealed partial class VirtioStyleTests
{
    private static string VirtioSourceDirectory()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "src", "Domino.Vmm", "Devices", "Virtio");
            if (Directory.Exists(candidate)) return candidate;
        }
        throw new DirectoryNotFoundException("src/Domino.Vmm/Devices/Virtio not found above the test output directory");
    }

    [GeneratedRegex(@"\bunsafe\b")]
    private static partial Regex UnsafeKeyword();

    [Fact]
    public void Every_unsafe_block_has_a_SAFETY_comment()
    {
        var missing = new List<string>();
        foreach (var file in Directory.EnumerateFiles(VirtioSourceDirectory(), "*.cs", SearchOption.AllDirectories))
        {
            var lines = File.ReadAllLines(file);
            for (var i = 0; i < lines.Length; i++)
            {
                var code = lines[i].Split("//")[0];
                if (!UnsafeKeyword().IsMatch(code) || code.TrimStart().StartsWith("///", StringComparison.Ordinal)) continue;
                var window = lines[Math.Max(0, i - 4)..i];
                if (!window.Any(l => l.Contains("// SAFETY:", StringComparison.Ordinal)))
                    missing.Add($"{Path.GetRelativePath(VirtioSourceDirectory(), file)}:{i + 1}");
            }
        }
        Assert.Empty(missing);
    }

    [Fact]
    public void Every_device_folder_has_a_device_and_a_config_file()
    {
        foreach (var folder in Directory.EnumerateDirectories(VirtioSourceDirectory()).Where(d => Path.GetFileName(d) != "Queue"))
        {
            var name = Path.GetFileName(folder);
            Assert.True(File.Exists(Path.Combine(folder, $"{name}Device.cs")), $"{name}/{name}Device.cs missing");
            Assert.True(File.Exists(Path.Combine(folder, $"{name}Config.cs")), $"{name}/{name}Config.cs missing");
        }
    }
}
