using System.CommandLine;
using Domino.Cli.Commands;

namespace Domino.Cli.Tests;

/// <summary>
/// A clean run is parsed without RootCommand's help and version options (building them is a third of
/// the start-up); help, version, directives and errors are parsed under a full RootCommand, so what
/// they print is the library's own.
/// </summary>
public sealed class CommandLineRootTests
{
    private static ParseResult Parse(params string[] args) =>
        CommandLineRoot.Parse(args, "domino", "test", root =>
        {
            foreach (var command in CommandTable.For(args.Length > 0 ? args[0] : null)) root.Subcommands.Add(command);
        });

    [Theory]
    [InlineData("list")]
    [InlineData("list", "-l")]
    [InlineData("create", "-n", "x.cfg", "memory=64")]
    [InlineData("vcpu-pin", "dom", "0", "1")]
    public void A_clean_run_goes_without_the_built_in_options(params string[] args)
    {
        var result = Parse(args);
        Assert.Empty(result.Errors);
        Assert.IsNotType<RootCommand>(result.RootCommandResult.Command);
        Assert.Equal(args[0], result.CommandResult.Command.Name);
    }

    [Theory]
    [InlineData("--help")]
    [InlineData("list", "-h")]
    [InlineData("create", "-?")]
    [InlineData("--version")]
    [InlineData("[suggest]", "li")]
    public void Help_version_and_directives_get_the_full_root(params string[] args)
    {
        var result = Parse(args);
        Assert.IsType<RootCommand>(result.RootCommandResult.Command);
        Assert.Empty(result.Errors);
    }

    [Theory]
    [InlineData("bogus")]
    [InlineData("info", "--no-such-option")]
    [InlineData("vcpu-pin")]
    public void An_error_is_reported_under_the_full_root_so_help_follows_it(params string[] args)
    {
        var result = Parse(args);
        Assert.IsType<RootCommand>(result.RootCommandResult.Command);
        Assert.NotEmpty(result.Errors);
    }

    [Fact]
    public void Help_output_is_the_librarys_for_a_run_that_asks_for_it()
    {
        var output = new StringWriter();
        var result = Parse("--help");
        result.InvocationConfiguration.Output = output;
        Assert.Equal(0, result.Invoke());
        Assert.Contains("Usage:", output.ToString(), StringComparison.Ordinal);
        Assert.Contains("list", output.ToString(), StringComparison.Ordinal);
    }
}
