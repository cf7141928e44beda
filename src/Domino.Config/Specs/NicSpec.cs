using System.Globalization;
using Domino.Config.Model;

namespace Domino.Config.Specs;

/// <summary>The <c>vif=[ "..." ]</c> grammar of xl-network-configuration(5).</summary>
internal static class NicSpec
{
    public const string Syntax = """
        vif = [ "KEY=VALUE,...", ... ] (xl-network-configuration(5)); every key is optional:
          mac=XX:XX:XX:XX:XX:XX (unicast)  bridge=BRIDGE  ip=ADDR  model=rtl8139|e1000|...
          type=ioemu|vif  vifname=NAME  script=SCRIPT  backend=DOMAIN  mtu=BYTES
          rate=RATE[@INTERVAL] (e.g. 10Mb/s, 100MB/s@20ms)  gatewaydev=DEV  devid=N  trusted|untrusted
        """;

    private const uint DefaultIntervalMicroseconds = 50_000;

    public static NicConfig? Parse(SpecSource source)
    {
        var errors = source.Diagnostics.Items.Count(d => d.IsError);
        var nic = new NicConfig();
        if (source.Text.Length == 0) return nic;
        foreach (var token in SpecTokenizer.Split(source.Text))
        {
            var value = token.Value;
            switch (token.Key)
            {
                case null when value is "trusted": nic = nic with { Trusted = true }; break;
                case null when value is "untrusted": nic = nic with { Trusted = false }; break;
                case null when value.Length == 0: break;
                case null:
                    source.Error(token.Offset, $"vif parameter '{value}' needs a value (KEY=VALUE; known keys: mac, bridge, ip, model, type, vifname, script, backend, mtu, rate, gatewaydev, devid)");
                    break;
                case "mac":
                    if (ValidateMac(value) is { } macProblem) source.Error(token.ValueOffset, $"invalid MAC address '{value}' in vif: {macProblem}");
                    else nic = nic with { Mac = value.ToLowerInvariant() };
                    break;
                case "bridge": nic = nic with { Bridge = value }; break;
                case "ip": nic = nic with { Ip = value }; break;
                case "model": nic = nic with { Model = value }; break;
                case "type":
                    if (value == "ioemu") nic = nic with { Type = NicType.Ioemu };
                    else if (value == "vif") nic = nic with { Type = NicType.Vif };
                    else source.Error(token.ValueOffset, $"unknown vif type '{value}' (expected ioemu or vif)");
                    break;
                case "vifname": nic = nic with { VifName = value }; break;
                case "script": nic = nic with { Script = value }; break;
                case "backend": nic = nic with { Backend = value }; break;
                case "gatewaydev": nic = nic with { GatewayDev = value }; break;
                case "mtu":
                    if (SpecTokenizer.TryParseInt(value, out var mtu) && mtu is >= 68 and <= 65535) nic = nic with { Mtu = mtu };
                    else source.Error(token.ValueOffset, $"invalid mtu '{value}' in vif (expected a number of bytes, 68-65535)");
                    break;
                case "devid":
                    if (SpecTokenizer.TryParseInt(value, out var devid)) nic = nic with { Devid = devid };
                    else source.Error(token.ValueOffset, $"invalid devid '{value}' in vif (expected a non-negative number)");
                    break;
                case "rate":
                    if (ParseRate(value, out var rate, out var rateProblem)) nic = nic with { Rate = rate };
                    else source.Error(token.ValueOffset, $"invalid rate '{value}' in vif: {rateProblem}");
                    break;
                case "accel":
                    source.Warning(token.Offset, "vif parameter 'accel' is obsolete and ignored");
                    break;
                default:
                    source.Error(token.Offset, $"unknown vif parameter '{token.Key}' (expected mac, bridge, ip, model, type, vifname, script, backend, mtu, rate, gatewaydev, devid)");
                    break;
            }
        }
        return source.Diagnostics.Items.Count(d => d.IsError) == errors ? nic : null;
    }

    /// <summary>Null when <paramref name="mac"/> is six hex octets and unicast; otherwise what is wrong.</summary>
    public static string? ValidateMac(string mac)
    {
        var octets = mac.Split(':');
        if (octets.Length != 6) return $"expected 6 colon-separated octets, found {octets.Length}";
        foreach (var o in octets)
            if (o.Length != 2 || !o.All(char.IsAsciiHexDigit)) return $"octet '{o}' is not two hex digits";
        var first = int.Parse(octets[0], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
        if ((first & 1) != 0) return "it is a multicast address (lowest bit of the first octet set); a NIC needs a unicast address such as 00:16:3e:xx:xx:xx";
        return null;
    }

    /// <summary>
    /// <c>RATE[@INTERVAL]</c>: RATE is a number with B or b (bytes or bits), an optional k/K/M/G (decimal)
    /// prefix and <c>/s</c>; INTERVAL is a number with s, ms or us (default 50ms).
    /// </summary>
    public static bool ParseRate(string spec, out NicRate? rate, out string problem)
    {
        rate = null;
        problem = "";
        var at = spec.IndexOf('@', StringComparison.Ordinal);
        var ratePart = at < 0 ? spec : spec[..at];
        var interval = DefaultIntervalMicroseconds;
        if (at >= 0)
        {
            var iv = spec[(at + 1)..];
            var (num, unit) = SplitNumber(iv);
            ulong scale = unit switch { "s" => 1_000_000, "ms" => 1_000, "us" => 1, _ => 0 };
            if (num is null || scale == 0 || num.Value == 0)
            {
                problem = $"interval '{iv}' must be a positive number with s, ms or us (e.g. 20ms)";
                return false;
            }
            var micro = num.Value * scale;
            if (micro > uint.MaxValue)
            {
                problem = $"interval '{iv}' is too long";
                return false;
            }
            interval = (uint)micro;
        }
        if (!ratePart.EndsWith("/s", StringComparison.Ordinal))
        {
            problem = "expected a rate per second such as 10Mb/s or 100MB/s";
            return false;
        }
        var (value, suffix) = SplitNumber(ratePart[..^2]);
        if (value is null || suffix.Length is 0 or > 2)
        {
            problem = "expected a rate per second such as 10Mb/s or 100MB/s";
            return false;
        }
        ulong multiplier = suffix.Length == 2
            ? suffix[0] switch { 'k' or 'K' => 1_000UL, 'M' => 1_000_000UL, 'G' => 1_000_000_000UL, _ => 0UL }
            : 1;
        var unitChar = suffix[^1];
        if (multiplier == 0 || unitChar is not ('B' or 'b'))
        {
            problem = $"unknown unit '{suffix}/s' (expected B, kB, MB, GB for bytes or b, kb, Mb, Gb for bits)";
            return false;
        }
        var bytesPerSecond = (decimal)value.Value * multiplier / (unitChar == 'b' ? 8 : 1);
        var perInterval = bytesPerSecond * interval / 1_000_000m;
        if (perInterval < 1 || perInterval > ulong.MaxValue)
        {
            problem = "the rate is out of range";
            return false;
        }
        rate = new NicRate(spec, (ulong)perInterval, interval);
        return true;
    }

    private static (ulong? Number, string Suffix) SplitNumber(string text)
    {
        var i = 0;
        while (i < text.Length && char.IsAsciiDigit(text[i])) i++;
        if (i == 0 || !ulong.TryParse(text.AsSpan(0, i), NumberStyles.None, CultureInfo.InvariantCulture, out var n)) return (null, text);
        return (n, text[i..]);
    }

    public static string Format(NicConfig n)
    {
        var parts = new List<string>();
        void Add(string key, string? value)
        {
            if (value is not null) parts.Add($"{key}={value}");
        }
        Add("mac", n.Mac);
        Add("bridge", n.Bridge);
        Add("ip", n.Ip);
        Add("model", n.Model);
        Add("type", n.Type switch { NicType.Ioemu => "ioemu", NicType.Vif => "vif", _ => null });
        Add("vifname", n.VifName);
        Add("script", n.Script);
        Add("backend", n.Backend);
        Add("mtu", n.Mtu?.ToString(CultureInfo.InvariantCulture));
        Add("rate", n.Rate?.Spec);
        Add("gatewaydev", n.GatewayDev);
        Add("devid", n.Devid?.ToString(CultureInfo.InvariantCulture));
        if (n.Trusted is { } t) parts.Add(t ? "trusted" : "untrusted");
        return string.Join(",", parts);
    }
}
