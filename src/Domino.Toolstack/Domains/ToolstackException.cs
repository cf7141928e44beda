namespace Domino.Toolstack.Domains;

/// <summary>Why a request failed, in terms a front end maps to its own codes (HTTP status, exit code).</summary>
public enum ErrorKind
{
    Invalid,
    NotFound,
    Conflict,
    InvalidState,
    Unsupported,
    Forbidden,
    Busy,
    Failed,
}

/// <summary>An error that names the thing, the place and, where there is one, the fix.</summary>
public class ToolstackException(ErrorKind kind, string message, Exception? inner = null) : Exception(message, inner)
{
    public ErrorKind Kind { get; } = kind;

    public static ToolstackException NotFound(string id) =>
        new(ErrorKind.NotFound, $"domain '{id}' does not exist");

    public static ToolstackException DuplicateName(string name) =>
        new(ErrorKind.Conflict, $"domain '{name}' already exists (pick another name or destroy it first)");

    public static ToolstackException WrongState(string operation, string name, DomainState state) =>
        new(ErrorKind.InvalidState, $"cannot {operation} domain '{name}' (state: {state.Word()})");

    public static ToolstackException Unsupported(string operation, string driver) =>
        new(ErrorKind.Unsupported, $"{operation} is not supported by the {driver} driver");
}

/// <summary>
/// A migration whose target was told to start the domain (or may have been) and never confirmed:
/// the domain may run there. The source keeps it paused and never resumes it on its own.
/// </summary>
public sealed class HandoverOutcomeUnknownException(string message, Exception? inner = null) : ToolstackException(ErrorKind.Failed, message, inner);
