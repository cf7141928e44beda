using System.CommandLine;
using Domino.Toolstack.Images;

namespace Domino.Cli.Commands;

/// <summary><c>domino initramfs create --from DIR OUT</c>: packs a directory tree as a Linux initramfs (newc cpio).</summary>
internal static class InitramfsCommand
{
    public static Command Create()
    {
        var from = new Option<DirectoryInfo>("--from") { Description = "Directory whose contents become the initramfs root", Required = true };
        var gzip = new Option<bool>("--gzip") { Description = "Compress the archive with gzip" };
        var nodes = new Option<string[]>("--mknod")
        {
            Description = "Add a device node PATH:c|b:MAJOR:MINOR (repeatable), e.g. dev/console:c:5:1",
            AllowMultipleArgumentsPerToken = false,
        };
        var output = new Argument<FileInfo>("output") { Description = "The initramfs file to write" };
        var create = new Command("create", "Write a directory tree as a newc cpio archive, owned by root, mtime 0") { from, gzip, nodes, output };
        create.SetAction(parse =>
        {
            try
            {
                var devices = (parse.GetValue(nodes) ?? []).Select(Initramfs.DeviceNode.Parse).ToList();
                var path = parse.GetValue(output)!.FullName;
                var length = Initramfs.Create(parse.GetValue(from)!.FullName, path, parse.GetValue(gzip), devices);
                Console.Error.WriteLine($"domino: wrote {path} ({length} bytes of cpio{(parse.GetValue(gzip) ? ", gzip" : "")})");
                return 0;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or FormatException)
            {
                Console.Error.WriteLine($"domino: initramfs: {e.Message}");
                return 1;
            }
        });
        return new Command("initramfs", "Build Linux initramfs images") { create };
    }
}
