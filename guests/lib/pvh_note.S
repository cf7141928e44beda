/* Xen PVH ELF note: XEN_ELFNOTE_PHYS32_ENTRY (18), name "Xen", the 32-bit
 * physical entry address. The descriptor is 8 bytes wide (value < 4 GiB),
 * as in Linux's vmlinux, so loaders reading either 4 or 8 bytes agree. */
    .section .note.Xen, "a"
    .balign 4
    .long 4                 /* namesz */
    .long 8                 /* descsz */
    .long 18                /* XEN_ELFNOTE_PHYS32_ENTRY */
    .asciz "Xen"
    .balign 4
    .quad pvh_start32
