//! IntMatMul: the matrix product of two quantized activations (attention's
//! Q·Kᵀ and P·V), ONNX MatMul semantics for rank ≥ 2 with numpy batch
//! broadcasting: `y = stage(requantize(Σ_k (a − z_a)(b − z_b), m))`
//! (NUMERICS.md, "Products of two activations" and "16x8"), summed in the
//! code's accumulator (int32; int64 for int16 codes). The quantizer proves
//! the accumulator bound before building it ([`IntMatMul::for_scales`]).

use super::super::matmul::{matmul_dims, matmul_macs};
use super::super::{Arg, LowerCx, OpDef, Slots};
use super::exact;
use super::{code_range, codes, int_values, is_wide, Stage, Wide};
use crate::back::program::Arg as KArg;
use crate::front::onnx::OnnxNode;
use crate::ir::TensorType;
use crate::quant::fixed_point::{quantize_multiplier, Multiplier};
use crate::tensor::{DType, Tensor};
use crate::{bail, Result};

/// Inputs: codes `A` [..., M, K] and `B` [..., K, N] of one type (int8 or
/// uint8), batch axes broadcast; output codes of the same type.
#[derive(Debug, Clone)]
pub struct IntMatMul {
    pub za: i32,
    pub zb: i32,
    /// `s_a · s_b / s_y`.
    pub m: Multiplier,
    pub stage: Stage,
}

/// The batch geometry of `A [.., M, K] · B [.., K, N]`: `[M, K, N, rank,
/// batch[rank], a_step[rank], b_step[rank]]`, where `batch` is the
/// broadcast batch shape (at least one axis, `[1]` for plain matrices) and
/// `a_step[i]` / `b_step[i]` the stride of batch axis `i` in whole matrices
/// (0 where that operand is broadcast), and the output shape.
pub fn geometry(a: &[usize], b: &[usize]) -> Result<(Vec<usize>, Vec<usize>)> {
    if a.len() < 2 || b.len() < 2 {
        bail!("IntMatMul needs operands of rank 2 or more, got {a:?} and {b:?}");
    }
    let fixed = |s: &[usize]| s.iter().map(|&d| Some(d)).collect::<Vec<_>>();
    let out: Vec<usize> = matmul_dims(&fixed(a), &fixed(b))?.into_iter().map(|d| d.unwrap_or(0)).collect();
    let (m, k, n) = (a[a.len() - 2], a[a.len() - 1], b[b.len() - 1]);
    let mut batch = out[..out.len() - 2].to_vec();
    if batch.is_empty() {
        batch.push(1);
    }
    let rank = batch.len();
    // Strides in matrices of an operand's batch axes, aligned to `batch`.
    let steps = |s: &[usize]| {
        let own = &s[..s.len() - 2];
        let mut st = vec![0; rank];
        let mut stride = 1;
        for (i, &d) in own.iter().enumerate().rev() {
            let at = rank - own.len() + i;
            st[at] = if d == 1 { 0 } else { stride };
            stride *= d;
        }
        st
    };
    let mut dims = vec![m, k, n, rank];
    dims.extend(&batch);
    dims.extend(steps(a));
    dims.extend(steps(b));
    Ok((dims, out))
}

impl IntMatMul {
    /// `[z_a, z_b, m, e, y_zero, act_min, act_max, single_rounding]`.
    fn params(&self) -> Vec<i64> {
        let s = self.stage;
        vec![self.za as i64, self.zb as i64, self.m.m as i64, self.m.exponent as i64, s.zero as i64, s.min as i64, s.max as i64, s.single() as i64]
    }
}

impl IntMatMul {
    /// `A · B` of codes with parameters `(scale, zero point)` into output
    /// scale `s_y` and `stage`, for `K`-long sums of codes of `dtype`:
    /// `None` when the multiplier is out of range or `K · max|q_a − z_a| ·
    /// max|q_b − z_b| · 2^max(e, 0)` reaches the accumulator's limit (2^31
    /// for 8-bit codes, 2^62 for int16; NUMERICS.md).
    pub fn for_scales(dtype: DType, (sa, za): (f64, i32), (sb, zb): (f64, i32), k: usize, s_y: f64, stage: Stage) -> Result<Option<IntMatMul>> {
        let (lo, hi) = code_range(dtype)?;
        let span = |z: i32| (z - lo).max(hi - z) as i128;
        let limit = super::acc_limit(dtype)?;
        let m = quantize_multiplier(sa * sb / s_y).filter(|m| (k as i128 * span(za) * span(zb)) << m.exponent.max(0) < limit);
        Ok(m.map(|m| IntMatMul { za, zb, m, stage }))
    }

    /// The output codes of one `[m, k] · [k, n]` product of centred codes.
    fn products<A: Wide>(&self, am: &[i32], bm: &[i32], (m, k, n): (usize, usize, usize)) -> Vec<i32> {
        let narrow = |v: &[i32]| v.iter().map(|&q| i16::try_from(q).ok()).collect::<Option<Vec<i16>>>();
        let acc: Vec<A> = match (narrow(am), narrow(bm)) {
            (Some(a16), Some(b16)) => exact::product(&a16, &b16, (m, k, n)),
            // Centred int16 codes with a zero point beyond i16: the direct sums.
            _ => (0..m * n)
                .map(|i| (0..k).fold(A::ZERO, |s, j| s.add(A::of(am[(i / n) * k + j]).mul(A::of(bm[j * n + i % n])))))
                .collect(),
        };
        acc.into_iter().map(|a| a.staged(&self.stage, self.m)).collect()
    }
}

impl OpDef for IntMatMul {
    fn from_onnx(_: &OnnxNode) -> Result<Self> {
        bail!("IntMatMul is internal to qcc")
    }

    fn infer(&self, inputs: &[Option<Arg>]) -> Result<Vec<TensorType>> {
        let (a, b) = (inputs.req(0)?.ty, inputs.req(1)?.ty);
        if a.dtype != b.dtype {
            bail!("IntMatMul operands are {} and {}", a.dtype, b.dtype);
        }
        let (Some(ash), Some(bsh)) = (a.shape.as_fixed(), b.shape.as_fixed()) else { bail!("IntMatMul needs fixed shapes") };
        Ok(vec![TensorType::fixed(a.dtype, &geometry(&ash, &bsh)?.1)])
    }

    fn eval(&self, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
        let (a, b) = (inputs.req(0)?, inputs.req(1)?);
        let (dims, out) = geometry(a.shape(), b.shape())?;
        let (m, k, n, rank) = (dims[0], dims[1], dims[2], dims[3]);
        let (batch, a_step, b_step) = (&dims[4..4 + rank], &dims[4 + rank..4 + 2 * rank], &dims[4 + 2 * rank..]);
        let av: Vec<i32> = int_values(a)?.into_iter().map(|q| q.wrapping_sub(self.za)).collect();
        let bv: Vec<i32> = int_values(b)?.into_iter().map(|q| q.wrapping_sub(self.zb)).collect();
        let count: usize = batch.iter().product();
        let wide = is_wide(a.dtype())?;
        let mut y = Vec::with_capacity(count * m * n);
        for t in 0..count {
            // The operands' matrices of output batch `t` (row-major index).
            let (mut rest, mut ao, mut bo) = (t, 0, 0);
            for i in (0..rank).rev() {
                let idx = rest % batch[i];
                rest /= batch[i];
                ao += idx * a_step[i];
                bo += idx * b_step[i];
            }
            let (am, bm) = (&av[ao * m * k..][..m * k], &bv[bo * k * n..][..k * n]);
            if wide {
                y.extend(self.products::<i64>(am, bm, (m, k, n)));
            } else {
                y.extend(self.products::<i32>(am, bm, (m, k, n)));
            }
        }
        Ok(vec![codes(a.dtype(), &out, y)?])
    }

    fn macs(&self, inputs: &[Option<&TensorType>], outputs: &[&TensorType]) -> u64 {
        matmul_macs(inputs.opt(0), outputs.first())
    }

    fn lower(&self, cx: &mut LowerCx) -> Result<()> {
        let (a, b) = (cx.input(0)?.clone(), cx.input(1)?.clone());
        let y = cx.output(0)?;
        let (dims, _) = geometry(&a.shape, &b.shape)?;
        let args = vec![a.arg_in(), b.arg_in(), y.arg_out(), KArg::Dims(dims), KArg::Ints(self.params())];
        cx.call("qint", "int_matmul", vec![a.dtype], args);
        Ok(())
    }

    /// int8: an integer operator rules produce; copied as it is.
    fn quantize(&self, rule: crate::ops::Rule) -> Result<crate::ops::Plan> {
        Ok(rule.as_is())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quant::fixed_point::{quantize_multiplier, Rounding};

    #[test]
    fn broadcast_batches_follow_numpy_matmul() {
        // A [1, 2, 3] against B [3, 3, 2]: A's one matrix meets each of B's.
        let (dims, out) = geometry(&[1, 2, 3], &[3, 3, 2]).unwrap();
        assert_eq!(out, [3, 2, 2]);
        assert_eq!(dims, [2, 3, 2, 1, 3, 0, 1]);
        let (dims, out) = geometry(&[2, 3, 5, 7], &[7, 4]).unwrap();
        assert_eq!(out, [2, 3, 5, 4]);
        assert_eq!(dims, [5, 7, 4, 2, 2, 3, 3, 1, 0, 0]);
        let a: Vec<i8> = (0..6).map(|v| v as i8 - 2).collect();
        let b: Vec<i8> = (0..18).map(|v| (v * 7 % 11) as i8 - 5).collect();
        let stage = Stage { zero: 0, min: -128, max: 127, rounding: Rounding::Double };
        let op = IntMatMul { za: 1, zb: -1, m: quantize_multiplier(1.0).unwrap(), stage };
        let (ta, tb) = (Tensor::from_vec(&[1, 2, 3], a.clone()).unwrap(), Tensor::from_vec(&[3, 3, 2], b.clone()).unwrap());
        let y = int_values(&op.eval(&[Some(&ta), Some(&tb)]).unwrap()[0]).unwrap();
        for t in 0..3 {
            for r in 0..2 {
                for c in 0..2 {
                    let acc: i32 = (0..3).map(|k| (a[r * 3 + k] as i32 - 1) * (b[t * 6 + k * 2 + c] as i32 + 1)).sum();
                    assert_eq!(y[t * 4 + r * 2 + c], acc.clamp(-128, 127));
                }
            }
        }
    }
}
