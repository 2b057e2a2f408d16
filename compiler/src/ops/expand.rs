//! Expand: broadcasts the input to a shape given as a 1-D int64 tensor, with
//! numpy's two-way rule (a 1 in the shape keeps the input's dimension).
//! Any element type.
//! <https://onnx.ai/onnx/operators/onnx__Expand.html>

use super::{util, Arg, OpDef, Slots};
use crate::front::onnx::OnnxNode;
use crate::ir::{Shape, TensorType};
use crate::tensor::{shape_from_i64, Tensor};
use crate::{bail, map_array, Result};
use ndarray::ArrayD;

#[derive(Debug, Clone)]
pub struct Expand;

impl OpDef for Expand {
    /// Pure data movement (see `back::movement`).
    fn lower(&self, cx: &mut super::LowerCx) -> Result<()> {
        crate::back::movement::lower(cx, &[0], |inputs| self.eval(inputs))
    }

    fn from_onnx(_node: &OnnxNode) -> Result<Self> {
        Ok(Expand)
    }

    fn infer(&self, inputs: &[Option<Arg>]) -> Result<Vec<TensorType>> {
        let x = inputs.req(0)?.ty;
        let spec = inputs.req(1)?;
        let shape = match util::const_ints(inputs, 1)? {
            Some(target) => {
                let s = Shape::broadcast(&[&x.shape, &Shape::fixed(&shape_from_i64(&target)?)])?;
                s.check_size()?;
                s
            }
            None => match (x.shape.dims(), spec.ty.shape.as_fixed().as_deref()) {
                (Some(dims), Some([k])) => {
                    // A non-1 input dimension survives any valid target.
                    let rank = dims.len().max(*k);
                    let mut out = vec![None; rank];
                    for (o, d) in out[rank - dims.len()..].iter_mut().zip(dims) {
                        *o = d.filter(|&d| d != 1);
                    }
                    Shape::from_dims(out)
                }
                (_, Some(s)) if s.len() != 1 => bail!("the shape input must be 1-D, it has shape {s:?}"),
                _ => Shape::unknown(),
            },
        };
        Ok(vec![TensorType::new(x.dtype, shape)])
    }

    fn eval(&self, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
        let x = inputs.req(0)?;
        let spec = inputs.req(1)?;
        if spec.rank() != 1 {
            bail!("the shape input must be 1-D, it has shape {:?}", spec.shape());
        }
        let target = shape_from_i64(&spec.to_i64_vec()?)?;
        let shape = util::broadcast_shapes(&[x.shape(), &target])?;
        Ok(vec![map_array!(x, a => expand(a, &shape)?)])
    }

    /// int8: data movement on codes; the output keeps the input's parameters.
    fn quantize(&self, rule: super::Rule) -> Result<super::Plan> {
        rule.on_codes(super::int8_rule::Needs::Inputs, |cx| cx.passthrough())
    }
}

fn expand<T: Clone>(a: &ArrayD<T>, shape: &[usize]) -> Result<ArrayD<T>> {
    Ok(util::broadcast(a, shape)?.as_standard_layout().into_owned())
}

#[cfg(test)]
mod tests {
    use crate::ops::testing::{i64s, run};

    #[test]
    fn two_way_broadcast() {
        let x = i64s(&[3, 1], &[1, 2, 3]);
        let out = run("Expand", 13, vec![], &[x.clone(), i64s(&[3], &[2, 1, 2])]).unwrap();
        assert_eq!(out[0], i64s(&[2, 3, 2], &[1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3]));
        let same = run("Expand", 13, vec![], &[x.clone(), i64s(&[1], &[1])]).unwrap();
        assert_eq!(same[0], x);
    }

    #[test]
    fn absurd_or_incompatible_shapes_are_errors() {
        let x = i64s(&[3, 1], &[1, 2, 3]);
        assert!(run("Expand", 13, vec![], &[x.clone(), i64s(&[3], &[1 << 20, 1 << 20, 1 << 20])]).is_err());
        assert!(run("Expand", 13, vec![], &[x.clone(), i64s(&[2], &[2, 1])]).is_err());
        assert!(run("Expand", 13, vec![], &[x.clone(), i64s(&[1], &[-1])]).is_err());
        assert!(run("Expand", 13, vec![], &[x, i64s(&[1, 1], &[1])]).is_err());
    }

    #[test]
    fn infers_from_constant_or_unknown_shape() {
        use crate::ir::{Shape, TensorType};
        use crate::ops::testing::{infer_node, node};
        use crate::tensor::DType;
        let x = TensorType::new(DType::F32, Shape::from_dims(vec![Some(3), Some(1)]));
        let n = node("Expand", 13, vec![], 2, 1);
        let spec = TensorType::fixed(DType::I64, &[3]);
        let out = infer_node(&n, &[Some((x.clone(), None)), Some((spec.clone(), Some(i64s(&[3], &[2, 1, 4]))))]);
        assert_eq!(out.unwrap()[0].shape, Shape::fixed(&[2, 3, 4]));
        let out = infer_node(&n, &[Some((x, None)), Some((spec, None))]).unwrap();
        assert_eq!(out[0].shape, Shape::from_dims(vec![None, Some(3), None]));
    }
}
