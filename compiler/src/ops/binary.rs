//! Elementwise binary arithmetic with numpy broadcasting: Add, Sub, Mul, Div,
//! Pow, Mod, BitShift (signed types from opset 28: arithmetic right shifts),
//! BitwiseAnd/Or/Xor, and PRelu (slope broadcast to X).
//!
//! Integer arithmetic wraps; integer division truncates toward zero and
//! division by zero gives 0. Pow keeps the base's element type.

use super::int8_rule::{Needs, Plan, QuantCx, Rule};
use super::qint::{BinaryKind, IntBinary, IntRescale};
use super::{LowerCx, util, Arg, Op, OpDef, Slots, NO_INTEGER_KERNEL};
use crate::back::lower::Loc;
use super::cast::cast_fn;
use crate::back::program::{ScalarFn, Step};
use crate::front::onnx::OnnxNode;
use crate::ir::{Shape, TensorType};
use crate::tensor::{DType, Num, Tensor};
use crate::{bail, map2_num, Result};
use ndarray::ArrayD;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Add,
    Sub,
    Mul,
    Div,
    Pow,
    /// `fmod`: C's fmod (sign of the dividend) instead of Python's mod.
    Mod { fmod: bool },
    ShiftLeft,
    ShiftRight,
    And,
    Or,
    Xor,
    PRelu,
}

#[derive(Debug, Clone)]
pub struct Binary {
    pub kind: Kind,
    /// Opset < 7 broadcasting, which aligns B with A at an axis.
    legacy: Option<Legacy>,
}

/// How opsets before 7 place B against A before broadcasting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Legacy {
    /// `broadcast = 1, axis = k`: B's dimensions line up with A's from axis k.
    AlignAt(i64),
    /// PRelu-6: a 1-D slope holds one value per channel (axis 1).
    Channel,
}

impl OpDef for Binary {
    fn from_onnx(node: &OnnxNode) -> Result<Self> {
        let kind = match node.op_type.as_str() {
            "Add" => Kind::Add,
            "Sub" => Kind::Sub,
            "Mul" => Kind::Mul,
            "Div" => Kind::Div,
            "Pow" => Kind::Pow,
            "Mod" => Kind::Mod { fmod: node.int("fmod", 0)? != 0 },
            "BitShift" => match node.string("direction", "")?.as_str() {
                "LEFT" => Kind::ShiftLeft,
                "RIGHT" => Kind::ShiftRight,
                other => bail!("BitShift direction '{other}' is not LEFT or RIGHT"),
            },
            "BitwiseAnd" => Kind::And,
            "BitwiseOr" => Kind::Or,
            "BitwiseXor" => Kind::Xor,
            "PRelu" => Kind::PRelu,
            other => bail!("'{other}' is not a binary operator"),
        };
        let legacy = match (node.opset < 7, kind) {
            (false, _) => None,
            (true, Kind::PRelu) => Some(Legacy::Channel),
            (true, _) => match (node.int("broadcast", 0)?, node.int_opt("axis")?) {
                (1, Some(axis)) => Some(Legacy::AlignAt(axis)),
                _ => None,
            },
        };
        Ok(Binary { kind, legacy })
    }

    fn infer(&self, inputs: &[Option<Arg>]) -> Result<Vec<TensorType>> {
        let (a, b) = (inputs.req(0)?.ty, inputs.req(1)?.ty);
        self.check_dtypes(a.dtype, b.dtype)?;
        let b_shape = match (a.shape.rank(), b.shape.dims()) {
            (Some(rank), Some(dims)) => match self.aligned(rank, dims, Some(1))? {
                Some(d) => Shape::from_dims(d),
                None => b.shape.clone(),
            },
            _ => b.shape.clone(),
        };
        let shape = Shape::broadcast(&[&a.shape, &b_shape])?;
        if self.kind == Kind::PRelu {
            // The slope broadcasts to X; the result has X's shape.
            return Ok(vec![a.clone()]);
        }
        Ok(vec![TensorType::new(a.dtype, shape)])
    }

    fn eval(&self, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
        let a = inputs.req(0)?;
        let b = inputs.req(1)?;
        let reshaped;
        let b = match self.aligned(a.rank(), b.shape(), 1)? {
            Some(dims) => {
                reshaped = b.reshape(&dims)?;
                &reshaped
            }
            None => b,
        };
        self.check_dtypes(a.dtype(), b.dtype())?;
        let out = match self.kind {
            Kind::Pow => pow(a, b)?,
            Kind::PRelu => {
                let shape = util::broadcast_shapes(&[a.shape(), b.shape()])?;
                if shape != a.shape() {
                    bail!("PRelu slope {:?} does not broadcast to X {:?}", b.shape(), a.shape());
                }
                let k = self.kind;
                map2_num!(a, b, (x, y) => util::zip2(x, y, |p, q| apply(k, p, q))?)?
            }
            // The kind is matched once, outside the loop: the arithmetic
            // kinds then run as straight (vectorizable) loops.
            Kind::Add => map2_num!(a, b, (x, y) => util::zip2(x, y, |p, q| p.add(q))?)?,
            Kind::Sub => map2_num!(a, b, (x, y) => util::zip2(x, y, |p, q| p.sub(q))?)?,
            Kind::Mul => map2_num!(a, b, (x, y) => util::zip2(x, y, |p, q| p.mul(q))?)?,
            Kind::Div => map2_num!(a, b, (x, y) => util::zip2(x, y, |p, q| p.div(q))?)?,
            k => map2_num!(a, b, (x, y) => util::zip2(x, y, |p, q| apply(k, p, q))?)?,
        };
        Ok(vec![out])
    }

    fn lower(&self, cx: &mut LowerCx) -> Result<()> {
        self.lower_elementwise(cx)
    }

    /// int8: Mul or Div by a positive scalar constant as IntRescale; Add,
    /// Sub and Mul as IntBinary; the other kinds float only.
    fn quantize(&self, rule: Rule) -> Result<Plan> {
        if !self.is_arithmetic() {
            return Ok(rule.float_only(NO_INTEGER_KERNEL));
        }
        rule.on_codes(Needs::Output, |cx| self.on_codes(cx))
    }
}

impl Binary {
    /// Whether swapping the operands leaves the result: Add or Mul with
    /// numpy broadcasting (not the axis-aligned broadcasting before opset 7).
    pub fn commutes(&self) -> bool {
        matches!(self.kind, Kind::Add | Kind::Mul) && self.legacy.is_none()
    }

    /// Whether this is Add, Sub, Mul or Div.
    pub fn is_arithmetic(&self) -> bool {
        matches!(self.kind, Kind::Add | Kind::Sub | Kind::Mul | Kind::Div)
    }

    /// The integer form of Add, Sub, Mul and Div (NUMERICS.md, "Elementwise
    /// and other integer operators"): IntRescale for a positive scalar
    /// factor, else IntBinary; stays float when a multiplier's exponent is
    /// past the bound its kernel proves, or for a division by a tensor. The
    /// multipliers are checked before anything is written, so a Relu or
    /// Clip after a node that stays float is not fused away.
    fn on_codes(&self, cx: &mut dyn QuantCx) -> Result<Plan> {
        let ins = cx.inputs();
        let (Some(a), Some(b)) = (ins.opt(0), ins.opt(1)) else { return Ok(Plan::float("missing operand")) };
        let y = cx.first_output()?;
        // Mul or Div by a positive scalar constant: a rescale.
        let scalar = cx.constant(b).filter(|c| c.len() == 1).map(|c| c.scalar_f64()).transpose()?;
        if let (Some(c), Kind::Mul | Kind::Div) = (scalar, self.kind) {
            if c > 0.0 && c.is_finite() {
                let factor = if self.kind == Kind::Div { 1.0 / c } else { c };
                let (px, po) = (cx.code_params(a)?, cx.stage_params(y)?);
                let probe = cx.stage(po, 0, 0);
                let Some(fits) = IntRescale::for_scales(px.dtype, (px.scale as f64 * factor, px.zero), po.scale as f64, probe)? else {
                    return Ok(Plan::float("scales too far apart"));
                };
                let (xq, _) = cx.as_int(a)?;
                let (target, po, lo, hi) = cx.output_stage(y)?;
                let op = IntRescale { stage: cx.stage(po, lo, hi), ..fits };
                return cx.emit(target, po, "IntRescale", Op::IntRescale(op), &[Some(xq)]);
            }
        }
        let kind = match self.kind {
            Kind::Add => BinaryKind::Add,
            Kind::Sub => BinaryKind::Sub,
            Kind::Mul => BinaryKind::Mul,
            _ => return Ok(Plan::float("division by a tensor")),
        };
        let (pa, pb, po) = (cx.code_params(a)?, cx.code_params(b)?, cx.stage_params(y)?);
        if pa.dtype != po.dtype || pb.dtype != po.dtype {
            return Ok(Plan::float("operands and output codes differ in type"));
        }
        let probe = cx.stage(po, 0, 0);
        let fits = IntBinary::for_scales(kind, po.dtype, (pa.scale as f64, pa.zero), (pb.scale as f64, pb.zero), po.scale as f64, probe)?;
        let Some(fits) = fits else { return Ok(Plan::float("scales too far apart")) };
        // Decided: now the operands become codes and a Relu or Clip is fused.
        let (aq, _) = cx.as_int(a)?;
        let (bq, _) = cx.as_int(b)?;
        let (target, po, lo, hi) = cx.output_stage(y)?;
        let op = IntBinary { stage: cx.stage(po, lo, hi), ..fits };
        cx.emit(target, po, "IntBinary", Op::IntBinary(op), &[Some(aq), Some(bq)])
    }

    /// Elementwise code through the runtime's scalar functions.
    fn lower_elementwise(&self, cx: &mut LowerCx) -> Result<()> {
        let a = cx.input(0)?.clone();
        let mut b = cx.input(1)?.clone();
        if let Some(dims) = self.aligned(a.shape.len(), &b.shape, 1)? {
            b = b.reshaped(&dims);
        }
        let float = a.dtype.is_float();
        let name = match self.kind {
            Kind::Add => "add",
            Kind::Sub => "sub",
            Kind::Mul => "mul",
            Kind::Div => "div",
            Kind::PRelu => "prelu",
            Kind::Mod { fmod: false } if float => "modulo_float",
            Kind::Mod { fmod: true } if float => "fmod",
            Kind::Mod { fmod: false } => "modulo",
            Kind::Mod { fmod: true } => "fmod_int",
            Kind::And => "bit_and",
            Kind::Or => "bit_or",
            Kind::Xor => "bit_xor",
            Kind::ShiftLeft => "shift_left",
            Kind::ShiftRight => "shift_right",
            Kind::Pow => return lower_pow(cx, a, b),
        };
        cx.elementwise_of(name, Vec::new(), &[a, b])
    }

    /// B's dimensions placed against A's rank under opset < 7 rules, or
    /// `None` when ordinary numpy broadcasting applies.
    fn aligned<D: Copy>(&self, a_rank: usize, b: &[D], one: D) -> Result<Option<Vec<D>>> {
        let axis = match self.legacy {
            None => return Ok(None),
            Some(Legacy::Channel) if a_rank >= 2 && b.len() == 1 => 1,
            Some(Legacy::Channel) => return Ok(None),
            Some(Legacy::AlignAt(axis)) => util::axis(axis, a_rank.max(1))?,
        };
        if axis + b.len() > a_rank {
            bail!("B of rank {} does not fit A of rank {a_rank} from axis {axis}", b.len());
        }
        let mut dims = vec![one; a_rank];
        dims[axis..axis + b.len()].copy_from_slice(b);
        Ok(Some(dims))
    }

    fn check_dtypes(&self, a: DType, b: DType) -> Result<()> {
        let ok = match self.kind {
            Kind::Pow => (a.is_int() || a.is_float()) && (b.is_int() || b.is_float()),
            Kind::ShiftLeft | Kind::ShiftRight => a == b && a.is_int(),
            Kind::And | Kind::Or | Kind::Xor => a == b && a.is_int(),
            _ => a == b && (a.is_int() || a.is_float()),
        };
        if !ok {
            bail!("{:?} does not accept element types {a} and {b}", self.kind);
        }
        Ok(())
    }
}

/// Pow as the interpreter computes it: floats of one type directly; an
/// integer base with an integer exponent exactly (exponent as i64);
/// anything else in f64 (base and exponent converted, the result converted
/// back with `Cast` semantics).
fn lower_pow(cx: &mut LowerCx, a: Loc, b: Loc) -> Result<()> {
    let out = cx.output(0)?;
    if a.dtype.is_float() && a.dtype == b.dtype {
        return cx.elementwise_of("pow", Vec::new(), &[a, b]);
    }
    if a.dtype.is_int() && b.dtype.is_int() {
        let e = converted(cx, &b, DType::I64);
        return cx.map(ScalarFn::new("pow_int", vec![a.dtype, DType::I64], out.dtype), &[&a, &e], &out);
    }
    let base = converted(cx, &a, DType::F64);
    let e = converted(cx, &b, DType::F64);
    let result = if out.dtype == DType::F64 { out.clone() } else { cx.scratch(DType::F64, out.len()).reshaped(&out.shape) };
    cx.map(ScalarFn::new("pow", vec![DType::F64, DType::F64], DType::F64), &[&base, &e], &result)?;
    if result.operand != out.operand {
        cx.map(cast_fn(DType::F64, out.dtype), &[&result], &out)?;
    }
    Ok(())
}

/// `x` converted to `to` (a new scratch buffer unless it already has that type).
fn converted(cx: &mut LowerCx, x: &Loc, to: DType) -> Loc {
    if x.dtype == to {
        return x.clone();
    }
    let dst = cx.scratch(to, x.len()).reshaped(&x.shape);
    cx.push(Step::Map { f: cast_fn(x.dtype, to), inputs: vec![x.view()], output: dst.view(), shape: x.shape.clone() });
    dst
}

fn apply<T: Num>(k: Kind, p: T, q: T) -> T {
    match k {
        Kind::Add => p.add(q),
        Kind::Sub => p.sub(q),
        Kind::Mul => p.mul(q),
        Kind::Div => p.div(q),
        Kind::Mod { fmod } => modulo(p, q, fmod),
        Kind::PRelu => {
            if p < T::zero() {
                p.mul(q)
            } else {
                p
            }
        }
        Kind::ShiftLeft => shift(p, q, true),
        Kind::ShiftRight => shift(p, q, false),
        Kind::And => T::from_i64(p.to_i64() & q.to_i64()),
        Kind::Or => T::from_i64(p.to_i64() | q.to_i64()),
        Kind::Xor => T::from_i64(p.to_i64() ^ q.to_i64()),
        // Pow has its own path with mixed types.
        Kind::Pow => p,
    }
}

/// Shifts `v` by `by` bits. Right shifts of signed types are arithmetic.
/// A shift by a negative amount or by the width or more leaves only the
/// sign fill: -1 for a right shift of a negative value, else 0.
fn shift<T: Num>(v: T, by: T, left: bool) -> T {
    let width = (std::mem::size_of::<T>() * 8) as u64;
    let signed = T::min_value() < T::zero();
    // Unsigned amounts are read as unsigned so that u64 values above i64::MAX stay out of range.
    let amount = if signed { u64::try_from(by.to_i64()).ok() } else { Some(by.to_i64() as u64) };
    let negative = signed && v < T::zero();
    match amount {
        Some(n) if n < width => {
            if left {
                // Bits past the width are dropped by `from_i64`'s truncation.
                T::from_i64(v.to_i64().wrapping_shl(n as u32))
            } else if signed {
                T::from_i64(v.to_i64() >> n)
            } else {
                T::from_i64(((v.to_i64() as u64) >> n) as i64)
            }
        }
        _ if negative && !left => T::zero().sub(T::one()),
        _ => T::zero(),
    }
}

fn modulo<T: Num>(p: T, q: T, fmod: bool) -> T {
    if T::IS_FLOAT {
        let (a, b) = (p.to_f64(), q.to_f64());
        let r = a % b;
        // Python's mod takes the sign of the divisor.
        let r = if !fmod && r != 0.0 && (r < 0.0) != (b < 0.0) { r + b } else { r };
        return T::from_f64(r);
    }
    let (a, b) = (p.to_i64(), q.to_i64());
    if b == 0 {
        return T::zero();
    }
    let r = a.wrapping_rem(b);
    let r = if !fmod && r != 0 && (r < 0) != (b < 0) { r + b } else { r };
    T::from_i64(r)
}

/// `a ** b` with the base's element type; integer powers are exact.
fn pow(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    if a.dtype().is_int() && b.dtype().is_int() {
        let e = b.cast(DType::I64)?;
        let e = e.array::<i64>()?;
        return crate::map_int!(a, x => util::zip2(x, e, int_pow)?);
    }
    let e = b.cast(DType::F64)?;
    let e = e.array::<f64>()?;
    crate::map_num!(a, x => pow_float(x, e)?)
}

fn pow_float<T: Num>(x: &ArrayD<T>, e: &ArrayD<f64>) -> Result<ArrayD<T>> {
    util::zip2(x, e, |base, exp| T::from_f64(base.to_f64().powf(exp)))
}

fn int_pow<T: Num>(base: T, exp: i64) -> T {
    if exp < 0 {
        // numpy rejects negative integer powers; 1/b^n truncates to 0 unless |b| == 1.
        let b = base.to_i64();
        return match b {
            1 => T::one(),
            -1 => {
                if exp % 2 == 0 {
                    T::one()
                } else {
                    base
                }
            }
            _ => T::zero(),
        };
    }
    let mut result = T::one();
    let mut b = base;
    let mut e = exp as u64;
    while e > 0 {
        if e & 1 == 1 {
            result = result.mul(b);
        }
        b = b.mul(b);
        e >>= 1;
    }
    result
}

#[cfg(test)]
mod tests {
    use crate::front::onnx::Attr;
    use crate::ops::testing::{f32s, i64s, run};

    #[test]
    fn broadcasting_add() {
        let out = run("Add", 17, vec![], &[f32s(&[2, 1], &[1.0, 2.0]), f32s(&[3], &[10.0, 20.0, 30.0])]).unwrap();
        assert_eq!(out[0], f32s(&[2, 3], &[11.0, 21.0, 31.0, 12.0, 22.0, 32.0]));
    }

    #[test]
    fn integer_division_truncates_and_survives_zero() {
        let out = run("Div", 17, vec![], &[i64s(&[3], &[7, -7, 5]), i64s(&[3], &[2, 2, 0])]).unwrap();
        assert_eq!(out[0], i64s(&[3], &[3, -3, 0]));
    }

    #[test]
    fn python_and_c_modulo() {
        let a = i64s(&[2], &[-7, 7]);
        let b = i64s(&[2], &[3, -3]);
        assert_eq!(run("Mod", 13, vec![], &[a.clone(), b.clone()]).unwrap()[0], i64s(&[2], &[2, -2]));
        assert_eq!(run("Mod", 13, vec![("fmod", Attr::Int(1))], &[a, b]).unwrap()[0], i64s(&[2], &[-1, 1]));
    }

    #[test]
    fn signed_and_out_of_range_shifts() {
        use crate::tensor::Tensor;
        let x = Tensor::from_vec(&[4], vec![-16i8, 64, -1, 5]).unwrap();
        let by = Tensor::from_vec(&[4], vec![2i8, 1, 8, -1]).unwrap();
        let right = run("BitShift", 28, vec![("direction", Attr::String("RIGHT".into()))], &[x.clone(), by.clone()]).unwrap();
        assert_eq!(right[0], Tensor::from_vec(&[4], vec![-4i8, 32, -1, 0]).unwrap());
        let left = run("BitShift", 28, vec![("direction", Attr::String("LEFT".into()))], &[x, by]).unwrap();
        assert_eq!(left[0], Tensor::from_vec(&[4], vec![-64i8, -128, 0, 0]).unwrap());
        let big = Tensor::from_vec(&[2], vec![u64::MAX, 1]).unwrap();
        let amount = Tensor::from_vec(&[2], vec![63u64, u64::MAX]).unwrap();
        let right = run("BitShift", 11, vec![("direction", Attr::String("RIGHT".into()))], &[big, amount]).unwrap();
        assert_eq!(right[0], Tensor::from_vec(&[2], vec![1u64, 0]).unwrap());
    }

    #[test]
    fn mismatched_types_are_errors() {
        assert!(run("Add", 17, vec![], &[f32s(&[1], &[1.0]), i64s(&[1], &[1])]).is_err());
        assert!(run("Add", 17, vec![], &[f32s(&[2], &[1.0, 2.0]), f32s(&[3], &[1.0, 2.0, 3.0])]).is_err());
    }
}
