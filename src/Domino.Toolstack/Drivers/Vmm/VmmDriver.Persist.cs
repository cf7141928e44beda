using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Domino.Toolstack.Api;
using Domino.Toolstack.Domains;
using Domino.Vmm;
using Domino.Vmm.Persist;

namespace Domino.Toolstack.Drivers.Vmm;

/// <summary>Save and restore through the domain's VMM process.</summary>
public sealed partial class VmmDriver
{
    public override async Task<PersistFigures> SaveAsync(GuestRef guest, string path, SavedDomain domain, IProgress<double>? progress, CancellationToken ct)
    {
        progress?.Report(0);
        var data = JsonSerializer.Serialize(domain, MigrationJson.Default.SavedDomain);
        var r = await RequestAsync(guest.Uuid, "save", ct, TimeSpan.FromMinutes(10), path, data).ConfigureAwait(false);
        if (!r.Ok) throw new ToolstackException(ErrorKind.Failed, $"save of domain '{guest.Name}' failed in its VMM: {r.Error}");
        progress?.Report(1);
        return JsonSerializer.Deserialize(r.Result ?? "{}", MigrationJson.Default.PersistFigures) ?? new PersistFigures();
    }

    public override Task<SavedDomain> ReadSavedAsync(string path, CancellationToken ct)
    {
        try
        {
            using var file = SnapshotFile.Open(path);
            VirtualMachine.CheckHost(file.State);
            file.VerifyMemory();
            if (file.State.Toolstack.Length == 0) throw new ToolstackException(ErrorKind.Invalid, $"{path}: a VMM state file without a domain record (not written by domino save)");
            var saved = JsonSerializer.Deserialize(Encoding.UTF8.GetString(file.State.Toolstack), MigrationJson.Default.SavedDomain)
                ?? throw new ToolstackException(ErrorKind.Invalid, $"{path}: empty domain record");
            return Task.FromResult(saved);
        }
        catch (SnapshotException e)
        {
            throw new ToolstackException(ErrorKind.Invalid, e.Message);
        }
    }

    public override async Task<(GuestStarted Started, PersistFigures Figures)> RestoreAsync(GuestRef guest, string path, bool paused, IProgress<double>? progress, CancellationToken ct)
    {
        var sw = Stopwatch.StartNew();
        long bytes, present, total;
        using (var file = SnapshotFile.Open(path))
        {
            bytes = file.Length;
            present = file.PresentPages;
            total = file.Regions.Sum(r => r.Pages);
        }
        var marker = VmmHostPersist.RestoreFile(store, guest.Uuid);
        Store.AtomicFile.Write(marker, path);
        try
        {
            progress?.Report(0.1);
            var started = await StartAsync(guest, paused, "{}", ct).ConfigureAwait(false);
            progress?.Report(1);
            return (started, new PersistFigures
            {
                Bytes = bytes,
                PagesWritten = present,
                PagesSkipped = total - present,
                Ms = sw.Elapsed.TotalMilliseconds,
                Detail = "VMM process started, memory mapped on demand",
            });
        }
        finally
        {
            TryDelete(marker);
        }
    }
}
