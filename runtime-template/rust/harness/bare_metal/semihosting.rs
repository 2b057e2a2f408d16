//! Arm semihosting for qcc's bare-metal Rust harness (no_std, no heap).
//!
//! One call: operation number in r0 (a0 on RISC-V), a pointer to a block of
//! word-sized arguments (or one argument) in r1 (a1), result back in r0 (a0).
//! - Arm (M-profile): `bkpt 0xab`.
//! - RISC-V: `slli x0, x0, 0x1f; ebreak; srai x0, x0, 7`, uncompressed and
//!   within one page (RISC-V semihosting spec). RV32 follows the 32-bit Arm
//!   conventions, RV64 the 64-bit ones.
//!
//! Under QEMU (`-semihosting-config enable=on,target=native`) the calls act on
//! the host: paths are host paths relative to QEMU's working directory,
//! console output goes to QEMU's stderr (or to `chardev=`).
//!
//! Copied next to the generated harness as `semihosting.rs`.

#![allow(dead_code)]

use core::fmt;

const SYS_OPEN: usize = 0x01;
const SYS_CLOSE: usize = 0x02;
const SYS_WRITE0: usize = 0x04;
const SYS_WRITE: usize = 0x05;
const SYS_READ: usize = 0x06;
const SYS_FLEN: usize = 0x0C;
const SYS_ERRNO: usize = 0x13;
const SYS_GET_CMDLINE: usize = 0x15;
const SYS_EXIT: usize = 0x18;
const SYS_EXIT_EXTENDED: usize = 0x20;

const ADP_STOPPED_APPLICATION_EXIT: usize = 0x20026;
const ADP_STOPPED_RUN_TIME_ERROR: usize = 0x20023;

/// SYS_OPEN modes (ISO C fopen modes "rb" and "wb").
pub const MODE_READ: usize = 1;
pub const MODE_WRITE: usize = 5;

/// One semihosting call.
///
/// # Safety
/// `arg` must be what operation `op` expects (usually a pointer to a block
/// of arguments that stays valid during the call).
#[cfg(target_arch = "arm")]
#[inline(always)]
pub unsafe fn call(op: usize, arg: usize) -> usize {
    let r: usize;
    // The host may read and write memory through `arg`: no `nomem`.
    unsafe { core::arch::asm!("bkpt #0xab", inout("r0") op => r, in("r1") arg, options(nostack)) };
    r
}

/// One semihosting call.
///
/// # Safety
/// As for Arm.
#[cfg(any(target_arch = "riscv32", target_arch = "riscv64"))]
#[inline(always)]
pub unsafe fn call(op: usize, arg: usize) -> usize {
    let r: usize;
    unsafe {
        core::arch::asm!(
            ".option push",
            ".option norvc",
            // 12 bytes at a 16-byte boundary never cross a page.
            ".balign 16",
            "slli x0, x0, 0x1f",
            "ebreak",
            "srai x0, x0, 7",
            ".option pop",
            inout("a0") op => r,
            in("a1") arg,
            options(nostack),
        );
    }
    r
}

/// Ends the program; QEMU exits with `code` as its status.
///
/// SYS_EXIT_EXTENDED (ADP_Stopped_ApplicationExit, code) carries the code on
/// 32-bit targets (plain SYS_EXIT there only tells success from failure);
/// should a host not know it, plain SYS_EXIT still stops with 0 or 1.
pub fn exit(code: i32) -> ! {
    let block = [ADP_STOPPED_APPLICATION_EXIT, code as usize];
    unsafe {
        call(SYS_EXIT_EXTENDED, block.as_ptr() as usize);
        let reason = if code == 0 { ADP_STOPPED_APPLICATION_EXIT } else { ADP_STOPPED_RUN_TIME_ERROR };
        #[cfg(target_pointer_width = "32")]
        call(SYS_EXIT, reason);
        #[cfg(target_pointer_width = "64")]
        call(SYS_EXIT, [reason, code as usize].as_ptr() as usize);
    }
    loop {
        core::hint::spin_loop();
    }
}

/// The host's errno of the last failed call (SYS_ERRNO).
pub fn errno() -> i32 {
    unsafe { call(SYS_ERRNO, 0) as i32 }
}

/// A short description of a host errno value (Linux numbering, which QEMU
/// passes through with `target=native` on a Linux host).
pub fn strerror(e: i32) -> &'static str {
    match e {
        1 => "operation not permitted",
        2 => "no such file or directory",
        5 => "input/output error",
        9 => "bad file descriptor",
        12 => "out of memory",
        13 => "permission denied",
        17 => "file exists",
        20 => "not a directory",
        21 => "is a directory",
        24 => "too many open files",
        27 => "file too large",
        28 => "no space left on device",
        30 => "read-only file system",
        36 => "file name too long",
        _ => "host error",
    }
}

/// The command line QEMU was given (`-semihosting-config arg=...,arg=...`,
/// joined by spaces), written into `buf`. `None` when the host refuses or
/// the line does not fit.
pub fn cmdline(buf: &mut [u8]) -> Option<&str> {
    if buf.is_empty() {
        return None;
    }
    let mut block = [buf.as_mut_ptr() as usize, buf.len()];
    let r = unsafe { call(SYS_GET_CMDLINE, block.as_mut_ptr() as usize) };
    if r != 0 {
        return None;
    }
    let n = block[1].min(buf.len());
    let line = &buf[..n];
    let n = line.iter().position(|&b| b == 0).unwrap_or(n);
    core::str::from_utf8(&buf[..n]).ok()
}

/// A host error: the operation's errno (0 when the host gave none).
#[derive(Clone, Copy, Debug)]
pub struct Error {
    pub errno: i32,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(strerror(self.errno))
    }
}

/// A host file, closed when dropped.
pub struct File {
    handle: usize,
}

impl File {
    /// Opens `path` with `mode` (MODE_READ, MODE_WRITE).
    pub fn open(path: &str, mode: usize) -> Result<File, Error> {
        // The host wants a NUL-terminated name (and its length).
        let mut name = [0u8; 512];
        if path.len() >= name.len() || path.bytes().any(|b| b == 0) {
            return Err(Error { errno: 36 });
        }
        name[..path.len()].copy_from_slice(path.as_bytes());
        let block = [name.as_ptr() as usize, mode, path.len()];
        let h = unsafe { call(SYS_OPEN, block.as_ptr() as usize) };
        if h as isize == -1 {
            return Err(Error { errno: errno() });
        }
        Ok(File { handle: h })
    }

    /// The file's length in bytes.
    pub fn len(&self) -> Result<usize, Error> {
        let r = unsafe { call(SYS_FLEN, [self.handle].as_ptr() as usize) };
        if r as isize == -1 {
            return Err(Error { errno: errno() });
        }
        Ok(r)
    }

    /// Reads up to `buf.len()` bytes; returns how many (0 at the end).
    pub fn read(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        let block = [self.handle, buf.as_mut_ptr() as usize, buf.len()];
        let left = unsafe { call(SYS_READ, block.as_ptr() as usize) };
        if left > buf.len() {
            return Err(Error { errno: errno() });
        }
        Ok(buf.len() - left)
    }

    /// Writes all of `data`.
    pub fn write_all(&mut self, data: &[u8]) -> Result<(), Error> {
        let block = [self.handle, data.as_ptr() as usize, data.len()];
        let left = unsafe { call(SYS_WRITE, block.as_ptr() as usize) };
        if left != 0 {
            let e = errno();
            return Err(Error { errno: if e == 0 { 28 } else { e } });
        }
        Ok(())
    }
}

impl Drop for File {
    fn drop(&mut self) {
        unsafe {
            call(SYS_CLOSE, [self.handle].as_ptr() as usize);
        }
    }
}

/// The debug console (SYS_WRITE0), buffered; flushed on `flush` and drop.
pub struct Console {
    buf: [u8; 128],
    len: usize,
}

impl Console {
    pub const fn new() -> Console {
        Console { buf: [0; 128], len: 0 }
    }

    pub fn flush(&mut self) {
        if self.len > 0 {
            self.buf[self.len] = 0;
            unsafe {
                call(SYS_WRITE0, self.buf.as_ptr() as usize);
            }
            self.len = 0;
        }
    }
}

impl fmt::Write for Console {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for &b in s.as_bytes() {
            if b == 0 {
                continue; // SYS_WRITE0 would stop there
            }
            if self.len == self.buf.len() - 1 {
                self.flush();
            }
            self.buf[self.len] = b;
            self.len += 1;
        }
        Ok(())
    }
}

impl Drop for Console {
    fn drop(&mut self) {
        self.flush();
    }
}

/// Prints to the semihosting console:
/// `semihosting::print(format_args!("x = {}\n", x))`.
pub fn print(args: fmt::Arguments) {
    let _ = fmt::Write::write_fmt(&mut Console::new(), args);
}
