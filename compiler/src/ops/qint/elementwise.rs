//! Elementwise integer operators with numpy broadcasting: Add, Sub and Mul
//! of two quantized tensors (IntBinary), the move of a tensor to other
//! quantization parameters (IntRescale, used where Concat inputs differ and
//! for Mul or Div by a constant) and its move to another code type
//! (IntConvert: int8, uint8 and int16 into one another, at the boundaries
//! of 16-bit layers). Formulas in NUMERICS.md; the runtimes' `q_add`,
//! `q_mul`, `q_rescale`. The oracle tabulates each operand's contribution
//! per code when a tensor holds more elements than its type has codes.

use super::super::{Arg, LowerCx, OpDef, Slots};
use super::{code_range, codes, int_values, mul_lits, Stage};
use crate::back::program::Lit;
use crate::front::onnx::OnnxNode;
use crate::ir::{Shape, TensorType};
use crate::quant::fixed_point::{quantize_multiplier, requantize, Multiplier, Rounding};
use crate::tensor::{DType, Tensor};
use crate::{bail, Result};
use ndarray::{ArrayD, IxDyn};

/// Left shift that gives both Add operands 20 bits of headroom (8-bit codes).
pub const ADD_SHIFT: u32 = 20;
/// The same for int16 codes: `|q| · 2^15 ≤ 2^30`.
pub const ADD_SHIFT_16: u32 = 15;

/// The Add headroom shift of codes of `d` (`Code::ADD_SHIFT` of the runtime).
pub fn add_shift(d: DType) -> Result<u32> {
    Ok(if super::is_wide(d)? { ADD_SHIFT_16 } else { ADD_SHIFT })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryKind {
    Add,
    Sub,
    Mul,
}

/// `a ± b` or `a · b` of codes. Add/Sub: each operand `(q − z) · 2^shift`
/// (`add_shift` of the code type) scaled by its multiplier (`ma`, `mb`) to
/// a common scale, summed, scaled by `mo`; Mul: `(q_a − z_a)(q_b − z_b)`
/// scaled by `mo`.
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

/// `f(q)` for every element of `v`, through a table of `f` over the codes
/// `[lo, hi]` when `v` has at least as many elements as there are codes.
fn per_code(v: &[i32], (lo, hi): (i32, i32), f: impl Fn(i32) -> i32) -> Vec<i32> {
    if v.len() >= (hi - lo + 1) as usize {
        let table: Vec<i32> = (lo..=hi).map(&f).collect();
        v.iter().map(|&q| table[(q - lo) as usize]).collect()
    } else {
        v.iter().map(|&q| f(q)).collect()
    }
}

impl IntBinary {
    /// `kind` of operands `(scale, zero point)` `a` and `b` into output
    /// scale `so` and `stage`, for codes of `dtype` (NUMERICS.md: "Add and
    /// Sub", "Mul" and "16x8"): `None` when a multiplier is out of range or
    /// the exponent bound that keeps the int32 sums exact fails (Add: ≤ 2
    /// for 8-bit codes, ≤ 0 for int16; Mul: ≤ 15 and ≤ 0). int16 operands
    /// must have zero point 0.
    pub fn for_scales(kind: BinaryKind, dtype: DType, (sa, za): (f64, i32), (sb, zb): (f64, i32), so: f64, stage: Stage) -> Result<Option<IntBinary>> {
        let wide = super::is_wide(dtype)?;
        if wide && (za != 0 || zb != 0) {
            bail!("int16 operands have zero point 0, got {za} and {zb}");
        }
        let none = Multiplier { m: 0, exponent: 0 };
        let built = if kind == BinaryKind::Mul {
            let limit = if wide { 0 } else { 15 };
            quantize_multiplier(sa * sb / so).filter(|m| m.exponent <= limit).map(|mo| (none, none, mo))
        } else {
            let twice = 2.0 * sa.max(sb);
            let shift = (1u64 << add_shift(dtype)?) as f64;
            let limit = if wide { 0 } else { 2 };
            let mo = quantize_multiplier(twice / (shift * so)).filter(|m| m.exponent <= limit);
            match (quantize_multiplier(sa / twice), quantize_multiplier(sb / twice), mo) {
                (Some(ma), Some(mb), Some(mo)) => Some((ma, mb, mo)),
                _ => None,
            }
        };
        Ok(built.map(|(ma, mb, mo)| IntBinary { kind, za, zb, ma, mb, mo, stage }))
    }

    /// Each operand's term of the sum or product for codes of `dtype`.
    fn terms(&self, a: &[i32], b: &[i32], dtype: DType) -> Result<(Vec<i32>, Vec<i32>)> {
        let (range, shift, r) = (code_range(dtype)?, add_shift(dtype)?, self.stage.rounding);
        Ok(match self.kind {
            BinaryKind::Mul => (per_code(a, range, |q| q.wrapping_sub(self.za)), per_code(b, range, |q| q.wrapping_sub(self.zb))),
            BinaryKind::Add | BinaryKind::Sub => (
                per_code(a, range, |q| requantize(q.wrapping_sub(self.za).wrapping_shl(shift), self.ma, r)),
                per_code(b, range, |q| requantize(q.wrapping_sub(self.zb).wrapping_shl(shift), self.mb, r)),
            ),
        })
    }

    /// The output code of the operands' terms `x`, `y`.
    fn code(&self, x: i32, y: i32) -> i32 {
        let acc = match self.kind {
            BinaryKind::Mul => x.wrapping_mul(y),
            BinaryKind::Add => x.wrapping_add(y),
            BinaryKind::Sub => x.wrapping_sub(y),
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
        code_range(a.dtype)?;
        Ok(vec![TensorType::new(a.dtype, Shape::broadcast(&[&a.shape, &b.shape])?)])
    }

    fn eval(&self, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
        let (a, b) = (inputs.req(0)?, inputs.req(1)?);
        let shape = Shape::broadcast(&[&Shape::fixed(a.shape()), &Shape::fixed(b.shape())])?;
        let Some(shape) = shape.as_fixed() else { bail!("cannot broadcast {:?} and {:?}", a.shape(), b.shape()) };
        let (ta, tb) = self.terms(&int_values(a)?, &int_values(b)?, a.dtype())?;
        if a.shape() == b.shape() {
            let y = ta.iter().zip(&tb).map(|(&x, &y)| self.code(x, y)).collect();
            return Ok(vec![codes(a.dtype(), &shape, y)?]);
        }
        let av = ArrayD::from_shape_vec(IxDyn(a.shape()), ta).map_err(|e| crate::Error::Op(e.to_string()))?;
        let bv = ArrayD::from_shape_vec(IxDyn(b.shape()), tb).map_err(|e| crate::Error::Op(e.to_string()))?;
        let y = crate::ops::util::zip2(&av, &bv, |x, y| self.code(x, y))?;
        Ok(vec![codes(a.dtype(), &shape, crate::ops::dense::row_major(&y).into_owned())?])
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

impl IntRescale {
    /// Codes of type `from` with `(scale, zero point)` moved to scale
    /// `s_out` and `stage`: `None` when the multiplier `s_in / s_out` is out
    /// of range or `max|q − z_in| · 2^max(e, 0)` would not stay below 2^31
    /// (the shifted difference is an int32).
    pub fn for_scales(from: DType, (s_in, z_in): (f64, i32), s_out: f64, stage: Stage) -> Result<Option<IntRescale>> {
        let (lo, hi) = code_range(from)?;
        let x_bound = (z_in as i128 - lo as i128).max(hi as i128 - z_in as i128);
        let m = quantize_multiplier(s_in / s_out).filter(|m| x_bound << m.exponent.max(0) < 1 << 31);
        Ok(m.map(|m| IntRescale { z_in, m, stage }))
    }

    /// The output codes of input codes `x` of type `dtype`.
    fn run(&self, x: &Tensor) -> Result<Vec<i32>> {
        Ok(per_code(&int_values(x)?, code_range(x.dtype())?, |q| self.stage.apply(q.wrapping_sub(self.z_in), self.m)))
    }

    fn lower_to(&self, cx: &mut LowerCx) -> Result<()> {
        let mut params = vec![Lit::Int(self.z_in as i64)];
        params.extend(mul_lits(self.m));
        params.extend(self.stage.lits());
        cx.elementwise("q_rescale", params)
    }
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
        Ok(vec![codes(x.dtype(), x.shape(), self.run(x)?)?])
    }

    fn lower(&self, cx: &mut LowerCx) -> Result<()> {
        self.lower_to(cx)
    }

    /// int8: an integer operator rules produce; copied as it is.
    fn quantize(&self, rule: crate::ops::Rule) -> Result<crate::ops::Plan> {
        Ok(rule.as_is())
    }
}

/// IntRescale into another code type `to` (int8, uint8 or int16): the
/// conversion at a boundary between layers of different precision. Its
/// stage's `[min, max]` lies within `to`'s codes.
#[derive(Debug, Clone)]
pub struct IntConvert {
    pub to: DType,
    pub rescale: IntRescale,
}

impl IntConvert {
    /// The conversion of codes `(type, s_in, z_in)` to `(s_out, z_out)` of
    /// type `to`, clamped to `[lo, hi]`: `None` when the multiplier `s_in /
    /// s_out` is out of range or `max|q − z_in| · 2^max(e, 0)` would not
    /// stay below 2^31 (NUMERICS.md, "16x8").
    pub fn for_scales(to: DType, (from, s_in, z_in): (DType, f64, i32), (s_out, z_out): (f64, i32), (lo, hi): (i32, i32), rounding: Rounding) -> Result<Option<IntConvert>> {
        let (tlo, thi) = code_range(to)?;
        if lo < tlo || hi > thi || lo > hi {
            bail!("IntConvert to {to}: clamp [{lo}, {hi}] is not within the codes [{tlo}, {thi}]");
        }
        let stage = Stage { zero: z_out, min: lo, max: hi, rounding };
        Ok(IntRescale::for_scales(from, (s_in, z_in), s_out, stage)?.map(|rescale| IntConvert { to, rescale }))
    }
}

impl OpDef for IntConvert {
    fn from_onnx(_: &OnnxNode) -> Result<Self> {
        bail!("IntConvert is internal to qcc")
    }

    fn infer(&self, inputs: &[Option<Arg>]) -> Result<Vec<TensorType>> {
        let x = inputs.req(0)?.ty;
        code_range(x.dtype)?;
        code_range(self.to)?;
        Ok(vec![TensorType::new(self.to, x.shape.clone())])
    }

    fn eval(&self, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
        let x = inputs.req(0)?;
        let (lo, hi) = code_range(self.to)?;
        let s = self.rescale.stage;
        if s.min < lo || s.max > hi {
            bail!("IntConvert to {}: clamp [{}, {}] is not within its codes", self.to, s.min, s.max);
        }
        Ok(vec![codes(self.to, x.shape(), self.rescale.run(x)?)?])
    }

    fn lower(&self, cx: &mut LowerCx) -> Result<()> {
        self.rescale.lower_to(cx)
    }

    /// int8: an integer operator rules produce; copied as it is.
    fn quantize(&self, rule: crate::ops::Rule) -> Result<crate::ops::Plan> {
        Ok(rule.as_is())
    }
}
