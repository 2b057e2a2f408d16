//! MatMul: numpy `matmul` with N-D batch broadcasting and 1-D operands
//! (a 1-D A is a row, a 1-D B a column, and that axis is dropped), on float
//! types (the half types computed in float32) and 32/64-bit integers
//! (wrapping). Each batch is one blocked GEMM; when B has no batch axes,
//! all of A's batches form one GEMM.
//! <https://onnx.ai/onnx/operators/onnx__MatMul.html>
//!
//! MatMulInteger and QLinearMatMul live in `integer.rs`.

mod integer;
pub(crate) mod lower;

pub use integer::{MatMulInteger, QLinearMatMul};

use super::dense::{array, compute_type, demote, promote, row_major};
use super::int8_rule::{transpose2, Needs, Plan, QuantCx, Rule, Weighted};
use super::qint::IntMatMul;
use super::{Arg, LowerCx, Op, OpDef, Slots};
use crate::back::lower::Loc;
use lower::{Matrices, Side};
use crate::front::onnx::OnnxNode;
use crate::interp::gemm::{gemm, Dot};
use crate::ir::{Dim, Shape, TensorType};
use crate::tensor::{checked_numel, DType, Elem, Tensor};
use crate::{bail, Error, Result};
use ndarray::{ArrayView2, ArrayViewMut2};

#[derive(Debug, Clone)]
pub struct MatMul;

/// Broadcasts two batch shapes (numpy rules) of partly known dims.
fn broadcast_batch(a: &[Dim], b: &[Dim]) -> Result<Vec<Dim>> {
    let rank = a.len().max(b.len());
    let mut out = Vec::with_capacity(rank);
    for i in 0..rank {
        let x = if i + a.len() >= rank { a[i + a.len() - rank] } else { Some(1) };
        let y = if i + b.len() >= rank { b[i + b.len() - rank] } else { Some(1) };
        out.push(match (x, y) {
            (Some(1), d) | (d, Some(1)) => d,
            (Some(p), Some(q)) if p == q => Some(p),
            (Some(p), Some(q)) => bail!("batch dimensions {p} and {q} cannot be broadcast together"),
            (Some(p), None) | (None, Some(p)) => Some(p),
            (None, None) => None,
        });
    }
    Ok(out)
}

/// Output dims of `matmul(a, b)` from partly known operand dims.
pub(crate) fn matmul_dims(a: &[Dim], b: &[Dim]) -> Result<Vec<Dim>> {
    if a.is_empty() || b.is_empty() {
        bail!("MatMul operands must have rank 1 or more");
    }
    let a2: Vec<Dim> = if a.len() == 1 { vec![Some(1), a[0]] } else { a.to_vec() };
    let b2: Vec<Dim> = if b.len() == 1 { vec![b[0], Some(1)] } else { b.to_vec() };
    let (ka, kb) = (a2[a2.len() - 1], b2[b2.len() - 2]);
    if let (Some(ka), Some(kb)) = (ka, kb) {
        if ka != kb {
            bail!("inner dimensions differ: A {a:?} has {ka} columns, B {b:?} has {kb} rows");
        }
    }
    let mut out = broadcast_batch(&a2[..a2.len() - 2], &b2[..b2.len() - 2])?;
    if a.len() > 1 {
        out.push(a2[a2.len() - 2]);
    }
    if b.len() > 1 {
        out.push(b2[b2.len() - 1]);
    }
    Ok(out)
}

fn matmul_shape(a: &Shape, b: &Shape) -> Result<Shape> {
    match (a.dims(), b.dims()) {
        (Some(a), Some(b)) => Ok(Shape::from_dims(matmul_dims(a, b)?)),
        _ => Ok(Shape::unknown()),
    }
}

/// Multiply-accumulates of `matmul(a, b)`: output elements x K.
pub(crate) fn matmul_macs(a: Option<&TensorType>, y: Option<&&TensorType>) -> u64 {
    let k = a.and_then(|a| a.shape.as_fixed()).and_then(|d| d.last().copied()).map(|k| k as u64);
    let n = y.and_then(|y| y.shape.numel()).map(|n| n as u64);
    k.zip(n).map_or(0, |(k, n)| k.saturating_mul(n))
}

fn fixed(d: &[usize]) -> Vec<Dim> {
    d.iter().map(|&v| Some(v)).collect()
}

/// `matmul(a, b)` on flat row-major operands of shapes `a_shape` and
/// `b_shape`; returns the flat result and its shape.
pub(crate) fn batched<T: Dot>(a: &[T], a_shape: &[usize], b: &[T], b_shape: &[usize]) -> Result<(Vec<T>, Vec<usize>)> {
    let Some(out) = Shape::from_dims(matmul_dims(&fixed(a_shape), &fixed(b_shape))?).as_fixed() else {
        bail!("cannot resolve the output shape");
    };
    let a2: Vec<usize> = if a_shape.len() == 1 { vec![1, a_shape[0]] } else { a_shape.to_vec() };
    let b2: Vec<usize> = if b_shape.len() == 1 { vec![b_shape[0], 1] } else { b_shape.to_vec() };
    let (m, k, n) = (a2[a2.len() - 2], a2[a2.len() - 1], b2[b2.len() - 1]);
    let (a_batch, b_batch) = (&a2[..a2.len() - 2], &b2[..b2.len() - 2]);
    let total = checked_numel(&out)?;
    if a.len() != checked_numel(&a2)? || b.len() != checked_numel(&b2)? {
        bail!("operand sizes do not match their shapes");
    }
    let mut y = vec![T::zero(); total];
    let err = |e: ndarray::ShapeError| Error::Op(format!("internal shape error: {e}"));
    let b_batches: usize = b_batch.iter().product();
    if b_batches == 1 {
        // A's batches are rows of one big product.
        let rows = a.len() / k.max(1);
        if k == 0 {
            return Ok((y, out));
        }
        let av = ArrayView2::from_shape((rows, k), a).map_err(err)?;
        let bv = ArrayView2::from_shape((k, n), b.get(..k * n).unwrap_or(&[])).map_err(err)?;
        let rows_out = if rows == 0 { 0 } else { total / n.max(1) };
        if rows_out == rows {
            gemm(T::one(), av, bv, T::zero(), ArrayViewMut2::from_shape((rows, n), &mut y).map_err(err)?)?;
            return Ok((y, out));
        }
    }
    // General case: one GEMM per output batch, operands indexed with broadcasting.
    let batch = broadcast_batch(&fixed(a_batch), &fixed(b_batch))?;
    let batch: Vec<usize> = batch.into_iter().map(|d| d.unwrap_or(1)).collect();
    let count: usize = batch.iter().product();
    for idx in 0..count {
        let (ao, bo) = (batch_index(idx, &batch, a_batch) * m * k, batch_index(idx, &batch, b_batch) * k * n);
        let av = ArrayView2::from_shape((m, k), a.get(ao..ao + m * k).unwrap_or(&[])).map_err(err)?;
        let bv = ArrayView2::from_shape((k, n), b.get(bo..bo + k * n).unwrap_or(&[])).map_err(err)?;
        let yo = idx * m * n;
        let Some(ys) = y.get_mut(yo..yo + m * n) else { bail!("output batch {idx} out of range") };
        gemm(T::one(), av, bv, T::zero(), ArrayViewMut2::from_shape((m, n), ys).map_err(err)?)?;
    }
    Ok((y, out))
}

fn typed<T: Dot + Elem>(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    let (av, bv) = (a.array::<T>()?, b.array::<T>()?);
    let (y, out) = batched(&row_major(av), a.shape(), &row_major(bv), b.shape())?;
    Ok(T::wrap(array(&out, y)?))
}

fn check_types(a: DType, b: DType) -> Result<()> {
    let ok = a == b && (a.is_float() || matches!(a, DType::I32 | DType::I64 | DType::U32 | DType::U64));
    if !ok {
        bail!("A and B must share a float or 32/64-bit integer element type, got {a} and {b}");
    }
    Ok(())
}

impl OpDef for MatMul {
    fn from_onnx(_node: &OnnxNode) -> Result<Self> {
        Ok(MatMul)
    }

    fn infer(&self, inputs: &[Option<Arg>]) -> Result<Vec<TensorType>> {
        let (a, b) = (inputs.req(0)?.ty, inputs.req(1)?.ty);
        check_types(a.dtype, b.dtype)?;
        Ok(vec![TensorType::new(a.dtype, matmul_shape(&a.shape, &b.shape)?)])
    }

    fn eval(&self, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
        let (a, b) = (inputs.req(0)?, inputs.req(1)?);
        check_types(a.dtype(), b.dtype())?;
        let y = match a.dtype() {
            DType::I32 => typed::<i32>(a, b)?,
            DType::I64 => typed::<i64>(a, b)?,
            DType::U32 => typed::<u32>(a, b)?,
            DType::U64 => typed::<u64>(a, b)?,
            d => {
                let (ap, bp) = (promote(a)?, promote(b)?);
                match compute_type(d)? {
                    DType::F64 => typed::<f64>(&ap, &bp)?,
                    _ => demote(typed::<f32>(&ap, &bp)?, d)?,
                }
            }
        };
        Ok(vec![y])
    }

    fn macs(&self, inputs: &[Option<&TensorType>], outputs: &[&TensorType]) -> u64 {
        matmul_macs(inputs.opt(0), outputs.first())
    }

    /// Packs every batch of A and B (constants at compile time), then one
    /// GEMM per output batch, or one GEMM over all of A's batches when B
    /// has none.
    fn lower(&self, cx: &mut LowerCx) -> Result<()> {
        let (a, b) = (cx.input(0)?.clone(), cx.input(1)?.clone());
        lower_product(cx, &a, &b)
    }

    /// int8: with a constant matrix B, IntConv with weights Bᵀ (the model's
    /// own weight scales along N when it carries them); with B an
    /// activation, IntMatMul (`activation_product`).
    fn quantize(&self, rule: Rule) -> Result<Plan> {
        rule.on_codes(Needs::Output, |cx| {
            let ins = cx.inputs();
            let x = ins.req(0)?;
            let Some(b) = cx.input_constant(1) else { return activation_product(cx) };
            if b.rank() != 2 {
                return Ok(Plan::float("B is not a matrix"));
            }
            let w = transpose2(&b)?;
            let scales = cx.given_weight_scales(ins.opt(1), 1);
            cx.weighted(Weighted { x, w: &w, bias: None, axes: Vec::new(), group: 1, scales })
        })
    }
}

/// The MatMul of two activations (attention's Q·Kᵀ and P·V) as IntMatMul,
/// when the operands have rank 2 or more, one code type, and the
/// accumulator bound `K · max|a − z_a| · max|b − z_b| · 2^max(e, 0) < 2^31`
/// holds (NUMERICS.md, "Products of two activations").
fn activation_product(cx: &mut dyn QuantCx) -> Result<Plan> {
    let ins = cx.inputs();
    let (Some(a), Some(b)) = (ins.opt(0), ins.opt(1)) else { return Ok(Plan::float("missing operand")) };
    let y = cx.first_output()?;
    let (Some(ash), Some(bsh)) = (cx.ty(a)?.shape.as_fixed(), cx.ty(b)?.shape.as_fixed()) else {
        return Ok(Plan::float("operand shapes known only at run time"));
    };
    if ash.len() < 2 || bsh.len() < 2 {
        return Ok(Plan::float("a 1-D operand"));
    }
    let (pa, pb, po) = (cx.code_params(a)?, cx.code_params(b)?, cx.stage_params(y)?);
    if pa.dtype != pb.dtype || pa.dtype != po.dtype {
        return Ok(Plan::float("operands and output codes differ in type"));
    }
    let k = *ash.last().unwrap_or(&0);
    let probe = cx.stage(po, 0, 0);
    let Some(fits) = IntMatMul::for_scales(po.dtype, (pa.scale as f64, pa.zero), (pb.scale as f64, pb.zero), k, po.scale as f64, probe)? else {
        return Ok(Plan::float(format!("scales too far apart, or the accumulator could overflow (K = {k})")));
    };
    let (aq, _) = cx.as_int(a)?;
    let (bq, _) = cx.as_int(b)?;
    let (target, po, lo, hi) = cx.output_stage(y)?;
    let op = IntMatMul { stage: cx.stage(po, lo, hi), ..fits };
    cx.emit(target, po, "IntMatMul", Op::IntMatMul(op), &[Some(aq), Some(bq)])
}

/// Output 0 of the node as the MatMul of `a` and `b` (one element type).
pub(crate) fn lower_product(cx: &mut LowerCx, a: &Loc, b: &Loc) -> Result<()> {
    let dtype = a.dtype;
    lower::check_dtype(dtype)?;
    let y = cx.output(0)?;
    if y.is_empty() {
        return Ok(());
    }
    let a2: Vec<usize> = if a.shape.len() == 1 { vec![1, a.shape[0]] } else { a.shape.clone() };
    let b2: Vec<usize> = if b.shape.len() == 1 { vec![b.shape[0], 1] } else { b.shape.clone() };
    let (a_batch, b_batch) = (&a2[..a2.len() - 2], &b2[..b2.len() - 2]);
    let (m, k, n) = (a2[a2.len() - 2], a2[a2.len() - 1], b2[b2.len() - 1]);
    let (a_count, b_count): (usize, usize) = (a_batch.iter().product(), b_batch.iter().product());
    if b_count == 1 {
        // A's batches are rows of one product.
        let rows = a_count * m;
        let ma = Matrices { batch: 1, lanes: rows, depth: k, lane_stride: k, depth_stride: 1, batch_stride: 0 };
        let mb = Matrices { batch: 1, lanes: n, depth: k, lane_stride: 1, depth_stride: n, batch_stride: 0 };
        let ap = lower::packed(cx, a, ma, Side::A, "a_packed")?;
        let bp = lower::packed(cx, b, mb, Side::B, "b_packed")?;
        lower::gemm_call(cx, dtype, ap.arg_in(), bp.arg_in(), y.arg_out(), [rows, n, k, n], 1.0, 0.0);
        return Ok(());
    }
    let ma = Matrices { batch: a_count, lanes: m, depth: k, lane_stride: k, depth_stride: 1, batch_stride: m * k };
    let mb = Matrices { batch: b_count, lanes: n, depth: k, lane_stride: 1, depth_stride: n, batch_stride: k * n };
    let ap = lower::packed(cx, a, ma, Side::A, "a_packed")?;
    let bp = lower::packed(cx, b, mb, Side::B, "b_packed")?;
    let batch: Vec<usize> = broadcast_batch(&fixed(a_batch), &fixed(b_batch))?.into_iter().map(|d| d.unwrap_or(1)).collect();
    let (a_len, b_len) = (ma.packed_len(Side::A), mb.packed_len(Side::B));
    for idx in 0..batch.iter().product::<usize>() {
        let (ai, bi) = (batch_index(idx, &batch, a_batch), batch_index(idx, &batch, b_batch));
        let out = crate::back::program::Arg::Out { operand: y.operand, offset: y.offset + idx * m * n, len: m * n };
        lower::gemm_call(cx, dtype, lower::part(&ap, ai, a_len), lower::part(&bp, bi, b_len), out, [m, n, k, n], 1.0, 0.0);
    }
    Ok(())
}

/// The flat index into an operand's own batch dims (right-aligned,
/// broadcast where 1) of output batch `idx` over `batch`.
fn batch_index(idx: usize, batch: &[usize], dims: &[usize]) -> usize {
    let mut rest = idx;
    let (mut flat, mut scale) = (0usize, 1usize);
    for (i, &d) in batch.iter().enumerate().rev() {
        let pos = rest % d.max(1);
        rest /= d.max(1);
        let back = batch.len() - 1 - i;
        if back < dims.len() {
            let own = dims[dims.len() - 1 - back];
            flat += if own == 1 { 0 } else { pos } * scale;
            scale *= own;
        }
    }
    flat
}

#[cfg(test)]
mod tests {
    use crate::ops::testing::{f32s, i64s, run};

    #[test]
    fn one_d_operands_and_broadcast_batches() {
        let a = f32s(&[2], &[1.0, 2.0]);
        let b = f32s(&[2, 2], &[1.0, 2.0, 3.0, 4.0]);
        assert_eq!(run("MatMul", 13, vec![], &[a.clone(), b.clone()]).unwrap()[0], f32s(&[2], &[7.0, 10.0]));
        assert_eq!(run("MatMul", 13, vec![], &[b.clone(), a.clone()]).unwrap()[0], f32s(&[2], &[5.0, 11.0]));
        assert_eq!(run("MatMul", 13, vec![], &[a.clone(), a.clone()]).unwrap()[0], f32s(&[], &[5.0]));
        // [2, 1, 1, 2] x [3, 2, 1] -> [2, 3, 1, 1]
        let a = f32s(&[2, 1, 1, 2], &[1.0, 0.0, 0.0, 1.0]);
        let b = f32s(&[3, 2, 1], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        assert_eq!(run("MatMul", 13, vec![], &[a, b]).unwrap()[0], f32s(&[2, 3, 1, 1], &[1.0, 3.0, 5.0, 2.0, 4.0, 6.0]));
        let ai = i64s(&[1, 2], &[i64::MAX, 1]);
        let bi = i64s(&[2, 1], &[2, 2]);
        assert_eq!(run("MatMul", 13, vec![], &[ai, bi]).unwrap()[0], i64s(&[1, 1], &[0]));
    }

    #[test]
    fn mismatched_operands_are_errors() {
        let a = f32s(&[2, 3], &[0.0; 6]);
        assert!(run("MatMul", 13, vec![], &[a.clone(), a.clone()]).is_err());
        assert!(run("MatMul", 13, vec![], &[f32s(&[2, 2, 2], &[0.0; 8]), f32s(&[3, 2, 2], &[0.0; 12])]).is_err());
        assert!(run("MatMul", 13, vec![], &[a, i64s(&[3], &[1, 2, 3])]).is_err());
    }
}
