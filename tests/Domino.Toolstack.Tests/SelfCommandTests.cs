using Domino.Toolstack.Domains;
using Xunit;

namespace Domino.Toolstack.Tests;

/// <summary>How the daemon chooses the program that runs its VMM processes (DOMINO_VMM_HOST).</summary>
public sealed class SelfCommandTests
{
    [Fact]
    public void Self_is_this_program()
    {
        Assert.Equal(SelfCommand.Current().CommandLine(), SelfCommand.VmmHost("self").CommandLine());
    }

    [Fact]
    public void A_path_that_exists_is_used_as_given()
    {
        var program = Path.GetTempFileName();
        try
        {
            var host = SelfCommand.VmmHost(program);
            Assert.Equal(Path.GetFullPath(program), host.FileName);
            Assert.Empty(host.Prefix);
            Assert.Equal([program, "vmm-host", "--spare"], host.CommandLine("vmm-host", "--spare"));
        }
        finally { File.Delete(program); }
    }

    [Fact]
    public void A_path_that_does_not_exist_is_refused_naming_the_variable_and_the_fix()
    {
        var e = Assert.Throws<ToolstackException>(() => SelfCommand.VmmHost("/nonexistent/domino-vmm"));
        Assert.Equal(ErrorKind.Invalid, e.Kind);
        Assert.Equal("DOMINO_VMM_HOST=/nonexistent/domino-vmm: no such file (give the path of a domino-vmm executable, or 'self')", e.Message);
    }

    [Fact]
    public void Unset_it_is_the_domino_vmm_beside_this_program_or_else_this_program()
    {
        var self = SelfCommand.Current();
        var beside = Path.Combine(Path.GetDirectoryName(self.Prefix.Count > 0 ? self.Prefix[0] : self.FileName)!, "domino-vmm");
        var expected = File.Exists(beside) ? new SelfCommand(beside, []) : self;
        Assert.Equal(expected.CommandLine(), SelfCommand.VmmHost(null).CommandLine());
        Assert.Equal(expected.CommandLine(), SelfCommand.VmmHost("").CommandLine());
    }
}
