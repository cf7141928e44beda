using System.Text.Json;
using Domino.Toolstack.Api;

namespace Domino.Toolstack.Store;

/// <summary>
/// The daemon's state directory. Layout:
/// <code>
/// daemon.lock              held (flock) by the running daemon
/// domains/UUID/config.json the domain's config as libxl JSON
/// domains/UUID/record.json its runtime record (<see cref="DomainRecord"/>)
/// vmm/UUID.sock            control socket of the domain's VMM process
/// vmm/UUID.pid, UUID.exit  written by the VMM process: its pid before it runs the guest, how the guest ended
/// dumps/                   core files from coredump-* actions
/// logs/                    daemon.log, one log per VMM process
/// </code>
/// Every file is replaced atomically, so a crash at any moment leaves the old or the new version.
/// </summary>
public sealed class StateStore
{
    public StateStore(string root)
    {
        Root = Path.GetFullPath(root);
        foreach (var d in new[] { Root, DomainsDir, VmmDir, DumpsDir, LogsDir }) Directory.CreateDirectory(d);
    }

    public string Root { get; }
    public string DomainsDir => Path.Combine(Root, "domains");
    public string VmmDir => Path.Combine(Root, "vmm");
    public string DumpsDir => Path.Combine(Root, "dumps");
    public string LogsDir => Path.Combine(Root, "logs");

    public string DomainDir(Guid uuid) => Path.Combine(DomainsDir, uuid.ToString());
    public string VmmSocket(Guid uuid) => Path.Combine(VmmDir, $"{uuid}.sock");
    public string VmmPidFile(Guid uuid) => Path.Combine(VmmDir, $"{uuid}.pid");
    public string VmmExitFile(Guid uuid) => Path.Combine(VmmDir, $"{uuid}.exit");
    public string VmmLog(Guid uuid) => Path.Combine(LogsDir, $"vmm-{uuid}.log");

    public void Save(DomainRecord record, string? configJson)
    {
        var dir = DomainDir(record.Uuid);
        Directory.CreateDirectory(dir);
        if (configJson is not null) AtomicFile.Write(Path.Combine(dir, "config.json"), configJson);
        AtomicFile.Write(Path.Combine(dir, "record.json"), JsonSerializer.SerializeToUtf8Bytes(record, ToolstackJson.Default.DomainRecord));
    }

    public void Delete(Guid uuid)
    {
        var dir = DomainDir(uuid);
        // Remove the record first: a crash half-way leaves a directory without a record, which Load ignores.
        try { File.Delete(Path.Combine(dir, "record.json")); } catch (IOException) { }
        try { Directory.Delete(dir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        foreach (var f in new[] { VmmPidFile(uuid), VmmExitFile(uuid), VmmSocket(uuid) })
            try { File.Delete(f); } catch (IOException) { }
    }

    /// <summary>Every stored domain with its config; unreadable records are reported, not fatal.</summary>
    public IReadOnlyList<(DomainRecord Record, string ConfigJson)> LoadAll(Action<string>? warn = null)
    {
        var result = new List<(DomainRecord, string)>();
        foreach (var dir in Directory.EnumerateDirectories(DomainsDir))
        {
            var recordPath = Path.Combine(dir, "record.json");
            if (!File.Exists(recordPath)) { TryDeleteDir(dir); continue; }
            try
            {
                var record = JsonSerializer.Deserialize(File.ReadAllBytes(recordPath), ToolstackJson.Default.DomainRecord)
                    ?? throw new JsonException("empty record");
                var configPath = Path.Combine(dir, "config.json");
                var config = File.Exists(configPath) ? File.ReadAllText(configPath) : "{}";
                result.Add((record, config));
            }
            catch (Exception e) when (e is JsonException or IOException)
            {
                warn?.Invoke($"{recordPath}: unreadable domain record ({e.Message}); left in place");
            }
        }
        return result;
    }

    private static void TryDeleteDir(string dir)
    {
        try { Directory.Delete(dir, recursive: true); } catch (IOException) { }
    }
}
