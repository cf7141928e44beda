using Xunit;

namespace Domino.Cli.Tests;

/// <summary>Gate for tests that need /dev/kvm: a loud skip, or a failure when DOMINO_REQUIRE_KVM=1 (CI).</summary>
public static class Kvm
{
    public static void Require()
    {
        var usable = File.Exists("/dev/kvm") && CanOpen();
        if (Environment.GetEnvironmentVariable("DOMINO_REQUIRE_KVM") == "1")
            Assert.True(usable, "NO /dev/kvm: this test needs KVM and DOMINO_REQUIRE_KVM=1 says it must run");
        Skip.If(!usable, "NO /dev/kvm: KVM tests skipped (set DOMINO_REQUIRE_KVM=1 to make this a failure)");
    }

    private static bool CanOpen()
    {
        try
        {
            using var f = new FileStream("/dev/kvm", FileMode.Open, FileAccess.ReadWrite);
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return false; }
    }

    /// <summary>A guest kit ELF, built by the repository's guests/Makefile (scripts/setup runs it).</summary>
    public static string Guest(string name)
    {
        var dir = AppContext.BaseDirectory;
        while (dir is not null && !File.Exists(Path.Combine(dir, "Domino.slnx"))) dir = Path.GetDirectoryName(dir);
        var path = Path.Combine(dir ?? ".", "guests", "build", $"{name}.elf");
        Assert.True(File.Exists(path), $"{path} is missing: run make -C guests");
        return path;
    }
}
