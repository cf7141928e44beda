using Domino.Config.Model;
using Domino.Config.Output;
using Xunit;

namespace Domino.Config.Tests;

/// <summary>The configurations shipped in examples/ are documentation: each must pass `domino config check` cleanly.</summary>
public class ExampleTests
{
    public static IEnumerable<object[]> Examples =>
        Directory.GetFiles(TestFiles.Examples, "*.cfg").Order(StringComparer.Ordinal).Select(f => new object[] { Path.GetFileName(f) });

    [Fact]
    public void There_are_examples()
    {
        Assert.True(Examples.Count() >= 4, "examples/*.cfg were not copied next to the tests");
    }

    [Theory]
    [MemberData(nameof(Examples))]
    public void Example_has_no_errors_or_warnings(string name)
    {
        var result = ConfigFile.Load(Path.Combine(TestFiles.Examples, name), []);
        Assert.Empty(result.Diagnostics);
        Assert.NotNull(result.Config);
    }

    [Theory]
    [MemberData(nameof(Examples))]
    public void Example_survives_both_output_formats(string name)
    {
        var config = ConfigFile.Load(Path.Combine(TestFiles.Examples, name), []).Config!;
        var again = ConfigFile.Parse(XlFormatter.Format(config), name, []).Config!;
        Assert.Equal(ModelSnapshot.Of(config), ModelSnapshot.Of(again));
        config.Uuid ??= Guid.Empty;
        var json = LibxlJson.Serialize(config, TestFiles.GoldenHost);
        Assert.Equal(json, LibxlJson.Serialize(LibxlJson.Deserialize(json), TestFiles.GoldenHost));
    }

    [Fact]
    public void Hello_is_the_minimal_pvh_guest()
    {
        var c = ConfigFile.Load(Path.Combine(TestFiles.Examples, "hello.cfg"), []).Config!;
        Assert.Equal(("hello", DomainType.Pvh, "guests/build/hello.elf", 64L), (c.Name, c.Type, c.Kernel, c.MemoryMb));
    }
}
