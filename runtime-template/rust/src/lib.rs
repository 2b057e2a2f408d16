//! The runtime of qcc's generated Rust code: element types, scalar math and
//! kernels, written as ordinary `no_std` Rust so they can be tested here.
//! qcc copies the files a model needs into the generated crate (under
//! `src/runtime/`), so generated crates have no dependencies.
#![no_std]

#[cfg(test)]
extern crate std;

pub mod math;
