//! RNN, GRU and LSTM: one direction of a recurrent layer over a sequence
//! (`recurrent`), with the semantics of qcc's `ops/rnn` (ONNX gate order:
//! `i` for RNN; `z, r, h` for GRU; `i, o, f, c` for LSTM, peepholes `i, o,
//! f`). Float element types, computed in [`Float::C`] (f32 for f32, f16
//! and bf16; f64 for f64) and rounded once when stored.
//!
//! Layout (`dims`, see [`Dims`]): element (t, b, k) of X is at
//! `t·x_ts + b·x_bs + k`; of Y at `y_off + t·y_ts + b·y_bs + k`; of the
//! states (initial_h, initial_c, Y_h, Y_c) at `s_off + b·s_bs + k`. One call
//! runs one direction; W, R, B and P are that direction's slices.
//!
//! `acts` holds the activation functions f, g, h (RNN uses f; GRU f, g) as
//! codes ([`activate`]) and `params` their (alpha, beta) pairs, then the
//! clip threshold (0: none).

use super::super::scalar::{Float, Real};

/// `dims` of [`recurrent`], in order.
pub struct Dims {
    pub seq: usize,
    pub batch: usize,
    pub input: usize,
    pub hidden: usize,
    pub x_ts: usize,
    pub x_bs: usize,
    pub y_off: usize,
    pub y_ts: usize,
    pub y_bs: usize,
    pub s_off: usize,
    pub s_bs: usize,
    /// Cell: 0 RNN, 1 GRU, 2 GRU with linear_before_reset, 3 LSTM, 4 LSTM with input_forget.
    pub cell: usize,
    pub reverse: bool,
    /// Which outputs are written: Y, Y_h, Y_c.
    pub has_y: bool,
    pub has_y_h: bool,
    pub has_y_c: bool,
}

impl Dims {
    pub fn new(d: &[usize]) -> Option<Dims> {
        let &[seq, batch, input, hidden, x_ts, x_bs, y_off, y_ts, y_bs, s_off, s_bs, cell, reverse, has_y, has_y_h, has_y_c] = d
        else {
            return None;
        };
        Some(Dims {
            seq,
            batch,
            input,
            hidden,
            x_ts,
            x_bs,
            y_off,
            y_ts,
            y_bs,
            s_off,
            s_bs,
            cell,
            reverse: reverse != 0,
            has_y: has_y != 0,
            has_y_h: has_y_h != 0,
            has_y_c: has_y_c != 0,
        })
    }

    /// Gates stacked in W, R and B.
    pub fn gates(&self) -> usize {
        match self.cell {
            0 => 1,
            1 | 2 => 3,
            _ => 4,
        }
    }

    /// The flat index one past the last element of (t, b, k) accesses.
    fn end(off: usize, ts: usize, bs: usize, t: usize, b: usize, k: usize) -> usize {
        if t == 0 || b == 0 || k == 0 {
            0
        } else {
            off + (t - 1) * ts + (b - 1) * bs + k
        }
    }
}

/// Activation `kind` with `alpha`, `beta`: 0 Relu, 1 Tanh, 2 Sigmoid,
/// 3 Affine, 4 LeakyRelu, 5 ThresholdedRelu, 6 ScaledTanh, 7 HardSigmoid,
/// 8 Elu, 9 Softsign, 10 Softplus.
#[inline(always)]
pub fn activate<C: Real>(kind: i64, alpha: C, beta: C, x: C) -> C {
    match kind {
        0 => {
            if x > C::ZERO {
                x
            } else {
                C::ZERO
            }
        }
        1 => x.tanh(),
        2 => {
            if x >= C::ZERO {
                C::ONE / (C::ONE + (-x).exp())
            } else {
                let e = x.exp();
                e / (C::ONE + e)
            }
        }
        3 => alpha * x + beta,
        4 => {
            if x >= C::ZERO {
                x
            } else {
                alpha * x
            }
        }
        5 => {
            if x >= alpha {
                x
            } else {
                C::ZERO
            }
        }
        6 => alpha * (beta * x).tanh(),
        7 => {
            let v = alpha * x + beta;
            if v < C::ZERO {
                C::ZERO
            } else if v > C::ONE {
                C::ONE
            } else {
                v
            }
        }
        8 => {
            if x >= C::ZERO {
                x
            } else {
                alpha * x.expm1()
            }
        }
        9 => x / (C::ONE + x.abs()),
        _ => {
            if x > C::lit(30.0) {
                x
            } else {
                x.exp().ln1p()
            }
        }
    }
}

/// The activation functions of a direction and the clip threshold.
#[derive(Clone, Copy)]
pub struct Acts<C> {
    kinds: [i64; 3],
    alpha: [C; 3],
    beta: [C; 3],
    clip: Option<C>,
}

impl<C: Real> Acts<C> {
    /// From `acts` (up to three codes) and `params` (alpha, beta per
    /// function, then the clip threshold, 0 for none).
    pub fn new(acts: &[i64], params: &[f64]) -> Acts<C> {
        let p = |i: usize| C::lit(params.get(i).copied().unwrap_or(0.0));
        let k = |i: usize| acts.get(i).copied().unwrap_or(1);
        let clip = params.get(6).copied().unwrap_or(0.0);
        Acts { kinds: [k(0), k(1), k(2)], alpha: [p(0), p(2), p(4)], beta: [p(1), p(3), p(5)], clip: (clip > 0.0).then(|| C::lit(clip)) }
    }

    /// Function `n` (0 = f, 1 = g, 2 = h) of `x`, clipped first unless `n` is h.
    #[inline(always)]
    pub fn apply(&self, n: usize, x: C) -> C {
        let x = match self.clip {
            Some(t) if n < 2 => {
                if x < -t {
                    -t
                } else if x > t {
                    t
                } else {
                    x
                }
            }
            _ => x,
        };
        activate(self.kinds[n], self.alpha[n], self.beta[n], x)
    }
}

/// Partial sums of [`dot`]: independent chains the compiler can keep in
/// one vector register.
const LANES: usize = 8;

/// `Σ_k row[k] · conv(v[k])`, over [`LANES`] interleaved partial sums
/// added at the end, then the remainder.
#[inline(always)]
fn dot<T: Float, U: Copy>(row: &[T], v: &[U], conv: impl Fn(U) -> T::C) -> T::C {
    let (rows, vs) = (row.chunks_exact(LANES), v.chunks_exact(LANES));
    let (row_rest, v_rest) = (rows.remainder(), vs.remainder());
    let mut acc = [T::C::ZERO; LANES];
    for (r, x) in rows.zip(vs) {
        for l in 0..LANES {
            acc[l] = acc[l] + r[l].to_c() * conv(x[l]);
        }
    }
    let mut s = acc.iter().fold(T::C::ZERO, |s, &a| s + a);
    for (a, x) in row_rest.iter().zip(v_rest) {
        s = s + a.to_c() * conv(*x);
    }
    s
}

/// `out[row] += m[row·cols ..][..cols] · v` for every row of `out`.
#[inline(always)]
fn matvec_add<T: Float, U: Copy>(m: &[T], cols: usize, v: &[U], conv: impl Fn(U) -> T::C + Copy, out: &mut [T::C]) {
    if cols == 0 {
        return;
    }
    for (o, row) in out.iter_mut().zip(m.chunks_exact(cols)) {
        *o = *o + dot(row, v, conv);
    }
}

/// One LSTM unit: from its gate pre-activations `pre` (i, o, f, c, every
/// input and recurrence term and bias included), its peepholes `p` (i, o,
/// f) and its cell state `c`, the new `(h, c)`.
#[inline(always)]
pub fn lstm_unit<C: Real>(pre: [C; 4], p: [C; 3], c: C, acts: &Acts<C>, input_forget: bool) -> (C, C) {
    let i = acts.apply(0, pre[0] + p[0] * c);
    let f = if input_forget { C::ONE - i } else { acts.apply(0, pre[2] + p[2] * c) };
    let candidate = acts.apply(1, pre[3]);
    let new_c = f * c + i * candidate;
    let o = acts.apply(0, pre[1] + p[1] * new_c);
    (o * acts.apply(2, new_c), new_c)
}

/// One LSTM step from the gate pre-activations `pre` (`[4·hidden]`, gate
/// order i, o, f, c, every input and recurrence term and bias included):
/// updates `h` and `c`. `p` holds the peepholes (i, o, f), or is empty.
#[inline(always)]
pub fn lstm_gates<C: Real>(pre: &[C], p: &[C], acts: &Acts<C>, input_forget: bool, h: &mut [C], c: &mut [C]) {
    let hs = h.len();
    let at = |k: usize| pre.get(k).copied().unwrap_or(C::ZERO);
    let peep = |k: usize| p.get(k).copied().unwrap_or(C::ZERO);
    for (j, (hj, cj)) in h.iter_mut().zip(c.iter_mut()).enumerate() {
        let gates = [at(j), at(hs + j), at(2 * hs + j), at(3 * hs + j)];
        (*hj, *cj) = lstm_unit(gates, [peep(j), peep(hs + j), peep(2 * hs + j)], *cj, acts, input_forget);
    }
}

/// One direction of a recurrent layer; see the module documentation.
/// `b` is `[2·gates·hidden]` (W's bias, then R's), `p` `[3·hidden]` (LSTM
/// only), `lens` the steps each batch entry runs, clamped to `0..=seq` (Y
/// is zero past them).
/// `scratch` holds `3·gates·hidden + 2·hidden` elements.
#[allow(clippy::too_many_arguments)]
pub fn recurrent<T: Float>(
    x: &[T],
    w: &[T],
    r: &[T],
    b: &[T],
    h0: &[T],
    c0: &[T],
    p: &[T],
    y: &mut [T],
    y_h: &mut [T],
    y_c: &mut [T],
    scratch: &mut [T::C],
    dims: &[usize],
    lens: &[i32],
    acts: &[i64],
    params: &[f64],
) {
    let Some(d) = Dims::new(dims) else { return };
    let (hs, gates) = (d.hidden, d.gates());
    let gh = gates * hs;
    let acts = Acts::<T::C>::new(acts, params);
    let lstm = d.cell >= 3;
    let state_end = Dims::end(d.s_off, 0, d.s_bs, 1, d.batch, hs);
    let fits = x.len() >= Dims::end(0, d.x_ts, d.x_bs, d.seq, d.batch, d.input)
        && w.len() >= gh * d.input
        && r.len() >= gh * hs
        && b.len() >= 2 * gh
        && h0.len() >= state_end
        && (!lstm || (c0.len() >= state_end && p.len() >= 3 * hs))
        && (!d.has_y || y.len() >= Dims::end(d.y_off, d.y_ts, d.y_bs, d.seq, d.batch, hs))
        && (!d.has_y_h || y_h.len() >= state_end)
        && (!d.has_y_c || y_c.len() >= state_end)
        && lens.len() >= d.batch
        && scratch.len() >= 3 * gh + 2 * hs;
    if !fits {
        return;
    }
    let (pre, rest) = scratch.split_at_mut(gh);
    let (rec, rest) = rest.split_at_mut(gh);
    let (peep, rest) = rest.split_at_mut(gh);
    let (h, rest) = rest.split_at_mut(hs);
    let c = &mut rest[..hs];
    for (k, v) in peep.iter_mut().enumerate().take(3 * hs) {
        *v = if lstm { p[k].to_c() } else { T::C::ZERO };
    }
    let (wb, rb) = b.split_at(gh);
    for (bi, &len) in lens.iter().enumerate().take(d.batch) {
        let len = if len <= 0 { 0 } else if (len as usize) < d.seq { len as usize } else { d.seq };
        let s = d.s_off + bi * d.s_bs;
        for k in 0..hs {
            h[k] = h0[s + k].to_c();
            c[k] = if lstm { c0[s + k].to_c() } else { T::C::ZERO };
        }
        for step in 0..len {
            let t = if d.reverse { len - 1 - step } else { step };
            let xt = &x[t * d.x_ts + bi * d.x_bs..][..d.input];
            for (o, v) in pre.iter_mut().zip(wb) {
                *o = v.to_c();
            }
            for (o, v) in rec.iter_mut().zip(rb) {
                *o = v.to_c();
            }
            matvec_add(w, d.input, xt, |v: T| v.to_c(), pre);
            matvec_add(r, hs, h, |v: T::C| v, rec);
            match d.cell {
                0 => {
                    for j in 0..hs {
                        h[j] = acts.apply(0, pre[j] + rec[j]);
                    }
                }
                1 | 2 => gru_step::<T>(&d, &acts, pre, rec, &r[2 * hs * hs..], &rb[2 * hs..], h, c),
                _ => {
                    for (o, v) in pre.iter_mut().zip(rec.iter()) {
                        *o = *o + *v;
                    }
                    lstm_gates(pre, &peep[..3 * hs], &acts, d.cell == 4, h, c);
                }
            }
            if d.has_y {
                let at = d.y_off + t * d.y_ts + bi * d.y_bs;
                for (o, v) in y[at..at + hs].iter_mut().zip(h.iter()) {
                    *o = T::from_c(*v);
                }
            }
        }
        if d.has_y {
            for t in len..d.seq {
                let at = d.y_off + t * d.y_ts + bi * d.y_bs;
                y[at..at + hs].fill(T::from_c(T::C::ZERO));
            }
        }
        if d.has_y_h {
            for (o, v) in y_h[s..s + hs].iter_mut().zip(h.iter()) {
                *o = T::from_c(*v);
            }
        }
        if d.has_y_c {
            for (o, v) in y_c[s..s + hs].iter_mut().zip(c.iter()) {
                *o = T::from_c(*v);
            }
        }
    }
}

/// One GRU step: `pre` = W·x + Wb and `rec` = R·h + Rb (gates z, r, h);
/// without linear_before_reset the candidate reads `R_h·(r ⊙ h) + Rb_h`
/// (`r_h`, `rb_h`), computed into `c` (free in a GRU).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn gru_step<T: Float>(d: &Dims, acts: &Acts<T::C>, pre: &mut [T::C], rec: &[T::C], r_h: &[T], rb_h: &[T], h: &mut [T::C], c: &mut [T::C]) {
    let hs = d.hidden;
    // z and r gates into pre[..2·hs].
    for j in 0..2 * hs {
        pre[j] = acts.apply(0, pre[j] + rec[j]);
    }
    if d.cell == 2 {
        for j in 0..hs {
            c[j] = acts.apply(1, pre[2 * hs + j] + pre[hs + j] * rec[2 * hs + j]);
        }
    } else {
        // r ⊙ h into the upper part of pre's h gate is not free: use c for it first.
        for j in 0..hs {
            c[j] = pre[hs + j] * h[j];
        }
        for j in 0..hs {
            // pre[hs + j] (r_j) is no longer needed once c holds r ⊙ h.
            pre[hs + j] = rb_h[j].to_c() + dot(&r_h[j * hs..][..hs], c, |v: T::C| v);
        }
        for j in 0..hs {
            c[j] = acts.apply(1, pre[2 * hs + j] + pre[hs + j]);
        }
    }
    for j in 0..hs {
        h[j] = (T::C::ONE - pre[j]) * c[j] + pre[j] * h[j];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dims(cell: usize, seq: usize, hidden: usize, reverse: bool) -> [usize; 16] {
        // batch 1, input 1, time-major.
        [seq, 1, 1, hidden, 1, 1, 0, hidden, hidden, 0, hidden, cell, reverse as usize, 1, 1, 1]
    }

    #[test]
    fn relu_rnn_forward_and_reverse() {
        // h' = relu(x + 0.5 h), as ops/rnn's unit test.
        let x = [1.0f32, 2.0, 4.0];
        let (w, r, b, h0) = ([1.0f32], [0.5f32], [0.0f32; 2], [0.0f32]);
        let (mut y, mut yh, mut yc, mut s) = ([0.0f32; 3], [0.0f32], [0.0f32], [0.0f32; 5]);
        recurrent(&x, &w, &r, &b, &h0, &[], &[], &mut y, &mut yh, &mut yc, &mut s, &dims(0, 3, 1, false), &[3i32], &[0], &[0.0; 7]);
        assert_eq!((y, yh), ([1.0, 2.5, 5.25], [5.25]));
        recurrent(&x, &w, &r, &b, &h0, &[], &[], &mut y, &mut yh, &mut yc, &mut s, &dims(0, 3, 1, true), &[2], &[0], &[0.0; 7]);
        // Two steps run backwards from t = 1; Y is zero past the length.
        assert_eq!((y, yh), ([2.0, 2.0, 0.0], [2.0]));
    }

    #[test]
    fn lstm_and_gru_with_zero_weights_follow_the_bias() {
        // Zero weights: every gate input is its bias. LSTM with biases
        // i = o = f = c = 1 (W's bias) and Rb = 0, default activations.
        let x = [0.0f64; 2];
        let b = [1.0f64, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0];
        let (mut y, mut yh, mut yc, mut s) = ([0.0f64; 2], [0.0f64], [0.0f64], [0.0f64; 14]);
        let acts = [2, 1, 1];
        recurrent(&x, &[0.0; 4], &[0.0; 4], &b, &[0.0], &[0.0], &[0.0; 3], &mut y, &mut yh, &mut yc, &mut s, &dims(3, 2, 1, false), &[2], &acts, &[0.0; 7]);
        let sig = 1.0 / (1.0 + (-1.0f64).exp());
        let c1 = sig * 1.0f64.tanh();
        let c2 = sig * c1 + sig * 1.0f64.tanh();
        assert!((yc[0] - c2).abs() < 1e-12 && (y[0] - sig * c1.tanh()).abs() < 1e-12);
        // GRU, linear_before_reset, z = sigmoid(0) = 0.5, candidate tanh(1): h = 0.5·tanh(1) after one step.
        let b = [0.0f64, 0.0, 1.0, 0.0, 0.0, 0.0];
        let mut s = [0.0f64; 11];
        recurrent(&x[..1], &[0.0; 3], &[0.0; 3], &b, &[0.0], &[], &[], &mut y[..1], &mut yh, &mut yc, &mut s, &dims(2, 1, 1, false), &[1], &[2, 1], &[0.0; 7]);
        assert!((yh[0] - 0.5 * 1.0f64.tanh()).abs() < 1e-12);
    }

    #[test]
    fn activations_and_clip() {
        let a = Acts::<f32>::new(&[7, 4, 0], &[0.2, 0.5, 0.1, 0.0, 0.0, 0.0, 1.0]);
        assert_eq!(a.apply(0, 10.0), 0.7); // clipped to 1: hard sigmoid 0.2 + 0.5
        assert_eq!(a.apply(1, -2.0), -0.1); // clipped to -1, leaky 0.1
        assert_eq!(a.apply(2, -3.0), 0.0); // h is not clipped
        assert_eq!(activate(10, 0.0f64, 0.0, 40.0), 40.0);
        assert!(recurrent_rejects_short_inputs());
    }

    fn recurrent_rejects_short_inputs() -> bool {
        let mut y = [7.0f32; 3];
        let (mut yh, mut yc, mut s) = ([0.0f32], [0.0f32], [0.0f32; 5]);
        recurrent(&[1.0f32], &[1.0], &[0.5], &[0.0; 2], &[0.0], &[], &[], &mut y, &mut yh, &mut yc, &mut s, &dims(0, 3, 1, false), &[3i32], &[0], &[0.0; 7]);
        y == [7.0; 3]
    }
}
