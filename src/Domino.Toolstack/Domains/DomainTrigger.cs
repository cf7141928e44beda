namespace Domino.Toolstack.Domains;

/// <summary>What <c>xl trigger</c> can send a domain (libxl_trigger).</summary>
public enum DomainTrigger
{
    /// <summary>Press the power button: the guest decides what to do (usually an orderly power-off).</summary>
    Power,
    /// <summary>Pull the reset line: the guest is not asked; the domain ends as a reboot (on_reboot).</summary>
    Reset,
    /// <summary>A non-maskable interrupt to one vCPU.</summary>
    Nmi,
    /// <summary>An INIT IPI to one vCPU.</summary>
    Init,
    /// <summary>Press the sleep button.</summary>
    Sleep,
    /// <summary>Wake the guest from ACPI S3.</summary>
    S3Resume,
}

public static class DomainTriggers
{
    /// <summary>The names xl(1) accepts, in its order.</summary>
    public static readonly IReadOnlyList<string> Names = ["nmi", "reset", "init", "power", "sleep", "s3resume"];

    public static string Word(this DomainTrigger trigger) => trigger switch
    {
        DomainTrigger.Power => "power",
        DomainTrigger.Reset => "reset",
        DomainTrigger.Nmi => "nmi",
        DomainTrigger.Init => "init",
        DomainTrigger.Sleep => "sleep",
        _ => "s3resume",
    };

    /// <summary>Reads xl's trigger name; an unknown one is refused with the names that exist.</summary>
    public static DomainTrigger Parse(string? word) => word switch
    {
        "power" => DomainTrigger.Power,
        "reset" => DomainTrigger.Reset,
        "nmi" => DomainTrigger.Nmi,
        "init" => DomainTrigger.Init,
        "sleep" => DomainTrigger.Sleep,
        "s3resume" => DomainTrigger.S3Resume,
        _ => throw new ToolstackException(ErrorKind.Invalid,
            $"unknown trigger '{word}' (expected {string.Join(", ", Names.Take(Names.Count - 1))} or {Names[^1]})"),
    };
}
