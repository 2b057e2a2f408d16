//! ConstantOfShape: a tensor of the shape given by a 1-D int64 input, every
//! element equal to the one-element `value` attribute (float32 0 by default).
//! <https://onnx.ai/onnx/operators/onnx__ConstantOfShape.html>
//!
//! Any element type for `value`; an empty shape gives a scalar.

use super::{util, Arg, OpDef, Slots};
use crate::front::onnx::OnnxNode;
use crate::ir::{Shape, TensorType};
use crate::tensor::{shape_from_i64, Tensor};
use crate::{bail, map_array, Result};
use ndarray::{ArrayD, IxDyn};

#[derive(Debug, Clone)]
pub struct ConstantOfShape {
    value: Tensor,
}

impl OpDef for ConstantOfShape {
    fn from_onnx(node: &OnnxNode) -> Result<Self> {
        let value = node.tensor_opt("value")?.unwrap_or_else(|| Tensor::scalar(0f32));
        if value.len() != 1 {
            bail!("'value' must hold exactly one element, it has shape {:?}", value.shape());
        }
        Ok(ConstantOfShape { value })
    }

    fn infer(&self, inputs: &[Option<Arg>]) -> Result<Vec<TensorType>> {
        let spec = inputs.req(0)?;
        let shape = match util::const_ints(inputs, 0)? {
            Some(dims) => Shape::fixed(&shape_from_i64(&dims)?),
            None => match spec.ty.shape.as_fixed().as_deref() {
                Some([n]) => Shape::of_rank(*n),
                Some(other) => bail!("the shape input must be 1-D, it has shape {other:?}"),
                None => Shape::unknown(),
            },
        };
        Ok(vec![TensorType::new(self.value.dtype(), shape)])
    }

    fn eval(&self, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
        let spec = inputs.req(0)?;
        if spec.rank() != 1 {
            bail!("the shape input must be 1-D, it has shape {:?}", spec.shape());
        }
        let shape = shape_from_i64(&spec.to_i64_vec()?)?;
        Ok(vec![map_array!(&self.value, a => fill(a, &shape)?)])
    }

    /// int8: float only.
    fn quantize(&self, rule: super::Rule) -> Result<super::Plan> {
        Ok(rule.float_only(super::NO_INTEGER_KERNEL))
    }
}

/// An array of `shape` (already size-checked) filled with `a`'s first element.
fn fill<T: Clone>(a: &ArrayD<T>, shape: &[usize]) -> Result<ArrayD<T>> {
    let Some(v) = a.iter().next() else { bail!("'value' is empty") };
    Ok(ArrayD::from_elem(IxDyn(shape), v.clone()))
}

#[cfg(test)]
mod tests {
    use crate::front::onnx::Attr;
    use crate::ops::testing::{f32s, i64s, run};

    #[test]
    fn fills_with_value() {
        let out = run("ConstantOfShape", 20, vec![("value", Attr::Tensor(i64s(&[1], &[7])))], &[i64s(&[2], &[2, 1])]);
        assert_eq!(out.unwrap()[0], i64s(&[2, 1], &[7, 7]));
        let zero = run("ConstantOfShape", 9, vec![], &[i64s(&[0], &[])]).unwrap();
        assert_eq!(zero[0], f32s(&[], &[0.0]));
    }

    #[test]
    fn absurd_or_negative_shapes_are_errors() {
        assert!(run("ConstantOfShape", 9, vec![], &[i64s(&[2], &[1 << 40, 1 << 40])]).is_err());
        assert!(run("ConstantOfShape", 9, vec![], &[i64s(&[1], &[-1])]).is_err());
        let two = vec![("value", Attr::Tensor(i64s(&[2], &[1, 2])))];
        assert!(run("ConstantOfShape", 9, two, &[i64s(&[1], &[1])]).is_err());
    }

    #[test]
    fn infers_from_constant_or_unknown_shape() {
        use crate::ir::{Shape, TensorType};
        use crate::ops::testing::{infer_node, node};
        use crate::tensor::DType;
        let n = node("ConstantOfShape", 20, vec![], 1, 1);
        let spec = TensorType::fixed(DType::I64, &[2]);
        let out = infer_node(&n, &[Some((spec.clone(), Some(i64s(&[2], &[2, 3]))))]).unwrap();
        assert_eq!(out[0], TensorType::fixed(DType::F32, &[2, 3]));
        assert_eq!(infer_node(&n, &[Some((spec, None))]).unwrap()[0].shape, Shape::of_rank(2));
    }
}
