[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
[assembly: System.Runtime.CompilerServices.InternalsVisibleTo("Domino.Cli.Tests")]
