//! The placeholder for ONNX nodes qcc cannot handle: it carries the reason,
//! so `qcc inspect` can list such nodes and everything else refuses them.

use super::{Arg, OpDef};
use crate::front::onnx::OnnxNode;
use crate::ir::TensorType;
use crate::tensor::Tensor;
use crate::{Error, Result};

#[derive(Debug, Clone)]
pub struct Unsupported {
    pub reason: String,
}

impl Unsupported {
    pub fn new(_node: &OnnxNode, reason: String) -> Unsupported {
        Unsupported { reason }
    }
}

impl OpDef for Unsupported {
    fn from_onnx(node: &OnnxNode) -> Result<Self> {
        let reason = if node.domain.is_empty() && matches!(node.op_type.as_str(), "Loop" | "Scan" | "SequenceMap") {
            format!(
                "op type '{}' runs a subgraph a data-dependent number of times; qcc compiles straight-line graphs \
                 (If is supported when its condition is known at compile time, loops are not)",
                node.op_type
            )
        } else if node.domain.is_empty() {
            format!("op type '{}' is not supported by qcc", node.op_type)
        } else {
            format!("op type '{}' of domain '{}' is not supported by qcc", node.op_type, node.domain)
        };
        Ok(Unsupported { reason })
    }

    fn infer(&self, _inputs: &[Option<Arg>]) -> Result<Vec<TensorType>> {
        Err(Error::Unsupported(self.reason.clone()))
    }

    fn eval(&self, _inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
        Err(Error::Unsupported(self.reason.clone()))
    }

    /// int8: float only.
    fn quantize(&self, rule: super::Rule) -> Result<super::Plan> {
        Ok(rule.float_only(super::NO_INTEGER_KERNEL))
    }
}
