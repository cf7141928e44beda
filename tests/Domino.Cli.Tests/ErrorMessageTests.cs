using System.Text;
using Domino.Cli.Client;

namespace Domino.Cli.Tests;

/// <summary>How the CLI tells the daemon's error answers (<c>{"error": ..., "code": ...}</c>) from other JSON.</summary>
public sealed class ErrorMessageTests
{
    private static string? Message(string json) => DaemonClient.ErrorMessage(Encoding.UTF8.GetBytes(json));

    [Fact]
    public void An_error_answer_gives_its_message_in_any_property_order_and_escaping()
    {
        Assert.Equal("domain 'web' is running", Message("""{"error":"domain 'web' is running","code":"conflict"}"""));
        Assert.Equal("no such domain \"x\"", Message("""{"code":"not-found","detail":{"a":[1,{"error":"inner"}]},"error":"no such domain \u0022x\u0022"}"""));
        Assert.Equal("é", Message("""{"\u0065rror":"\u00e9"}"""));
    }

    [Fact]
    public void Other_json_is_not_an_error()
    {
        // A create -c answer: the new domain, whose nested objects may hold an "error" of their own.
        Assert.Null(Message("""{"name":"web","domid":3,"state":"running","last":{"error":"earlier crash"}}"""));
        Assert.Null(Message("""{"error":42}"""));
        Assert.Null(Message("""["error","x"]"""));
        Assert.Null(Message("\"error\""));
        Assert.Null(Message("{\"error\":"));
        Assert.Null(Message("not json"));
        Assert.Null(Message(""));
    }
}
