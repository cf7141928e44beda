namespace Domino.Vmm.Boot;

/// <summary>Where the VMM puts its boot structures in the guest's low 640 KiB (and the ACPI tables in the legacy hole).</summary>
public static class BootLayout
{
    public const ulong Gdt = 0x500;
    public const ulong Idt = 0x520;
    public const ulong PvhStartInfo = 0x6000;      // hvm_start_info (56 bytes)
    public const ulong PvhModlist = 0x6040;        // hvm_modlist_entry[1]
    public const ulong PvhMemmap = 0x6100;         // hvm_memmap_table_entry[<= 128]
    public const int MaxMemmapEntries = 128;
    public const ulong ZeroPage = 0x7000;          // Linux boot_params
    public const ulong BootStack = 0x8FF0;         // rsp for the 64-bit entry
    public const ulong Pml4 = 0x9000;
    public const ulong Pdpt = 0xA000;
    public const ulong PageDirectories = 0xB000;   // 4 pages: identity map of 4 GiB in 2 MiB pages
    public const ulong CommandLine = 0x20000;
    public const int CommandLineCapacity = 4096;   // including the terminating NUL
    public const ulong Rsdp = 0xE0000;             // ACPI tables follow the RSDP up to 0xFFFFF
    public const ulong AcpiEnd = 0x100000;
    public const ulong KernelStart = 0x100000;     // 1 MiB

    // GDT selectors, laid out as the Linux 64-bit boot protocol expects (__BOOT_CS 0x10, __BOOT_DS 0x18).
    public const ushort CodeSelector = 0x10;
    public const ushort DataSelector = 0x18;
    public const ushort TssSelector = 0x20;
}
