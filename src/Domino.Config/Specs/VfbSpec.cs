using System.Globalization;
using Domino.Config.Model;

namespace Domino.Config.Specs;

/// <summary>The <c>vfb=[ "..." ]</c> grammar of xl.cfg(5) "Paravirtualised (PV) Guest Specific Options".</summary>
internal static class VfbSpec
{
    public const string Syntax = """
        vfb = [ "KEY=VALUE,...", ... ] (xl.cfg(5)):
          vnc=0|1  vnclisten=ADDR[:DISPLAY]  vncpasswd=PASSWORD  vncdisplay=N  vncunused=0|1
          sdl=0|1  opengl=0|1  display=DISPLAY  xauthority=FILE  keymap=LANG
        """;

    public static VfbConfig? Parse(SpecSource source)
    {
        var errors = source.Diagnostics.Items.Count(d => d.IsError);
        var vfb = new VfbConfig();
        foreach (var token in SpecTokenizer.Split(source.Text))
        {
            var value = token.Value;
            switch (token.Key)
            {
                case null when value.Length == 0: break;
                case null:
                    source.Error(token.Offset, $"vfb parameter '{value}' needs a value (KEY=VALUE)");
                    break;
                case "vnc": vfb = vfb with { Vnc = Bool(source, token) }; break;
                case "vnclisten": vfb = vfb with { VncListen = value }; break;
                case "vncpasswd": vfb = vfb with { VncPasswd = value }; break;
                case "vncdisplay":
                    if (SpecTokenizer.TryParseInt(value, out var display)) vfb = vfb with { VncDisplay = display };
                    else source.Error(token.ValueOffset, $"invalid vncdisplay '{value}' in vfb (expected a display number)");
                    break;
                case "vncunused": vfb = vfb with { VncUnused = Bool(source, token) }; break;
                case "sdl": vfb = vfb with { Sdl = Bool(source, token) }; break;
                case "opengl": vfb = vfb with { OpenGl = Bool(source, token) }; break;
                case "display": vfb = vfb with { Display = value }; break;
                case "xauthority": vfb = vfb with { XAuthority = value }; break;
                case "keymap": vfb = vfb with { Keymap = value }; break;
                case "type":
                    if (value == "vnc") vfb = vfb with { Vnc = true };
                    else if (value == "sdl") vfb = vfb with { Sdl = true };
                    else source.Error(token.ValueOffset, $"unknown vfb type '{value}' (expected vnc or sdl)");
                    break;
                default:
                    source.Error(token.Offset, $"unknown vfb parameter '{token.Key}' (expected vnc, vnclisten, vncpasswd, vncdisplay, vncunused, sdl, opengl, display, xauthority, keymap)");
                    break;
            }
        }
        return source.Diagnostics.Items.Count(d => d.IsError) == errors ? vfb : null;
    }

    private static bool? Bool(SpecSource source, SpecToken token)
    {
        var b = SpecTokenizer.ParseBool(token.Value);
        if (b is null) source.Error(token.ValueOffset, $"invalid {token.Key} '{token.Value}' in vfb (expected 0 or 1)");
        return b;
    }

    public static string Format(VfbConfig v)
    {
        var parts = new List<string>();
        void Add(string key, string? value)
        {
            if (value is not null) parts.Add($"{key}={value}");
        }
        static string? B(bool? b) => b is { } v ? (v ? "1" : "0") : null;
        Add("vnc", B(v.Vnc));
        Add("vnclisten", v.VncListen);
        Add("vncpasswd", v.VncPasswd);
        Add("vncdisplay", v.VncDisplay?.ToString(CultureInfo.InvariantCulture));
        Add("vncunused", B(v.VncUnused));
        Add("sdl", B(v.Sdl));
        Add("opengl", B(v.OpenGl));
        Add("display", v.Display);
        Add("xauthority", v.XAuthority);
        Add("keymap", v.Keymap);
        return string.Join(",", parts);
    }
}
