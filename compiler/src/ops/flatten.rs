//! Flatten: reshapes to 2-D, `[d0 * ... * d(axis-1), d(axis) * ... * dn]`.
//! `axis` may be negative (opset 11+) and equal to the rank. Any element type.
//! <https://onnx.ai/onnx/operators/onnx__Flatten.html>

use super::{Arg, OpDef, Slots};
use crate::front::onnx::OnnxNode;
use crate::ir::{Dim, Shape, TensorType};
use crate::tensor::{checked_numel, Tensor};
use crate::{bail, Result};

#[derive(Debug, Clone)]
pub struct Flatten {
    axis: i64,
}

impl OpDef for Flatten {
    /// Pure data movement (see `back::movement`).
    fn lower(&self, cx: &mut super::LowerCx) -> Result<()> {
        crate::back::movement::alias(cx)
    }

    fn from_onnx(node: &OnnxNode) -> Result<Self> {
        Ok(Flatten { axis: node.int("axis", 1)? })
    }

    fn infer(&self, inputs: &[Option<Arg>]) -> Result<Vec<TensorType>> {
        let x = inputs.req(0)?.ty;
        let shape = match x.shape.dims() {
            Some(dims) => {
                let axis = self.split_at(dims.len())?;
                Shape::from_dims(vec![product(&dims[..axis])?, product(&dims[axis..])?])
            }
            None => Shape::of_rank(2),
        };
        Ok(vec![TensorType::new(x.dtype, shape)])
    }

    fn eval(&self, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
        let x = inputs.req(0)?;
        let axis = self.split_at(x.rank())?;
        let (outer, inner) = (checked_numel(&x.shape()[..axis])?, checked_numel(&x.shape()[axis..])?);
        Ok(vec![x.reshape(&[outer, inner])?])
    }

    /// int8: data movement on codes; the output keeps the input's parameters.
    fn quantize(&self, rule: super::Rule) -> Result<super::Plan> {
        rule.on_codes(super::int8_rule::Needs::Inputs, |cx| cx.passthrough())
    }
}

impl Flatten {
    /// The axis in `0..=rank`.
    fn split_at(&self, rank: usize) -> Result<usize> {
        let r = rank as i64;
        if self.axis < -r || self.axis > r {
            bail!("axis {} is out of range for rank {rank}", self.axis);
        }
        Ok(if self.axis < 0 { (self.axis + r) as usize } else { self.axis as usize })
    }
}

/// Product of dimensions, unknown if any is unknown (unless one is 0).
fn product(dims: &[Dim]) -> Result<Dim> {
    if dims.contains(&Some(0)) {
        return Ok(Some(0));
    }
    match dims.iter().copied().collect::<Option<Vec<usize>>>() {
        Some(d) => Ok(Some(checked_numel(&d)?)),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use crate::front::onnx::Attr;
    use crate::ops::testing::{i64s, run};

    #[test]
    fn axis_zero_and_rank() {
        let x = i64s(&[2, 1, 2], &[1, 2, 3, 4]);
        assert_eq!(
            run("Flatten", 13, vec![("axis", Attr::Int(0))], std::slice::from_ref(&x)).unwrap()[0],
            i64s(&[1, 4], &[1, 2, 3, 4])
        );
        assert_eq!(
            run("Flatten", 13, vec![("axis", Attr::Int(3))], std::slice::from_ref(&x)).unwrap()[0],
            i64s(&[4, 1], &[1, 2, 3, 4])
        );
        assert_eq!(
            run("Flatten", 13, vec![("axis", Attr::Int(-1))], std::slice::from_ref(&x)).unwrap()[0],
            i64s(&[2, 2], &[1, 2, 3, 4])
        );
        assert!(run("Flatten", 13, vec![("axis", Attr::Int(4))], &[x]).is_err());
    }
}
