using System.Runtime.InteropServices;

// Field names as in Xen's xen/include/public/arch-x86/hvm/start_info.h.
#pragma warning disable IDE1006, CA1707

namespace Domino.Vmm.Boot;

/// <summary>hvm_start_info, version 1 (56 bytes). PVH ABI: ebx points here at entry.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct hvm_start_info
{
    public const uint XEN_HVM_START_MAGIC_VALUE = 0x336ec578;

    public uint magic;
    public uint version;
    public uint flags;
    public uint nr_modules;
    public ulong modlist_paddr;
    public ulong cmdline_paddr;
    public ulong rsdp_paddr;
    public ulong memmap_paddr;
    public uint memmap_entries;
    public uint reserved;
}

/// <summary>hvm_modlist_entry (32 bytes): one boot module, here the ramdisk.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct hvm_modlist_entry
{
    public ulong paddr;
    public ulong size;
    public ulong cmdline_paddr;
    public ulong reserved;
}

/// <summary>hvm_memmap_table_entry (24 bytes): one E820-typed region.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct hvm_memmap_table_entry
{
    public ulong addr;
    public ulong size;
    public uint type;
    public uint reserved;
}
