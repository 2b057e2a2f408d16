//! ScatterND: a copy of `data` with the slices addressed by the index tuples
//! on the last axis of `indices` replaced by (or, with `reduction` add, mul,
//! max, min, combined with) `updates`. Updates apply in row-major order, so
//! with duplicate indices and no reduction the last one wins. Reductions on
//! numbers and bools (add = or, mul = and, max = or, min = and); max and min
//! propagate NaN. Out-of-range indices are errors.
//! <https://onnx.ai/onnx/operators/onnx__ScatterND.html>

use super::gather_nd::slice_starts;
use super::take;
use super::{util, Arg, OpDef, Slots};
use crate::front::onnx::OnnxNode;
use crate::ir::TensorType;
use crate::tensor::{Num, Tensor};
use crate::{bail, map2_array, map2_num, Result};
use ndarray::ArrayD;

/// How an update combines with the element it lands on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reduction {
    None,
    Add,
    Mul,
    Max,
    Min,
}

impl Reduction {
    /// The `reduction` argument of the `scatter` kernels.
    pub fn code(self) -> i64 {
        match self {
            Reduction::None => 0,
            Reduction::Add => 1,
            Reduction::Mul => 2,
            Reduction::Max => 3,
            Reduction::Min => 4,
        }
    }

    /// Reads the `reduction` attribute (add/mul from opset 16, max/min from 18).
    pub fn from_onnx(node: &OnnxNode) -> Result<Reduction> {
        let r = match node.string("reduction", "none")?.as_str() {
            "none" => Reduction::None,
            "add" => Reduction::Add,
            "mul" => Reduction::Mul,
            "max" => Reduction::Max,
            "min" => Reduction::Min,
            other => bail!("reduction '{other}' is not none, add, mul, max or min"),
        };
        let since = match r {
            Reduction::None => 0,
            Reduction::Add | Reduction::Mul => 16,
            Reduction::Max | Reduction::Min => 18,
        };
        if node.opset < since {
            bail!("reduction {r:?} needs opset {since} or later (the model uses {})", node.opset);
        }
        Ok(r)
    }
}

#[derive(Debug, Clone)]
pub struct ScatterND {
    reduction: Reduction,
}

impl OpDef for ScatterND {
    /// Data movement (see `back::movement`) with constant indices, else the
    /// `scatter` kernel.
    fn lower(&self, cx: &mut super::LowerCx) -> Result<()> {
        if cx.input(1)?.constant.is_some() {
            return crate::back::movement::lower(cx, &[0, 2], |inputs| self.eval(inputs));
        }
        super::runtime_index::scatter_nd(cx, self.reduction)
    }

    fn from_onnx(node: &OnnxNode) -> Result<Self> {
        Ok(ScatterND { reduction: Reduction::from_onnx(node)? })
    }

    fn infer(&self, inputs: &[Option<Arg>]) -> Result<Vec<TensorType>> {
        let (x, idx, upd) = (inputs.req(0)?.ty, inputs.req(1)?.ty, inputs.req(2)?.ty);
        take::check_index_type(idx.dtype, "indices")?;
        util::same_dtype(x, upd, "data and updates")?;
        Ok(vec![x.clone()])
    }

    fn eval(&self, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
        let (x, idx, upd) = (inputs.req(0)?, inputs.req(1)?, inputs.req(2)?);
        take::check_index_type(idx.dtype(), "indices")?;
        let (starts, slice, upd_shape) = slice_starts(x.shape(), idx, 0)?;
        if upd.shape() != upd_shape.as_slice() {
            bail!("updates have shape {:?}; data {:?} and indices {:?} need {upd_shape:?}", upd.shape(), x.shape(), idx.shape());
        }
        let offsets: Vec<Vec<Option<usize>>> = vec![starts.into_iter().map(Some).collect(), (0..slice).map(Some).collect()];
        let dst = take::separable(&[offsets[0].len(), slice], &offsets)?;
        Ok(vec![scatter(x, &dst, upd, self.reduction)?])
    }

    /// int8: float only.
    fn quantize(&self, rule: super::Rule) -> Result<super::Plan> {
        Ok(rule.float_only(super::NO_INTEGER_KERNEL))
    }
}

/// `data` with `updates[i]` combined into flat position `dst[i]`, in order.
pub fn scatter(data: &Tensor, dst: &[usize], updates: &Tensor, r: Reduction) -> Result<Tensor> {
    if r == Reduction::None {
        return map2_array!(data, updates, (d, u) => take::scatter(d, dst, u, replace)?);
    }
    if let (Tensor::Bool(d), Tensor::Bool(u)) = (data, updates) {
        let f = match r {
            Reduction::Add | Reduction::Max => |a: &bool, b: &bool| *a || *b,
            _ => |a: &bool, b: &bool| *a && *b,
        };
        return Ok(Tensor::Bool(take::scatter(d, dst, u, f)?));
    }
    map2_num!(data, updates, (d, u) => reduce(d, dst, u, r)?)
}

fn replace<T: Clone>(_old: &T, new: &T) -> T {
    new.clone()
}

fn reduce<T: Num>(d: &ArrayD<T>, dst: &[usize], u: &ArrayD<T>, r: Reduction) -> Result<ArrayD<T>> {
    take::scatter(d, dst, u, |&a, &b| match r {
        Reduction::None => b,
        Reduction::Add => a.add(b),
        Reduction::Mul => a.mul(b),
        Reduction::Max => pick(a, b, b > a),
        Reduction::Min => pick(a, b, b < a),
    })
}

/// `b` if `take_b`, NaN winning over numbers (numpy's maximum/minimum).
#[allow(clippy::eq_op)]
fn pick<T: Num>(a: T, b: T, take_b: bool) -> T {
    if a != a {
        a
    } else if b != b || take_b {
        b
    } else {
        a
    }
}

#[cfg(test)]
mod tests {
    use crate::front::onnx::Attr;
    use crate::ops::testing::{f32s, i64s, run};
    use crate::tensor::Tensor;

    fn scatter(red: &str, idx: Tensor, upd: Tensor) -> crate::Result<Tensor> {
        let x = f32s(&[4], &[1., 2., 3., 4.]);
        Ok(run("ScatterND", 18, vec![("reduction", Attr::String(red.into()))], &[x, idx, upd])?.remove(0))
    }

    #[test]
    fn reductions_apply_in_order() {
        let idx = i64s(&[3, 1], &[0, -1, 0]);
        let upd = f32s(&[3], &[10., 20., 30.]);
        assert_eq!(scatter("none", idx.clone(), upd.clone()).unwrap(), f32s(&[4], &[30., 2., 3., 20.]));
        assert_eq!(scatter("add", idx.clone(), upd.clone()).unwrap(), f32s(&[4], &[41., 2., 3., 24.]));
        assert_eq!(scatter("mul", idx.clone(), upd.clone()).unwrap(), f32s(&[4], &[300., 2., 3., 80.]));
        assert_eq!(scatter("min", idx.clone(), upd.clone()).unwrap(), f32s(&[4], &[1., 2., 3., 4.]));
        let nan = scatter("max", i64s(&[2, 1], &[1, 1]), f32s(&[2], &[f32::NAN, 5.])).unwrap();
        assert!(nan.to_f64_vec().unwrap()[1].is_nan());
    }

    #[test]
    fn bad_inputs_are_errors() {
        assert!(scatter("none", i64s(&[1, 1], &[4]), f32s(&[1], &[0.])).is_err());
        assert!(scatter("none", i64s(&[1, 1], &[0]), f32s(&[2], &[0., 0.])).is_err());
        assert!(scatter("none", i64s(&[1, 2], &[0, 0]), f32s(&[1], &[0.])).is_err());
        assert!(scatter("none", i64s(&[1, 1], &[0]), Tensor::from_vec(&[1], vec![1i64]).unwrap()).is_err());
        let x = f32s(&[1], &[1.]);
        let attrs = vec![("reduction", Attr::String("max".into()))];
        assert!(run("ScatterND", 16, attrs, &[x.clone(), i64s(&[1, 1], &[0]), x]).is_err());
    }
}
