//! Kernels: one module per family, named after what they compute.
pub mod gemm;
pub mod pool;
pub mod batch_norm;
