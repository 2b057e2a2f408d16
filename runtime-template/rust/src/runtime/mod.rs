//! Every runtime module (a generated crate gets its own `mod.rs` listing
//! only the modules its model uses).

pub mod fixed_point;
pub mod index;
pub mod kernels;
pub mod math;
pub mod ops;
pub mod scalar;
