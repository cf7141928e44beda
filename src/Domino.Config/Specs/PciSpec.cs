using System.Globalization;
using Domino.Config.Model;

namespace Domino.Config.Specs;

/// <summary>The <c>pci=[ "..." ]</c> grammar of xl-pci-configuration(5).</summary>
internal static class PciSpec
{
    public const string Syntax = """
        pci = [ "SPEC", ... ] (xl-pci-configuration(5)):
          SPEC = [DDDD:]BB:DD.F[@VSLOT][,KEY=VALUE...]   or   KEY=VALUE,... with bdf= or name=
          F is a function 0-7, or * for every function of the device; all numbers are hex.
          keys: bdf=BDF  name=NAME  vslot=SLOT  permissive=0|1  msitranslate=0|1  seize=0|1
                power_mgmt=0|1  rdm_policy=strict|relaxed
        """;

    public static PciDevice? Parse(SpecSource source)
    {
        var errors = source.Diagnostics.Items.Count(d => d.IsError);
        var dev = new PciDevice();
        var haveAddress = false;
        var first = true;
        foreach (var token in SpecTokenizer.Split(source.Text))
        {
            var value = token.Value;
            if (token.Key is null)
            {
                if (first)
                {
                    dev = ParseBdf(source, token.Offset, value, dev, allowSlot: true);
                    haveAddress = true;
                }
                else
                {
                    source.Error(token.Offset, $"pci parameter '{value}' needs a value (KEY=VALUE)");
                }
                first = false;
                continue;
            }
            first = false;
            switch (token.Key)
            {
                case "bdf":
                    dev = ParseBdf(source, token.ValueOffset, value, dev, allowSlot: false);
                    haveAddress = true;
                    break;
                case "name":
                    dev = dev with { Name = value };
                    haveAddress = true;
                    break;
                case "vslot":
                    if (TryHex(value, 0x1f, out var slot)) dev = dev with { VSlot = slot };
                    else source.Error(token.ValueOffset, $"invalid vslot '{value}' in pci spec (expected a hex slot number 0-1f)");
                    break;
                case "permissive": dev = dev with { Permissive = Bool(source, token, dev.Permissive) }; break;
                case "msitranslate": dev = dev with { MsiTranslate = Bool(source, token, dev.MsiTranslate) }; break;
                case "seize": dev = dev with { Seize = Bool(source, token, dev.Seize) }; break;
                case "power_mgmt": dev = dev with { PowerMgmt = Bool(source, token, dev.PowerMgmt) }; break;
                case "rdm_policy":
                    if (value == "strict") dev = dev with { RdmPolicy = RdmPolicy.Strict };
                    else if (value == "relaxed") dev = dev with { RdmPolicy = RdmPolicy.Relaxed };
                    else source.Error(token.ValueOffset, $"unknown rdm_policy '{value}' in pci spec (expected strict or relaxed)");
                    break;
                default:
                    source.Error(token.Offset, $"unknown pci parameter '{token.Key}' (expected bdf, name, vslot, permissive, msitranslate, seize, power_mgmt, rdm_policy)");
                    break;
            }
        }
        if (!haveAddress) source.Error(0, $"pci spec '{source.Text}' names no device (start with a BDF such as 0000:03:00.0, or give bdf= or name=)");
        return source.Diagnostics.Items.Count(d => d.IsError) == errors ? dev : null;
    }

    private static bool? Bool(SpecSource source, SpecToken token, bool? current)
    {
        var b = SpecTokenizer.ParseBool(token.Value);
        if (b is null) source.Error(token.ValueOffset, $"invalid {token.Key} '{token.Value}' in pci spec (expected 0 or 1)");
        return b ?? current;
    }

    private static PciDevice ParseBdf(SpecSource source, int offset, string text, PciDevice dev, bool allowSlot)
    {
        var bdf = text;
        int? vslot = null;
        var at = text.IndexOf('@', StringComparison.Ordinal);
        if (at >= 0 && allowSlot)
        {
            if (TryHex(text[(at + 1)..], 0x1f, out var s)) vslot = s;
            else source.Error(offset + at + 1, $"invalid virtual slot '{text[(at + 1)..]}' in pci spec (expected a hex slot number 0-1f)");
            bdf = text[..at];
        }
        var parts = bdf.Split(':');
        string domain = "0", bus, devfn;
        if (parts.Length == 3) (domain, bus, devfn) = (parts[0], parts[1], parts[2]);
        else if (parts.Length == 2) (bus, devfn) = (parts[0], parts[1]);
        else
        {
            source.Error(offset, $"invalid PCI address '{bdf}' (expected [DDDD:]BB:DD.F, e.g. 0000:03:00.0)");
            return dev;
        }
        var dot = devfn.IndexOf('.', StringComparison.Ordinal);
        var devPart = dot < 0 ? devfn : devfn[..dot];
        var fnPart = dot < 0 ? null : devfn[(dot + 1)..];
        int? function = null;
        var ok = TryHex(domain, 0xffff, out var d) & TryHex(bus, 0xff, out var b) & TryHex(devPart, 0x1f, out var dv);
        if (fnPart is null) ok = false;
        else if (fnPart != "*")
        {
            ok &= TryHex(fnPart, 7, out var f);
            function = f;
        }
        if (!ok)
        {
            source.Error(offset, $"invalid PCI address '{bdf}' (expected [DDDD:]BB:DD.F with hex domain <= ffff, bus <= ff, device <= 1f, function 0-7 or *)");
            return dev;
        }
        return dev with { Domain = d, Bus = b, Device = dv, Function = function, VSlot = vslot ?? dev.VSlot };
    }

    private static bool TryHex(string text, int max, out int value) =>
        int.TryParse(text, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out value) && text.Length <= 4 && value <= max;

    public static string Format(PciDevice p)
    {
        var parts = new List<string>();
        if (p.Name is not null) parts.Add("name=" + p.Name);
        else parts.Add(p.Bdf);
        if (p.VSlot is { } slot) parts.Add($"vslot={slot:x2}");
        void Flag(string key, bool? value)
        {
            if (value is { } v) parts.Add($"{key}={(v ? 1 : 0)}");
        }
        Flag("permissive", p.Permissive);
        Flag("msitranslate", p.MsiTranslate);
        Flag("seize", p.Seize);
        Flag("power_mgmt", p.PowerMgmt);
        if (p.RdmPolicy is { } r) parts.Add("rdm_policy=" + (r == RdmPolicy.Strict ? "strict" : "relaxed"));
        return string.Join(",", parts);
    }
}
