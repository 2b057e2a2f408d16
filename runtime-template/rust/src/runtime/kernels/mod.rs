//! Kernels: one module per family, named after what they compute.
pub mod reduce;
pub mod norm;
