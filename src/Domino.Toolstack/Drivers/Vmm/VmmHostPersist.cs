using System.Text;
using System.Text.Json;
using Domino.Toolstack.Api;
using Domino.Toolstack.Store;
using Domino.Vmm;
using Domino.Vmm.Persist;

namespace Domino.Toolstack.Drivers.Vmm;

/// <summary>The VMM process's side of save and restore.</summary>
internal static class VmmHostPersist
{
    /// <summary><c>vmm/UUID.restore</c>: the state file a VMM process restores its guest from instead of booting.</summary>
    public static string RestoreFile(StateStore store, Guid uuid) => Path.Combine(store.VmmDir, $"{uuid}.restore");

    /// <summary>Boots <paramref name="config"/>, or — when the daemon asked for a restore — rebuilds the saved guest with this process's console streams.</summary>
    public static VirtualMachine BuildOrRestore(StateStore store, Guid uuid, VmConfig config)
    {
        var marker = RestoreFile(store, uuid);
        if (!File.Exists(marker)) return VirtualMachine.Build(config);
        var path = File.ReadAllText(marker).Trim();
        var vm = VirtualMachine.RestoreFromFile(path, new RestoreOptions
        {
            ConsoleOutput = config.ConsoleOutput,
            ConsoleInput = config.ConsoleInput,
            Log = config.Log,
            // The file was checked whole by the daemon just before; map memory on demand.
            VerifyMemory = false,
        }, out var report);
        config.Log?.Invoke($"restored from {path}: {report}");
        return vm;
    }

    /// <summary>The "save" request: the daemon has paused the guest; writes the state file with the domain record inside.</summary>
    public static string Save(VirtualMachine vm, VmmRequest request)
    {
        var path = request.Path ?? throw new InvalidOperationException("save needs a path");
        try
        {
            var report = vm.SaveToFile(path, null, Encoding.UTF8.GetBytes(request.Data ?? ""));
            return JsonSerializer.Serialize(Figures(report), MigrationJson.Default.PersistFigures);
        }
        catch (Exception e) when (e is SnapshotException or Domino.Vmm.Interop.KvmException or UnauthorizedAccessException)
        {
            throw new IOException(e.Message, e);
        }
    }

    public static PersistFigures Figures(PersistReport r) => new()
    {
        Bytes = r.Bytes,
        PagesWritten = r.PagesWritten,
        PagesSkipped = r.PagesSkipped,
        Ms = r.Elapsed.TotalMilliseconds,
        Detail = r.Detail,
    };
}
