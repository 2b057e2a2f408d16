//! IntLut: a unary operator on codes as a 256-entry table indexed by
//! `q − min_code`, built at compile time by the quantizer (NUMERICS.md,
//! "Lookup tables"), so every backend is exact by construction.

use super::super::{Arg, LowerCx, OpDef, Slots};
use super::{code_range, codes, int_values};
use crate::back::program::Arg as KArg;
use crate::front::onnx::OnnxNode;
use crate::ir::TensorType;
use crate::tensor::Tensor;
use crate::{bail, Result};

/// Inputs: codes `X` and the table (256 codes of X's type).
#[derive(Debug, Clone)]
pub struct IntLut;

impl OpDef for IntLut {
    fn from_onnx(_: &OnnxNode) -> Result<Self> {
        bail!("IntLut is internal to qcc")
    }

    fn infer(&self, inputs: &[Option<Arg>]) -> Result<Vec<TensorType>> {
        let (x, t) = (inputs.req(0)?.ty, inputs.req(1)?.ty);
        if t.dtype != x.dtype || t.shape.numel() != Some(256) {
            bail!("IntLut needs a table of 256 {} codes, got {t}", x.dtype);
        }
        Ok(vec![x.clone()])
    }

    fn eval(&self, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
        let (x, table) = (inputs.req(0)?, int_values(inputs.req(1)?)?);
        let (min, _) = code_range(x.dtype())?;
        let y = int_values(x)?.into_iter().map(|q| table[(q - min) as usize]).collect();
        Ok(vec![codes(x.dtype(), x.shape(), y)?])
    }

    fn lower(&self, cx: &mut LowerCx) -> Result<()> {
        let (x, table) = (cx.input(0)?.clone(), cx.input(1)?.clone());
        let y = cx.output(0)?;
        cx.call("qint", "lut", vec![x.dtype], vec![x.arg_in(), table.arg_in(), y.arg_out(), KArg::Dims(vec![y.len()])]);
        Ok(())
    }

    /// int8: an integer operator rules produce; copied as it is.
    fn quantize(&self, rule: crate::ops::Rule) -> Result<crate::ops::Plan> {
        Ok(rule.as_is())
    }
}
