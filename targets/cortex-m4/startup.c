/* Startup for bare-metal Cortex-M4F programs on QEMU's mps2-an386 with
 * newlib's semihosting runtime (--specs=rdimon.specs, whose rdimon-crt0.o
 * provides _start). Link with mps2-an386.ld; see ../BARE_METAL_C.md.
 *
 * newlib's crt0 has no Cortex-M vector table, leaves the FPU off and does
 * not copy .data from flash, so this file adds exactly that: the vector
 * table (initial stack pointer, reset handler, fault handlers) and a reset
 * handler that enables the FPU, copies .data and jumps to _start (which
 * clears .bss, gets argv through semihosting, calls main and exits through
 * semihosting with main's status). A fault reports itself and exits QEMU
 * with status 1 instead of hanging. The file also builds for Armv6-M (no
 * FPU): the Cortex-M0+ experiment in ../BARE_METAL_C.md reuses it. */
#include <stdint.h>

extern uint32_t __stack[];                      /* top of RAM (linker script) */
extern uint32_t __data_load[], __data_start[], __data_end[];
extern void _start(void);                       /* newlib rdimon-crt0.o */

void qcc_reset(void);
void qcc_fault(void);
void qcc_fault_report(const uint32_t *frame);

#define SCB_CCR (*(volatile uint32_t *)0xE000ED14u)
#define SCB_CPACR (*(volatile uint32_t *)0xE000ED88u)

__attribute__((noreturn)) void qcc_reset(void) {
    uint32_t *src = __data_load, *dst = __data_start;
#if defined(__ARM_FP)
    /* Full access to CP10 and CP11 (the FPU) before any floating-point code:
     * with -mfloat-abi=hard even newlib's stdio uses FPU registers. */
    SCB_CPACR |= 0xFu << 20;
    __asm volatile("dsb\n\tisb" ::: "memory");
#endif
#if defined(__ARM_ARCH_6M__)
    /* Armv6-M faults on unaligned loads and stores (CCR.UNALIGN_TRP reads as
     * one there); setting it makes an Armv7-M core such as QEMU's mps2-an385
     * Cortex-M3 fault on them too, as a Cortex-M0+ would. */
    SCB_CCR |= 1u << 3;
#endif
    while (dst < __data_end) {
        *dst++ = *src++;
    }
    _start();
    for (;;) {
    }
}

/* One semihosting call (BKPT 0xAB on M-profile). */
static uint32_t semihost(uint32_t op, const void *arg) {
    register uint32_t r0 __asm("r0") = op;
    register const void *r1 __asm("r1") = arg;
    __asm volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

#define SYS_WRITE0 0x04u
#define SYS_EXIT 0x18u
#define ADP_STOPPED_RUNTIME_ERROR 0x20023u

/* Any exception but reset: print the exception number and the stacked PC,
 * then stop QEMU with a failure status. qcc_fault passes the exception
 * frame (on the main or process stack, as EXC_RETURN in lr says). */
__attribute__((naked)) void qcc_fault(void) {
    /* Armv6-M instructions only, so that a Cortex-M0+ build links too. */
    __asm volatile("movs r0, #4\n\t"
                   "mov r1, lr\n\t"
                   "tst r0, r1\n\t"
                   "bne 1f\n\t"
                   "mrs r0, msp\n\t"
                   "b qcc_fault_report\n"
                   "1:\n\t"
                   "mrs r0, psp\n\t"
                   "b qcc_fault_report");
}

__attribute__((noreturn, used)) void qcc_fault_report(const uint32_t *frame) {
    static const char hex[] = "0123456789abcdef";
    char msg[] = "fault: exception 0x00 at pc 0x00000000\n";
    uint32_t ipsr, pc = frame[6];
    int i;
    __asm volatile("mrs %0, ipsr" : "=r"(ipsr));
    msg[19] = hex[(ipsr >> 4) & 0xF];
    msg[20] = hex[ipsr & 0xF];
    for (i = 0; i < 8; i++) {
        msg[30 + i] = hex[(pc >> (28 - 4 * i)) & 0xF];
    }
    semihost(SYS_WRITE0, msg);
    semihost(SYS_EXIT, (const void *)ADP_STOPPED_RUNTIME_ERROR);
    for (;;) {
    }
}

/* Cortex-M core exceptions; no interrupts are enabled. (On Armv6-M the
 * MemManage, BusFault, UsageFault and DebugMonitor slots are reserved.) */
__attribute__((section(".vectors"), used)) static void (*const qcc_vectors[16])(void) = {
    (void (*)(void))__stack, /* initial main stack pointer */
    qcc_reset,
    qcc_fault, /* NMI */
    qcc_fault, /* HardFault */
    qcc_fault, /* MemManage */
    qcc_fault, /* BusFault */
    qcc_fault, /* UsageFault */
    0, 0, 0, 0,
    qcc_fault, /* SVCall */
    qcc_fault, /* DebugMonitor */
    0,
    qcc_fault, /* PendSV */
    qcc_fault, /* SysTick */
};
