//! Elementwise integer operators with numpy broadcasting: Add, Sub and Mul
//! of two quantized tensors (IntBinary) and the move of a tensor to other
//! quantization parameters (IntRescale, used where Concat inputs differ).
//! Formulas in NUMERICS.md; the runtimes' `q_add`, `q_mul`, `q_rescale`.

use super::super::{Arg, LowerCx, OpDef, Slots};
use super::{codes, int_values, mul_lits, Stage};
use crate::back::program::Lit;
use crate::front::onnx::OnnxNode;
use crate::ir::{Shape, TensorType};
use crate::quant::fixed_point::{requantize, Multiplier};
use crate::tensor::Tensor;
use crate::{bail, Result};
use ndarray::{ArrayD, IxDyn};

/// Left shift that gives both Add operands 20 bits of headroom.
pub const ADD_SHIFT: u32 = 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryKind {
    Add,
    Sub,
    Mul,
}

/// `a ± b` or `a · b` of codes. Add/Sub: each operand `(q − z) · 2^20`
/// scaled by its multiplier (`ma`, `mb`) to a common scale, summed, scaled
/// by `mo`; Mul: `(q_a − z_a)(q_b − z_b)` scaled by `mo`.
#[derive(Debug, Clone)]
pub struct IntBinary {
    pub kind: BinaryKind,
    pub za: i32,
    pub zb: i32,
    pub ma: Multiplier,
    pub mb: Multiplier,
    pub mo: Multiplier,
    pub stage: Stage,
}

impl IntBinary {
    /// The output code for codes `a`, `b`.
    fn code(&self, a: i32, b: i32) -> i32 {
        let r = self.stage.rounding;
        let acc = match self.kind {
            BinaryKind::Mul => (a - self.za) * (b - self.zb),
            BinaryKind::Add | BinaryKind::Sub => {
                let x = requantize((a - self.za) << ADD_SHIFT, self.ma, r);
                let y = requantize((b - self.zb) << ADD_SHIFT, self.mb, r);
                if self.kind == BinaryKind::Sub {
                    x - y
                } else {
                    x + y
                }
            }
        };
        self.stage.apply(acc, self.mo)
    }
}

impl OpDef for IntBinary {
    fn from_onnx(_: &OnnxNode) -> Result<Self> {
        bail!("IntBinary is internal to qcc")
    }

    fn infer(&self, inputs: &[Option<Arg>]) -> Result<Vec<TensorType>> {
        let (a, b) = (inputs.req(0)?.ty, inputs.req(1)?.ty);
        if a.dtype != b.dtype {
            bail!("IntBinary operands are {} and {}", a.dtype, b.dtype);
        }
        Ok(vec![TensorType::new(a.dtype, Shape::broadcast(&[&a.shape, &b.shape])?)])
    }

    fn eval(&self, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
        let (a, b) = (inputs.req(0)?, inputs.req(1)?);
        let shape = Shape::broadcast(&[&Shape::fixed(a.shape()), &Shape::fixed(b.shape())])?;
        let Some(shape) = shape.as_fixed() else { bail!("cannot broadcast {:?} and {:?}", a.shape(), b.shape()) };
        let av = ArrayD::from_shape_vec(IxDyn(a.shape()), int_values(a)?).map_err(|e| crate::Error::Op(e.to_string()))?;
        let bv = ArrayD::from_shape_vec(IxDyn(b.shape()), int_values(b)?).map_err(|e| crate::Error::Op(e.to_string()))?;
        let (Some(ab), Some(bb)) = (av.broadcast(IxDyn(&shape)), bv.broadcast(IxDyn(&shape))) else {
            bail!("cannot broadcast {:?} and {:?}", a.shape(), b.shape())
        };
        let y: Vec<i32> = ab.iter().zip(bb.iter()).map(|(&x, &y)| self.code(x, y)).collect();
        Ok(vec![codes(a.dtype(), &shape, y)?])
    }

    fn lower(&self, cx: &mut LowerCx) -> Result<()> {
        let (name, mut params) = match self.kind {
            BinaryKind::Mul => ("q_mul", vec![Lit::Int(self.za as i64), Lit::Int(self.zb as i64)]),
            BinaryKind::Add | BinaryKind::Sub => {
                let mut p = vec![Lit::Int(self.za as i64), Lit::Int(self.zb as i64)];
                p.extend(mul_lits(self.ma));
                p.extend(mul_lits(self.mb));
                ("q_add", p)
            }
        };
        params.extend(mul_lits(self.mo));
        params.extend(self.stage.lits());
        if self.kind != BinaryKind::Mul {
            params.push(Lit::Bool(self.kind == BinaryKind::Sub));
        }
        cx.elementwise(name, params)
    }

    /// int8: an integer operator rules produce; copied as it is.
    fn quantize(&self, rule: crate::ops::Rule) -> Result<crate::ops::Plan> {
        Ok(rule.as_is())
    }
}

/// `stage((q − z_in) scaled by m)`: codes moved to other parameters.
#[derive(Debug, Clone)]
pub struct IntRescale {
    pub z_in: i32,
    pub m: Multiplier,
    pub stage: Stage,
}

impl OpDef for IntRescale {
    fn from_onnx(_: &OnnxNode) -> Result<Self> {
        bail!("IntRescale is internal to qcc")
    }

    fn infer(&self, inputs: &[Option<Arg>]) -> Result<Vec<TensorType>> {
        Ok(vec![inputs.req(0)?.ty.clone()])
    }

    fn eval(&self, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
        let x = inputs.req(0)?;
        let y = int_values(x)?.into_iter().map(|q| self.stage.apply(q - self.z_in, self.m)).collect();
        Ok(vec![codes(x.dtype(), x.shape(), y)?])
    }

    fn lower(&self, cx: &mut LowerCx) -> Result<()> {
        let mut params = vec![Lit::Int(self.z_in as i64)];
        params.extend(mul_lits(self.m));
        params.extend(self.stage.lits());
        cx.elementwise("q_rescale", params)
    }

    /// int8: an integer operator rules produce; copied as it is.
    fn quantize(&self, rule: crate::ops::Rule) -> Result<crate::ops::Plan> {
        Ok(rule.as_is())
    }
}
