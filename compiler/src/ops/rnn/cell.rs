//! One time step of the three recurrent cells, in f64, for one batch entry.
//!
//! Gate order in W, R and B is ONNX's: `i` for RNN; `z, r, h` for GRU;
//! `i, o, f, c` for LSTM (peepholes `i, o, f`). `clip` bounds every
//! activation input (gate pre-activations, peephole terms included); the
//! LSTM's `h(C)` is not clipped.

use super::activation::Activation;
use crate::ops::dense::row_major;
use crate::tensor::{DType, Tensor};
use crate::Result;
use std::borrow::Cow;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cell {
    Rnn,
    Gru { linear_before_reset: bool },
    Lstm { input_forget: bool },
}

impl Cell {
    /// Number of gates stacked in W and R.
    pub fn gates(self) -> usize {
        match self {
            Cell::Rnn => 1,
            Cell::Gru { .. } => 3,
            Cell::Lstm { .. } => 4,
        }
    }

    /// Activation functions per direction (f; f, g; f, g, h).
    pub fn activations(self) -> usize {
        match self {
            Cell::Rnn => 1,
            Cell::Gru { .. } => 2,
            Cell::Lstm { .. } => 3,
        }
    }

    pub fn default_activations(self) -> &'static [&'static str] {
        match self {
            Cell::Rnn => &["Tanh"],
            Cell::Gru { .. } => &["Sigmoid", "Tanh"],
            Cell::Lstm { .. } => &["Sigmoid", "Tanh", "Tanh"],
        }
    }

    /// Outputs: Y and Y_h, plus Y_c for LSTM.
    pub fn outputs(self) -> usize {
        match self {
            Cell::Lstm { .. } => 3,
            _ => 2,
        }
    }
}

/// The recurrence weights of one direction, row-major.
pub struct Weights<'a> {
    /// `[gates * hidden, hidden]`
    pub r: &'a Recurrence<'a>,
    /// `[gates * hidden]`
    pub rb: &'a [f64],
    /// `[3 * hidden]` (LSTM only).
    pub p: &'a [f64],
    pub hidden: usize,
}

/// One direction's recurrence matrix R, which every step reads whole, in
/// the model's own element type (f16 and bf16 widened to f32, exactly):
/// borrowed from the tensor when it is contiguous, with no conversion per
/// call. Products and sums are f64 whatever the type.
pub enum Recurrence<'a> {
    F32(Cow<'a, [f32]>),
    F64(Cow<'a, [f64]>),
}

impl<'a> Recurrence<'a> {
    /// Elements `start .. start + len` of the float tensor `r`, row-major.
    pub fn of(r: &'a Tensor, start: usize, len: usize) -> Result<Recurrence<'a>> {
        fn part<T: Clone>(a: &ndarray::ArrayD<T>, range: std::ops::Range<usize>) -> Option<Cow<'_, [T]>> {
            match row_major(a) {
                Cow::Borrowed(s) => s.get(range).map(Cow::Borrowed),
                Cow::Owned(v) => v.get(range).map(|s| Cow::Owned(s.to_vec())),
            }
        }
        let range = start..start.saturating_add(len);
        let part = match r {
            Tensor::F32(a) => part(a, range).map(Recurrence::F32),
            Tensor::F64(a) => part(a, range).map(Recurrence::F64),
            t => part(&t.cast(DType::F32)?.into_array::<f32>()?, range).map(|p| Recurrence::F32(Cow::Owned(p.into_owned()))),
        };
        part.ok_or_else(|| crate::Error::Op(format!("R holds {} elements, fewer than a direction needs", r.len())))
    }

    /// `R[first_row..] · v + bias` for `bias.len()` rows of `cols`.
    fn matvec(&self, first_row: usize, cols: usize, v: &[f64], bias: &[f64]) -> Vec<f64> {
        fn rows<T: IntoF64>(m: &[T], cols: usize, v: &[f64], bias: &[f64]) -> Vec<f64> {
            bias.iter().enumerate().map(|(k, b)| b + dot(m.get(k * cols..(k + 1) * cols).unwrap_or(&[]), v)).collect()
        }
        let start = first_row * cols;
        match self {
            Recurrence::F32(m) => rows(m.get(start..).unwrap_or(&[]), cols, v, bias),
            Recurrence::F64(m) => rows(m.get(start..).unwrap_or(&[]), cols, v, bias),
        }
    }
}

crate::ops::host_simd::host_simd_fn! {
    /// `Σ a[k] · b[k]` in f64, compiled for the host's vector unit
    /// (`ops::host_simd`; the same sum on every host).
    fn dot<T: IntoF64>(a: &[T], b: &[f64]) -> f64 = dot_lanes
}

/// Weights that widen to f64.
trait IntoF64: Copy + Into<f64> {}
impl<T: Copy + Into<f64>> IntoF64 for T {}

/// [`dot`]'s loop: eight independent partial sums (lanes the compiler
/// can vectorise) joined in a fixed order.
#[inline(always)]
fn dot_lanes<T: IntoF64>(a: &[T], b: &[f64]) -> f64 {
    const LANES: usize = 8;
    let mut lanes = [0.0f64; LANES];
    let (ac, bc) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let tail = ac.remainder().iter().zip(bc.remainder()).fold(0.0, |s, (&x, y)| s + x.into() * y);
    for (x, y) in ac.zip(bc) {
        for l in 0..LANES {
            lanes[l] += x[l].into() * y[l];
        }
    }
    lanes.iter().sum::<f64>() + tail
}

/// Advances the state `h` (and `c` for LSTM) by one step whose input
/// terms `gx = W · x + Wb` (`[gates * hidden]`) are given.
pub fn step(cell: Cell, wt: &Weights, acts: &[Activation], clip: Option<f64>, gx: &[f64], h: &mut [f64], c: &mut [f64]) {
    let hs = wt.hidden;
    let clip_at = clip;
    let clip = |v: f64| match clip {
        Some(t) => v.clamp(-t, t),
        None => v,
    };
    let act = |k: usize, v: f64| acts.get(k).copied().unwrap_or(Activation::Tanh).apply(v);
    let gh = wt.r.matvec(0, hs, h, wt.rb);
    let at = |g: &[f64], k: usize| g.get(k).copied().unwrap_or(0.0);
    match cell {
        Cell::Rnn => {
            for (j, hj) in h.iter_mut().enumerate() {
                *hj = act(0, clip(at(&gx, j) + at(&gh, j)));
            }
        }
        Cell::Gru { linear_before_reset } => {
            let z: Vec<f64> = (0..hs).map(|j| act(0, clip(at(&gx, j) + at(&gh, j)))).collect();
            let r: Vec<f64> = (0..hs).map(|j| act(0, clip(at(&gx, hs + j) + at(&gh, hs + j)))).collect();
            let candidate: Vec<f64> = if linear_before_reset {
                (0..hs).map(|j| act(1, clip(at(&gx, 2 * hs + j) + r[j] * at(&gh, 2 * hs + j)))).collect()
            } else {
                let reset: Vec<f64> = h.iter().zip(&r).map(|(a, b)| a * b).collect();
                let rb_h = wt.rb.get(2 * hs..).unwrap_or(&[]);
                let hr = wt.r.matvec(2 * hs, hs, &reset, rb_h);
                (0..hs).map(|j| act(1, clip(at(&gx, 2 * hs + j) + at(&hr, j)))).collect()
            };
            for (j, hj) in h.iter_mut().enumerate() {
                *hj = (1.0 - z[j]) * candidate[j] + z[j] * *hj;
            }
        }
        Cell::Lstm { input_forget } => {
            let pre: Vec<f64> = (0..4 * hs).map(|k| at(&gx, k) + at(&gh, k)).collect();
            lstm_gates(&pre, wt.p, acts, clip_at, input_forget, h, c);
        }
    }
}

/// The LSTM update from the gate pre-activations `pre` (`[4 · hidden]`,
/// gates i, o, f, c: every input and recurrence term and bias summed), the
/// peepholes `p` (i, o, f; empty for none) and the cell state `c`.
pub fn lstm_gates(pre: &[f64], p: &[f64], acts: &[Activation], clip: Option<f64>, input_forget: bool, h: &mut [f64], c: &mut [f64]) {
    let hs = h.len();
    let clip = |v: f64| match clip {
        Some(t) => v.clamp(-t, t),
        None => v,
    };
    let act = |k: usize, v: f64| acts.get(k).copied().unwrap_or(Activation::Tanh).apply(v);
    let p = |k: usize| p.get(k).copied().unwrap_or(0.0);
    let pre = |k: usize| pre.get(k).copied().unwrap_or(0.0);
    for (j, (hj, cj)) in h.iter_mut().zip(c.iter_mut()).enumerate() {
        let i = act(0, clip(pre(j) + p(j) * *cj));
        let f = if input_forget { 1.0 - i } else { act(0, clip(pre(2 * hs + j) + p(2 * hs + j) * *cj)) };
        let candidate = act(1, clip(pre(3 * hs + j)));
        let new_c = f * *cj + i * candidate;
        let o = act(0, clip(pre(hs + j) + p(hs + j) * new_c));
        *cj = new_c;
        *hj = o * act(2, new_c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::testing::Rng;

    #[test]
    fn the_host_simd_dot_is_the_portable_sum_bit_for_bit() {
        let mut r = Rng(0xd07);
        let mut uniform = || (r.next() >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
        for len in [1, 7, 8, 9, 63, 512, 1031] {
            let a: Vec<f32> = (0..len).map(|_| uniform() as f32 * 3.0).collect();
            let b: Vec<f64> = (0..len).map(|_| uniform() * 1e3).collect();
            assert_eq!(dot(&a, &b).to_bits(), dot_lanes(&a, &b).to_bits(), "length {len}");
        }
    }
}
