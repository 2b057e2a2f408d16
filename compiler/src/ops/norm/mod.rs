//! Normalizations: BatchNormalization (inference), InstanceNormalization,
//! GroupNormalization, LayerNormalization, RMSNormalization,
//! MeanVarianceNormalization, LpNormalization and LRN, one file each (the
//! group-wise ones share `group.rs`, the trailing-axes ones `layer.rs`).
//!
//! Statistics are computed in float64 over contiguous blocks and the
//! results rounded once to the output type.

mod batch;
mod group;
mod layer;
mod layer_int8;
mod lower;
mod lp;
mod lrn;
mod mvn;

pub use batch::BatchNormalization;
pub use group::GroupNorm;
pub use layer::LayerNorm;
pub use lp::LpNormalization;
pub use lrn::Lrn;
pub use mvn::MeanVarianceNormalization;

use crate::ir::TensorType;
use crate::tensor::{DType, Tensor};
use crate::{bail, Result};

/// Mean and variance (population) of `v`, in two passes.
fn mean_var(v: &[f64]) -> (f64, f64) {
    let n = v.len().max(1) as f64;
    let mean = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n;
    (mean, var)
}

/// Elements of a float tensor as f64, row-major.
fn floats(t: &Tensor) -> Result<Vec<f64>> {
    if !t.dtype().is_float() {
        bail!("expected a float tensor, got {}", t.dtype());
    }
    t.to_f64_vec()
}

/// Checks that the input is a float tensor type.
fn check_float(ty: &TensorType, what: &str) -> Result<()> {
    if !ty.dtype.is_float() {
        bail!("{what} must be a float tensor, got {}", ty.dtype);
    }
    Ok(())
}

/// Checks that X, where its rank is known, has rank 2 or more ([N, C, ...]).
fn check_nc_rank(x: &TensorType) -> Result<()> {
    if x.shape.rank().is_some_and(|r| r < 2) {
        bail!("X must have rank 2 or more ([N, C, ...]), got {}", x.shape);
    }
    Ok(())
}

/// The shape of X, checked to have rank 2 or more ([N, C, ...]).
fn nc_shape(x: &Tensor) -> Result<&[usize]> {
    let shape = x.shape();
    if shape.len() < 2 {
        bail!("X must have rank 2 or more ([N, C, ...]), got {shape:?}");
    }
    Ok(shape)
}

/// A float64 result of `shape` cast to `dtype`.
fn output(shape: &[usize], data: Vec<f64>, dtype: DType) -> Result<Tensor> {
    super::dense::demote(Tensor::from_vec(shape, data)?, dtype)
}
