using Domino.Config.Model;

namespace Domino.Config.Specs;

/// <summary>The <c>vkb=[ "..." ]</c> grammar of xl.cfg(5): a virtual keyboard/pointer.</summary>
internal static class VkbSpec
{
    public const string Syntax = """
        vkb = [ "KEY=VALUE,...", ... ]: backend=DOMAIN backend-type=qemu|linux unique-id=ID
          feature-disable-keyboard=0|1 feature-disable-pointer=0|1 feature-abs-pointer=0|1
          feature-raw-pointer=0|1 feature-multi-touch=0|1 width=N height=N
          multi-touch-width=N multi-touch-height=N multi-touch-num-contacts=N
        """;

    public static VkbConfig? Parse(SpecSource source)
    {
        var vkb = ParseFields(source);
        if (vkb is { BackendType: null })
        {
            // xl: "backend-type should be set in vkb spec".
            source.Error(0, $"vkb spec '{source.Text}' needs backend-type=qemu or backend-type=linux");
            return null;
        }
        return vkb;
    }

    private static VkbConfig? ParseFields(SpecSource source) => KeyValueSpec.Parse(source, new VkbConfig(), (v, t, s) =>
    {
        switch (t.Key)
        {
            case "backend": return v with { Backend = t.Value };
            case "backend-type": return KeyValueSpec.OneOf(s, t, "qemu", "linux") is { } bt ? v with { BackendType = bt } : v;
            case "unique-id": return v with { UniqueId = t.Value };
            case "feature-disable-keyboard": return v with { FeatureDisableKeyboard = KeyValueSpec.Flag(s, t) };
            case "feature-disable-pointer": return v with { FeatureDisablePointer = KeyValueSpec.Flag(s, t) };
            case "feature-abs-pointer": return v with { FeatureAbsPointer = KeyValueSpec.Flag(s, t) };
            case "feature-raw-pointer": return v with { FeatureRawPointer = KeyValueSpec.Flag(s, t) };
            case "feature-multi-touch": return v with { FeatureMultiTouch = KeyValueSpec.Flag(s, t) };
            case "width": return v with { Width = KeyValueSpec.Number(s, t) };
            case "height": return v with { Height = KeyValueSpec.Number(s, t) };
            case "multi-touch-width": return v with { MultiTouchWidth = KeyValueSpec.Number(s, t) };
            case "multi-touch-height": return v with { MultiTouchHeight = KeyValueSpec.Number(s, t) };
            case "multi-touch-num-contacts": return v with { MultiTouchNumContacts = KeyValueSpec.Number(s, t) };
            default: KeyValueSpec.Unknown(s, t, "vkb", Syntax); return v;
        }
    });

    public static string Format(VkbConfig v) => KeyValueSpec.Join(
        ("backend", v.Backend), ("backend-type", v.BackendType), ("unique-id", v.UniqueId),
        ("feature-disable-keyboard", v.FeatureDisableKeyboard ? "1" : null), ("feature-disable-pointer", v.FeatureDisablePointer ? "1" : null),
        ("feature-abs-pointer", v.FeatureAbsPointer ? "1" : null), ("feature-raw-pointer", v.FeatureRawPointer ? "1" : null),
        ("feature-multi-touch", v.FeatureMultiTouch ? "1" : null), ("width", KeyValueSpec.N(v.Width)), ("height", KeyValueSpec.N(v.Height)),
        ("multi-touch-width", KeyValueSpec.N(v.MultiTouchWidth)), ("multi-touch-height", KeyValueSpec.N(v.MultiTouchHeight)),
        ("multi-touch-num-contacts", KeyValueSpec.N(v.MultiTouchNumContacts)));
}
