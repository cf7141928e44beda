using System.Globalization;
using Domino.Config.Model;
using Domino.Config.Specs;
using Domino.Config.Syntax;

namespace Domino.Config.Binding;

internal sealed partial class DomainConfigBinder
{
    private LifecycleAction? Action(ConfigSetting s)
    {
        var text = _r.String(s);
        if (text is null) return null;
        if (Actions.TryGetValue(text, out var action)) return action;
        // libxl's JSON spellings (restart_rename...) are not xl.cfg(5) names; point at the right one.
        var hint = Actions.ContainsKey(text.Replace('_', '-')) ? $"; did you mean '{text.Replace('_', '-')}'?" : "";
        if (text == "restart_rename") hint = "; did you mean 'rename-restart'?";
        _r.Error(s.Value, s.Key, $"unknown action '{text}' for {s.Key} (expected {string.Join(", ", Actions.Keys)}){hint}");
        return null;
    }

    private void Devices<T>(ConfigSetting s, Func<SpecSource, T?> parse, List<T> into)
        where T : class
    {
        var items = _r.Items(s);
        if (items is null) return;
        foreach (var item in items)
        {
            var parsed = parse(SpecSource.From(s.Key, item, _r.Diagnostics));
            if (parsed is not null) into.Add(parsed);
        }
    }

    private CpuAffinity? Affinity(ConfigSetting s)
    {
        if (s.Value is ConfigList list)
        {
            var sets = new List<CpuSet>();
            foreach (var item in list.Items)
            {
                if (item is ConfigList)
                {
                    _r.Error(item, s.Key, $"{s.Key} entries must be \"CPU list\" strings, one per vCPU");
                    return null;
                }
                var set = CpuSetSpec.Parse(SpecSource.From(s.Key, item, _r.Diagnostics));
                if (set is null) return null;
                sets.Add(set);
            }
            return new CpuAffinity(sets, PerVcpu: true);
        }
        var single = CpuSetSpec.Parse(SpecSource.From(s.Key, s.Value, _r.Diagnostics));
        return single is null ? null : new CpuAffinity([single], PerVcpu: false);
    }

    private ViridianSetting? Viridian(ConfigSetting s)
    {
        if (s.Value is not ConfigList)
        {
            var b = _r.Bool(s);
            return b is null ? null : new ViridianSetting(b, []);
        }
        var groups = _r.Strings(s);
        var ok = true;
        foreach (var g in groups)
        {
            var name = g.StartsWith('!') ? g[1..] : g;
            if (!ViridianGroups.Contains(name))
            {
                _r.Error(s.Value, s.Key, $"unknown viridian enlightenment '{g}' (expected {string.Join(", ", ViridianGroups)}, optionally prefixed with !)");
                ok = false;
            }
        }
        return ok ? new ViridianSetting(null, groups) : null;
    }

    private string? OneOf(ConfigSetting s, params string[] allowed)
    {
        var v = _r.String(s);
        if (v is null || allowed.Contains(v)) return v;
        _r.Error(s.Value, s.Key, $"unknown value '{v}' for {s.Key} (expected {string.Join(", ", allowed)})");
        return null;
    }

    // ioports = [ "3f8-3ff", "2f8" ]: hex port numbers, a range or a single port.
    private void IoPorts(ConfigSetting s)
    {
        foreach (var item in _r.Items(s) ?? [])
        {
            var text = item.AtomText ?? "";
            var dash = text.IndexOf('-', StringComparison.Ordinal);
            var firstText = dash < 0 ? text : text[..dash];
            var lastText = dash < 0 ? text : text[(dash + 1)..];
            if (uint.TryParse(firstText, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var first)
                && uint.TryParse(lastText, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var last)
                && last >= first && last <= 0xffff)
                _c.IoPorts.Add(new IoPortRange(first, last - first + 1));
            else
                _r.Error(item, s.Key, $"invalid I/O port range '{text}' in ioports (expected hex FIRST-LAST or PORT up to ffff, e.g. \"3f8-3ff\")");
        }
    }

    private void Irqs(ConfigSetting s)
    {
        foreach (var item in _r.Items(s) ?? [])
        {
            if (ValueReader.TryParseInteger(item.AtomText ?? "", out var irq) && irq is >= 0 and <= uint.MaxValue)
                _c.Irqs.Add((uint)irq);
            else
                _r.Error(item, s.Key, $"invalid IRQ '{item.AtomText}' in irqs (expected a non-negative number)");
        }
    }

    // iomem = [ "START,NUM[@GFN]" ]: hex page frame numbers.
    private void IoMem(ConfigSetting s)
    {
        foreach (var item in _r.Items(s) ?? [])
        {
            var text = item.AtomText ?? "";
            var at = text.IndexOf('@', StringComparison.Ordinal);
            var range = at < 0 ? text : text[..at];
            var comma = range.IndexOf(',', StringComparison.Ordinal);
            ulong gfn = 0;
            if (comma > 0
                && ulong.TryParse(range[..comma], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var start)
                && ulong.TryParse(range[(comma + 1)..], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var number)
                && number > 0
                && (at < 0 || ulong.TryParse(text[(at + 1)..], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out gfn)))
                _c.IoMem.Add(new IoMemRange(start, number, at < 0 ? null : gfn));
            else
                _r.Error(item, s.Key, $"invalid iomem range '{text}' (expected hex START,NUM[@GFN] in pages, e.g. \"fe000,2@fd000\")");
        }
    }

    private CpuidPolicy? Cpuid(ConfigSetting s)
    {
        var isList = s.Value is ConfigList;
        var items = isList ? _r.Strings(s) : (_r.String(s) is { } text ? [text] : null);
        if (items is null) return null;
        var (_, problem) = CpuidSpec.Evaluate(items, xendSyntax: isList);
        if (problem is null) return new CpuidPolicy(items, isList);
        _r.Error(s.Value, s.Key, $"invalid cpuid: {problem}");
        return null;
    }

    // vnuma = [ [ "pnode=0", "size=512", "vcpus=0-1", "vdistances=10,20" ], ... ]
    private void Vnuma(ConfigSetting s)
    {
        if (s.Value is not ConfigList nodes)
        {
            _r.Error(s.Value, s.Key, "vnuma must be a list of nodes, each a list like [ \"pnode=0\", \"size=512\", \"vcpus=0-1\", \"vdistances=10,20\" ]");
            return;
        }
        foreach (var nodeValue in nodes.Items)
        {
            if (nodeValue is not ConfigList fields)
            {
                _r.Error(nodeValue, s.Key, "each vnuma node must be a list like [ \"pnode=0\", \"size=512\", \"vcpus=0-1\", \"vdistances=10,20\" ]");
                continue;
            }
            var node = new VnumaNode();
            bool havePnode = false, haveSize = false, haveVcpus = false;
            foreach (var field in fields.Items)
            {
                var text = field.AtomText ?? "";
                var eq = text.IndexOf('=', StringComparison.Ordinal);
                var key = eq < 0 ? text : text[..eq];
                var value = eq < 0 ? "" : text[(eq + 1)..];
                switch (key)
                {
                    case "pnode" when int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var p):
                        node.Pnode = p;
                        havePnode = true;
                        break;
                    case "size" when long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var mb) && mb > 0:
                        node.SizeMb = mb;
                        haveSize = true;
                        break;
                    case "vcpus" when CpuSetSpec.Parse(new SpecSource(s.Key, value, field.File, field.Position, false, _r.Diagnostics)) is not null:
                        node.Vcpus = value;
                        haveVcpus = true;
                        break;
                    case "vdistances":
                        foreach (var d in value.Split(','))
                        {
                            if (int.TryParse(d, NumberStyles.None, CultureInfo.InvariantCulture, out var dist)) node.Distances.Add(dist);
                            else _r.Error(field, s.Key, $"vnuma vdistances '{value}' must be comma-separated numbers");
                        }
                        break;
                    default:
                        _r.Error(field, s.Key, $"invalid vnuma field '{text}' (expected pnode=N, size=MiB, vcpus=LIST, vdistances=D,D,...)");
                        break;
                }
            }
            if (!havePnode || !haveSize || !haveVcpus)
                _r.Error(nodeValue, s.Key, "vnuma node needs pnode=, size= and vcpus=");
            _c.Vnuma.Add(node);
        }
    }

    /// <summary>Guest type, command line and the rules that involve more than one key.</summary>
    private void Finish()
    {
        // type= wins over the legacy builder= and pvh=, as in xl.
        _c.Type = _type ?? _builderType ?? DomainType.Pv;
        if (_type is { } t && _builderType is { } legacy && t != legacy)
            _r.Error(_seen["type"].Value, "type", $"type = \"{JsonTypeName(t)}\" contradicts the legacy {(_seen.ContainsKey("builder") ? "builder" : "pvh")} setting, which selects {JsonTypeName(legacy)} (remove the legacy setting)");

        if (_cmdlineSetting is not null)
        {
            if (_rootOrExtraSetting is not null)
                _r.Warning(_rootOrExtraSetting, "root= and extra= are ignored because cmdline= is set");
        }
        else if (_root is not null || _extra is not null)
        {
            _c.Cmdline = _root is not null
                ? (_extra is not null ? $"root={_root} {_extra}" : $"root={_root}")
                : _extra;
        }

        if (_afterSyntaxErrors)
        {
            // A missing name or kernel may sit in a statement that did not parse; do not guess.
        }
        else if (!_seen.ContainsKey("name"))
            _r.Diagnostics.Error(FirstFile, new Diagnostics.SourcePosition(1, 1), "name", "name is required (add e.g. name = \"guest\")");
        else if (_c.Name is { Length: 0 })
            _r.Error(_seen["name"].Value, "name", "name must not be empty");

        if (_c.MemoryMb is { } mem && _c.MaxMemMb is { } max && max < mem)
            _r.Error(_seen["maxmem"].Value, "maxmem", $"maxmem = {max} is less than memory = {mem} (maxmem must be at least memory, or be left out)");

        if (_c.Vcpus is { } vcpus && _c.MaxVcpus is { } maxVcpus && maxVcpus < vcpus)
            _r.Error(_seen["maxvcpus"].Value, "maxvcpus", $"maxvcpus = {maxVcpus} is less than vcpus = {vcpus} (maxvcpus must be at least vcpus)");

        // xl copies a single CPU list to each of max_vcpus vCPUs, which is zero when vcpus= is absent.
        foreach (var (key, affinity) in new[] { ("cpus", _c.Cpus), ("cpus_soft", _c.CpusSoft) })
        {
            if (affinity is { PerVcpu: false } && _c.Vcpus is null && _c.MaxVcpus is null)
                _r.Warning(_seen[key], $"{key} has no effect without vcpus= (xl applies a single CPU list to each configured vCPU); add vcpus = 1");
        }

        var vcpuCount = _c.MaxVcpus ?? _c.Vcpus ?? 1;
        CheckAffinityLength("cpus", _c.Cpus, vcpuCount);
        CheckAffinityLength("cpus_soft", _c.CpusSoft, vcpuCount);

        if (!_afterSyntaxErrors && _c.Type == DomainType.Pvh && _c.Kernel is null && _c.Bootloader is null && _c.Firmware is null)
            _r.Diagnostics.Error(FirstFile, Where("type"), "kernel", "a pvh guest needs kernel= (or firmware= / bootloader=) to boot");
        if (!_afterSyntaxErrors && _c.Type == DomainType.Pv && _c.Kernel is null && _c.Bootloader is null)
            _r.Diagnostics.Error(FirstFile, Where("type"), "kernel", "a pv guest needs kernel= or bootloader= to boot");

        foreach (var dup in _c.Disks.GroupBy(d => d.Vdev).Where(g => g.Count() > 1))
            _r.Error(_seen["disk"].Value, "disk", $"vdev '{dup.Key}' is used by {dup.Count()} disks (each disk needs its own vdev)");
        foreach (var dup in _c.Nics.Where(n => n.Mac is not null).GroupBy(n => n.Mac).Where(g => g.Count() > 1))
            _r.Error(_seen["vif"].Value, "vif", $"MAC address {dup.Key} is used by {dup.Count()} vifs (each vif needs its own MAC)");

        if (_c.Vnuma.Count > 0)
        {
            var at = _seen["vnuma"].Value;
            var total = _c.Vnuma.Sum(n => n.SizeMb);
            // xl sizes vNUMA nodes against the maximum memory, not the boot-time target.
            var (limitKey, limit) = _c.MaxMemMb is { } mx ? ("maxmem", mx) : ("memory", _c.MemoryMb ?? 0);
            if (limit != 0 && total != limit)
                _r.Error(at, "vnuma", $"vnuma node sizes add up to {total} MiB but {limitKey} = {limit} (they must be equal)");
            // xl: the nodes' vcpus= lists together must name each vCPU up to maxvcpus exactly once.
            var vcpuTotal = _c.MaxVcpus ?? _c.Vcpus ?? 1;
            var assigned = _c.Vnuma.SelectMany(n => CpuSetSpec.Resolve(
                CpuSetSpec.Parse(new SpecSource("vnuma", n.Vcpus, at.File, at.Position, false, new Diagnostics.DiagnosticBag()))!, 0, _ => -1)).ToList();
            if (assigned.Count != vcpuTotal || assigned.Distinct().Count() != vcpuTotal || assigned.Any(v => v >= vcpuTotal))
                _r.Error(at, "vnuma", $"vnuma nodes' vcpus= lists must together name vCPUs 0-{vcpuTotal - 1} exactly once (maxvcpus, or vcpus, is {vcpuTotal})");
            foreach (var n in _c.Vnuma.Where(n => n.Distances.Count != 0 && n.Distances.Count != _c.Vnuma.Count))
                _r.Error(at, "vnuma", $"vnuma node with pnode={n.Pnode} has {n.Distances.Count} vdistances but there are {_c.Vnuma.Count} nodes (give one distance per node)");
        }

        if (_c.Type != DomainType.Hvm)
        {
            // A PV guest turns the top-level display options into a framebuffer (xl.cfg(5) vnc=).
            var ignored = _c.Type == DomainType.Pv && _c.Vnc == true && _c.Vfbs.Count == 0
                ? HvmOnlyKeys.Except(PvDisplayKeys)
                : HvmOnlyKeys;
            foreach (var key in ignored.Where(_seen.ContainsKey))
                _r.Warning(_seen[key], $"{key} only applies to hvm guests and is ignored for type = \"{_c.Type.ToString().ToLowerInvariant()}\"");
        }
        if (_c.Type == DomainType.Pv && _seen.TryGetValue("timer_mode", out var timerMode))
            _r.Error(timerMode.Value, "timer_mode", "timer_mode is not supported for pv guests (remove it, or use type = \"pvh\" or \"hvm\")");
        if (_c.Type != DomainType.Hvm && _c.Kernel is not null && _seen.TryGetValue("firmware", out var firmware))
            _r.Error(firmware.Value, "firmware", $"both kernel and firmware are given for a {JsonTypeName(_c.Type)} guest (keep one of them)");
    }

    private static readonly string[] HvmOnlyKeys =
    [
        "pae", "acpi_s3", "acpi_s4", "acpi_laptop_slate", "hpet", "vpt_align", "viridian", "boot",
        "serial", "vga", "stdvga", "vnc", "vnclisten", "vncpasswd", "vncdisplay", "vncunused", "sdl",
        "opengl", "keymap", "nographic", "usb", "usbversion", "usbdevice", "soundhw", "xen_platform_pci", "bios", "nx",
        "mmio_hole", "gfx_passthru",
    ];

    private static readonly string[] PvDisplayKeys = ["vnc", "vnclisten", "vncpasswd", "vncdisplay", "vncunused", "sdl", "opengl", "keymap"];

    private static string JsonTypeName(DomainType t) => t.ToString().ToLowerInvariant();

    private void CheckAffinityLength(string key, CpuAffinity? affinity, int vcpuCount)
    {
        if (affinity is { PerVcpu: true } && affinity.Sets.Count > vcpuCount)
            _r.Error(_seen[key].Value, key, $"{key} lists {affinity.Sets.Count} per-vCPU entries but the guest has only {vcpuCount} vCPU(s)");
    }

    private string FirstFile => _fileName ?? _seen.Values.Select(s => s.File).FirstOrDefault() ?? "config";

    private Diagnostics.SourcePosition Where(string key) =>
        _seen.TryGetValue(key, out var s) ? s.Position : new Diagnostics.SourcePosition(1, 1);
}
