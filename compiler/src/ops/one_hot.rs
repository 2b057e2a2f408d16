//! OneHot: for each index, a vector of `depth` values that are `off_value`
//! except `on_value` at the index, inserted as a new dimension at `axis`.
//! `values` = `[off_value, on_value]` gives the output type (any type).
//! Negative indices count from `depth`; indices outside `[-depth, depth)`
//! give all `off_value`. Float indices and depth truncate to integers.
//! <https://onnx.ai/onnx/operators/onnx__OneHot.html>

use super::{Arg, OpDef, Slots};
use crate::front::onnx::OnnxNode;
use crate::ir::{Shape, TensorType};
use crate::tensor::{checked_numel, DType, Elem, Tensor};
use crate::{bail, map_array, Result};
use ndarray::{ArrayD, IxDyn};

#[derive(Debug, Clone)]
pub struct OneHot {
    axis: i64,
}

impl OpDef for OneHot {
    fn from_onnx(node: &OnnxNode) -> Result<Self> {
        Ok(OneHot { axis: node.int("axis", -1)? })
    }

    fn infer(&self, inputs: &[Option<Arg>]) -> Result<Vec<TensorType>> {
        let (indices, depth, values) = (inputs.req(0)?.ty, inputs.req(1)?, inputs.req(2)?.ty);
        check_numeric("indices", indices.dtype)?;
        check_numeric("depth", depth.ty.dtype)?;
        if values.shape.numel().is_some_and(|n| n != 2) {
            bail!("values must hold [off_value, on_value], its shape is {}", values.shape);
        }
        let depth = depth.value.map(depth_of).transpose()?;
        let shape = match indices.shape.dims() {
            Some(dims) => {
                let axis = self.axis(dims.len())?;
                let mut out = dims.to_vec();
                out.insert(axis, depth);
                let s = Shape::from_dims(out);
                s.check_size()?;
                s
            }
            None => Shape::unknown(),
        };
        Ok(vec![TensorType::new(values.dtype, shape)])
    }

    fn eval(&self, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
        let (indices, depth, values) = (inputs.req(0)?, inputs.req(1)?, inputs.req(2)?);
        check_numeric("indices", indices.dtype())?;
        let depth = depth_of(depth)?;
        if values.len() != 2 {
            bail!("values must hold [off_value, on_value], its shape is {:?}", values.shape());
        }
        let axis = self.axis(indices.rank())?;
        let mut shape = indices.shape().to_vec();
        shape.insert(axis, depth);
        checked_numel(&shape)?;
        // Truncated to integers; out-of-range ones never match.
        let idx = indices.cast(DType::F64)?.array::<f64>()?.mapv(|v| {
            let v = v.trunc();
            let d = depth as f64;
            let v = if v < 0.0 { v + d } else { v };
            if v >= 0.0 && v < d {
                v as usize
            } else {
                usize::MAX
            }
        });
        Ok(vec![map_array!(values, a => one_hot(a, &idx, &shape, axis)?)])
    }

    /// int8: float only.
    fn quantize(&self, rule: super::Rule) -> Result<super::Plan> {
        Ok(rule.float_only(super::NO_INTEGER_KERNEL))
    }
}

impl OneHot {
    /// The position of the new dimension in the output (rank `rank + 1`).
    fn axis(&self, rank: usize) -> Result<usize> {
        let r = rank as i64 + 1;
        if self.axis < -r || self.axis >= r {
            bail!("axis {} is out of range for an output of rank {r}", self.axis);
        }
        Ok(if self.axis < 0 { (self.axis + r) as usize } else { self.axis as usize })
    }
}

fn check_numeric(what: &str, d: DType) -> Result<()> {
    if !(d.is_int() || d.is_float()) {
        bail!("{what} must be numeric, got {d}");
    }
    Ok(())
}

/// The depth from a one-element numeric tensor; it must be positive.
fn depth_of(t: &Tensor) -> Result<usize> {
    check_numeric("depth", t.dtype())?;
    let d = t.scalar_f64()?.trunc();
    if !(d >= 1.0 && d <= i64::MAX as f64) {
        bail!("depth must be a positive number, got {d}");
    }
    let d = d as usize;
    checked_numel(&[d])?;
    Ok(d)
}

/// The output of `shape` (size checked by the caller) from `[off, on]`.
fn one_hot<T: Elem>(values: &ArrayD<T>, idx: &ArrayD<usize>, shape: &[usize], axis: usize) -> Result<ArrayD<T>> {
    let v: Vec<&T> = values.iter().collect();
    let &[off, on] = v.as_slice() else { bail!("values must hold two elements") };
    let mut at = vec![0usize; shape.len().saturating_sub(1)];
    Ok(ArrayD::from_shape_fn(IxDyn(shape), |i| {
        for (k, slot) in at.iter_mut().enumerate() {
            *slot = i[if k < axis { k } else { k + 1 }];
        }
        let hit = idx.get(IxDyn(&at)).is_some_and(|&x| x == i[axis]);
        if hit {
            on.clone()
        } else {
            off.clone()
        }
    }))
}

#[cfg(test)]
mod tests {
    use crate::front::onnx::Attr;
    use crate::ops::testing::{f32s, i64s, run};

    #[test]
    fn negative_and_out_of_range_indices() {
        let out =
            run("OneHot", 11, vec![], &[i64s(&[3], &[0, -1, 5]), i64s(&[], &[3]), f32s(&[2], &[0.0, 2.0])]).unwrap();
        assert_eq!(out[0], f32s(&[3, 3], &[2.0, 0.0, 0.0, 0.0, 0.0, 2.0, 0.0, 0.0, 0.0]));
    }

    #[test]
    fn axis_zero() {
        let out = run(
            "OneHot",
            11,
            vec![("axis", Attr::Int(0))],
            &[i64s(&[2], &[1, 0]), f32s(&[], &[2.0]), i64s(&[2], &[0, 1])],
        );
        assert_eq!(out.unwrap()[0], i64s(&[2, 2], &[0, 1, 1, 0]));
    }

    #[test]
    fn bad_depth_values_or_axis_are_errors() {
        let idx = i64s(&[2], &[1, 0]);
        let vals = i64s(&[2], &[0, 1]);
        assert!(run("OneHot", 11, vec![], &[idx.clone(), i64s(&[], &[0]), vals.clone()]).is_err());
        assert!(run("OneHot", 11, vec![], &[idx.clone(), i64s(&[], &[1 << 40]), vals.clone()]).is_err());
        assert!(run("OneHot", 11, vec![], &[idx.clone(), i64s(&[], &[2]), i64s(&[3], &[0, 1, 2])]).is_err());
        assert!(run("OneHot", 11, vec![("axis", Attr::Int(2))], &[idx, i64s(&[], &[2]), vals]).is_err());
    }

    #[test]
    fn infers_depth_from_a_constant_only() {
        use crate::ir::{Shape, TensorType};
        use crate::ops::testing::{infer_node, node};
        use crate::tensor::DType;
        let n = node("OneHot", 11, vec![], 3, 1);
        let idx = TensorType::fixed(DType::I64, &[3]);
        let depth = TensorType::fixed(DType::I64, &[]);
        let vals = TensorType::fixed(DType::F32, &[2]);
        let out = infer_node(
            &n,
            &[Some((idx.clone(), None)), Some((depth.clone(), Some(i64s(&[], &[5])))), Some((vals.clone(), None))],
        );
        assert_eq!(out.unwrap()[0], TensorType::fixed(DType::F32, &[3, 5]));
        let out = infer_node(&n, &[Some((idx, None)), Some((depth, None)), Some((vals, None))]).unwrap();
        assert_eq!(out[0].shape, Shape::from_dims(vec![Some(3), None]));
    }
}
