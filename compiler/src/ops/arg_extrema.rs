//! ArgMax and ArgMin: the int64 index of the largest (smallest) element
//! along one axis. <https://onnx.ai/onnx/operators/onnx__ArgMax.html>
//!
//! Opsets 1 to 13: `axis` (default 0), `keepdims` (default 1) and, from
//! opset 12, `select_last_index`. Integer and float inputs. Ties go to the
//! first index, or the last with `select_last_index`; NaN counts as the
//! extreme value (numpy's rule). An empty axis is an error.

use super::{util, Arg, OpDef, Slots};
use crate::front::onnx::OnnxNode;
use crate::ir::{Shape, TensorType};
use crate::tensor::{DType, Num, Tensor};
use crate::{bail, for_each_num, Result};
use ndarray::{ArrayView1, Axis};

#[derive(Debug, Clone)]
pub struct ArgExtremum {
    max: bool,
    axis: i64,
    keepdims: bool,
    last: bool,
}

impl OpDef for ArgExtremum {
    fn from_onnx(node: &OnnxNode) -> Result<Self> {
        let max = match node.op_type.as_str() {
            "ArgMax" => true,
            "ArgMin" => false,
            other => bail!("'{other}' is not ArgMax or ArgMin"),
        };
        let last = node.int("select_last_index", 0)? != 0;
        if last && node.opset < 12 {
            bail!("'select_last_index' exists from opset 12");
        }
        Ok(ArgExtremum { max, axis: node.int("axis", 0)?, keepdims: node.int("keepdims", 1)? != 0, last })
    }

    fn infer(&self, inputs: &[Option<Arg>]) -> Result<Vec<TensorType>> {
        let x = inputs.req(0)?.ty;
        check_dtype(x.dtype)?;
        let shape = match x.shape.dims() {
            None => Shape::unknown(),
            Some(dims) => {
                let axis = util::axis(self.axis, dims.len())?;
                if dims[axis] == Some(0) {
                    bail!("cannot take the arg-extremum of an empty axis");
                }
                let mut out = dims.to_vec();
                if self.keepdims {
                    out[axis] = Some(1);
                } else {
                    out.remove(axis);
                }
                Shape::from_dims(out)
            }
        };
        Ok(vec![TensorType::new(DType::I64, shape)])
    }

    fn eval(&self, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
        let x = inputs.req(0)?;
        check_dtype(x.dtype())?;
        let axis = util::axis(self.axis, x.rank())?;
        if x.shape()[axis] == 0 {
            bail!("cannot take the arg-extremum of an empty axis");
        }
        let (max, last) = (self.max, self.last);
        let mut out = for_each_num!(x, a => a.map_axis(Axis(axis), |lane| arg_extremum(lane, max, last) as i64))?;
        if self.keepdims {
            out.insert_axis_inplace(Axis(axis));
        }
        Ok(vec![Tensor::I64(out)])
    }

    fn lower(&self, cx: &mut crate::back::lower::LowerCx) -> Result<()> {
        let x = cx.input(0)?.clone();
        let axis = util::axis(self.axis, x.shape.len())?;
        let y = cx.output(0)?;
        super::reduce_lower::arg_extremum(cx, &x, &y, axis, self.max, self.last)
    }

    /// int8: float only.
    fn quantize(&self, rule: super::Rule) -> Result<super::Plan> {
        Ok(rule.float_only(super::NO_INTEGER_KERNEL))
    }
}

fn check_dtype(d: DType) -> Result<()> {
    if !(d.is_int() || d.is_float()) {
        bail!("ArgMax/ArgMin do not accept {d} inputs");
    }
    Ok(())
}

/// Index of the largest (`max`) or smallest element of a non-empty lane;
/// ties go to the first index, or the last when `last` is set; NaN wins.
pub fn arg_extremum<T: Num>(lane: ArrayView1<T>, max: bool, last: bool) -> usize {
    let is_nan = |v: T| T::IS_FLOAT && v.to_f64().is_nan();
    let mut values = lane.iter().copied().enumerate();
    let Some((_, mut best_value)) = values.next() else { return 0 };
    let mut best = 0;
    for (i, v) in values {
        let better = if is_nan(best_value) {
            last && is_nan(v)
        } else if is_nan(v) {
            true
        } else if max {
            v > best_value || (last && v == best_value)
        } else {
            v < best_value || (last && v == best_value)
        };
        if better {
            best = i;
            best_value = v;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use crate::front::onnx::Attr;
    use crate::ops::testing::{f32s, i64s, run};

    #[test]
    fn ties_first_or_last() {
        let x = f32s(&[2, 3], &[1.0, 3.0, 3.0, 2.0, 2.0, 0.0]);
        let first = run("ArgMax", 13, vec![("axis", Attr::Int(1))], std::slice::from_ref(&x)).unwrap();
        assert_eq!(first[0], i64s(&[2, 1], &[1, 0]));
        let last = run("ArgMax", 13, vec![("axis", Attr::Int(1)), ("select_last_index", Attr::Int(1))], std::slice::from_ref(&x)).unwrap();
        assert_eq!(last[0], i64s(&[2, 1], &[2, 1]));
        let min = run("ArgMin", 13, vec![("axis", Attr::Int(-1)), ("keepdims", Attr::Int(0))], &[x]).unwrap();
        assert_eq!(min[0], i64s(&[2], &[0, 2]));
    }

    #[test]
    fn nan_wins_and_empty_axis_fails() {
        let x = f32s(&[3], &[1.0, f32::NAN, 5.0]);
        assert_eq!(run("ArgMax", 13, vec![], std::slice::from_ref(&x)).unwrap()[0], i64s(&[1], &[1]));
        assert_eq!(run("ArgMin", 13, vec![], &[x]).unwrap()[0], i64s(&[1], &[1]));
        assert!(run("ArgMax", 13, vec![("axis", Attr::Int(1))], &[f32s(&[2, 0], &[])]).is_err());
        assert!(run("ArgMax", 13, vec![("axis", Attr::Int(2))], &[f32s(&[2, 1], &[1.0, 2.0])]).is_err());
    }
}
