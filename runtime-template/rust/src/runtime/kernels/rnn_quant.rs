//! onnxruntime's com.microsoft DynamicQuantizeLSTM: one direction of an
//! LSTM with 8-bit weights whose activations are quantized at run time,
//! with the semantics of qcc's `ops/rnn/quantized.rs` (float32 values, the
//! gates computed in f64).
//! X arrives already quantized (the `dynamic_quant` kernel: codes, scale,
//! zero point); before every step the hidden state of all batch entries is
//! quantized the same way; each gate pre-activation is
//! `float(Σ (x − z_x)(w − z_w)) · (s_x · s_w) + float(Σ (h − z_h)(r − z_r))
//! · (s_h · s_r) + (Wb + Rb)` with int32 sums, then LSTM's gates
//! (`rnn::lstm_unit`) in f64, the new state rounded to float32 once, as
//! the interpreter does: the hidden state is quantized again before every
//! step, so an ulp of float32 gate arithmetic could change its codes and
//! grow from step to step.
//!
//! W is `[input, 4·hidden]` and R `[hidden, 4·hidden]` (this direction's),
//! their scales one or one per column; X is `[seq, batch, input]`, Y
//! `[seq, dirs, batch, hidden]`, the states `[dirs, batch, hidden]`.

use super::super::fixed_point::Code;
use super::super::scalar::Float;
use super::dynamic_quant::dynamic_quantize;
use super::rnn::{lstm_unit, Acts};

/// `acc[g] = Σ_k (a[k] − za) · (m[k·cols + g] − zm)` (wrapping int32;
/// qcc checks at compile time that the sums cannot overflow).
#[inline(always)]
fn products<W: Code>(a: &[u8], za: i32, m: &[W], zm: i32, acc: &mut [i32]) {
    acc.fill(0);
    let cols = acc.len();
    if cols == 0 {
        return;
    }
    for (&v, row) in a.iter().zip(m.chunks_exact(cols)) {
        let v = v as i32 - za;
        if v != 0 {
            for (s, q) in acc.iter_mut().zip(row) {
                *s = s.wrapping_add(v.wrapping_mul(q.to_i32() - zm));
            }
        }
    }
}

/// One direction (see the module documentation). `dims` = [seq, batch,
/// input, hidden, W scales, R scales, offset of this direction in Y and
/// the states, Y's time stride, reverse, has Y, has Y_h, has Y_c,
/// input_forget]; `zeros` = [W's zero point, R's]; `acts` and `params` as
/// for `rnn::recurrent`. Scratch: `scratch` holds `2·batch·hidden +
/// 19·hidden + 1` floats, `codes` `batch·hidden + 1` bytes, `acc`
/// `8·hidden` integers.
#[allow(clippy::too_many_arguments)]
pub fn lstm_dynamic_quant<T: Float<C = f32>, W: Code>(
    xq: &[u8],
    x_scale: &[f32],
    x_zero: &[u8],
    w: &[W],
    w_scale: &[f32],
    r: &[W],
    r_scale: &[f32],
    b: &[T],
    h0: &[T],
    c0: &[T],
    p: &[T],
    y: &mut [T],
    y_h: &mut [T],
    y_c: &mut [T],
    scratch: &mut [f32],
    codes: &mut [u8],
    acc: &mut [i32],
    dims: &[usize],
    zeros: &[i64],
    acts: &[i64],
    params: &[f64],
) {
    let &[seq, batch, input, hs, wc, rc, off, y_ts, reverse, has_y, has_y_h, has_y_c, input_forget] = dims else { return };
    let (gh, n) = (4 * hs, batch * hs);
    let count_ok = |c: usize| c == 1 || c == gh;
    let fits = xq.len() >= seq * batch * input
        && !x_scale.is_empty()
        && !x_zero.is_empty()
        && w.len() >= input * gh
        && r.len() >= hs * gh
        && count_ok(wc)
        && count_ok(rc)
        && w_scale.len() >= wc
        && r_scale.len() >= rc
        && b.len() >= 2 * gh
        && h0.len() >= n
        && c0.len() >= n
        && p.len() >= 3 * hs
        && (has_y == 0 || seq == 0 || y.len() >= off + (seq - 1) * y_ts + n)
        && (has_y_h == 0 || y_h.len() >= off + n)
        && (has_y_c == 0 || y_c.len() >= off + n)
        && scratch.len() > 2 * n + 19 * hs
        && codes.len() > n
        && acc.len() >= 2 * gh
        && zeros.len() >= 2;
    if !fits {
        return;
    }
    let (h, rest) = scratch.split_at_mut(n);
    let (c, rest) = rest.split_at_mut(n);
    let (pre, rest) = rest.split_at_mut(gh);
    let (wm, rest) = rest.split_at_mut(gh);
    let (rm, rest) = rest.split_at_mut(gh);
    let (bias, rest) = rest.split_at_mut(gh);
    let (peep, rest) = rest.split_at_mut(3 * hs);
    let h_scale = &mut rest[..1];
    let (hq, h_zero) = codes.split_at_mut(n);
    let (ax, ah) = acc.split_at_mut(gh);
    let ah = &mut ah[..gh];
    for k in 0..n {
        h[k] = h0[k].to_c();
        c[k] = c0[k].to_c();
    }
    for g in 0..gh {
        bias[g] = b[g].to_c() + b[gh + g].to_c();
        wm[g] = x_scale[0] * w_scale[if wc == 1 { 0 } else { g }];
    }
    for (o, v) in peep.iter_mut().zip(p) {
        *o = v.to_c();
    }
    let acts = Acts::<f64>::new(acts, params);
    let (zx, zw, zr) = (x_zero[0] as i32, zeros[0] as i32, zeros[1] as i32);
    for step in 0..seq {
        let t = if reverse != 0 { seq - 1 - step } else { step };
        dynamic_quantize::<u8>(h, hq, h_scale, &mut h_zero[..1], &[n]);
        for g in 0..gh {
            rm[g] = h_scale[0] * r_scale[if rc == 1 { 0 } else { g }];
        }
        let zh = h_zero[0] as i32;
        for bi in 0..batch {
            products(&xq[(t * batch + bi) * input..][..input], zx, w, zw, ax);
            products(&hq[bi * hs..][..hs], zh, r, zr, ah);
            for g in 0..gh {
                pre[g] = (ax[g] as f32 * wm[g] + ah[g] as f32 * rm[g]) + bias[g];
            }
            let (hb, cb) = (&mut h[bi * hs..][..hs], &mut c[bi * hs..][..hs]);
            for j in 0..hs {
                let gate = |k: usize| pre[k * hs + j] as f64;
                let p = [peep[j] as f64, peep[hs + j] as f64, peep[2 * hs + j] as f64];
                let (hj, cj) = lstm_unit([gate(0), gate(1), gate(2), gate(3)], p, cb[j] as f64, &acts, input_forget != 0);
                (hb[j], cb[j]) = (hj as f32, cj as f32);
            }
            if has_y != 0 {
                for (o, v) in y[off + t * y_ts + bi * hs..][..hs].iter_mut().zip(hb.iter()) {
                    *o = T::from_c(*v);
                }
            }
        }
    }
    for k in 0..n {
        if has_y_h != 0 {
            y_h[off + k] = T::from_c(h[k]);
        }
        if has_y_c != 0 {
            y_c[off + k] = T::from_c(c[k]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_unit_with_exact_codes() {
        // hidden 1, input 1, one step, batch 1. X = [1.0] quantizes to code
        // 255 with scale 1/255, zero point 0; W = [127, 0, 0, 0] with scale
        // 1/127 gives the input gate 1.0; the initial state 0 gives no
        // recurrence. Bias: output 3, forget 0, cell 2 (W's bias).
        let xq = [255u8];
        let w = [127i8, 0, 0, 0];
        let b = [0.0f32, 3.0, 0.0, 2.0, 0.0, 0.0, 0.0, 0.0];
        let (mut y, mut yh, mut yc) = ([0.0f32], [0.0f32], [0.0f32]);
        let (mut s, mut codes, mut acc) = ([0.0f32; 2 + 19 + 1], [0u8; 2], [0i32; 8]);
        let dims = [1, 1, 1, 1, 1, 1, 0, 1, 0, 1, 1, 1, 0];
        lstm_dynamic_quant::<f32, i8>(&xq, &[1.0 / 255.0], &[0], &w, &[1.0 / 127.0], &[0i8; 4], &[1.0], &b, &[0.0], &[0.0], &[0.0; 3], &mut y, &mut yh, &mut yc, &mut s, &mut codes, &mut acc, &dims, &[0, 0], &[2, 1, 1], &[0.0; 7]);
        let sig = |v: f32| 1.0 / (1.0 + (-v).exp());
        let want_c = sig(1.0) * 2.0f32.tanh();
        assert!((yc[0] - want_c).abs() < 1e-6, "{} vs {want_c}", yc[0]);
        assert!((y[0] - sig(3.0) * want_c.tanh()).abs() < 1e-6);
        assert_eq!(y, yh);
    }
}
