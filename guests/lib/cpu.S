/* CPU bring-up shared by every guest: PVH 32-bit entry, the switch to long
 * mode, the 64-bit ELF entry, GDT, identity page tables, exception stubs and
 * the ring-0 <-> ring-3 round trip. */

#define SEL_CODE32  0x08
#define SEL_DATA    0x10
#define SEL_CODE64  0x18
#define SEL_UDATA   0x23
#define SEL_UCODE64 0x2b
#define SEL_TSS     0x30

/* ------------------------------------------------------------------ */
    .section .text.entry32, "ax"
    .code32

/* PVH ABI: 32-bit protected mode, paging off, ebx = hvm_start_info paddr.
 * Only ebx, cs/ds/es/ss and eip are trusted. */
    .globl pvh_start32
pvh_start32:
    cli
    cld
    mov %ebx, start_info_paddr
    lgdt gdt_ptr
    ljmp $SEL_CODE32, $1f
1:  mov $SEL_DATA, %eax
    mov %eax, %ds
    mov %eax, %es
    mov %eax, %ss
    mov %eax, %fs
    mov %eax, %gs
    mov $boot_stack_top, %esp
    mov $pvh_long, %edi
    jmp to_long_mode

/* Enables PAE paging with the identity tables and long mode, then jumps to
 * the 64-bit address in edi. Needs our GDT loaded; no stack use. */
    .globl to_long_mode
to_long_mode:
    mov %cr4, %eax
    or $0x20, %eax              /* CR4.PAE */
    mov %eax, %cr4
    mov $pml4, %eax
    mov %eax, %cr3
    mov $0xc0000080, %ecx       /* EFER */
    rdmsr
    or $0x100, %eax             /* EFER.LME */
    wrmsr
    mov %cr0, %eax
    or $0x80000001, %eax        /* CR0.PG | CR0.PE */
    mov %eax, %cr0
    ljmp $SEL_CODE64, $1f
    .code64
1:  mov $SEL_DATA, %eax
    mov %eax, %ds
    mov %eax, %es
    mov %eax, %ss
    jmp *%rdi

/* ------------------------------------------------------------------ */
    .text
    .code64

pvh_long:
    mov $boot_stack_top, %rsp
    call zero_bss
    mov start_info_paddr(%rip), %edi
    call kit_start_pvh
    jmp halt_forever

/* 64-bit ELF entry (hello64): long mode, 4 GiB identity-mapped by the
 * loader, rsi = Linux boot_params. We switch to our own GDT and tables. */
    .globl start64
start64:
    cli
    cld
    mov %rsi, %r15
    lgdt gdt_ptr(%rip)
    mov $boot_stack_top, %rsp
    pushq $SEL_CODE64
    lea 1f(%rip), %rax
    push %rax
    lretq
1:  mov $SEL_DATA, %eax
    mov %eax, %ds
    mov %eax, %es
    mov %eax, %ss
    xor %eax, %eax
    mov %eax, %fs
    mov %eax, %gs
    mov $pml4, %rax
    mov %rax, %cr3
    call zero_bss
    mov %r15, %rdi
    call kit_start64
    jmp halt_forever

zero_bss:
    mov $_bss_start, %edi
    mov $_bss_end, %ecx
    sub %edi, %ecx
    xor %eax, %eax
    rep stosb
    ret

/* u64 run_user(u64 (*fn)(u64), u64 arg, void *stack_top)
 * iretq to CPL 3 with IOPL=3 (ring-3 port I/O) and IF=0; the user side
 * returns through int $0x81, whose handler unwinds back to our caller. */
    .globl run_user
run_user:
    push %rbx
    push %rbp
    push %r12
    push %r13
    push %r14
    push %r15
    mov %rsp, user_saved_rsp(%rip)
    mov %rsp, tss+4(%rip)       /* TSS.rsp0: traps from ring 3 land below */
    mov %rdi, %r12
    mov %rsi, %rdi
    pushq $SEL_UDATA
    push %rdx
    pushq $0x3002               /* IOPL=3, reserved bit 1 */
    pushq $SEL_UCODE64
    lea user_trampoline(%rip), %rax
    push %rax
    iretq
user_trampoline:
    call *%r12
    mov %rax, %rdi
    .globl user_exit_ud2
user_exit_ud2:
    ud2                         /* back to ring 0: see exc_6 */

/* The #UD raised at user_exit_ud2 by ring 3 ends run_user(). A trap, not a
 * software interrupt, because some KVMs (kvm_pvm) do not deliver ring-3
 * `int n` to the guest but do reflect exceptions. */
user_return:
    mov %rdi, %rax
    mov user_saved_rsp(%rip), %rsp
    mov $SEL_DATA, %ecx
    mov %ecx, %ds
    mov %ecx, %es
    mov %ecx, %ss
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %rbp
    pop %rbx
    ret

/* Exception stubs: push a dummy error code where the CPU does not. */
    .macro EXC vec
exc_\vec:
    .if \vec == 6
    testb $3, 8(%rsp)           /* from ring 3 ... */
    jz 1f
    cmpq $user_exit_ud2, (%rsp) /* ... at the exit point? */
    je user_return
1:
    .endif
    .if (\vec == 8) || ((\vec >= 10) && (\vec <= 14)) || (\vec == 17) || (\vec == 21) || (\vec == 29) || (\vec == 30)
    .else
    pushq $0
    .endif
    pushq $\vec
    jmp exc_common
    .endm

    .irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    EXC \v
    .endr

/* Interrupt stubs for vectors 32-47 (see set_vector_handler): no error code. */
    .macro IRQ vec
irq_\vec:
    pushq $0
    pushq $\vec
    jmp exc_common
    .endm

    .irp v, 32,33,34,35,36,37,38,39,40,41,42,43,44,45,46,47
    IRQ \v
    .endr

exc_common:
    push %rax
    push %rbx
    push %rcx
    push %rdx
    push %rsi
    push %rdi
    push %rbp
    push %r8
    push %r9
    push %r10
    push %r11
    push %r12
    push %r13
    push %r14
    push %r15
    mov %rsp, %rdi              /* struct exc_frame * */
    mov %rsp, %rbp
    and $-16, %rsp
    call kit_exception          /* returns only if the fault was handled */
    mov %rbp, %rsp
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %r11
    pop %r10
    pop %r9
    pop %r8
    pop %rbp
    pop %rdi
    pop %rsi
    pop %rdx
    pop %rcx
    pop %rbx
    pop %rax
    add $16, %rsp               /* vector, error code */
    iretq

    .section .rodata
    .balign 8
    .globl exc_stubs
exc_stubs:
    .irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    .quad exc_\v
    .endr
    .globl irq_stubs
irq_stubs:
    .irp v, 32,33,34,35,36,37,38,39,40,41,42,43,44,45,46,47
    .quad irq_\v
    .endr

/* ------------------------------------------------------------------ */
    .data
    .balign 16
    .globl gdt
gdt:
    .quad 0
    .quad 0x00cf9a000000ffff    /* 0x08 code32, ring 0 */
    .quad 0x00cf92000000ffff    /* 0x10 data, ring 0 */
    .quad 0x00af9a000000ffff    /* 0x18 code64, ring 0 */
    .quad 0x00cff2000000ffff    /* 0x20 data, ring 3 */
    .quad 0x00affa000000ffff    /* 0x28 code64, ring 3 */
    .quad 0, 0                  /* 0x30 TSS, filled by cpu_init() */
gdt_end:
    .globl gdt_ptr
gdt_ptr:
    .word gdt_end - gdt - 1
    .quad gdt

    .globl start_info_paddr
start_info_paddr:
    .long 0

    .balign 16
    .globl tss
tss:
    .fill 104, 1, 0

/* Identity map of the first 4 GiB with 2 MiB pages, user-accessible so that
 * ring-3 code can reach RAM, MMIO and itself. */
    .section .data.pagetables, "aw"
    .balign 4096
    .globl pml4, pdpt
pml4:
    .quad pdpt + 0x7
    .fill 511, 8, 0
pdpt:
    .quad pd + 0x7, pd + 0x1007, pd + 0x2007, pd + 0x3007
    .fill 508, 8, 0
pd:
    .set i, 0
    .rept 2048
    .quad (i << 21) | 0x87      /* P | RW | US | PS */
    .set i, i + 1
    .endr

    .section .noinit, "aw", @nobits
    .balign 4096
boot_stack:
    .skip 16384
    .globl boot_stack_top
boot_stack_top:
user_saved_rsp:
    .skip 8
