//! Gather: takes slices of `data` along `axis` at int32/int64 `indices`
//! (negative indices count from the end; out-of-range ones are errors).
//! Every element type. <https://onnx.ai/onnx/operators/onnx__Gather.html>

use super::take;
use super::{util, Arg, OpDef, Slots};
use crate::front::onnx::OnnxNode;
use crate::ir::{Dim, Shape, TensorType};
use crate::tensor::{checked_numel, Tensor};
use crate::Result;

#[derive(Debug, Clone)]
pub struct Gather {
    axis: i64,
}

impl OpDef for Gather {
    /// Data movement (see `back::movement`) with constant indices, else the
    /// `gather` kernel.
    fn lower(&self, cx: &mut super::LowerCx) -> Result<()> {
        if cx.input(1)?.constant.is_some() {
            return crate::back::movement::lower(cx, &[0], |inputs| self.eval(inputs));
        }
        let axis = util::axis(self.axis, cx.input(0)?.shape.len())?;
        super::runtime_index::gather(cx, axis)
    }

    fn from_onnx(node: &OnnxNode) -> Result<Self> {
        Ok(Gather { axis: node.int("axis", 0)? })
    }

    fn infer(&self, inputs: &[Option<Arg>]) -> Result<Vec<TensorType>> {
        let (x, idx) = (inputs.req(0)?.ty, inputs.req(1)?);
        take::check_index_type(idx.ty.dtype, "indices")?;
        let shape = match (x.shape.dims(), idx.ty.shape.dims()) {
            (Some(d), Some(i)) => {
                let axis = util::axis(self.axis, d.len())?;
                if let (Some(len), Some(values)) = (d[axis], util::const_ints(inputs, 1)?) {
                    for v in values {
                        take::index(v, len, "index")?;
                    }
                }
                let mut out: Vec<Dim> = d[..axis].to_vec();
                out.extend_from_slice(i);
                out.extend_from_slice(&d[axis + 1..]);
                Shape::from_dims(out)
            }
            _ => Shape::unknown(),
        };
        Ok(vec![TensorType::new(x.dtype, shape)])
    }

    fn eval(&self, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
        let (x, idx) = (inputs.req(0)?, inputs.req(1)?);
        take::check_index_type(idx.dtype(), "indices")?;
        let shape = x.shape();
        let axis = util::axis(self.axis, shape.len())?;
        let len = shape[axis];
        let outer = checked_numel(&shape[..axis])?;
        let inner = checked_numel(&shape[axis + 1..])?;
        let picks = idx.to_i64_vec()?;
        let mut rows = Vec::with_capacity(picks.len());
        for &i in &picks {
            rows.push(Some(take::index(i, len, "index")? * inner));
        }
        let mut out_shape = shape[..axis].to_vec();
        out_shape.extend_from_slice(idx.shape());
        out_shape.extend_from_slice(&shape[axis + 1..]);
        let block = len * inner;
        let offsets = vec![
            (0..outer).map(|o| Some(o * block)).collect(),
            rows,
            (0..inner).map(Some).collect(),
        ];
        let src = take::separable(&[outer, picks.len(), inner], &offsets)?;
        Ok(vec![take::take(x, &out_shape, &src)?])
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
    use crate::tensor::Tensor;

    #[test]
    fn negative_and_scalar_indices() {
        let x = f32s(&[2, 3], &[1., 2., 3., 4., 5., 6.]);
        let y = run("Gather", 13, vec![("axis", Attr::Int(1))], &[x.clone(), i64s(&[2], &[-1, 0])]).unwrap();
        assert_eq!(y[0], f32s(&[2, 2], &[3., 1., 6., 4.]));
        let y = run("Gather", 13, vec![], &[x, Tensor::scalar(1i32)]).unwrap();
        assert_eq!(y[0], f32s(&[3], &[4., 5., 6.]));
    }

    #[test]
    fn out_of_range_indices_and_axes_are_errors() {
        let x = f32s(&[2, 3], &[1., 2., 3., 4., 5., 6.]);
        assert!(run("Gather", 13, vec![], &[x.clone(), i64s(&[1], &[2])]).is_err());
        assert!(run("Gather", 13, vec![], &[x.clone(), i64s(&[1], &[-3])]).is_err());
        assert!(run("Gather", 13, vec![("axis", Attr::Int(2))], &[x.clone(), i64s(&[1], &[0])]).is_err());
        assert!(run("Gather", 13, vec![], &[x, f32s(&[1], &[0.])]).is_err());
        let empty = f32s(&[0, 2], &[]);
        assert!(run("Gather", 13, vec![], &[empty.clone(), i64s(&[1], &[0])]).is_err());
        assert_eq!(run("Gather", 13, vec![], &[empty, i64s(&[0], &[])]).unwrap()[0], f32s(&[0, 2], &[]));
    }
}

#[cfg(test)]
mod infer_tests {
    use crate::ir::Shape;
    use crate::ops::take::infer_with_constants;
    use crate::ops::testing::{f32s, i64s};

    #[test]
    fn constant_indices_are_checked_at_compile_time() {
        let x = f32s(&[2, 3], &[0.; 6]);
        let t = infer_with_constants("Gather", 13, vec![], &[x.clone(), i64s(&[1, 2], &[0, 1])], &[false, true]).unwrap();
        assert_eq!(t[0].shape, Shape::fixed(&[1, 2, 3]));
        assert!(infer_with_constants("Gather", 13, vec![], &[x, i64s(&[1], &[5])], &[false, true]).is_err());
    }
}
