using System.Text.Json.Serialization;
using Domino.Toolstack.Domains;

namespace Domino.Toolstack.Scheduling;

/// <summary>The schedulers a CPU pool can run, by their xl names.</summary>
public enum SchedulerKind
{
    [JsonStringEnumMemberName("credit")] Credit,
    [JsonStringEnumMemberName("credit2")] Credit2,
    [JsonStringEnumMemberName("rtds")] Rtds,
    [JsonStringEnumMemberName("arinc653")] Arinc653,
}

public static class SchedulerKinds
{
    public static string Word(this SchedulerKind kind) => kind switch
    {
        SchedulerKind.Credit => "credit",
        SchedulerKind.Credit2 => "credit2",
        SchedulerKind.Rtds => "rtds",
        _ => "arinc653",
    };

    public static SchedulerKind Parse(string word) => word.Trim().ToLowerInvariant() switch
    {
        "credit" => SchedulerKind.Credit,
        "credit2" => SchedulerKind.Credit2,
        "rtds" => SchedulerKind.Rtds,
        "arinc653" => SchedulerKind.Arinc653,
        _ => throw new ToolstackException(ErrorKind.Invalid, $"unknown scheduler '{word}' (expected credit, credit2, rtds or arinc653)"),
    };

    /// <summary>The command that sets this scheduler's parameters.</summary>
    public static string Command(this SchedulerKind kind) => "sched-" + kind.Word();

    /// <summary>Weight and cap (credit, credit2) map onto CFS groups; the others use real-time policies.</summary>
    public static bool IsProportional(this SchedulerKind kind) => kind is SchedulerKind.Credit or SchedulerKind.Credit2;
}
