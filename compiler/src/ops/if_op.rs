//! If: runs one of two subgraphs, chosen by a boolean condition.
//! <https://onnx.ai/onnx/operators/onnx__If.html>
//!
//! qcc compiles straight-line graphs, so an If is only ever resolved at
//! compile time: once input shapes are fixed and constants are folded, an
//! If whose condition is a constant is replaced by the branch it selects
//! (`passes::fold_if`). This operator holds the two branches until then;
//! evaluating it, or inferring its outputs, means the condition was not
//! known at compile time, which is an error.
//!
//! Inputs: the condition, then the values the branches read from
//! enclosing scopes (the inputs of both branch graphs, in the same order;
//! see `front::onnx`). Outputs: one per branch output.

use super::{Arg, OpDef, Slots};
use crate::front::onnx::OnnxNode;
use crate::ir::{Graph, TensorType};
use crate::tensor::Tensor;
use crate::{bail, unsupported, Result};
use std::sync::Arc;

#[derive(Debug, Clone)]
pub struct If {
    then_branch: Arc<Graph>,
    else_branch: Arc<Graph>,
}

impl OpDef for If {
    fn from_onnx(node: &OnnxNode) -> Result<Self> {
        let then_branch = node.graph("then_branch")?;
        let else_branch = node.graph("else_branch")?;
        let captured = node.num_inputs().saturating_sub(1);
        for (name, g) in [("then_branch", &then_branch), ("else_branch", &else_branch)] {
            if g.inputs.len() != captured {
                bail!("{name} has {} inputs; If branches take none", g.inputs.len().saturating_sub(captured));
            }
            if g.outputs.len() != node.num_outputs() {
                bail!("{name} has {} outputs, the node {}", g.outputs.len(), node.num_outputs());
            }
        }
        Ok(If { then_branch, else_branch })
    }

    fn infer(&self, inputs: &[Option<Arg>]) -> Result<Vec<TensorType>> {
        match inputs.req(0)?.value {
            Some(cond) => {
                self.branch(cond)?;
                bail!("internal error: an If with a constant condition was not inlined")
            }
            None => not_constant(),
        }
    }

    fn eval(&self, _inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
        not_constant()
    }

    fn quantize(&self, _rule: super::Rule) -> Result<super::Plan> {
        not_constant()
    }
}

fn not_constant<T>() -> Result<T> {
    unsupported!(
        "the condition is not known at compile time (it depends on input data); qcc compiles an If only when its \
         condition is a constant once input shapes are fixed"
    )
}

impl If {
    /// The branch a constant condition selects (a one-element tensor; any
    /// non-zero value is true).
    pub fn branch(&self, cond: &Tensor) -> Result<&Arc<Graph>> {
        let v = cond.to_f64_vec()?;
        match v[..] {
            [c] => Ok(if c != 0.0 { &self.then_branch } else { &self.else_branch }),
            _ => bail!("the condition must have one element, got shape {:?}", cond.shape()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::Value;

    fn branch(outputs: usize) -> Arc<Graph> {
        let mut g = Graph::new("b");
        for k in 0..outputs {
            let v = g.add_value(Value { name: format!("o{k}"), ty: None, constant: Some(Arc::new(Tensor::scalar(k as f32))) });
            g.outputs.push(v);
        }
        Arc::new(g)
    }

    fn node(then_outputs: usize) -> OnnxNode {
        OnnxNode {
            name: "if".into(),
            op_type: "If".into(),
            domain: String::new(),
            opset: 16,
            attrs: vec![
                ("then_branch".into(), crate::front::onnx::Attr::Graph(Some(branch(then_outputs)))),
                ("else_branch".into(), crate::front::onnx::Attr::Graph(Some(branch(1)))),
            ],
            inputs: vec![true],
            outputs: vec![true],
        }
    }

    #[test]
    fn selects_by_condition_and_refuses_unknown_ones() {
        let op = If::from_onnx(&node(1)).unwrap();
        let yes = Tensor::from_vec(&[1], vec![true]).unwrap();
        let no = Tensor::from_vec(&[], vec![false]).unwrap();
        assert!(Arc::ptr_eq(op.branch(&yes).unwrap(), &op.then_branch));
        assert!(Arc::ptr_eq(op.branch(&no).unwrap(), &op.else_branch));
        assert!(op.branch(&Tensor::from_vec(&[2], vec![true, false]).unwrap()).is_err());
        let cond = TensorType::of(&yes);
        let err = op.infer(&[Some(Arg { ty: &cond, value: None })]).unwrap_err();
        assert!(matches!(err, crate::Error::Unsupported(_)) && err.to_string().contains("not known at compile time"), "{err}");
        assert!(op.eval(&[Some(&yes)]).is_err());
    }

    #[test]
    fn branch_outputs_must_match_the_node() {
        let err = If::from_onnx(&node(2)).unwrap_err();
        assert!(err.to_string().contains("then_branch has 2 outputs"), "{err}");
    }
}
