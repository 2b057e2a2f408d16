//! Size: the number of elements of the input, as an int64 scalar. Known
//! from the input's type alone, so it folds to a constant once the input
//! shape is fixed.
//! <https://onnx.ai/onnx/operators/onnx__Size.html>

use super::{Arg, OpDef, Slots};
use crate::front::onnx::OnnxNode;
use crate::ir::TensorType;
use crate::tensor::{DType, Tensor};
use crate::Result;

#[derive(Debug, Clone)]
pub struct Size;

impl OpDef for Size {
    fn from_onnx(_node: &OnnxNode) -> Result<Self> {
        Ok(Size)
    }

    fn infer(&self, inputs: &[Option<Arg>]) -> Result<Vec<TensorType>> {
        inputs.req(0)?;
        Ok(vec![TensorType::fixed(DType::I64, &[])])
    }

    fn eval(&self, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
        Ok(vec![Tensor::scalar(inputs.req(0)?.len() as i64)])
    }

    fn fold_from_types(&self, inputs: &[Option<Arg>]) -> Option<Vec<Tensor>> {
        let n = inputs.opt(0)?.ty.shape.numel()?;
        Some(vec![Tensor::scalar(n as i64)])
    }

    /// int8: float only.
    fn quantize(&self, rule: super::Rule) -> Result<super::Plan> {
        Ok(rule.float_only(super::NO_INTEGER_KERNEL))
    }
}

#[cfg(test)]
mod tests {
    use crate::ops::testing::{f32s, i64s, run};

    #[test]
    fn counts_elements() {
        assert_eq!(run("Size", 13, vec![], &[f32s(&[2, 3], &[0.0; 6])]).unwrap()[0], i64s(&[], &[6]));
        assert_eq!(run("Size", 13, vec![], &[f32s(&[0, 3], &[])]).unwrap()[0], i64s(&[], &[0]));
    }
}
