namespace Domino.Vmm.Tests;

/// <summary>The two forms of the foreground VMM: the CLI's <c>domino vmm</c> and the native <c>domino-vmm</c>.</summary>
public enum VmmProgram { Cli, Native }
