//! Attention: scaled dot-product attention (opsets 23 to 25).
//! <https://onnx.ai/onnx/operators/onnx__Attention.html>
//!
//! Supported: 4-D inputs `[batch, heads, seq, head_size]` and 3-D inputs
//! `[batch, seq, heads * head_size]` (with `q_num_heads` and
//! `kv_num_heads`); multi-head, grouped-query and multi-query heads;
//! boolean and additive `attn_mask` of rank 1 to 4, broadcast to
//! `[batch, q_heads, q_seq, total_seq]`, whose last dimension may be shorter
//! (the missing keys are masked); `is_causal` and `left_window_size` /
//! `right_window_size`, both aligned to the cache offset; `past_key` /
//! `past_value` with `present_key` / `present_value`; `nonpad_kv_seqlen`;
//! `scale`, `softcap`, `softmax_precision` and `qk_matmul_output_mode` 0 to
//! 3 (mode 0 is the raw product, before softcap). Q, K, V and the cache share
//! one float type; integer masks are added as values of that type. A query
//! row with no attendable key gives zeros in `Y` and in the mode-3 output.
//!
//! Values are computed in `f64` and rounded to the input type after every
//! step, where the reference rounds (see [`Prec`]); `softmax_precision`
//! selects the type of the softmax steps.

use super::attention_layout::{block, concat_past, merge_heads, split_heads};
use super::attention_mask::{Bias, Mask};
use super::precision::Prec;
use super::util::{positive, unify_dim};
use super::{Arg, OpDef, Slots};
use crate::front::onnx::OnnxNode;
use crate::interp::gemm::Dot;
use crate::ir::{Dim, Shape, TensorType};
use crate::tensor::{checked_numel, DType, Tensor};
use crate::{bail, Error, Result};
use ndarray::Array2;

#[derive(Debug, Clone)]
pub struct Attention {
    causal: bool,
    q_heads: Option<usize>,
    kv_heads: Option<usize>,
    scale: Option<f64>,
    /// Zero: no soft cap.
    softcap: f64,
    qk_mode: u8,
    softmax_prec: Option<Prec>,
    /// `None`: that side of the window is unbounded.
    left_window: Option<u64>,
    right_window: Option<u64>,
}

/// Sizes of one evaluation; in inference any of them may be unknown.
#[derive(Debug, Clone, Copy)]
struct Geometry<D> {
    rank3: bool,
    batch: D,
    q_heads: D,
    kv_heads: D,
    q_seq: D,
    kv_seq: D,
    past: D,
    head: D,
    v_head: D,
}

impl OpDef for Attention {
    fn from_onnx(node: &OnnxNode) -> Result<Self> {
        let heads = |name: &str| -> Result<Option<usize>> { node.int_opt(name)?.map(|n| positive(n, name)).transpose() };
        let window = |name: &str| -> Result<Option<u64>> {
            match node.int(name, -1)? {
                -1 => Ok(None),
                n if n >= 0 => Ok(Some(n as u64)),
                n => bail!("{name} must be -1 or nonnegative, got {n}"),
            }
        };
        let causal = match node.int("is_causal", 0)? {
            0 => false,
            1 => true,
            v => bail!("is_causal must be 0 or 1, got {v}"),
        };
        let scale = node.float_opt("scale")?.map(f64::from);
        if scale.is_some_and(|s| s < 0.0) {
            bail!("scale must be nonnegative (Q and K are each multiplied by its square root)");
        }
        let softcap = node.float("softcap", 0.0)? as f64;
        if softcap < 0.0 {
            bail!("softcap must be nonnegative, got {softcap}");
        }
        let qk_mode = match node.int("qk_matmul_output_mode", 0)? {
            m @ 0..=3 => m as u8,
            m => bail!("qk_matmul_output_mode must be 0, 1, 2 or 3, got {m}"),
        };
        let softmax_prec = match node.int_opt("softmax_precision")? {
            None => None,
            Some(code) => match code {
                1 => Some(Prec::F32),
                10 => Some(Prec::F16),
                11 => Some(Prec::F64),
                16 => Some(Prec::BF16),
                c => bail!("softmax_precision must be 1, 10, 11 or 16 (a float type), got {c}"),
            },
        };
        if node.has_input(4) != node.has_input(5) {
            bail!("past_key and past_value must be given together");
        }
        if node.has_input(6) && node.has_input(4) {
            bail!("nonpad_kv_seqlen cannot be combined with past_key/past_value");
        }
        Ok(Attention {
            causal,
            q_heads: heads("q_num_heads")?,
            kv_heads: heads("kv_num_heads")?,
            scale,
            softcap,
            qk_mode,
            softmax_prec,
            left_window: window("left_window_size")?,
            right_window: window("right_window_size")?,
        })
    }

    fn infer(&self, inputs: &[Option<Arg>]) -> Result<Vec<TensorType>> {
        let ty = |i: usize| inputs.opt(i).map(|a| a.ty);
        let q = inputs.req(0)?.ty;
        let dtype = q.dtype;
        self.check_types(dtype, &[ty(1), ty(2), ty(4), ty(5)].map(|t| t.map(|t| t.dtype)))?;
        if let Some(n) = ty(6) {
            if n.dtype != DType::I64 {
                bail!("nonpad_kv_seqlen must be int64, got {}", n.dtype);
            }
        }
        let k = inputs.req(1)?.ty;
        let v = inputs.req(2)?.ty;
        let Some(g) = self.geometry(&q.shape, &k.shape, &v.shape, ty(4).map(|t| &t.shape), ty(5).map(|t| &t.shape))? else {
            let cache = Shape::of_rank(4);
            return Ok(vec![
                TensorType::new(dtype, Shape::unknown()),
                TensorType::new(dtype, cache.clone()),
                TensorType::new(dtype, cache.clone()),
                TensorType::new(dtype, cache),
            ]);
        };
        let total = add(g.past, g.kv_seq)?;
        if let Some(m) = ty(3) {
            Mask::check_shape(&m.shape, [g.batch, g.q_heads, g.q_seq, total])?;
        }
        if let Some(n) = ty(6) {
            if let Some(dims) = n.shape.dims() {
                if dims.len() != 1 || !same(dims[0], g.batch) {
                    bail!("nonpad_kv_seqlen must have shape [batch], got {}", n.shape);
                }
            }
        }
        let y = if g.rank3 {
            Shape::from_dims(vec![g.batch, g.q_seq, mul(g.q_heads, g.v_head)?])
        } else {
            Shape::from_dims(vec![g.batch, g.q_heads, g.q_seq, g.v_head])
        };
        Ok(vec![
            TensorType::new(dtype, y),
            TensorType::new(dtype, Shape::from_dims(vec![g.batch, g.kv_heads, total, g.head])),
            TensorType::new(dtype, Shape::from_dims(vec![g.batch, g.kv_heads, total, g.v_head])),
            TensorType::new(dtype, Shape::from_dims(vec![g.batch, g.q_heads, g.q_seq, total])),
        ])
    }

    fn eval(&self, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
        let (q, k, v) = (inputs.req(0)?, inputs.req(1)?, inputs.req(2)?);
        let (past_k, past_v) = (inputs.opt(4), inputs.opt(5));
        let dtype = q.dtype();
        self.check_types(dtype, &[Some(k), Some(v), past_k, past_v].map(|t| t.map(Tensor::dtype)))?;
        let fixed = |t: &Tensor| Shape::fixed(t.shape());
        let (pk_shape, pv_shape) = (past_k.map(fixed), past_v.map(fixed));
        let Some(g) = self.geometry(&fixed(q), &fixed(k), &fixed(v), pk_shape.as_ref(), pv_shape.as_ref())? else {
            bail!("cannot determine the attention geometry");
        };
        let g = g.concrete()?;
        let total = g.past.checked_add(g.kv_seq).ok_or_else(|| Error::Op("sequence length overflows".into()))?;
        let y_shape = [g.batch, g.q_heads, g.q_seq, g.v_head];
        let qk_shape = [g.batch, g.q_heads, g.q_seq, total];
        let key_shape = [g.batch, g.kv_heads, total, g.head];
        let value_shape = [g.batch, g.kv_heads, total, g.v_head];
        for s in [&y_shape, &qk_shape, &key_shape, &value_shape] {
            checked_numel(s)?;
        }

        let t = Prec::of(dtype)?;
        let query = split_heads(q, g.rank3, g.batch, g.q_heads, g.q_seq, g.head)?;
        let key = concat_past(past_k, split_heads(k, g.rank3, g.batch, g.kv_heads, g.kv_seq, g.head)?, g.batch * g.kv_heads, g.past, g.kv_seq, g.head)?;
        let value = concat_past(past_v, split_heads(v, g.rank3, g.batch, g.kv_heads, g.kv_seq, g.v_head)?, g.batch * g.kv_heads, g.past, g.kv_seq, g.v_head)?;

        let nonpad = match inputs.opt(6) {
            None => None,
            Some(n) => {
                if n.dtype() != DType::I64 || n.shape() != [g.batch] {
                    bail!("nonpad_kv_seqlen must be int64 of shape [{}], got {}{:?}", g.batch, n.dtype(), n.shape());
                }
                Some(n.to_i64_vec()?)
            }
        };
        let mask = inputs.opt(3).map(|m| Mask::new(m, t, qk_shape)).transpose()?;
        let bias = Bias {
            mask: mask.as_ref(),
            causal: self.causal,
            left_window: self.left_window,
            right_window: self.right_window,
            past: g.past,
            q_seq: g.q_seq,
            nonpad: nonpad.as_deref(),
        };

        // Q and K are each scaled by sqrt(scale), rounded to the input type.
        let scale = self.scale.unwrap_or_else(|| 1.0 / (g.head as f64).sqrt());
        let root = t.round(scale.sqrt());
        let q_scaled: Vec<f64> = query.iter().map(|&x| t.round(x * root)).collect();
        let k_scaled: Vec<f64> = key.iter().map(|&x| t.round(x * root)).collect();
        let softmax_prec = self.softmax_prec.unwrap_or(t);
        let group = g.q_heads.checked_div(g.kv_heads).unwrap_or(1).max(1);

        let mut y = vec![0.0; y_shape.iter().product()];
        let mut qk_out = vec![0.0; qk_shape.iter().product()];
        let mut bias_row = vec![0.0; total];
        let mut row = vec![0.0; total];
        for b in 0..g.batch {
            for h in 0..g.q_heads {
                let kv = b * g.kv_heads + h / group;
                let qb = block(&q_scaled, b * g.q_heads + h, g.q_seq, g.head)?;
                let kb = block(&k_scaled, kv, total, g.head)?;
                let vb = block(&value, kv, total, g.v_head)?;
                let mut probs = f64::dot(qb, kb.t());
                for i in 0..g.q_seq {
                    bias.row(b, h, i, &mut bias_row);
                    for (r, &x) in row.iter_mut().zip(probs.row(i)) {
                        *r = x;
                    }
                    let out_at = ((b * g.q_heads + h) * g.q_seq + i) * total;
                    let out = &mut qk_out[out_at..out_at + total];
                    self.scores_to_probs(&mut row, &bias_row, t, softmax_prec, out);
                    for ((o, p), &x) in out.iter_mut().zip(probs.row_mut(i)).zip(&row) {
                        *o = t.round(*o);
                        *p = t.round(x);
                    }
                }
                let yb: Array2<f64> = f64::dot(probs.view(), vb);
                let at = (b * g.q_heads + h) * g.q_seq * g.v_head;
                for (o, x) in y[at..at + g.q_seq * g.v_head].iter_mut().zip(yb.iter()) {
                    *o = t.round(*x);
                }
            }
        }

        let y = if g.rank3 { merge_heads(&y, g.batch, g.q_heads, g.q_seq, g.v_head) } else { y };
        let y_dims = if g.rank3 { vec![g.batch, g.q_seq, g.q_heads * g.v_head] } else { y_shape.to_vec() };
        let out = |dims: &[usize], data: Vec<f64>| Tensor::from_vec(dims, data)?.cast(dtype);
        Ok(vec![out(&y_dims, y)?, out(&key_shape, key)?, out(&value_shape, value)?, out(&qk_shape, qk_out)?])
    }

    fn macs(&self, inputs: &[Option<&TensorType>], _outputs: &[&TensorType]) -> u64 {
        let shape = |i: usize| inputs.get(i).copied().flatten().map(|t| &t.shape);
        let (Some(q), Some(k), Some(v)) = (shape(0), shape(1), shape(2)) else { return 0 };
        let Ok(Some(g)) = self.geometry(q, k, v, shape(4), shape(5)) else { return 0 };
        let Ok(g) = g.concrete() else { return 0 };
        [g.batch, g.q_heads, g.q_seq, g.past.saturating_add(g.kv_seq), g.head.saturating_add(g.v_head)]
            .iter()
            .fold(1u64, |acc, &d| acc.saturating_mul(d as u64))
    }

    /// int8: float only.
    fn quantize(&self, rule: super::Rule) -> Result<super::Plan> {
        Ok(rule.float_only(super::NO_INTEGER_KERNEL))
    }
}

impl Attention {
    /// Q, K, V and the cache must share one float type.
    fn check_types(&self, q: DType, others: &[Option<DType>; 4]) -> Result<()> {
        Prec::of(q)?;
        for (name, d) in ["K", "V", "past_key", "past_value"].iter().zip(others) {
            if let Some(d) = d {
                if *d != q {
                    bail!("{name} has element type {d}, but Q has {q}; mixed types are not supported");
                }
            }
        }
        Ok(())
    }

    /// Sizes from the input shapes, with every consistency check that the
    /// known dimensions allow; `None` when a rank is unknown.
    fn geometry(&self, q: &Shape, k: &Shape, v: &Shape, past_k: Option<&Shape>, past_v: Option<&Shape>) -> Result<Option<Geometry<Dim>>> {
        let (Some(qd), Some(kd), Some(vd)) = (q.dims(), k.dims(), v.dims()) else { return Ok(None) };
        if qd.len() != kd.len() || qd.len() != vd.len() || !(qd.len() == 3 || qd.len() == 4) {
            bail!("Q, K and V must all be 3-D or all 4-D, got {q}, {k} and {v}");
        }
        let batch = unify_dim(unify_dim(qd[0], kd[0], "batch of Q and K")?, vd[0], "batch of Q and V")?;
        let mut g = if qd.len() == 4 {
            let ((Some(_), Some(_)) | (None, None)) = (self.q_heads, self.kv_heads) else {
                bail!("q_num_heads and kv_num_heads must be given together");
            };
            Geometry {
                rank3: false,
                batch,
                q_heads: unify_dim(qd[1], self.q_heads, "q_num_heads and the heads of Q")?,
                kv_heads: unify_dim(unify_dim(kd[1], vd[1], "heads of K and V")?, self.kv_heads, "kv_num_heads and the heads of K")?,
                q_seq: qd[2],
                kv_seq: unify_dim(kd[2], vd[2], "sequence length of K and V")?,
                past: Some(0),
                head: unify_dim(qd[3], kd[3], "head size of Q and K")?,
                v_head: vd[3],
            }
        } else {
            let (Some(qh), Some(kvh)) = (self.q_heads, self.kv_heads) else {
                bail!("3-D inputs need the q_num_heads and kv_num_heads attributes");
            };
            let head = div(qd[2], qh, "hidden size of Q")?;
            Geometry {
                rank3: true,
                batch,
                q_heads: Some(qh),
                kv_heads: Some(kvh),
                q_seq: qd[1],
                kv_seq: unify_dim(kd[1], vd[1], "sequence length of K and V")?,
                past: Some(0),
                head: unify_dim(head, div(kd[2], kvh, "hidden size of K")?, "head size of Q and K")?,
                v_head: div(vd[2], kvh, "hidden size of V")?,
            }
        };
        if let (Some(qh), Some(kvh)) = (g.q_heads, g.kv_heads) {
            if (kvh == 0 && qh != 0) || (kvh != 0 && qh % kvh != 0) {
                bail!("q_num_heads ({qh}) must be a multiple of kv_num_heads ({kvh})");
            }
        }
        if let (Some(pk), Some(pv)) = (past_k, past_v) {
            let (Some(pk), Some(pv)) = (pk.dims(), pv.dims()) else {
                g.past = None;
                return Ok(Some(g));
            };
            if pk.len() != 4 || pv.len() != 4 {
                bail!("past_key and past_value must be 4-D");
            }
            unify_dim(unify_dim(pk[0], pv[0], "batch of the past")?, g.batch, "batch of the past and Q")?;
            unify_dim(unify_dim(pk[1], pv[1], "heads of the past")?, g.kv_heads, "heads of the past and K")?;
            unify_dim(pk[3], g.head, "head size of past_key and K")?;
            unify_dim(pv[3], g.v_head, "head size of past_value and V")?;
            g.past = unify_dim(pk[2], pv[2], "sequence length of past_key and past_value")?;
        }
        Ok(Some(g))
    }

    /// Turns one row of raw scores into attention probabilities, in place,
    /// and writes the requested `qk_matmul_output` row to `qk_out`.
    fn scores_to_probs(&self, row: &mut [f64], bias: &[f64], score_prec: Prec, softmax_prec: Prec, qk_out: &mut [f64]) {
        for x in row.iter_mut() {
            *x = score_prec.round(*x);
        }
        if self.qk_mode == 0 {
            qk_out.copy_from_slice(row);
        }
        if self.softcap > 0.0 {
            let cap = score_prec.round(self.softcap);
            for x in row.iter_mut() {
                let r = |v: f64| score_prec.round(v);
                *x = r(r(r(*x / cap).tanh()) * cap);
            }
        }
        if self.qk_mode == 1 {
            qk_out.copy_from_slice(row);
        }
        for (x, b) in row.iter_mut().zip(bias) {
            *x = score_prec.round(*x + b);
        }
        if self.qk_mode == 2 {
            qk_out.copy_from_slice(row);
        }
        softmax(row, softmax_prec);
        // A row whose bias masks every key attends to nothing.
        if bias.iter().all(|&b| b == f64::NEG_INFINITY) {
            row.fill(0.0);
        }
        if self.qk_mode == 3 {
            qk_out.copy_from_slice(row);
        }
    }
}

/// Softmax of one row in precision `p`; an all `-inf` row gives zeros.
fn softmax(row: &mut [f64], p: Prec) {
    let mut max = f64::NEG_INFINITY;
    for x in row.iter_mut() {
        *x = p.round(*x);
        max = if max.is_nan() || x.is_nan() { f64::NAN } else { max.max(*x) };
    }
    let shift = if max == f64::NEG_INFINITY { 0.0 } else { max };
    for x in row.iter_mut() {
        *x = p.round(p.round(*x - shift).exp());
    }
    let sum = p.sum(row.iter().copied());
    let sum = if sum == 0.0 { 1.0 } else { sum };
    for x in row.iter_mut() {
        *x = p.round(*x / sum);
    }
}

impl Geometry<Dim> {
    fn concrete(self) -> Result<Geometry<usize>> {
        let need = |d: Dim| d.ok_or_else(|| Error::Op("attention sizes are not all known".into()));
        Ok(Geometry {
            rank3: self.rank3,
            batch: need(self.batch)?,
            q_heads: need(self.q_heads)?,
            kv_heads: need(self.kv_heads)?,
            q_seq: need(self.q_seq)?,
            kv_seq: need(self.kv_seq)?,
            past: need(self.past)?,
            head: need(self.head)?,
            v_head: need(self.v_head)?,
        })
    }
}

fn same(a: Dim, b: Dim) -> bool {
    !matches!((a, b), (Some(x), Some(y)) if x != y)
}

/// `a / n`, which must divide exactly.
fn div(a: Dim, n: usize, what: &str) -> Result<Dim> {
    match a {
        Some(a) if n == 0 || a % n != 0 => bail!("{what} ({a}) is not a multiple of the number of heads ({n})"),
        Some(a) => Ok(Some(a / n)),
        None => Ok(None),
    }
}

fn add(a: Dim, b: Dim) -> Result<Dim> {
    match (a, b) {
        (Some(a), Some(b)) => a.checked_add(b).map(Some).ok_or_else(|| Error::Op("sequence length overflows".into())),
        _ => Ok(None),
    }
}

fn mul(a: Dim, b: Dim) -> Result<Dim> {
    match (a, b) {
        (Some(a), Some(b)) => a.checked_mul(b).map(Some).ok_or_else(|| Error::Op("hidden size overflows".into())),
        _ => Ok(None),
    }
}

#[cfg(test)]
#[path = "attention_tests.rs"]
mod tests;
