//! Logical operators on bool tensors: And, Or, Xor (numpy broadcasting) and Not.
//! <https://onnx.ai/onnx/operators/onnx__And.html> (and the pages of the others)

use super::{util, Arg, LowerCx, OpDef, Slots};
use crate::front::onnx::OnnxNode;
use crate::ir::TensorType;
use crate::tensor::{DType, Tensor};
use crate::{bail, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    And,
    Or,
    Xor,
    Not,
}

#[derive(Debug, Clone)]
pub struct Logical {
    kind: Kind,
}

impl OpDef for Logical {
    fn from_onnx(node: &OnnxNode) -> Result<Self> {
        let kind = match node.op_type.as_str() {
            "And" => Kind::And,
            "Or" => Kind::Or,
            "Xor" => Kind::Xor,
            "Not" => Kind::Not,
            other => bail!("'{other}' is not a logical operator"),
        };
        Ok(Logical { kind })
    }

    fn infer(&self, inputs: &[Option<Arg>]) -> Result<Vec<TensorType>> {
        let n = self.arity();
        for i in 0..n {
            check_bool(inputs.req(i)?.ty.dtype)?;
        }
        Ok(vec![util::broadcast_type(&inputs[..n], DType::Bool)?])
    }

    fn eval(&self, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
        let a = inputs.req(0)?;
        check_bool(a.dtype())?;
        let a = a.array::<bool>()?;
        if self.kind == Kind::Not {
            return Ok(vec![Tensor::Bool(a.mapv(|v| !v))]);
        }
        let b = inputs.req(1)?;
        check_bool(b.dtype())?;
        let b = b.array::<bool>()?;
        let out = match self.kind {
            Kind::And => util::zip2(a, b, |p, q| p && q)?,
            Kind::Or => util::zip2(a, b, |p, q| p || q)?,
            _ => util::zip2(a, b, |p, q| p != q)?,
        };
        Ok(vec![Tensor::Bool(out)])
    }

    fn lower(&self, cx: &mut LowerCx) -> Result<()> {
        let name = match self.kind {
            Kind::And => "and",
            Kind::Or => "or",
            Kind::Xor => "xor",
            Kind::Not => "not",
        };
        let inputs = (0..self.arity()).map(|i| cx.input(i).cloned()).collect::<Result<Vec<_>>>()?;
        cx.elementwise_of(name, Vec::new(), &inputs)
    }

    /// int8: float only.
    fn quantize(&self, rule: super::Rule) -> Result<super::Plan> {
        Ok(rule.float_only(super::NO_INTEGER_KERNEL))
    }
}

impl Logical {
    fn arity(&self) -> usize {
        if self.kind == Kind::Not {
            1
        } else {
            2
        }
    }
}

fn check_bool(d: DType) -> Result<()> {
    if d != DType::Bool {
        bail!("logical operators take bool inputs, got {d}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::ops::testing::{bools, f32s, run};

    #[test]
    fn xor_broadcasts() {
        let a = bools(&[2, 1], &[true, false]);
        let b = bools(&[2], &[true, false]);
        assert_eq!(run("Xor", 7, vec![], &[a, b]).unwrap()[0], bools(&[2, 2], &[false, true, true, false]));
    }

    #[test]
    fn non_bool_inputs_are_errors() {
        assert!(run("Not", 1, vec![], &[f32s(&[1], &[1.0])]).is_err());
        assert!(run("And", 7, vec![], &[bools(&[1], &[true]), f32s(&[1], &[1.0])]).is_err());
    }
}
