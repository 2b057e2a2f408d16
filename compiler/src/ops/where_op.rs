//! Where: `condition ? X : Y` elementwise, with numpy broadcasting of all
//! three inputs. X and Y share one element type (any type).
//! <https://onnx.ai/onnx/operators/onnx__Where.html>

use super::{util, Arg, LowerCx, OpDef, Slots};
use crate::front::onnx::OnnxNode;
use crate::ir::TensorType;
use crate::tensor::{DType, Tensor};
use crate::{bail, map2_array, Result};

#[derive(Debug, Clone)]
pub struct Where;

impl OpDef for Where {
    fn from_onnx(_node: &OnnxNode) -> Result<Self> {
        Ok(Where)
    }

    fn infer(&self, inputs: &[Option<Arg>]) -> Result<Vec<TensorType>> {
        let (c, x, y) = (inputs.req(0)?.ty, inputs.req(1)?.ty, inputs.req(2)?.ty);
        check(c.dtype, x.dtype, y.dtype)?;
        Ok(vec![util::broadcast_type(&inputs[..3], x.dtype)?])
    }

    fn eval(&self, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
        let (c, x, y) = (inputs.req(0)?, inputs.req(1)?, inputs.req(2)?);
        check(c.dtype(), x.dtype(), y.dtype())?;
        let c = c.array::<bool>()?;
        let out = map2_array!(x, y, (a, b) => util::zip3(c, a, b, |k, p, q| if k { p } else { q })?)?;
        Ok(vec![out])
    }

    fn lower(&self, cx: &mut LowerCx) -> Result<()> {
        let inputs = (0..3).map(|i| cx.input(i).cloned()).collect::<Result<Vec<_>>>()?;
        let d = inputs[1].dtype;
        if !(d == DType::Bool || d.is_int() || d.is_float()) {
            crate::unsupported!("code generation for Where on {d} is not implemented yet");
        }
        cx.elementwise_of("select", Vec::new(), &inputs)
    }

    /// int8: float only.
    fn quantize(&self, rule: super::Rule) -> Result<super::Plan> {
        Ok(rule.float_only(super::NO_INTEGER_KERNEL))
    }
}

fn check(c: DType, x: DType, y: DType) -> Result<()> {
    if c != DType::Bool {
        bail!("the condition must be bool, got {c}");
    }
    if x != y {
        bail!("X and Y have different element types ({x} and {y})");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::ops::testing::{i64s, run};
    use crate::tensor::Tensor;

    #[test]
    fn broadcasts_all_three() {
        let c = Tensor::from_vec(&[2, 1], vec![true, false]).unwrap();
        let out = run("Where", 16, vec![], &[c, i64s(&[2], &[1, 2]), i64s(&[], &[0])]).unwrap();
        assert_eq!(out[0], i64s(&[2, 2], &[1, 2, 0, 0]));
    }

    #[test]
    fn non_bool_condition_is_an_error() {
        assert!(run("Where", 16, vec![], &[i64s(&[1], &[1]), i64s(&[1], &[1]), i64s(&[1], &[2])]).is_err());
    }
}
