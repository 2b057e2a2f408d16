//! Compress: the slices of the input along `axis` (or, without `axis`, the
//! elements of the flattened input) whose entry in the bool `condition` is
//! true. A shorter condition drops the remaining slices; a longer one may
//! only hold false past the end. The selected count depends on the data,
//! so that dimension is unknown. Every element type.
//! <https://onnx.ai/onnx/operators/onnx__Compress.html>

use super::take;
use super::{util, Arg, OpDef, Slots};
use crate::front::onnx::OnnxNode;
use crate::ir::{Dim, Shape, TensorType};
use crate::tensor::{checked_numel, DType, Tensor};
use crate::{bail, Result};

#[derive(Debug, Clone)]
pub struct Compress {
    axis: Option<i64>,
}

impl OpDef for Compress {
    /// Pure data movement (see `back::movement`).
    fn lower(&self, cx: &mut super::LowerCx) -> Result<()> {
        crate::back::movement::lower(cx, &[0], |inputs| self.eval(inputs))
    }

    fn from_onnx(node: &OnnxNode) -> Result<Self> {
        Ok(Compress { axis: node.int_opt("axis")? })
    }

    fn infer(&self, inputs: &[Option<Arg>]) -> Result<Vec<TensorType>> {
        let (x, cond) = (inputs.req(0)?.ty, inputs.req(1)?.ty);
        check_condition(cond.dtype, cond.shape.rank())?;
        let shape = match (self.axis, x.shape.dims()) {
            (None, _) => Shape::of_rank(1),
            (Some(a), Some(d)) => {
                let axis = util::axis(a, d.len())?;
                let dims: Vec<Dim> = d.iter().enumerate().map(|(i, &d)| if i == axis { None } else { d }).collect();
                Shape::from_dims(dims)
            }
            (Some(_), None) => Shape::unknown(),
        };
        Ok(vec![TensorType::new(x.dtype, shape)])
    }

    fn eval(&self, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
        let (x, cond) = (inputs.req(0)?, inputs.req(1)?);
        check_condition(cond.dtype(), Some(cond.rank()))?;
        let keep: Vec<bool> = cond.array::<bool>()?.iter().copied().collect();
        let (outer, len, inner) = match self.axis {
            None => (1, x.len(), 1),
            Some(a) => {
                let s = x.shape();
                let axis = util::axis(a, s.len())?;
                (checked_numel(&s[..axis])?, s[axis], checked_numel(&s[axis + 1..])?)
            }
        };
        if let Some(extra) = keep.iter().skip(len).position(|&k| k) {
            bail!("condition selects slice {} but the axis has only {len}", len + extra);
        }
        let picked: Vec<Option<usize>> =
            keep.iter().take(len).enumerate().filter(|(_, &k)| k).map(|(i, _)| Some(i * inner)).collect();
        let out_shape = match self.axis {
            None => vec![picked.len()],
            Some(a) => {
                let mut s = x.shape().to_vec();
                let axis = util::axis(a, s.len())?;
                s[axis] = picked.len();
                s
            }
        };
        let block = len * inner;
        let count = picked.len();
        let offsets = vec![(0..outer).map(|o| Some(o * block)).collect(), picked, (0..inner).map(Some).collect()];
        let src = take::separable(&[outer, count, inner], &offsets)?;
        Ok(vec![take::take(x, &out_shape, &src)?])
    }

    /// int8: float only.
    fn quantize(&self, rule: super::Rule) -> Result<super::Plan> {
        Ok(rule.float_only(super::NO_INTEGER_KERNEL))
    }
}

fn check_condition(d: DType, rank: Option<usize>) -> Result<()> {
    if d != DType::Bool {
        bail!("condition must be bool, got {d}");
    }
    if rank.is_some_and(|r| r != 1) {
        bail!("condition must have rank 1");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::front::onnx::Attr;
    use crate::ops::testing::{f32s, run};
    use crate::tensor::Tensor;

    fn cond(v: &[bool]) -> Tensor {
        Tensor::from_vec(&[v.len()], v.to_vec()).unwrap()
    }

    #[test]
    fn short_and_long_conditions() {
        let x = f32s(&[2, 3], &[1., 2., 3., 4., 5., 6.]);
        let y = run("Compress", 11, vec![("axis", Attr::Int(-1))], &[x.clone(), cond(&[false, true])]).unwrap();
        assert_eq!(y[0], f32s(&[2, 1], &[2., 5.]));
        let y = run("Compress", 11, vec![], &[x.clone(), cond(&[true, false, false, false, false, false, false])]).unwrap();
        assert_eq!(y[0], f32s(&[1], &[1.]));
        assert!(run("Compress", 11, vec![("axis", Attr::Int(0))], &[x.clone(), cond(&[false, false, true])]).is_err());
        assert!(run("Compress", 11, vec![("axis", Attr::Int(2))], &[x.clone(), cond(&[true])]).is_err());
        assert!(run("Compress", 11, vec![], &[x, f32s(&[1], &[1.])]).is_err());
    }
}
