//! ScatterElements and the deprecated Scatter (opsets 9-10, the same
//! operator without reductions): a copy of `data` where each element of
//! `updates` lands at its own position with the coordinate along `axis`
//! taken from `indices`, replacing (or, with `reduction` add, mul, max,
//! min, combining with) the element there. Updates apply in row-major
//! order; out-of-range indices are errors. Reductions as ScatterND's.
//! <https://onnx.ai/onnx/operators/onnx__ScatterElements.html>

use super::gather_elements::element_positions;
use super::scatter_nd::{scatter, Reduction};
use super::take;
use super::{util, Arg, OpDef, Slots};
use crate::front::onnx::OnnxNode;
use crate::ir::TensorType;
use crate::tensor::Tensor;
use crate::{bail, Result};

#[derive(Debug, Clone)]
pub struct ScatterElements {
    axis: i64,
    reduction: Reduction,
}

impl OpDef for ScatterElements {
    /// Data movement (see `back::movement`) with constant indices, else the
    /// `scatter` kernel.
    fn lower(&self, cx: &mut super::LowerCx) -> Result<()> {
        if cx.input(1)?.constant.is_some() {
            return crate::back::movement::lower(cx, &[0, 2], |inputs| self.eval(inputs));
        }
        let axis = util::axis(self.axis, cx.input(0)?.shape.len())?;
        super::runtime_index::scatter_elements(cx, axis, self.reduction)
    }

    fn from_onnx(node: &OnnxNode) -> Result<Self> {
        let reduction = if node.op_type == "Scatter" { Reduction::None } else { Reduction::from_onnx(node)? };
        Ok(ScatterElements { axis: node.int("axis", 0)?, reduction })
    }

    fn infer(&self, inputs: &[Option<Arg>]) -> Result<Vec<TensorType>> {
        let (x, idx, upd) = (inputs.req(0)?.ty, inputs.req(1)?.ty, inputs.req(2)?.ty);
        take::check_index_type(idx.dtype, "indices")?;
        util::same_dtype(x, upd, "data and updates")?;
        if let (Some(r), Some(q)) = (x.shape.rank(), idx.shape.rank()) {
            if r != q {
                bail!("indices have rank {q} but data has rank {r}");
            }
            util::axis(self.axis, r)?;
        }
        Ok(vec![x.clone()])
    }

    fn eval(&self, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
        let (x, idx, upd) = (inputs.req(0)?, inputs.req(1)?, inputs.req(2)?);
        take::check_index_type(idx.dtype(), "indices")?;
        if upd.shape() != idx.shape() {
            bail!("updates have shape {:?} but indices have shape {:?}", upd.shape(), idx.shape());
        }
        let dst = element_positions(x.shape(), idx, self.axis)?;
        Ok(vec![scatter(x, &dst, upd, self.reduction)?])
    }

    /// int8: float only.
    fn quantize(&self, rule: super::Rule) -> Result<super::Plan> {
        Ok(rule.float_only(super::NO_INTEGER_KERNEL))
    }
}

#[cfg(test)]
mod tests {
    use crate::front::onnx::Attr;
    use crate::ops::testing::{f32s, i64s, run};

    #[test]
    fn scatters_along_axis() {
        let x = f32s(&[2, 2], &[1., 2., 3., 4.]);
        let attrs = vec![("axis", Attr::Int(1)), ("reduction", Attr::String("add".into()))];
        let y = run("ScatterElements", 18, attrs, &[x.clone(), i64s(&[2, 1], &[-1, 0]), f32s(&[2, 1], &[10., 20.])]).unwrap();
        assert_eq!(y[0], f32s(&[2, 2], &[1., 12., 23., 4.]));
        let y = run("Scatter", 9, vec![], &[x, i64s(&[1, 2], &[1, 0]), f32s(&[1, 2], &[10., 20.])]).unwrap();
        assert_eq!(y[0], f32s(&[2, 2], &[1., 20., 10., 4.]));
    }

    #[test]
    fn bad_inputs_are_errors() {
        let x = f32s(&[2, 2], &[1., 2., 3., 4.]);
        assert!(run("ScatterElements", 13, vec![], &[x.clone(), i64s(&[1, 1], &[2]), f32s(&[1, 1], &[0.])]).is_err());
        assert!(run("ScatterElements", 13, vec![], &[x.clone(), i64s(&[1, 1], &[0]), f32s(&[1, 2], &[0., 0.])]).is_err());
        assert!(run("ScatterElements", 13, vec![], &[x.clone(), i64s(&[1, 3], &[0; 3]), f32s(&[1, 3], &[0.; 3])]).is_err());
        let attrs = vec![("reduction", Attr::String("add".into()))];
        assert!(run("ScatterElements", 13, attrs, &[x.clone(), i64s(&[1, 1], &[0]), f32s(&[1, 1], &[0.])]).is_err());
    }
}
