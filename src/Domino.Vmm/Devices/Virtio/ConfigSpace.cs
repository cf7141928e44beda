namespace Domino.Vmm.Devices.Virtio;

/// <summary>Byte-granular access to a device's config space image (§4.2.2: any width, any offset).</summary>
internal static class ConfigSpace
{
    /// <summary>Copy from <paramref name="config"/> at <paramref name="offset"/>; bytes past its end read as zero.</summary>
    public static void Read(ReadOnlySpan<byte> config, ulong offset, Span<byte> data)
    {
        data.Clear();
        if (offset >= (ulong)config.Length) return;
        var available = config[(int)offset..];
        available[..Math.Min(available.Length, data.Length)].CopyTo(data);
    }
}
