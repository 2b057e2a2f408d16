//! The runtime of qcc's generated Rust code: element types, scalar math and
//! kernels, written as ordinary `no_std` Rust so they can be tested here.
//! qcc copies the files a model needs into the generated crate, at the same
//! paths under `src/runtime/`, so generated crates have no dependencies and
//! the files refer to each other as `crate::runtime::...` in both places.
#![no_std]

#[cfg(test)]
extern crate std;

pub mod runtime;
