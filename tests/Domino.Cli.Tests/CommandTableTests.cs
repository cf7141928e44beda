using Domino.Cli.Commands;

namespace Domino.Cli.Tests;

/// <summary>
/// The start path builds only the command being run, looked up by the table's names; these tests
/// keep the names and the commands the factories build in step.
/// </summary>
public sealed class CommandTableTests
{
    [Fact]
    public void Names_are_exactly_the_built_commands_in_help_order()
    {
        Assert.Equal(CommandTable.All().Select(c => c.Name), CommandTable.Names);
    }

    [Fact]
    public void Names_are_unique()
    {
        var names = CommandTable.Names.ToList();
        Assert.Equal(names.Count, names.Distinct(StringComparer.Ordinal).Count());
    }

    [Theory]
    [InlineData("list")]
    [InlineData("events")]
    [InlineData("cpupool-numa-split")]
    [InlineData("sched-arinc653")]
    [InlineData("vmm")]
    [InlineData("remus")]
    public void A_known_name_builds_only_that_command(string name)
    {
        var built = CommandTable.For(name).ToList();
        Assert.Equal(name, Assert.Single(built).Name);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("--help")]
    [InlineData("--version")]
    [InlineData("lst")]
    public void Anything_else_builds_the_whole_tree(string? first)
    {
        Assert.Equal(CommandTable.Names, CommandTable.For(first).Select(c => c.Name));
    }
}
