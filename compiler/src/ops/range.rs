//! Range: `start, start + delta, ...` up to `limit` (exclusive), with
//! `max(ceil((limit - start) / delta), 0)` elements.
//! <https://onnx.ai/onnx/operators/onnx__Range.html>
//!
//! Integer and float types; the three inputs are one-element tensors of one
//! type. Integers are exact. Floats follow numpy's `arange`: element `i` is
//! `start + i * step`, where `step` is `(start + delta) - start` as rounded
//! in the computation type: float64, or float32 for float16/bfloat16 with
//! `stash_type` float (opset 27's default). A zero or non-finite delta and
//! non-finite bounds are errors.

use super::{Arg, OpDef, Slots};
use crate::front::onnx::OnnxNode;
use crate::ir::{Shape, TensorType};
use crate::tensor::{checked_numel, DType, Num, Tensor};
use crate::{bail, map_num, Result};
use ndarray::{ArrayD, IxDyn};

#[derive(Debug, Clone)]
pub struct Range {
    /// float16/bfloat16 ranges are computed in float32 (`stash_type` = 1).
    stash_f32: bool,
}

impl OpDef for Range {
    fn from_onnx(node: &OnnxNode) -> Result<Self> {
        let stash_f32 = if node.opset >= 27 {
            match node.int("stash_type", 1)? {
                1 => true,
                11 => false,
                other => bail!("stash_type {other} is not float (1) or double (11)"),
            }
        } else {
            false
        };
        Ok(Range { stash_f32 })
    }

    fn infer(&self, inputs: &[Option<Arg>]) -> Result<Vec<TensorType>> {
        let dtype = check_dtypes([inputs.req(0)?.ty.dtype, inputs.req(1)?.ty.dtype, inputs.req(2)?.ty.dtype])?;
        // With all three inputs constant the node folds through `eval`.
        Ok(vec![TensorType::new(dtype, Shape::of_rank(1))])
    }

    fn eval(&self, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
        let (start, limit, delta) = (inputs.req(0)?, inputs.req(1)?, inputs.req(2)?);
        let dtype = check_dtypes([start.dtype(), limit.dtype(), delta.dtype()])?;
        for (name, t) in [("start", start), ("limit", limit), ("delta", delta)] {
            if t.len() != 1 {
                bail!("'{name}' must be a scalar, its shape is {:?}", t.shape());
            }
        }
        if dtype.is_int() {
            let (s, l, d) = (start.scalar_i64()? as i128, limit.scalar_i64()? as i128, delta.scalar_i64()? as i128);
            if d == 0 {
                bail!("delta is zero");
            }
            let n = checked_count(int_count(s, l, d))?;
            let values: Vec<i64> = (0..n as i128).map(|i| (s + i * d) as i64).collect();
            return Ok(vec![Tensor::from_vec(&[n], values)?.cast(dtype)?]);
        }
        let (s, l, d) = (start.scalar_f64()?, limit.scalar_f64()?, delta.scalar_f64()?);
        if !(s.is_finite() && l.is_finite() && d.is_finite()) || d == 0.0 {
            bail!("Range({s}, {l}, {d}) needs finite bounds and a non-zero, finite delta");
        }
        let n = checked_count((((l - s) / d).ceil().max(0.0)).min(i128::MAX as f64) as i128)?;
        let stash_f32 = self.stash_f32 && matches!(dtype, DType::F16 | DType::BF16);
        let out = map_num!(start, a => fill(a, n, s, d, stash_f32)?)?;
        Ok(vec![out])
    }

    /// int8: float only.
    fn quantize(&self, rule: super::Rule) -> Result<super::Plan> {
        Ok(rule.float_only(super::NO_INTEGER_KERNEL))
    }
}

fn check_dtypes(d: [DType; 3]) -> Result<DType> {
    if d[0] != d[1] || d[0] != d[2] {
        bail!("start, limit and delta have different element types ({}, {}, {})", d[0], d[1], d[2]);
    }
    if !(d[0].is_int() || d[0].is_float()) {
        bail!("Range does not accept {} inputs", d[0]);
    }
    Ok(d[0])
}

/// `max(ceil((l - s) / d), 0)` exactly, for a non-zero `d`.
fn int_count(s: i128, l: i128, d: i128) -> i128 {
    let diff = l - s;
    if d > 0 && diff > 0 {
        (diff + d - 1) / d
    } else if d < 0 && diff < 0 {
        (diff + d + 1) / d
    } else {
        0
    }
}

/// An element count as a size qcc accepts.
fn checked_count(n: i128) -> Result<usize> {
    let n = usize::try_from(n.max(0)).unwrap_or(usize::MAX);
    checked_numel(&[n])?;
    Ok(n)
}

/// `n` floats of `T` following numpy's `arange` fill rule.
fn fill<T: Num>(_: &ArrayD<T>, n: usize, s: f64, d: f64, stash_f32: bool) -> Result<ArrayD<T>> {
    let values: Vec<T> = if stash_f32 {
        let first = s as f32;
        let step = ((s + d) as f32) - first;
        (0..n).map(|i| T::from_f64((first + i as f32 * step) as f64)).collect()
    } else {
        let step = (s + d) - s;
        (0..n).map(|i| T::from_f64(s + i as f64 * step)).collect()
    };
    ArrayD::from_shape_vec(IxDyn(&[n]), values).map_err(|e| crate::Error::Op(format!("range of {n} elements: {e}")))
}

#[cfg(test)]
mod tests {
    use crate::ops::testing::{f32s, i64s, run};

    fn scalar(v: i64) -> crate::tensor::Tensor {
        i64s(&[], &[v])
    }

    #[test]
    fn integer_ranges() {
        assert_eq!(run("Range", 11, vec![], &[scalar(10), scalar(4), scalar(-2)]).unwrap()[0], i64s(&[3], &[10, 8, 6]));
        assert_eq!(run("Range", 11, vec![], &[scalar(3), scalar(9), scalar(3)]).unwrap()[0], i64s(&[2], &[3, 6]));
        assert_eq!(run("Range", 11, vec![], &[scalar(5), scalar(1), scalar(1)]).unwrap()[0], i64s(&[0], &[]));
        let big = run("Range", 11, vec![], &[scalar(i64::MIN), scalar(i64::MAX), scalar(i64::MAX)]).unwrap();
        assert_eq!(big[0], i64s(&[3], &[i64::MIN, -1, i64::MAX - 1]));
    }

    #[test]
    fn float_range() {
        let s = |v: f32| f32s(&[], &[v]);
        assert_eq!(
            run("Range", 11, vec![], &[s(1.0), s(2.0), s(0.25)]).unwrap()[0],
            f32s(&[4], &[1.0, 1.25, 1.5, 1.75])
        );
    }

    #[test]
    fn zero_delta_and_huge_counts_are_errors() {
        assert!(run("Range", 11, vec![], &[scalar(0), scalar(10), scalar(0)]).is_err());
        assert!(run("Range", 11, vec![], &[scalar(0), scalar(i64::MAX), scalar(1)]).is_err());
        let s = |v: f32| f32s(&[], &[v]);
        assert!(run("Range", 11, vec![], &[s(0.0), s(1.0), s(0.0)]).is_err());
        assert!(run("Range", 11, vec![], &[s(0.0), s(1e30), s(1e-30)]).is_err());
        assert!(run("Range", 11, vec![], &[s(0.0), s(f32::INFINITY), s(1.0)]).is_err());
    }
}
