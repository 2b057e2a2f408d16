//! Quantization: the fixed-point arithmetic of the numerics contract
//! (NUMERICS.md); calibration observers will join it here.

pub mod fixed_point;
