using System.Text;
using Domino.Config.Output;
using FsCheck;
using FsCheck.Fluent;
using Xunit;

namespace Domino.Config.Tests;

/// <summary>Whatever the input, the parser answers with diagnostics, never an exception.</summary>
public class FuzzTests
{
    private static readonly FsCheck.Config Runs = FsCheck.Config.QuickThrowOnFailure.WithMaxTest(500);

    private static bool Survives(string text, IReadOnlyList<string> extra)
    {
        var result = ConfigFile.Parse(text, "fuzz.cfg", extra);
        // The contract: a config exactly when there are no errors, and every diagnostic prints.
        if (result.HasErrors != (result.Config is null)) return false;
        foreach (var d in result.Diagnostics) _ = d.ToString();
        if (result.Config is { } c)
        {
            _ = XlFormatter.Format(c);
            _ = LibxlJson.Serialize(c, TestFiles.GoldenHost);
        }
        return true;
    }

    [Fact]
    public void Random_bytes_never_crash_the_parser()
    {
        var bytes = Gen.ArrayOf(Gen.Choose(0, 255).Select(b => (byte)b));
        Check.One(Runs, Prop.ForAll(Arb.From(bytes), data =>
            Survives(Encoding.UTF8.GetString(data), []) && Survives(Encoding.Latin1.GetString(data), [Encoding.UTF8.GetString(data)])));
    }

    // Fragments of real syntax recombined at random reach much deeper than uniform bytes.
    private static readonly string[] Fragments =
    [
        "name", "memory", "disk", "vif", "pci", "cpus", "vnuma", "type", "kernel", "on_crash", "viridian", "vfb", "serial",
        "=", "+=", " ", "\n", ";", ",", "[", "]", "\"", "'", "#", "\\", "0", "1", "-1", "0x", "999999999999999999999",
        "\"hvm\"", "\"pvh\"", "\"/k\"", "\"all\"", "\"0-3,^1\"", "\"nodes:\"", "\"vdev=xvda,target=\"", "\"mac=\"",
        "\"00:16:3e:00:00:01\"", "\"rate=1Gb/s@\"", "\"0000:00:00.*@\"", "\"pnode=0\"", "\"size=\"", "\"vcpus=0\"",
        "\u0000", "\u00ff", "\ud800", "\r\n", "\t",
    ];

    [Fact]
    public void Random_token_soup_never_crashes_the_parser()
    {
        var soup = Gen.ArrayOf(Gen.Elements(Fragments)).Select(parts => string.Concat(parts));
        Check.One(Runs, Prop.ForAll(Arb.From(soup), text => Survives(text, []) && Survives("name=\"g\"\n", [text])));
    }

    [Fact]
    public void Deeply_nested_lists_are_an_error_not_a_stack_overflow()
    {
        var result = ConfigFile.Parse("x = " + new string('[', 100_000), "deep.cfg", []);
        Assert.True(result.HasErrors);
        Assert.Contains(result.Diagnostics, d => d.Message.Contains("nested more than", StringComparison.Ordinal));
    }
}
