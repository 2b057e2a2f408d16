//! Startup for qcc's bare-metal Rust harness on Cortex-M4F (QEMU
//! mps2-an386), with link.x: the vector table, the reset handler, a fault
//! handler, the panic handler and a cycle timer. No crate dependencies; uses
//! the harness's `semihosting` module. Copied next to the generated harness
//! as `rt.rs`. The harness defines `extern "C" fn main() -> i32`; its value
//! becomes QEMU's exit status.
//!
//! Reset: the core loads SP and PC from the first two words of the vector
//! table at 0x00000000. `qcc_reset` (assembly: no stack use, no FPU use and
//! no statics before they are initialised) enables the FPU (CPACR CP10/CP11
//! full access; with the hard-float ABI any function may use s-registers),
//! copies .data from flash, zeroes .bss and calls `qcc_start`, which runs
//! `main` and exits through semihosting.

use crate::semihosting;

unsafe extern "C" {
    /// The harness's entry point.
    fn main() -> i32;
}

/// An entry of the vector table: a handler, or a reserved word.
#[repr(C)]
pub union Vector {
    handler: unsafe extern "C" fn() -> !,
    reserved: usize,
}

/// The Cortex-M core exceptions (no interrupts are enabled). Word 0 is the
/// initial SP (`__stack_top`, link.x's `.vectors` section writes it), so this
/// table starts at word 1, the reset vector.
#[unsafe(link_section = ".vectors")]
#[unsafe(no_mangle)]
#[used]
pub static QCC_VECTORS: [Vector; 15] = [
    Vector { handler: qcc_reset },
    Vector { handler: qcc_fault }, // NMI
    Vector { handler: qcc_fault }, // HardFault
    Vector { handler: qcc_fault }, // MemManage
    Vector { handler: qcc_fault }, // BusFault
    Vector { handler: qcc_fault }, // UsageFault
    Vector { reserved: 0 },
    Vector { reserved: 0 },
    Vector { reserved: 0 },
    Vector { reserved: 0 },
    Vector { handler: qcc_fault }, // SVCall
    Vector { handler: qcc_fault }, // DebugMonitor
    Vector { reserved: 0 },
    Vector { handler: qcc_fault }, // PendSV
    Vector { handler: qcc_fault }, // SysTick
];

/// Reset handler.
#[unsafe(naked)]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qcc_reset() -> ! {
    core::arch::naked_asm!(
        // CPACR |= 0xF << 20, then barriers so the next instruction sees it.
        "movw r0, #0xED88",
        "movt r0, #0xE000",
        "ldr r1, [r0]",
        "orr r1, r1, #0x00F00000",
        "str r1, [r0]",
        "dsb",
        "isb",
        // .data: __sidata (flash) -> __sdata..__edata (RAM).
        "movw r0, :lower16:__sdata",
        "movt r0, :upper16:__sdata",
        "movw r1, :lower16:__edata",
        "movt r1, :upper16:__edata",
        "movw r2, :lower16:__sidata",
        "movt r2, :upper16:__sidata",
        "1:",
        "cmp r0, r1",
        "bhs 2f",
        "ldr r3, [r2], #4",
        "str r3, [r0], #4",
        "b 1b",
        "2:",
        // .bss: __sbss..__ebss = 0.
        "movw r0, :lower16:__sbss",
        "movt r0, :upper16:__sbss",
        "movw r1, :lower16:__ebss",
        "movt r1, :upper16:__ebss",
        "movs r2, #0",
        "3:",
        "cmp r0, r1",
        "bhs 4f",
        "str r2, [r0], #4",
        "b 3b",
        "4:",
        "bl {start}",
        "udf #0",
        start = sym qcc_start,
    );
}

extern "C" fn qcc_start() -> ! {
    let status = unsafe { main() };
    semihosting::exit(status)
}

/// Every exception but reset: passes the stacked exception frame (main or
/// process stack, as bit 2 of EXC_RETURN in lr says) to `qcc_fault_report`.
#[unsafe(naked)]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qcc_fault() -> ! {
    core::arch::naked_asm!(
        "tst lr, #4",
        "ite eq",
        "mrseq r0, msp",
        "mrsne r0, psp",
        "b {report}",
        report = sym qcc_fault_report,
    );
}

const SCB_HFSR: *const u32 = 0xE000_ED2C as *const u32;
const SCB_CFSR: *const u32 = 0xE000_ED28 as *const u32;

/// Prints the exception number, the faulting pc and the fault status
/// registers, then exits with status 3.
///
/// Without semihosting (QEMU not given -semihosting-config) the first
/// `bkpt 0xab` lands here, and the one in print() faults again inside
/// HardFault: the core locks up, which QEMU 7.2 treats as fatal (it prints
/// "Lockup: can't escalate" and the registers, and aborts with status 134),
/// so that case ends too.
unsafe extern "C" fn qcc_fault_report(frame: *const u32) -> ! {
    let ipsr: u32;
    let (pc, cfsr, hfsr) = unsafe {
        core::arch::asm!("mrs {}, ipsr", out(reg) ipsr, options(nomem, nostack));
        (
            core::ptr::read_volatile(frame.add(6)),
            core::ptr::read_volatile(SCB_CFSR),
            core::ptr::read_volatile(SCB_HFSR),
        )
    };
    semihosting::print(format_args!(
        "fault: exception {} at pc {pc:#010x} (CFSR {cfsr:#010x}, HFSR {hfsr:#010x})\n",
        ipsr & 0x1FF
    ));
    semihosting::exit(3)
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    semihosting::print(format_args!("panic: {info}\n"));
    semihosting::exit(101)
}

/// Ticks per second of `ticks()`: the CMSDK APB timer 0 at 0x40000000,
/// counting down at mps2-an386's 25 MHz peripheral clock. Under
/// `qemu -icount shift=0` QEMU's virtual time advances 1 ns per
/// instruction, so 40 ns of it are 40 instructions.
pub const TICK_HZ: u64 = 25_000_000;

const TIMER0_CTRL: *mut u32 = 0x4000_0000 as *mut u32;
const TIMER0_VALUE: *mut u32 = 0x4000_0004 as *mut u32;
const TIMER0_RELOAD: *mut u32 = 0x4000_0008 as *mut u32;

/// A monotonic tick count (starts the timer on the first call). Calls must
/// come less than 2^32 ticks (171 s) apart.
pub fn ticks() -> u64 {
    static mut STATE: (u64, u32, bool) = (0, 0, false);
    unsafe {
        let s = &mut *core::ptr::addr_of_mut!(STATE);
        if !s.2 {
            core::ptr::write_volatile(TIMER0_RELOAD, u32::MAX);
            core::ptr::write_volatile(TIMER0_VALUE, u32::MAX);
            core::ptr::write_volatile(TIMER0_CTRL, 1); // enable, no interrupt
            s.1 = u32::MAX;
            s.2 = true;
        }
        let now = core::ptr::read_volatile(TIMER0_VALUE);
        s.0 += s.1.wrapping_sub(now) as u64;
        s.1 = now;
        s.0
    }
}
