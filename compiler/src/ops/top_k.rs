//! TopK: the k largest (or smallest) elements along an axis and their int64
//! indices. <https://onnx.ai/onnx/operators/onnx__TopK.html>
//!
//! Opsets 1 to 24: `k` is an attribute before opset 10 and a one-element
//! int64 input from then on; `largest` and `sorted` from opset 11. Integer
//! and float inputs. The result is always sorted (ONNX leaves the order
//! free when `sorted` is 0); equal values keep their index order, lower
//! index first, and NaN counts as larger than every number (numpy's sort
//! order). `k` larger than the axis is an error.

use super::{util, Arg, OpDef, Slots};
use crate::front::onnx::OnnxNode;
use crate::ir::{Shape, TensorType};
use crate::tensor::{DType, Elem, Num, Tensor};
use crate::{bail, for_each_num, Result};
use ndarray::{ArrayD, Axis, IxDyn, Zip};
use std::cmp::Ordering;

#[derive(Debug, Clone)]
pub struct TopK {
    axis: i64,
    /// The `k` attribute (opset < 10); from opset 10 `k` is input 1.
    k_attr: Option<i64>,
    largest: bool,
}

impl OpDef for TopK {
    fn from_onnx(node: &OnnxNode) -> Result<Self> {
        let k_attr = if node.opset < 10 { Some(node.int_req("k")?) } else { None };
        if node.opset >= 10 && node.has("k") {
            bail!("'k' is an input, not an attribute, from opset 10");
        }
        if node.opset < 11 && (node.has("largest") || node.has("sorted")) {
            bail!("'largest' and 'sorted' exist from opset 11");
        }
        Ok(TopK { axis: node.int("axis", -1)?, k_attr, largest: node.int("largest", 1)? != 0 })
    }

    fn infer(&self, inputs: &[Option<Arg>]) -> Result<Vec<TensorType>> {
        let x = inputs.req(0)?.ty;
        check_dtype(x.dtype)?;
        let k = match self.k_attr {
            Some(k) => Some(k),
            None => {
                let k_arg = inputs.req(1)?;
                match k_arg.value {
                    Some(t) => Some(k_value(t)?),
                    None => None,
                }
            }
        };
        let shape = match x.shape.dims() {
            None => Shape::unknown(),
            Some(dims) => {
                let axis = util::axis(self.axis, dims.len())?;
                let mut out = dims.to_vec();
                out[axis] = match k {
                    Some(k) => Some(check_k(k, dims[axis])?),
                    None => None,
                };
                Shape::from_dims(out)
            }
        };
        Ok(vec![TensorType::new(x.dtype, shape.clone()), TensorType::new(DType::I64, shape)])
    }

    fn eval(&self, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
        let x = inputs.req(0)?;
        check_dtype(x.dtype())?;
        let k = match self.k_attr {
            Some(k) => k,
            None => k_value(inputs.req(1)?)?,
        };
        let axis = util::axis(self.axis, x.rank())?;
        let k = check_k(k, Some(x.shape()[axis]))?;
        let largest = self.largest;
        let (values, indices) = for_each_num!(x, a => {
            let (v, i) = top_k(a, axis, k, largest);
            (Elem::wrap(v), i)
        })?;
        Ok(vec![values, Tensor::I64(indices)])
    }

    fn lower(&self, cx: &mut crate::back::lower::LowerCx) -> Result<()> {
        let x = cx.input(0)?.clone();
        let k = match self.k_attr {
            Some(k) => k,
            None => match &cx.input(1)?.constant {
                Some(t) => k_value(t)?,
                None => crate::unsupported!("code generation needs K of TopK to be a constant"),
            },
        };
        let axis = util::axis(self.axis, x.shape.len())?;
        let k = check_k(k, Some(x.shape[axis]))?;
        // Both outputs are written; an unused one goes to scratch.
        let len = x.len() / x.shape[axis].max(1) * k;
        let values = if cx.has_output(0) { cx.output(0)? } else { cx.scratch(x.dtype, len) };
        let indices = if cx.has_output(1) { cx.output(1)? } else { cx.scratch(DType::I64, len) };
        super::reduce_lower::top_k(cx, &x, &values, &indices, axis, k, self.largest)
    }

    /// int8: float only.
    fn quantize(&self, rule: super::Rule) -> Result<super::Plan> {
        Ok(rule.float_only(super::NO_INTEGER_KERNEL))
    }
}

fn check_dtype(d: DType) -> Result<()> {
    if !(d.is_int() || d.is_float()) {
        bail!("TopK does not accept {d} inputs");
    }
    Ok(())
}

/// The value of the `K` input: a single non-negative integer.
fn k_value(t: &Tensor) -> Result<i64> {
    if t.rank() > 1 {
        bail!("K must be a one-element 1-D tensor, got shape {:?}", t.shape());
    }
    t.scalar_i64()
}

/// Checks `k` against the length of the axis (when known).
fn check_k(k: i64, axis_len: Option<usize>) -> Result<usize> {
    let Ok(k) = usize::try_from(k) else { bail!("k = {k} must not be negative") };
    if let Some(n) = axis_len {
        if k > n {
            bail!("k = {k} is larger than the axis ({n} elements)");
        }
    }
    Ok(k)
}

/// Ascending order with NaN above every number and all NaNs equal.
fn ascending<T: Num>(a: T, b: T) -> Ordering {
    match a.partial_cmp(&b) {
        Some(o) => o,
        None => {
            let (a_nan, b_nan) = (T::IS_FLOAT && a.to_f64().is_nan(), T::IS_FLOAT && b.to_f64().is_nan());
            a_nan.cmp(&b_nan)
        }
    }
}

/// Values and indices of the top `k` (`k` <= the axis length) of every lane.
fn top_k<T: Num>(a: &ArrayD<T>, axis: usize, k: usize, largest: bool) -> (ArrayD<T>, ArrayD<i64>) {
    let mut shape = a.shape().to_vec();
    shape[axis] = k;
    let mut values = ArrayD::from_elem(IxDyn(&shape), T::zero());
    let mut indices = ArrayD::from_elem(IxDyn(&shape), 0i64);
    let mut order: Vec<(usize, T)> = Vec::with_capacity(a.shape()[axis]);
    Zip::from(values.lanes_mut(Axis(axis))).and(indices.lanes_mut(Axis(axis))).and(a.lanes(Axis(axis))).for_each(
        |mut v, mut i, lane| {
            order.clear();
            order.extend(lane.iter().copied().enumerate());
            // A stable sort keeps equal values in index order.
            if largest {
                order.sort_by(|x, y| ascending(y.1, x.1));
            } else {
                order.sort_by(|x, y| ascending(x.1, y.1));
            }
            for ((slot_v, slot_i), &(idx, val)) in v.iter_mut().zip(i.iter_mut()).zip(&order) {
                *slot_v = val;
                *slot_i = idx as i64;
            }
        },
    );
    (values, indices)
}

#[cfg(test)]
mod tests {
    use crate::front::onnx::Attr;
    use crate::ir::Shape;
    use crate::ops::testing::{f32s, i64s, infer, run};

    #[test]
    fn constant_k_gives_exact_shapes() {
        let x = f32s(&[2, 5], &[0.0; 10]);
        let k = i64s(&[1], &[3]);
        let exact = infer("TopK", 11, vec![], &[x.clone(), k.clone()], &[1]).unwrap();
        assert_eq!(exact[0].shape, Shape::fixed(&[2, 3]));
        assert_eq!(exact[1].shape, Shape::fixed(&[2, 3]));
        let data = infer("TopK", 11, vec![], &[x.clone(), k], &[]).unwrap();
        assert_eq!(data[1].shape, Shape::from_dims(vec![Some(2), None]));
        assert!(infer("TopK", 11, vec![], &[x, i64s(&[1], &[6])], &[1]).is_err());
    }

    #[test]
    fn ties_keep_index_order() {
        let x = f32s(&[5], &[1.0, 3.0, 3.0, f32::NAN, 1.0]);
        let top = run("TopK", 11, vec![], &[x.clone(), i64s(&[1], &[3])]).unwrap();
        assert_eq!(top[1], i64s(&[3], &[3, 1, 2]));
        let bottom = run("TopK", 11, vec![("largest", Attr::Int(0))], &[x, i64s(&[1], &[3])]).unwrap();
        assert_eq!(bottom[0], f32s(&[3], &[1.0, 1.0, 3.0]));
        assert_eq!(bottom[1], i64s(&[3], &[0, 4, 1]));
    }

    #[test]
    fn k_as_attribute_and_along_an_axis() {
        let x = f32s(&[2, 3], &[1.0, 5.0, 2.0, 9.0, 0.0, 4.0]);
        let out = run("TopK", 1, vec![("k", Attr::Int(2)), ("axis", Attr::Int(0))], &[x]).unwrap();
        assert_eq!(out[0], f32s(&[2, 3], &[9.0, 5.0, 4.0, 1.0, 0.0, 2.0]));
        assert_eq!(out[1], i64s(&[2, 3], &[1, 0, 1, 0, 1, 0]));
    }

    #[test]
    fn bad_k_is_an_error() {
        let x = f32s(&[3], &[1.0, 2.0, 3.0]);
        assert!(run("TopK", 11, vec![], &[x.clone(), i64s(&[1], &[4])]).is_err());
        assert!(run("TopK", 11, vec![], &[x.clone(), i64s(&[1], &[-1])]).is_err());
        assert!(run("TopK", 11, vec![], &[x.clone(), i64s(&[2], &[1, 1])]).is_err());
        assert!(run("TopK", 9, vec![], std::slice::from_ref(&x)).is_err());
        let zero = run("TopK", 11, vec![], &[x, i64s(&[1], &[0])]).unwrap();
        assert_eq!(zero[1], i64s(&[0], &[]));
    }
}
