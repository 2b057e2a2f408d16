//! Constant: a tensor given by one of its `value*` attributes.
//! <https://onnx.ai/onnx/operators/onnx__Constant.html>

use super::{Arg, OpDef};
use crate::front::onnx::OnnxNode;
use crate::ir::TensorType;
use crate::tensor::Tensor;
use crate::{bail, Result};

#[derive(Debug, Clone)]
pub struct Constant {
    value: Tensor,
}

impl OpDef for Constant {
    fn from_onnx(node: &OnnxNode) -> Result<Self> {
        let value = if let Some(t) = node.tensor_opt("value")? {
            t
        } else if let Some(v) = node.attr("value_float").and(node.float_opt("value_float")?) {
            Tensor::scalar(v)
        } else if let Some(v) = node.floats_opt("value_floats")? {
            Tensor::from_vec(&[v.len()], v)?
        } else if let Some(v) = node.int_opt("value_int")? {
            Tensor::scalar(v)
        } else if let Some(v) = node.ints_opt("value_ints")? {
            Tensor::from_vec(&[v.len()], v)?
        } else if let Some(v) = node.string_opt("value_string")? {
            Tensor::scalar(v)
        } else if let Some(v) = node.strings_opt("value_strings")? {
            Tensor::from_vec(&[v.len()], v)?
        } else {
            bail!("Constant has none of the value attributes");
        };
        Ok(Constant { value })
    }

    fn infer(&self, _inputs: &[Option<Arg>]) -> Result<Vec<TensorType>> {
        Ok(vec![TensorType::of(&self.value)])
    }

    fn eval(&self, _inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
        Ok(vec![self.value.clone()])
    }

    /// int8: float only.
    fn quantize(&self, rule: super::Rule) -> Result<super::Plan> {
        Ok(rule.float_only(super::NO_INTEGER_KERNEL))
    }
}
