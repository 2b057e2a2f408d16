//! Shape: the input's dimensions as a 1-D int64 tensor, optionally sliced by
//! `start`/`end` (opset 15). Known from the input's type alone, so shape
//! subgraphs fold to constants once input shapes are fixed.
//! <https://onnx.ai/onnx/operators/onnx__Shape.html>

use super::{Arg, OpDef, Slots};
use crate::front::onnx::OnnxNode;
use crate::ir::{Shape as IrShape, TensorType};
use crate::tensor::{DType, Tensor};
use crate::Result;

#[derive(Debug, Clone)]
pub struct Shape {
    start: i64,
    end: Option<i64>,
}

impl Shape {
    /// The `[start, end)` range of a rank-`rank` shape, clamped as ONNX says.
    fn range(&self, rank: usize) -> (usize, usize) {
        let clamp = |v: i64| -> usize {
            let v = if v < 0 { v + rank as i64 } else { v };
            v.clamp(0, rank as i64) as usize
        };
        let start = clamp(self.start);
        let end = self.end.map(clamp).unwrap_or(rank);
        (start, end.max(start))
    }
}

impl OpDef for Shape {
    fn from_onnx(node: &OnnxNode) -> Result<Self> {
        Ok(Shape { start: node.int("start", 0)?, end: node.int_opt("end")? })
    }

    fn infer(&self, inputs: &[Option<Arg>]) -> Result<Vec<TensorType>> {
        let x = inputs.req(0)?.ty;
        let shape = match x.shape.rank() {
            Some(r) => {
                let (s, e) = self.range(r);
                IrShape::fixed(&[e - s])
            }
            None => IrShape::of_rank(1),
        };
        Ok(vec![TensorType::new(DType::I64, shape)])
    }

    fn eval(&self, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
        let dims = inputs.req(0)?.shape();
        let (s, e) = self.range(dims.len());
        let v: Vec<i64> = dims[s..e].iter().map(|&d| d as i64).collect();
        Ok(vec![Tensor::from_vec(&[v.len()], v)?])
    }

    fn fold_from_types(&self, inputs: &[Option<Arg>]) -> Option<Vec<Tensor>> {
        let dims = inputs.opt(0)?.ty.shape.as_fixed()?;
        let (s, e) = self.range(dims.len());
        let v: Vec<i64> = dims[s..e].iter().map(|&d| d as i64).collect();
        Some(vec![Tensor::from_vec(&[v.len()], v).ok()?])
    }

    /// int8: float only.
    fn quantize(&self, rule: super::Rule) -> Result<super::Plan> {
        Ok(rule.float_only(super::NO_INTEGER_KERNEL))
    }
}
