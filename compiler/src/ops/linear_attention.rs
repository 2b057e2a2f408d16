//! LinearAttention (opset 27): recurrent linear attention over packed
//! `[B, T, H*D]` inputs with a `[B, H_kv, d_k, d_v]` state.
//! <https://onnx.ai/onnx/operators/onnx__LinearAttention.html>
//!
//! Full operator: update rules `linear`, `gated`, `delta` and `gated_delta`,
//! grouped-query heads (`q_num_heads` a multiple of `kv_num_heads`), decay
//! per head `[B, T, H_kv]` or per key dimension `[B, T, H_kv*d_k]`, beta per
//! head `[B, T, H_kv]` or shared `[B, T, 1]`, explicit or default
//! (`1/sqrt(d_k)`) scale, optional past state (zeros when absent).
//! `chunk_size` is a tuning hint with no effect on the result. Activations
//! float16, bfloat16 or float32; the state may have its own float type and
//! `present_state` takes the past state's type (the query's when there is
//! none). The recurrence runs token by token in `f64`; outputs are rounded
//! once.

use super::{util, Arg, OpDef, Slots};
use crate::front::onnx::OnnxNode;
use crate::ir::{Dim, Shape, TensorType};
use crate::tensor::{checked_numel, DType, Tensor};
use crate::{bail, Result};

#[derive(Debug, Clone)]
pub struct LinearAttention {
    gated: bool,
    delta: bool,
    /// 0 for the default `1/sqrt(d_k)`.
    scale: f64,
    q_heads: usize,
    kv_heads: usize,
}

impl OpDef for LinearAttention {
    fn from_onnx(node: &OnnxNode) -> Result<Self> {
        let (gated, delta) = match node.string("update_rule", "gated_delta")?.as_str() {
            "linear" => (false, false),
            "gated" => (true, false),
            "delta" => (false, true),
            "gated_delta" => (true, true),
            other => bail!("update_rule must be 'linear', 'gated', 'delta' or 'gated_delta', got '{other}'"),
        };
        let heads = |name: &str| util::positive(node.int_req(name)?, name);
        let (q_heads, kv_heads) = (heads("q_num_heads")?, heads("kv_num_heads")?);
        if q_heads % kv_heads != 0 {
            bail!("q_num_heads ({q_heads}) must be a multiple of kv_num_heads ({kv_heads})");
        }
        node.int("chunk_size", 64)?;
        Ok(LinearAttention { gated, delta, scale: node.float("scale", 0.0)? as f64, q_heads, kv_heads })
    }

    fn infer(&self, inputs: &[Option<Arg>]) -> Result<Vec<TensorType>> {
        let q = inputs.req(0)?.ty;
        check_float(q.dtype, "query")?;
        let packed = |i: usize, what: &str| -> Result<Option<Vec<Dim>>> {
            let Some(a) = inputs.opt(i) else { return Ok(None) };
            util::same_dtype(q, a.ty, &format!("query and {what}"))?;
            util::dims_of_rank(&a.ty.shape, 3, what).map(Some)
        };
        let qd = util::dims_of_rank(&q.shape, 3, "query")?;
        let (Some(kd), Some(vd)) = (packed(1, "key")?, packed(2, "value")?) else { bail!("key and value are required") };
        let (decay, beta) = (packed(4, "decay")?, packed(5, "beta")?);
        self.check_optional(decay.is_some(), beta.is_some())?;

        let (mut b, mut t) = (qd[0], qd[1]);
        for d in [&kd, &vd].into_iter().chain(decay.as_ref()).chain(beta.as_ref()) {
            b = util::unify_dim(b, d[0], "batch sizes")?;
            t = util::unify_dim(t, d[1], "sequence lengths")?;
        }
        let dk = div(qd[2], self.q_heads, "query's last dimension")?;
        let dk = util::unify_dim(dk, div(kd[2], self.kv_heads, "key's last dimension")?, "query and key head sizes")?;
        let dv = div(vd[2], self.kv_heads, "value's last dimension")?;
        if let (Some(d), Some(dk)) = (decay.as_ref().and_then(|d| d[2]), dk) {
            if d != self.kv_heads && Some(d) != self.kv_heads.checked_mul(dk) {
                bail!("decay's last dimension {d} must be kv_num_heads ({}) or kv_num_heads * d_k", self.kv_heads);
            }
        }
        if let Some(d) = beta.as_ref().and_then(|d| d[2]) {
            if d != self.kv_heads && d != 1 {
                bail!("beta's last dimension {d} must be kv_num_heads ({}) or 1", self.kv_heads);
            }
        }
        let mut state = vec![b, Some(self.kv_heads), dk, dv];
        let mut state_type = q.dtype;
        if let Some(p) = inputs.opt(3) {
            check_float(p.ty.dtype, "past_state")?;
            state_type = p.ty.dtype;
            let pd = util::dims_of_rank(&p.ty.shape, 4, "past_state")?;
            for (s, d) in state.iter_mut().zip(pd) {
                *s = util::unify_dim(*s, d, "past_state [B, H_kv, d_k, d_v] dimensions")?;
            }
        }
        let out_last = dv.and_then(|d| d.checked_mul(self.q_heads));
        Ok(vec![
            TensorType::new(q.dtype, Shape::from_dims(vec![state[0], t, out_last])),
            TensorType::new(state_type, Shape::from_dims(state)),
        ])
    }

    fn eval(&self, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
        let (q, k, v) = (inputs.req(0)?, inputs.req(1)?, inputs.req(2)?);
        let dtype = q.dtype();
        check_float(dtype, "query")?;
        let (decay, beta) = (inputs.opt(4), inputs.opt(5));
        self.check_optional(decay.is_some(), beta.is_some())?;
        let [b, t, q_last] = *q.shape() else { bail!("query must be [B, T, H_q * d_k], got {:?}", q.shape()) };
        let (hq, hk) = (self.q_heads, self.kv_heads);
        let dk = exact_div(q_last, hq, "query's last dimension")?;
        let dv = match v.shape() {
            [_, _, last] => exact_div(*last, hk, "value's last dimension")?,
            s => bail!("value must be [B, T, H_kv * d_v], got {s:?}"),
        };
        let packed = |x: &Tensor, last: &[usize], what: &str| -> Result<(Vec<f64>, usize)> {
            match *x.shape() {
                [xb, xt, l] if x.dtype() == dtype && xb == b && xt == t && last.contains(&l) => Ok((x.to_f64_vec()?, l)),
                _ => bail!("{what} must be {dtype}[{b}, {t}, one of {last:?}], got {}{:?}", x.dtype(), x.shape()),
            }
        };
        let (kv, _) = packed(k, &[hk * dk], "key")?;
        let (vv, _) = packed(v, &[hk * dv], "value")?;
        let qv = q.to_f64_vec()?;
        let decay = decay.map(|d| packed(d, &[hk, hk * dk], "decay")).transpose()?;
        let beta = beta.map(|d| packed(d, &[hk, 1], "beta")).transpose()?;
        let per_state = checked_numel(&[dk, dv])?;
        let state_shape = [b, hk, dk, dv];
        let (mut state, state_type) = match inputs.opt(3) {
            Some(p) => {
                check_float(p.dtype(), "past_state")?;
                if p.shape() != state_shape {
                    bail!("past_state has shape {:?}, expected {state_shape:?}", p.shape());
                }
                (p.to_f64_vec()?, p.dtype())
            }
            None => (vec![0.0; checked_numel(&state_shape)?], dtype),
        };
        let scale = if self.scale == 0.0 { 1.0 / (dk as f64).sqrt() } else { self.scale };
        let group = hq / hk;
        let mut out = vec![0.0; checked_numel(&[b, t, hq, dv])?];
        let mut update = vec![0.0; dv];

        // All offsets below stay within tensors whose sizes were checked.
        for bi in 0..b {
            for ti in 0..t {
                let row = bi * t + ti;
                for h in 0..hk {
                    let s = &mut state[(bi * hk + h) * per_state..][..per_state];
                    let key = &kv[(row * hk + h) * dk..][..dk];
                    if let Some((g, width)) = &decay {
                        for i in 0..dk {
                            let gi = if *width == hk { g[row * hk + h] } else { g[(row * hk + h) * dk + i] };
                            let f = gi.exp();
                            s[i * dv..][..dv].iter_mut().for_each(|x| *x *= f);
                        }
                    }
                    update.copy_from_slice(&vv[(row * hk + h) * dv..][..dv]);
                    if let Some((be, width)) = &beta {
                        let rate = if *width == 1 { be[row] } else { be[row * hk + h] };
                        for (j, u) in update.iter_mut().enumerate() {
                            let retrieved: f64 = (0..dk).map(|i| s[i * dv + j] * key[i]).sum();
                            *u = rate * (*u - retrieved);
                        }
                    }
                    for (i, &ki) in key.iter().enumerate() {
                        s[i * dv..][..dv].iter_mut().zip(&update).for_each(|(x, u)| *x += ki * u);
                    }
                }
                for h in 0..hq {
                    let s = &state[(bi * hk + h / group) * per_state..][..per_state];
                    let query = &qv[(row * hq + h) * dk..][..dk];
                    let o = &mut out[(row * hq + h) * dv..][..dv];
                    for (i, &qi) in query.iter().enumerate() {
                        o.iter_mut().zip(&s[i * dv..][..dv]).for_each(|(y, x)| *y += qi * x);
                    }
                    o.iter_mut().for_each(|y| *y *= scale);
                }
            }
        }
        Ok(vec![
            Tensor::from_vec(&[b, t, hq * dv], out)?.cast(dtype)?,
            Tensor::from_vec(&state_shape, state)?.cast(state_type)?,
        ])
    }

    fn macs(&self, inputs: &[Option<&TensorType>], outputs: &[&TensorType]) -> u64 {
        // Per token and head: the state update (d_k * d_v, twice with the
        // delta rule) and the read (d_k * d_v per query head).
        let (Some(Some(q)), Some(state)) = (inputs.first(), outputs.get(1)) else { return 0 };
        let (Some(qd), Some(sd)) = (q.shape.as_fixed(), state.shape.as_fixed()) else { return 0 };
        let (Some(&t), Some(&dk), Some(&dv), Some(&b)) = (qd.get(1), sd.get(2), sd.get(3), sd.first()) else { return 0 };
        let writes = self.kv_heads as u64 * if self.delta { 2 } else { 1 };
        let per_token = (writes + self.q_heads as u64).saturating_mul(dk as u64).saturating_mul(dv as u64);
        per_token.saturating_mul(b as u64).saturating_mul(t as u64)
    }

    /// int8: float only.
    fn quantize(&self, rule: super::Rule) -> Result<super::Plan> {
        Ok(rule.float_only(super::NO_INTEGER_KERNEL))
    }
}

impl LinearAttention {
    /// Decay goes with the gated rules and beta with the delta rules, and
    /// each is forbidden otherwise.
    fn check_optional(&self, has_decay: bool, has_beta: bool) -> Result<()> {
        if has_decay != self.gated {
            bail!("decay is {} with this update rule", if self.gated { "required" } else { "not allowed" });
        }
        if has_beta != self.delta {
            bail!("beta is {} with this update rule", if self.delta { "required" } else { "not allowed" });
        }
        Ok(())
    }
}

fn check_float(d: DType, what: &str) -> Result<()> {
    if !matches!(d, DType::F16 | DType::BF16 | DType::F32) {
        bail!("{what} must be float16, bfloat16 or float32, got {d}");
    }
    Ok(())
}

fn exact_div(a: usize, n: usize, what: &str) -> Result<usize> {
    if n == 0 || a % n != 0 {
        bail!("{what} ({a}) is not a multiple of the number of heads ({n})");
    }
    Ok(a / n)
}

fn div(a: Dim, n: usize, what: &str) -> Result<Dim> {
    a.map(|a| exact_div(a, n, what)).transpose()
}

#[cfg(test)]
#[path = "linear_attention_tests.rs"]
mod tests;
