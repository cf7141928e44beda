namespace Domino.Vmm.Boot;

/// <summary>A kernel or ramdisk file Domino cannot boot; the message names the file and what was expected.</summary>
public sealed class KernelFormatException(string message) : Exception(message);
