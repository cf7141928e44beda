/* Application processor start-up. ap_tramp_start..ap_tramp_end is copied
 * below 1 MiB (AP_TRAMP_BASE, the SIPI vector page): it runs in real mode,
 * loads the kit's GDT (gdtr patched in by the BSP) and far-jumps to
 * ap_start32 in the image, which joins the BSP's long-mode path. */

#define AP_TRAMP_BASE 0x8000

    .section .rodata
    .code16
    .globl ap_tramp_start, ap_tramp_end, ap_tramp_gdtr
ap_tramp_start:
    cli
    cld
    xor %ax, %ax
    mov %ax, %ds
    lgdtl AP_TRAMP_BASE + (ap_tramp_gdtr - ap_tramp_start)
    mov %cr0, %eax
    or $1, %eax                 /* CR0.PE */
    mov %eax, %cr0
    ljmpl $0x08, $ap_start32
    .balign 8
ap_tramp_gdtr:
    .word 0
    .long 0
ap_tramp_end:

    .section .text.entry32, "ax"
    .code32
ap_start32:
    mov $0x10, %eax
    mov %eax, %ds
    mov %eax, %es
    mov %eax, %ss
    mov $ap_long, %edi
    jmp to_long_mode

    .text
    .code64
ap_long:
    mov ap_stack_top(%rip), %rsp
    call ap_main
1:  cli
    hlt
    jmp 1b
