//! Comparisons with numpy broadcasting and a bool result: Equal, Less,
//! Greater, LessOrEqual, GreaterOrEqual.
//! <https://onnx.ai/onnx/operators/onnx__Equal.html> (and the pages of the others)
//!
//! Both inputs have one element type: any integer or float type; Equal also
//! compares bool and string tensors. Comparisons with NaN are false.

use super::{util, Arg, LowerCx, OpDef, Slots};
use crate::front::onnx::OnnxNode;
use crate::ir::TensorType;
use crate::tensor::{DType, Elem, Tensor};
use crate::{bail, for_each_array, Result};
use ndarray::ArrayD;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Equal,
    Less,
    Greater,
    LessOrEqual,
    GreaterOrEqual,
}

#[derive(Debug, Clone)]
pub struct Compare {
    kind: Kind,
}

impl OpDef for Compare {
    fn from_onnx(node: &OnnxNode) -> Result<Self> {
        let kind = match node.op_type.as_str() {
            "Equal" => Kind::Equal,
            "Less" => Kind::Less,
            "Greater" => Kind::Greater,
            "LessOrEqual" => Kind::LessOrEqual,
            "GreaterOrEqual" => Kind::GreaterOrEqual,
            other => bail!("'{other}' is not a comparison"),
        };
        Ok(Compare { kind })
    }

    fn infer(&self, inputs: &[Option<Arg>]) -> Result<Vec<TensorType>> {
        let (a, b) = (inputs.req(0)?.ty, inputs.req(1)?.ty);
        self.check_dtypes(a.dtype, b.dtype)?;
        Ok(vec![util::broadcast_type(&inputs[..2], DType::Bool)?])
    }

    fn eval(&self, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
        let (a, b) = (inputs.req(0)?, inputs.req(1)?);
        self.check_dtypes(a.dtype(), b.dtype())?;
        let k = self.kind;
        Ok(vec![Tensor::Bool(for_each_array!(a, x => compare(x, b, k)?))])
    }

    fn lower(&self, cx: &mut LowerCx) -> Result<()> {
        let dtype = cx.input(0)?.dtype;
        if !(dtype == DType::Bool || dtype.is_int() || dtype.is_float()) {
            crate::unsupported!("code generation for {:?} on {dtype} is not implemented yet", self.kind);
        }
        let name = match self.kind {
            Kind::Equal => "equal",
            Kind::Less => "less",
            Kind::Greater => "greater",
            Kind::LessOrEqual => "less_equal",
            Kind::GreaterOrEqual => "greater_equal",
        };
        cx.elementwise(name, Vec::new())
    }

    /// int8: float only.
    fn quantize(&self, rule: super::Rule) -> Result<super::Plan> {
        Ok(rule.float_only(super::NO_INTEGER_KERNEL))
    }
}

impl Compare {
    fn check_dtypes(&self, a: DType, b: DType) -> Result<()> {
        let ok = a == b
            && (a.is_int() || a.is_float() || (self.kind == Kind::Equal && matches!(a, DType::Bool | DType::Str)));
        if !ok {
            bail!("{:?} does not accept element types {a} and {b}", self.kind);
        }
        Ok(())
    }
}

fn compare<T: Elem + PartialOrd>(x: &ArrayD<T>, b: &Tensor, k: Kind) -> Result<ArrayD<bool>> {
    let y = util::elem_array::<T>(b)?;
    util::zip2(x, y, |p, q| match k {
        Kind::Equal => p == q,
        Kind::Less => p < q,
        Kind::Greater => p > q,
        Kind::LessOrEqual => p <= q,
        Kind::GreaterOrEqual => p >= q,
    })
}

#[cfg(test)]
mod tests {
    use crate::ops::testing::{bools, f32s, i64s, run};
    use crate::tensor::Tensor;

    #[test]
    fn nan_compares_false_and_broadcasts() {
        let a = f32s(&[3], &[1.0, f32::NAN, 3.0]);
        let b = f32s(&[1], &[1.0]);
        assert_eq!(run("Equal", 13, vec![], &[a.clone(), b.clone()]).unwrap()[0], bools(&[3], &[true, false, false]));
        assert_eq!(run("GreaterOrEqual", 16, vec![], &[a, b]).unwrap()[0], bools(&[3], &[true, false, true]));
    }

    #[test]
    fn strings_only_for_equal() {
        let s = Tensor::from_vec(&[2], vec!["a".to_string(), "b".to_string()]).unwrap();
        let t = Tensor::from_vec(&[1], vec!["b".to_string()]).unwrap();
        assert_eq!(run("Equal", 19, vec![], &[s.clone(), t.clone()]).unwrap()[0], bools(&[2], &[false, true]));
        assert!(run("Less", 13, vec![], &[s, t]).is_err());
    }

    #[test]
    fn mixed_types_are_errors() {
        assert!(run("Less", 13, vec![], &[f32s(&[1], &[1.0]), i64s(&[1], &[1])]).is_err());
    }
}
