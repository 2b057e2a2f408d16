//! GatherElements: `out[p] = data[p with p[axis] = indices[p]]`; the output
//! has the shape of `indices` (same rank as `data`, no larger than `data`
//! off `axis`). Negative indices count from the end; out-of-range ones are
//! errors. Every element type.
//! <https://onnx.ai/onnx/operators/onnx__GatherElements.html>

use super::take;
use super::{util, Arg, OpDef, Slots};
use crate::front::onnx::OnnxNode;
use crate::ir::TensorType;
use crate::tensor::Tensor;
use crate::{bail, Result};

#[derive(Debug, Clone)]
pub struct GatherElements {
    axis: i64,
}

impl OpDef for GatherElements {
    /// Data movement (see `back::movement`) with constant indices, else the
    /// `gather` kernel.
    fn lower(&self, cx: &mut super::LowerCx) -> Result<()> {
        if cx.input(1)?.constant.is_some() {
            return crate::back::movement::lower(cx, &[0], |inputs| self.eval(inputs));
        }
        let axis = util::axis(self.axis, cx.input(0)?.shape.len())?;
        super::runtime_index::gather_elements(cx, axis)
    }

    fn from_onnx(node: &OnnxNode) -> Result<Self> {
        Ok(GatherElements { axis: node.int("axis", 0)? })
    }

    fn infer(&self, inputs: &[Option<Arg>]) -> Result<Vec<TensorType>> {
        let (x, idx) = (inputs.req(0)?.ty, inputs.req(1)?.ty);
        take::check_index_type(idx.dtype, "indices")?;
        if let (Some(r), Some(q)) = (x.shape.rank(), idx.shape.rank()) {
            if r != q {
                bail!("indices have rank {q} but data has rank {r}");
            }
            util::axis(self.axis, r)?;
        }
        Ok(vec![TensorType::new(x.dtype, idx.shape.clone())])
    }

    fn eval(&self, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
        let (x, idx) = (inputs.req(0)?, inputs.req(1)?);
        take::check_index_type(idx.dtype(), "indices")?;
        let src = element_positions(x.shape(), idx, self.axis)?;
        Ok(vec![take::take(x, idx.shape(), &src)?])
    }

    /// int8: float only.
    fn quantize(&self, rule: super::Rule) -> Result<super::Plan> {
        Ok(rule.float_only(super::NO_INTEGER_KERNEL))
    }
}

/// The flat position in a tensor of `shape` that each element of `indices`
/// designates along `axis` (shared with ScatterElements): `indices` must
/// have the same rank and be no larger than `shape` off `axis`.
pub fn element_positions(shape: &[usize], indices: &Tensor, axis: i64) -> Result<Vec<usize>> {
    let ishape = indices.shape();
    if ishape.len() != shape.len() {
        bail!("indices have rank {} but data has rank {}", ishape.len(), shape.len());
    }
    let axis = util::axis(axis, shape.len())?;
    for (a, (&i, &d)) in ishape.iter().zip(shape).enumerate() {
        if a != axis && i > d {
            bail!("indices shape {ishape:?} exceeds data shape {shape:?} on axis {a}");
        }
    }
    let strides = take::strides(shape);
    let values = indices.to_i64_vec()?;
    let mut out = Vec::with_capacity(values.len());
    let mut k = 0usize;
    take::for_each_index(ishape, |p| {
        let Some(&v) = values.get(k) else { bail!("internal: indices shorter than their shape") };
        k += 1;
        let along = take::index(v, shape[axis], "index")?;
        let pos = p.iter().zip(&strides).enumerate().map(|(a, (&i, &s))| if a == axis { along * s } else { i * s }).sum();
        out.push(pos);
        Ok(())
    })?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use crate::front::onnx::Attr;
    use crate::ops::testing::{f32s, i64s, run};

    #[test]
    fn gathers_along_axis_with_negative_indices() {
        let x = f32s(&[2, 2], &[1., 2., 3., 4.]);
        let y = run("GatherElements", 13, vec![("axis", Attr::Int(1))], &[x, i64s(&[2, 2], &[0, 0, -1, 0])]).unwrap();
        assert_eq!(y[0], f32s(&[2, 2], &[1., 1., 4., 3.]));
    }

    #[test]
    fn bad_indices_are_errors() {
        let x = f32s(&[2, 2], &[1., 2., 3., 4.]);
        assert!(run("GatherElements", 13, vec![], &[x.clone(), i64s(&[1, 2], &[2, 0])]).is_err());
        assert!(run("GatherElements", 13, vec![], &[x.clone(), i64s(&[1, 3], &[0, 0, 0])]).is_err());
        assert!(run("GatherElements", 13, vec![], &[x.clone(), i64s(&[2], &[0, 0])]).is_err());
        assert!(run("GatherElements", 13, vec![("axis", Attr::Int(-3))], &[x, i64s(&[1, 1], &[0])]).is_err());
    }
}
