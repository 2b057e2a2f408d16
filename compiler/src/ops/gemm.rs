//! Gemm: `Y = alpha · A' · B' + beta · C` for 2-D A and B (optionally
//! transposed) and an optional C broadcast to [M, N], on float types (the
//! half types computed in float32, one blocked GEMM) and 32/64-bit
//! integers (exact wrapping product; with alpha ≠ 1 or beta ∉ {0, 1} the
//! scaling is done in float64 and truncated, as numpy does).
//! <https://onnx.ai/onnx/operators/onnx__Gemm.html>

use super::dense::{array, compute_type, demote, promote, row_major};
use super::matmul::lower::{self as dense_lower, Matrices, Side};
use super::int8_rule::{transpose2, Needs, Plan, Rule, Weighted};
use super::{util, Arg, LowerCx, OpDef, Slots};
use crate::front::onnx::OnnxNode;
use crate::interp::gemm::{gemm, Dot};
use crate::ir::{Dim, Shape, TensorType};
use crate::tensor::{DType, Elem, Tensor};
use crate::{bail, Error, Result};
use ndarray::{Array2, ArrayD, ArrayView2, Ix2};
use std::borrow::Cow;

#[derive(Debug, Clone)]
pub struct Gemm {
    pub(crate) alpha: f64,
    pub(crate) beta: f64,
    pub(crate) trans_a: bool,
    pub(crate) trans_b: bool,
}

impl Gemm {
    /// (M, K) of A' and (K, N) of B' from partly known 2-D shapes.
    fn dims(&self, a: &[Dim], b: &[Dim]) -> Result<(Dim, Dim)> {
        if a.len() != 2 || b.len() != 2 {
            bail!("A and B must be 2-D, got ranks {} and {}", a.len(), b.len());
        }
        let (m, ka) = if self.trans_a { (a[1], a[0]) } else { (a[0], a[1]) };
        let (kb, n) = if self.trans_b { (b[1], b[0]) } else { (b[0], b[1]) };
        if let (Some(x), Some(y)) = (ka, kb) {
            if x != y {
                bail!("inner dimensions differ: A' has {x} columns, B' has {y} rows");
            }
        }
        Ok((m, n))
    }

    fn shape(&self, a: &Shape, b: &Shape, c: Option<&Shape>) -> Result<Shape> {
        let (Some(ad), Some(bd)) = (a.dims(), b.dims()) else { return Ok(Shape::of_rank(2)) };
        let (m, n) = self.dims(ad, bd)?;
        if let Some(cd) = c.and_then(|c| c.dims()) {
            if cd.len() > 2 {
                bail!("C must have rank 2 or less, got {}", c.map_or(String::new(), |c| c.to_string()));
            }
            let target = [m, n];
            for (i, &d) in cd.iter().enumerate() {
                let t = target[2 - cd.len() + i];
                if let (Some(d), Some(t)) = (d, t) {
                    if d != 1 && d != t {
                        bail!("C {} does not broadcast to [{t}...] along axis {i}", Shape::from_dims(cd.to_vec()));
                    }
                }
            }
        }
        Ok(Shape::from_dims(vec![m, n]))
    }
}

fn check_types(a: DType, b: DType, c: Option<DType>) -> Result<()> {
    let ok = a == b && c.is_none_or(|c| c == a) && (a.is_float() || matches!(a, DType::I32 | DType::I64 | DType::U32 | DType::U64));
    if !ok {
        bail!("A, B and C must share a float or 32/64-bit integer element type");
    }
    Ok(())
}

fn view2<T>(a: &ArrayD<T>, trans: bool) -> Result<ArrayView2<'_, T>> {
    let v = a.view().into_dimensionality::<Ix2>().map_err(|e| Error::Op(format!("expected a 2-D operand: {e}")))?;
    Ok(if trans { v.reversed_axes() } else { v })
}

impl Gemm {
    fn typed<T: Dot + Elem>(&self, a: &Tensor, b: &Tensor, c: Option<&Tensor>) -> Result<Tensor> {
        let (av, bv) = (view2(a.array::<T>()?, self.trans_a)?, view2(b.array::<T>()?, self.trans_b)?);
        let (m, n) = (av.dim().0, bv.dim().1);
        let exact_scale = T::IS_FLOAT || (self.alpha == 1.0 && (self.beta == 0.0 || self.beta == 1.0));
        let use_c = c.is_some() && self.beta != 0.0;
        let mut y = match c.filter(|_| use_c && exact_scale) {
            Some(c) => util::broadcast(c.array::<T>()?, &[m, n])?.into_dimensionality::<Ix2>().map_err(|e| Error::Op(e.to_string()))?.to_owned(),
            None => Array2::from_elem((m, n), T::zero()),
        };
        if exact_scale {
            let beta = if use_c { T::from_f64(self.beta) } else { T::zero() };
            gemm(T::from_f64(self.alpha), av, bv, beta, y.view_mut())?;
        } else {
            gemm(T::one(), av, bv, T::zero(), y.view_mut())?;
            let cv = match c.filter(|_| use_c) {
                Some(c) => Some(util::broadcast(c.array::<T>()?, &[m, n])?),
                None => None,
            };
            for ((i, j), v) in y.indexed_iter_mut() {
                let add = cv.as_ref().and_then(|c| c.get([i, j])).map_or(0.0, |c| c.to_f64() * self.beta);
                *v = T::from_f64(v.to_f64() * self.alpha + add);
            }
        }
        let data = row_major(&y.into_dyn()).into_owned();
        Ok(T::wrap(array(&[m, n], data)?))
    }
}

impl OpDef for Gemm {
    fn from_onnx(node: &OnnxNode) -> Result<Self> {
        Ok(Gemm {
            alpha: node.float("alpha", 1.0)? as f64,
            beta: node.float("beta", 1.0)? as f64,
            trans_a: node.int("transA", 0)? != 0,
            trans_b: node.int("transB", 0)? != 0,
        })
    }

    fn infer(&self, inputs: &[Option<Arg>]) -> Result<Vec<TensorType>> {
        let (a, b, c) = (inputs.req(0)?.ty, inputs.req(1)?.ty, inputs.opt(2).map(|c| c.ty));
        check_types(a.dtype, b.dtype, c.map(|c| c.dtype))?;
        Ok(vec![TensorType::new(a.dtype, self.shape(&a.shape, &b.shape, c.map(|c| &c.shape))?)])
    }

    fn eval(&self, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
        let (a, b, c) = (inputs.req(0)?, inputs.req(1)?, inputs.opt(2));
        check_types(a.dtype(), b.dtype(), c.map(|c| c.dtype()))?;
        let fixed = |t: &Tensor| Shape::fixed(t.shape());
        self.shape(&fixed(a), &fixed(b), c.map(fixed).as_ref())?;
        let y = match a.dtype() {
            DType::I32 => self.typed::<i32>(a, b, c)?,
            DType::I64 => self.typed::<i64>(a, b, c)?,
            DType::U32 => self.typed::<u32>(a, b, c)?,
            DType::U64 => self.typed::<u64>(a, b, c)?,
            d => {
                let (ap, bp, cp) = (promote(a)?, promote(b)?, c.map(promote).transpose()?);
                match compute_type(d)? {
                    DType::F64 => self.typed::<f64>(&ap, &bp, cp.as_deref())?,
                    _ => demote(self.typed::<f32>(&ap, &bp, cp.as_deref())?, d)?,
                }
            }
        };
        Ok(vec![y])
    }

    fn macs(&self, inputs: &[Option<&TensorType>], outputs: &[&TensorType]) -> u64 {
        let k = inputs.opt(0).and_then(|a| a.shape.as_fixed()).and_then(|d| d.get(if self.trans_a { 0 } else { 1 }).copied());
        let n = outputs.first().and_then(|y| y.shape.numel());
        k.zip(n).map_or(0, |(k, n)| (k as u64).saturating_mul(n as u64))
    }

    /// Both operands packed for the runtime GEMM (constants at compile
    /// time), C broadcast into Y first when beta is used.
    fn lower(&self, cx: &mut LowerCx) -> Result<()> {
        let (a, b, c) = (cx.input(0)?.clone(), cx.input(1)?.clone(), cx.opt_input(2).cloned());
        let dtype = a.dtype;
        dense_lower::check_dtype(dtype)?;
        if !dtype.is_float() && (self.alpha != 1.0 || (self.beta != 0.0 && self.beta != 1.0)) {
            crate::unsupported!("code generation for integer Gemm with alpha != 1 or beta not in {{0, 1}}");
        }
        let (&[a0, a1], &[b0, b1]) = (&a.shape[..], &b.shape[..]) else { bail!("A and B must be 2-D") };
        let (m, k) = if self.trans_a { (a1, a0) } else { (a0, a1) };
        let n = if self.trans_b { b0 } else { b1 };
        let y = cx.output(0)?;
        if y.is_empty() {
            return Ok(());
        }
        // A: lanes = rows i, depth = p; B: lanes = columns j, depth = p.
        let (a_ls, a_ps) = if self.trans_a { (1, m) } else { (k, 1) };
        let (b_ls, b_ps) = if self.trans_b { (k, 1) } else { (1, n) };
        let ma = Matrices { batch: 1, lanes: m, depth: k, lane_stride: a_ls, depth_stride: a_ps, batch_stride: 0 };
        let mb = Matrices { batch: 1, lanes: n, depth: k, lane_stride: b_ls, depth_stride: b_ps, batch_stride: 0 };
        let ap = dense_lower::packed(cx, &a, ma, Side::A, "a_packed")?;
        let bp = dense_lower::packed(cx, &b, mb, Side::B, "b_packed")?;
        let beta = match &c {
            Some(c) if self.beta != 0.0 => {
                dense_lower::fill_broadcast(cx, c, &y)?;
                self.beta
            }
            _ => 0.0,
        };
        dense_lower::gemm_call(cx, dtype, ap.arg_in(), bp.arg_in(), y.arg_out(), [m, n, k, n], self.alpha, beta);
        Ok(())
    }

    /// int8: IntConv with weights alpha · B' [N, K] and bias beta · C, when
    /// B and C are constants, C is a vector over N (or a scalar) and A is
    /// not transposed. The model's own weight scales (along N) apply only
    /// when alpha is 1: alpha rescales the weights before quantization.
    fn quantize(&self, rule: Rule) -> Result<Plan> {
        rule.on_codes(Needs::Output, |cx| {
            let ins = cx.inputs();
            let x = ins.req(0)?;
            let Some(b) = cx.input_constant(1) else { return Ok(Plan::float("B is not constant")) };
            if self.trans_a {
                return Ok(Plan::float("transA"));
            }
            // Rows [N, K] (float32 when B is transposed), borrowed when B
            // is them already, then times alpha.
            let rows = match (self.trans_b, b.dtype() == DType::F32) {
                (true, true) => Cow::Borrowed(&*b),
                (true, false) => Cow::Owned(b.cast(DType::F32)?),
                (false, _) => Cow::Owned(transpose2(&b)?),
            };
            let w = if self.alpha == 1.0 { rows } else { Cow::Owned(scaled(&rows, self.alpha)?) };
            let [n_out, ..] = w.shape()[..] else { return Ok(Plan::float("B is not a matrix")) };
            let bias = match cx.input_constant(2) {
                None if ins.opt(2).is_some() => return Ok(Plan::float("C is not constant")),
                None => None,
                Some(c) if c.len() == n_out || c.len() == 1 => {
                    let v = c.to_f64_vec()?;
                    let full: Vec<f32> = (0..n_out).map(|i| (self.beta * v[if v.len() == 1 { 0 } else { i }]) as f32).collect();
                    Some(Tensor::from_vec(&[n_out], full)?)
                }
                Some(_) => return Ok(Plan::float("C is not a vector over N")),
            };
            let scales = if self.alpha == 1.0 { cx.given_weight_scales(ins.opt(1), if self.trans_b { 0 } else { 1 }) } else { None };
            cx.weighted(Weighted { x, w: &w, bias: bias.as_ref(), axes: Vec::new(), group: 1, scales })
        })
    }
}

/// `t · factor`, as float32.
fn scaled(t: &Tensor, factor: f64) -> Result<Tensor> {
    let v: Vec<f32> = t.to_f32()?.iter().map(|&x| (f64::from(x) * factor) as f32).collect();
    Tensor::from_vec(t.shape(), v)
}

#[cfg(test)]
mod tests {
    use crate::front::onnx::Attr;
    use crate::ops::testing::{f32s, i64s, run};

    #[test]
    fn transposes_scales_and_broadcasts_c() {
        let a = f32s(&[2, 1], &[1.0, 2.0]);
        let b = f32s(&[1, 2], &[3.0, 4.0]);
        let attrs = vec![("transA", Attr::Int(1)), ("transB", Attr::Int(1)), ("alpha", Attr::Float(2.0)), ("beta", Attr::Float(0.5))];
        // A' = [[1, 2]], B' = [[3], [4]]: 2 * 11 + 0.5 * 4.
        let y = run("Gemm", 13, attrs, &[a.clone(), b.clone(), f32s(&[], &[4.0])]).unwrap();
        assert_eq!(y[0], f32s(&[1, 1], &[24.0]));
        let y = run("Gemm", 13, vec![("transB", Attr::Int(1))], &[a.clone(), f32s(&[3, 1], &[1.0, 2.0, 3.0]), f32s(&[3], &[0.0, 1.0, 2.0])]).unwrap();
        assert_eq!(y[0], f32s(&[2, 3], &[1.0, 3.0, 5.0, 2.0, 5.0, 8.0]));
        assert!(run("Gemm", 13, vec![], &[a.clone(), a.clone()]).is_err());
        assert!(run("Gemm", 13, vec![], &[a, f32s(&[1, 3], &[0.0; 3]), f32s(&[2], &[0.0; 2])]).is_err());
        let y = run("Gemm", 13, vec![("alpha", Attr::Float(0.5))], &[i64s(&[1, 1], &[3]), i64s(&[1, 1], &[3]), i64s(&[1], &[1])]).unwrap();
        assert_eq!(y[0], i64s(&[1, 1], &[5]));
    }
}
