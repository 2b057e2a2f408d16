//! Startup for qcc's bare-metal Rust harness on RV32IMAC (QEMU `virt`,
//! `-bios none`), with link.x: `_start`, a trap handler, the panic handler
//! and a timer. No crate dependencies; uses the harness's `semihosting`
//! module. Copied next to the generated harness as `rt.rs`. The harness
//! defines `extern "C" fn main() -> i32`; its value becomes QEMU's exit
//! status.
//!
//! With `-bios none` QEMU's reset ROM jumps to 0x80000000 in M-mode, where
//! link.x puts `_start` (assembly: no stack or statics before they are set
//! up). It parks every hart but hart 0, sets gp and sp, points mtvec at the
//! trap handler, zeroes .bss, copies .data and calls `qcc_start`, which runs
//! `main` and exits through semihosting.

use crate::semihosting;

unsafe extern "C" {
    /// The harness's entry point.
    fn main() -> i32;
}

#[unsafe(naked)]
#[unsafe(no_mangle)]
#[unsafe(link_section = ".text.start")]
pub unsafe extern "C" fn _start() -> ! {
    core::arch::naked_asm!(
        "csrr t0, mhartid",
        "bnez t0, 9f",
        ".option push",
        ".option norelax",
        "la gp, __global_pointer$",
        ".option pop",
        "la sp, __stack_top",
        "la t0, qcc_trap",
        "csrw mtvec, t0",
        "csrw mscratch, zero",
        // .bss: __sbss..__ebss = 0.
        "la t0, __sbss",
        "la t1, __ebss",
        "1:",
        "bgeu t0, t1, 2f",
        "sw zero, 0(t0)",
        "addi t0, t0, 4",
        "j 1b",
        "2:",
        // .data: __sidata (flash) -> __sdata..__edata (RAM).
        "la t0, __sdata",
        "la t1, __edata",
        "la t2, __sidata",
        "3:",
        "bgeu t0, t1, 4f",
        "lw t3, 0(t2)",
        "sw t3, 0(t0)",
        "addi t0, t0, 4",
        "addi t2, t2, 4",
        "j 3b",
        "4:",
        "call {start}",
        "9:",
        "wfi",
        "j 9b",
        start = sym qcc_start,
    );
}

extern "C" fn qcc_start() -> ! {
    let status = unsafe { main() };
    semihosting::exit(status)
}

// Any trap (no interrupts are enabled, so an exception): a fresh stack
// (the old one may be what failed), then `qcc_trap_report(mcause, mepc,
// mtval)`. A trap inside that (mscratch, zeroed by _start, is set on the
// first entry), e.g. because the stack is not in RAM (QEMU's -m below 32M),
// exits QEMU with status 4 through the test device, using no memory but
// the device. In global_asm! because mtvec needs a 4-byte aligned address
// and a Rust function's alignment cannot be asked for.
core::arch::global_asm!(
    ".section .text.qcc_trap, \"ax\"",
    ".balign 4",
    ".global qcc_trap",
    "qcc_trap:",
    "csrr t0, mscratch",
    "bnez t0, 1f",
    "li t0, 1",
    "csrw mscratch, t0",
    "la sp, __stack_top",
    "csrr a0, mcause",
    "csrr a1, mepc",
    "csrr a2, mtval",
    "j {report}",
    "1:",
    "li t0, 0x100000",
    "li t1, 0x43333",
    "sw t1, 0(t0)",
    "2:",
    "j 2b",
    report = sym qcc_trap_report,
);

/// QEMU virt's test device ("sifive_test", 0x100000): writing
/// 0x3333 | code << 16 makes QEMU exit with `code`.
const VIRT_TEST: *mut u32 = 0x0010_0000 as *mut u32;

extern "C" fn qcc_trap_report(mcause: usize, mepc: usize, mtval: usize) -> ! {
    if mcause == 3 {
        // A breakpoint: the semihosting sequence trapped, so QEMU runs
        // without semihosting and nothing can be printed. Exit through the
        // test device instead of trapping again.
        unsafe { core::ptr::write_volatile(VIRT_TEST, 0x3333 | (3 << 16)) };
        loop {
            core::hint::spin_loop();
        }
    }
    semihosting::print(format_args!("fault: mcause {mcause:#x} at pc {mepc:#010x} (mtval {mtval:#010x})\n"));
    semihosting::exit(3)
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    semihosting::print(format_args!("panic: {info}\n"));
    semihosting::exit(101)
}

/// Ticks per second of `ticks()`: the `time` CSR, driven by virt's ACLINT
/// timer at 10 MHz. Under `qemu -icount shift=0` QEMU's virtual time
/// advances 1 ns per instruction, so one tick is 100 instructions.
pub const TICK_HZ: u64 = 10_000_000;

/// A monotonic tick count (the `time` CSR, read as 64 bits).
pub fn ticks() -> u64 {
    loop {
        let (hi, lo, hi2): (u32, u32, u32);
        unsafe {
            core::arch::asm!(
                "rdtimeh {0}",
                "rdtime {1}",
                "rdtimeh {2}",
                out(reg) hi,
                out(reg) lo,
                out(reg) hi2,
                options(nomem, nostack)
            );
        }
        if hi == hi2 {
            return (hi as u64) << 32 | lo as u64;
        }
    }
}
