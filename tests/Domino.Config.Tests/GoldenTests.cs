using Domino.Config.Output;
using Xunit;

namespace Domino.Config.Tests;

/// <summary>
/// Each Golden/NAME.cfg has NAME.json — what Xen 4.17's `xl -N create NAME.cfg [NAME.args]` printed — or
/// NAME.diag, the diagnostics `domino config check` must print, line for line.
/// </summary>
public class GoldenTests
{
    public static IEnumerable<object[]> JsonCases => TestFiles.GoldenConfigs(".json");

    public static IEnumerable<object[]> DiagnosticCases => TestFiles.GoldenConfigs(".diag");

    [Theory]
    [MemberData(nameof(JsonCases))]
    public void Libxl_json_matches_what_xl_prints(string name)
    {
        var path = Path.Combine(TestFiles.Golden, name);
        var result = ConfigFile.Load(path, TestFiles.ArgsFor(path));

        Assert.False(result.HasErrors, string.Join("\n", result.Diagnostics));
        var expected = File.ReadAllText(Path.ChangeExtension(path, ".json"));
        Assert.Equal(expected, LibxlJson.Serialize(result.Config!, TestFiles.GoldenHost));
    }

    [Theory]
    [MemberData(nameof(DiagnosticCases))]
    public void Diagnostics_match_line_for_line(string name)
    {
        var path = Path.Combine(TestFiles.Golden, name);
        var result = ConfigFile.Load(path, TestFiles.ArgsFor(path));

        var expected = File.ReadAllLines(Path.ChangeExtension(path, ".diag"))
            .Select(l => l.Replace(name, path, StringComparison.Ordinal));
        Assert.Equal(expected, result.Diagnostics.Select(d => d.ToString()));
        Assert.True(result.HasErrors);
        Assert.Null(result.Config);
    }

    [Theory]
    [MemberData(nameof(JsonCases))]
    public void Libxl_json_reads_back_to_the_same_json(string name)
    {
        var json = File.ReadAllText(Path.Combine(TestFiles.Golden, Path.ChangeExtension(name, ".json")));

        var model = LibxlJson.Deserialize(json);

        Assert.Equal(json, LibxlJson.Serialize(model, TestFiles.GoldenHost));
    }

    [Theory]
    [MemberData(nameof(JsonCases))]
    public void Formatting_to_xl_and_parsing_again_gives_the_same_domain(string name)
    {
        var path = Path.Combine(TestFiles.Golden, name);
        var first = ConfigFile.Load(path, TestFiles.ArgsFor(path)).Config!;

        var text = XlFormatter.Format(first);
        var second = ConfigFile.Parse(text, "formatted.cfg", []);

        Assert.False(second.HasErrors, text + "\n" + string.Join("\n", second.Diagnostics));
        Assert.Equal(ModelSnapshot.Of(first), ModelSnapshot.Of(second.Config!));
        Assert.Equal(text, XlFormatter.Format(second.Config!));
    }
}
