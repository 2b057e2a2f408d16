//! Trilu: keeps the upper (`upper` = 1) or lower triangle of the last two
//! dimensions, on and above / below the diagonal `k` (an optional int64
//! scalar input); the rest becomes zero. Any element type.
//! <https://onnx.ai/onnx/operators/onnx__Trilu.html>

use super::{Arg, OpDef, Slots};
use crate::back::program::{Arg as KernelArg, Lit};
use crate::front::onnx::OnnxNode;
use crate::ir::TensorType;
use crate::tensor::{Elem, Tensor};
use crate::{bail, map_array, Result};
use ndarray::ArrayD;

#[derive(Debug, Clone)]
pub struct Trilu {
    upper: bool,
}

impl OpDef for Trilu {
    /// Data movement (see `back::movement`) with a constant `k`, else the
    /// `trilu` kernel.
    fn lower(&self, cx: &mut super::LowerCx) -> Result<()> {
        let Some(k) = cx.opt_input(1).filter(|k| k.constant.is_none()).cloned() else {
            return crate::back::movement::lower(cx, &[0], |inputs| self.eval(inputs));
        };
        let x = cx.input(0)?.clone();
        let y = cx.output(0)?;
        if !y.is_empty() {
            let r = x.shape.len();
            let dims = vec![x.shape[..r - 2].iter().product(), x.shape[r - 2], x.shape[r - 1]];
            let args = vec![x.arg_in(), k.arg_in(), y.arg_out(), KernelArg::Dims(dims), KernelArg::Lit(Lit::Bool(self.upper))];
            cx.call("trilu", "trilu", vec![x.dtype], args);
        }
        Ok(())
    }

    fn from_onnx(node: &OnnxNode) -> Result<Self> {
        Ok(Trilu { upper: node.int("upper", 1)? != 0 })
    }

    fn infer(&self, inputs: &[Option<Arg>]) -> Result<Vec<TensorType>> {
        let x = inputs.req(0)?.ty;
        if x.shape.rank().is_some_and(|r| r < 2) {
            bail!("the input must have rank 2 or more, its shape is {}", x.shape);
        }
        if let Some(k) = inputs.opt(1) {
            if k.ty.shape.numel().is_some_and(|n| n != 1) {
                bail!("k must be a scalar, its shape is {}", k.ty.shape);
            }
        }
        Ok(vec![x.clone()])
    }

    fn eval(&self, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
        let x = inputs.req(0)?;
        if x.rank() < 2 {
            bail!("the input must have rank 2 or more, its shape is {:?}", x.shape());
        }
        let k = match inputs.opt(1) {
            Some(t) => t.scalar_i64()?,
            None => 0,
        };
        let upper = self.upper;
        Ok(vec![map_array!(x, a => triangle(a, k, upper))])
    }

    /// int8: float only.
    fn quantize(&self, rule: super::Rule) -> Result<super::Plan> {
        Ok(rule.float_only(super::NO_INTEGER_KERNEL))
    }
}

/// Zeroes the elements outside the triangle (`T::default()` is zero for
/// every element type, including the bit patterns of the small types).
fn triangle<T: Elem>(a: &ArrayD<T>, k: i64, upper: bool) -> ArrayD<T> {
    let mut out = a.as_standard_layout().into_owned();
    let r = out.ndim();
    for (idx, v) in out.indexed_iter_mut() {
        // Indices are below 2^31, so the difference cannot overflow.
        let diagonal = idx[r - 1] as i64 - idx[r - 2] as i64;
        let keep = if upper { diagonal >= k } else { diagonal <= k };
        if !keep {
            *v = T::default();
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use crate::front::onnx::Attr;
    use crate::ops::testing::{i64s, run};

    #[test]
    fn upper_and_lower_with_k() {
        let x = i64s(&[2, 3], &[1, 2, 3, 4, 5, 6]);
        assert_eq!(run("Trilu", 14, vec![], std::slice::from_ref(&x)).unwrap()[0], i64s(&[2, 3], &[1, 2, 3, 0, 5, 6]));
        let lower = vec![("upper", Attr::Int(0))];
        let out = run("Trilu", 14, lower, &[x.clone(), i64s(&[], &[-1])]).unwrap();
        assert_eq!(out[0], i64s(&[2, 3], &[0, 0, 0, 4, 0, 0]));
        let far = run("Trilu", 14, vec![], &[x.clone(), i64s(&[], &[i64::MIN])]).unwrap();
        assert_eq!(far[0], x);
    }

    #[test]
    fn rank_one_is_an_error() {
        assert!(run("Trilu", 14, vec![], &[i64s(&[2], &[1, 2])]).is_err());
    }
}
