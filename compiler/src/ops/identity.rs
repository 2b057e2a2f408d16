//! Identity, and Dropout in inference mode (output = input, mask = all true).
//! <https://onnx.ai/onnx/operators/onnx__Identity.html>,
//! <https://onnx.ai/onnx/operators/onnx__Dropout.html>

use super::{Arg, OpDef, Slots};
use crate::front::onnx::OnnxNode;
use crate::ir::TensorType;
use crate::tensor::{DType, Tensor};
use crate::{unsupported, Result};

#[derive(Debug, Clone, Default)]
pub struct Identity {
    /// Dropout also returns a mask.
    dropout: bool,
}

impl OpDef for Identity {
    /// Pure data movement (see `back::movement`); Dropout's mask is a fill.
    fn lower(&self, cx: &mut super::LowerCx) -> Result<()> {
        crate::back::movement::lower(cx, &[0], |inputs| self.eval(inputs))
    }

    fn from_onnx(node: &OnnxNode) -> Result<Self> {
        Ok(Identity { dropout: node.op_type == "Dropout" })
    }

    fn infer(&self, inputs: &[Option<Arg>]) -> Result<Vec<TensorType>> {
        let x = inputs.req(0)?.ty.clone();
        self.check_training(inputs.opt(2).and_then(|a| a.value))?;
        let mask = TensorType::new(DType::Bool, x.shape.clone());
        Ok(if self.dropout { vec![x, mask] } else { vec![x] })
    }

    fn eval(&self, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
        let x = inputs.req(0)?;
        self.check_training(inputs.opt(2))?;
        if self.dropout {
            let mask = Tensor::Bool(ndarray::ArrayD::from_elem(x.shape(), true));
            Ok(vec![x.clone(), mask])
        } else {
            Ok(vec![x.clone()])
        }
    }

    /// int8: data movement on codes; the output keeps the input's parameters.
    fn quantize(&self, rule: super::Rule) -> Result<super::Plan> {
        rule.on_codes(super::int8_rule::Needs::Inputs, |cx| cx.passthrough())
    }
}

impl Identity {
    /// Plain Identity.
    pub fn new() -> Identity {
        Identity { dropout: false }
    }

    /// Dropout's `training_mode` input must be false (qcc runs inference).
    fn check_training(&self, training: Option<&Tensor>) -> Result<()> {
        if let Some(t) = training {
            if self.dropout && t.to_f64_vec()?.first().is_some_and(|&v| v != 0.0) {
                unsupported!("Dropout with training_mode = true");
            }
        }
        Ok(())
    }
}
