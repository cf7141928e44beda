using Domino.Config.Output;
using FsCheck;
using FsCheck.Fluent;
using Xunit;

namespace Domino.Config.Tests;

/// <summary>Round trips that must hold for any valid domain, checked on random models with FsCheck.</summary>
public class PropertyTests
{
    private static readonly FsCheck.Config Runs = FsCheck.Config.QuickThrowOnFailure.WithMaxTest(300);

    private static Arbitrary<int> Seeds => Arb.From(Gen.Choose(0, int.MaxValue));

    [Fact]
    public void Xl_format_then_parse_gives_the_same_model()
    {
        Check.One(Runs, Prop.ForAll(Seeds, seed =>
        {
            var model = ModelGenerator.Create(seed);
            var text = XlFormatter.Format(model);
            var parsed = ConfigFile.Parse(text, "random.cfg", []);
            if (parsed.HasErrors)
                throw new InvalidOperationException($"seed {seed}:\n{text}\n{string.Join("\n", parsed.Diagnostics)}");
            return ModelSnapshot.Of(model) == ModelSnapshot.Of(parsed.Config!);
        }));
    }

    [Fact]
    public void Libxl_json_write_read_write_is_stable()
    {
        Check.One(Runs, Prop.ForAll(Seeds, seed =>
        {
            var model = ModelGenerator.Create(seed);
            model.Uuid ??= Guid.Parse("00000000-0000-4000-8000-000000000000");
            var json = LibxlJson.Serialize(model, TestFiles.GoldenHost);
            var again = LibxlJson.Serialize(LibxlJson.Deserialize(json), TestFiles.GoldenHost);
            if (json != again) throw new InvalidOperationException($"seed {seed}:\n{json}\n--- read back as ---\n{again}");
            return true;
        }));
    }

    [Fact]
    public void A_uuid_is_generated_when_none_is_given()
    {
        var model = ConfigFile.Parse("name=\"g\"\nkernel=\"/k\"\n", "g.cfg", []).Config!;
        var first = System.Text.Json.JsonDocument.Parse(LibxlJson.Serialize(model)).RootElement.GetProperty("c_info").GetProperty("uuid").GetString();
        var second = System.Text.Json.JsonDocument.Parse(LibxlJson.Serialize(model)).RootElement.GetProperty("c_info").GetProperty("uuid").GetString();
        Assert.True(Guid.TryParseExact(first, "D", out _));
        Assert.NotEqual(first, second);
    }
}
