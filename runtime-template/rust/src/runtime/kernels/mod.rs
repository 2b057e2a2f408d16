//! Kernels: one module per family, named after what they compute.

pub mod batch_norm;
pub mod dynamic_quant;
pub mod gather;
pub mod gemm;
pub mod norm;
pub mod pool;
pub mod qint;
pub mod reduce;
pub mod resize;
pub mod rnn;
pub mod rnn_quant;
pub mod scatter;
pub mod trilu;
