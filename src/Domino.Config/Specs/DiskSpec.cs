using Domino.Config.Model;

namespace Domino.Config.Specs;

/// <summary>The <c>disk=[ "..." ]</c> grammar of xl-disk-configuration(5).</summary>
internal static class DiskSpec
{
    public const string Syntax = """
        disk = [ "SPEC", ... ] where SPEC is comma-separated (xl-disk-configuration(5)):
          positional:  [TARGET[,FORMAT[,VDEV[,ACCESS]]]]     e.g. "/img/a.raw,raw,xvda,rw"
          keywords:    target=PATH (must come last: it takes the rest of the string, commas included)
                       format=raw|qcow|qcow2|vhd|qed|empty   vdev=xvda|hda|sda...  (required)
                       access=rw|w|ro|r   devtype=cdrom|disk   backendtype=phy|tap|qdisk|standalone
                       backend=DOMAIN   script=SCRIPT   specification=xen|virtio
                       colo-host=H colo-port=P colo-export=E active-disk=F hidden-disk=F
          flags:       cdrom  direct-io-safe  discard  no-discard  trusted  untrusted  colo
          legacy:      TARGET may carry a prefix: phy: file: aio: tap: tap2: raw: qcow: qcow2: vhd: qed:
                       (then the second positional field is VDEV); "VDEV:cdrom" marks a CD-ROM.
        """;

    private static readonly string[] Formats = ["raw", "qcow", "qcow2", "vhd", "qed", "empty"];
    private static readonly string[] LegacyPrefixes = ["phy", "file", "aio", "tap", "tap2", "raw", "qcow", "qcow2", "vhd", "qed"];

    public static DiskConfig? Parse(SpecSource source)
    {
        var text = source.Text;
        var errors = source.Diagnostics.Items.Count(d => d.IsError);
        string? target = null;
        DiskFormat? format = null;
        string? vdev = null;
        DiskAccess? access = null;
        var devtype = DiskDeviceType.Disk;
        var disk = new DiskConfig();
        string? legacy = null;
        var positional = 0;

        foreach (var token in SpecTokenizer.Split(text, "target"))
        {
            if (token.Key is null)
            {
                switch (token.Value)
                {
                    case "cdrom": devtype = DiskDeviceType.Cdrom; continue;
                    case "direct-io-safe": disk = disk with { DirectIoSafe = true }; continue;
                    case "discard": disk = disk with { Discard = true }; continue;
                    case "no-discard": disk = disk with { Discard = false }; continue;
                    case "trusted": disk = disk with { Trusted = true }; continue;
                    case "untrusted": disk = disk with { Trusted = false }; continue;
                    case "colo": disk = disk with { Colo = true }; continue;
                }
                // Positional fields fill target, format, vdev, access in order; a legacy prefix on
                // the target means the format was given there, so the next field is the vdev.
                positional++;
                if (target is null)
                {
                    target = StripLegacyPrefixes(token.Value, ref format, ref legacy);
                }
                else if (format is null && legacy is null && positional == 2)
                {
                    if (token.Value.Length > 0) format = ParseFormat(source, token.ValueOffset, token.Value);
                    else format = null;
                }
                else if (vdev is null)
                {
                    vdev = ParseVdev(token.Value, ref devtype);
                }
                else if (access is null)
                {
                    access = ParseAccess(source, token.ValueOffset, token.Value);
                }
                else
                {
                    source.Error(token.Offset, $"too many positional fields in disk spec: '{token.Value}' (the order is TARGET,FORMAT,VDEV,ACCESS; use key=value for the rest)");
                }
                continue;
            }

            var value = token.Value;
            switch (token.Key)
            {
                case "target":
                    if (target is not null)
                        source.Error(token.Offset, $"disk target given twice (already '{target}'); target= must be the last field");
                    target = value;
                    break;
                case "format": format = ParseFormat(source, token.ValueOffset, value); break;
                case "vdev": vdev = value; break;
                case "access": access = ParseAccess(source, token.ValueOffset, value); break;
                case "devtype":
                    if (value == "cdrom") devtype = DiskDeviceType.Cdrom;
                    else if (value == "disk") devtype = DiskDeviceType.Disk;
                    else source.Error(token.ValueOffset, $"unknown devtype '{value}' in disk spec (expected cdrom or disk)");
                    break;
                case "backendtype":
                    DiskBackendType? backendType = value switch
                    {
                        "phy" => DiskBackendType.Phy,
                        "tap" => DiskBackendType.Tap,
                        "qdisk" => DiskBackendType.Qdisk,
                        "standalone" => DiskBackendType.Standalone,
                        _ => null,
                    };
                    if (backendType is null) source.Error(token.ValueOffset, $"unknown backendtype '{value}' in disk spec (expected phy, tap, qdisk, standalone)");
                    disk = disk with { BackendType = backendType };
                    break;
                case "backend": disk = disk with { Backend = value }; break;
                case "script": disk = disk with { Script = value }; break;
                case "specification":
                    if (value is not ("xen" or "virtio")) source.Error(token.ValueOffset, $"unknown specification '{value}' in disk spec (expected xen or virtio)");
                    else disk = disk with { Specification = value };
                    break;
                case "colo-host": disk = disk with { ColoHost = value }; break;
                case "colo-port":
                    if (SpecTokenizer.TryParseInt(value, out var port) && port is > 0 and <= 65535) disk = disk with { ColoPort = port };
                    else source.Error(token.ValueOffset, $"colo-port '{value}' in disk spec is not a TCP port (expected 1-65535)");
                    break;
                case "colo-export": disk = disk with { ColoExport = value }; break;
                case "active-disk": disk = disk with { ActiveDisk = value }; break;
                case "hidden-disk": disk = disk with { HiddenDisk = value }; break;
                default:
                    source.Error(token.Offset, $"unknown disk parameter '{token.Key}' (expected target, format, vdev, access, devtype, backendtype, backend, script, specification, colo-host, colo-port, colo-export, active-disk, hidden-disk)");
                    break;
            }
        }

        if (string.IsNullOrEmpty(vdev))
            source.Error(0, $"disk spec '{text}' has no vdev (add e.g. vdev=xvda, or TARGET,FORMAT,VDEV positionally)");

        if (source.Diagnostics.Items.Count(d => d.IsError) != errors) return null;

        target ??= "";
        // xl: a CD-ROM is read-only, and an empty target means an empty (ejected) drive.
        return disk with
        {
            Target = target,
            Format = target.Length == 0 ? DiskFormat.Empty : format ?? DiskFormat.Raw,
            Vdev = vdev!,
            Access = devtype == DiskDeviceType.Cdrom ? DiskAccess.ReadOnly : access ?? DiskAccess.ReadWrite,
            DeviceType = devtype,
        };
    }

    private static string StripLegacyPrefixes(string target, ref DiskFormat? format, ref string? legacy)
    {
        var prefix = "";
        while (true)
        {
            var colon = target.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0) break;
            var word = target[..colon];
            if (!LegacyPrefixes.Contains(word)) break;
            prefix += word + ":";
            format = word switch
            {
                "qcow" => DiskFormat.Qcow,
                "qcow2" => DiskFormat.Qcow2,
                "vhd" => DiskFormat.Vhd,
                "qed" => DiskFormat.Qed,
                _ => format ?? DiskFormat.Raw,
            };
            target = target[(colon + 1)..];
        }
        if (prefix.Length > 0) legacy = prefix;
        return target;
    }

    private static string ParseVdev(string value, ref DiskDeviceType devtype)
    {
        var colon = value.IndexOf(':', StringComparison.Ordinal);
        if (colon < 0) return value;
        if (value[(colon + 1)..] == "cdrom") devtype = DiskDeviceType.Cdrom;
        return value[..colon];
    }

    private static DiskFormat? ParseFormat(SpecSource source, int offset, string value)
    {
        switch (value)
        {
            case "raw": return DiskFormat.Raw;
            case "qcow": return DiskFormat.Qcow;
            case "qcow2": return DiskFormat.Qcow2;
            case "vhd": return DiskFormat.Vhd;
            case "qed": return DiskFormat.Qed;
            case "empty": return DiskFormat.Empty;
            default:
                source.Error(offset, $"unknown disk format '{value}' (expected {string.Join(", ", Formats)}; positional fields are TARGET,FORMAT,VDEV,ACCESS)");
                return null;
        }
    }

    private static DiskAccess? ParseAccess(SpecSource source, int offset, string value)
    {
        switch (value)
        {
            case "rw" or "w": return DiskAccess.ReadWrite;
            case "ro" or "r": return DiskAccess.ReadOnly;
            default:
                source.Error(offset, $"unknown disk access '{value}' (expected rw, w, ro or r)");
                return null;
        }
    }

    public static string Format(DiskConfig d)
    {
        var parts = new List<string>();
        if (d.BackendType is { } bt) parts.Add("backendtype=" + bt.ToString().ToLowerInvariant());
        if (d.Backend is not null) parts.Add("backend=" + d.Backend);
        if (d.Script is not null) parts.Add("script=" + d.Script);
        if (d.Specification is not null) parts.Add("specification=" + d.Specification);
        if (d.DirectIoSafe) parts.Add("direct-io-safe");
        if (d.Discard is { } discard) parts.Add(discard ? "discard" : "no-discard");
        if (d.Trusted is { } trusted) parts.Add(trusted ? "trusted" : "untrusted");
        if (d.Colo) parts.Add("colo");
        if (d.ColoHost is not null) parts.Add("colo-host=" + d.ColoHost);
        if (d.ColoPort is { } port) parts.Add("colo-port=" + port.ToString(System.Globalization.CultureInfo.InvariantCulture));
        if (d.ColoExport is not null) parts.Add("colo-export=" + d.ColoExport);
        if (d.ActiveDisk is not null) parts.Add("active-disk=" + d.ActiveDisk);
        if (d.HiddenDisk is not null) parts.Add("hidden-disk=" + d.HiddenDisk);
        var head = $"format={d.Format.ToString().ToLowerInvariant()},vdev={d.Vdev},access={(d.Access == DiskAccess.ReadOnly ? "ro" : "rw")}";
        if (d.DeviceType == DiskDeviceType.Cdrom) head += ",devtype=cdrom";
        var tail = parts.Count > 0 ? "," + string.Join(",", parts) : "";
        return $"{head}{tail},target={d.Target}";
    }
}
