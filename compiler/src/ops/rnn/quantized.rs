//! com.microsoft DynamicQuantizeLSTM: onnxruntime's LSTM with 8-bit
//! weights whose activations are quantized at run time.
//! <https://github.com/microsoft/onnxruntime/blob/main/docs/ContribOperators.md#com.microsoft.DynamicQuantizeLSTM>
//!
//! Inputs: X (float32 `[seq, batch, input]`), W (`[dirs, input, 4·hidden]`)
//! and R (`[dirs, hidden, 4·hidden]`) of int8 or uint8 codes (note the
//! transposed layout against LSTM's), B, sequence_lens, initial_h,
//! initial_c and P as for LSTM, then W_scale, W_zero_point, R_scale and
//! R_zero_point, per direction (`[dirs]`) or per column (`[dirs,
//! 4·hidden]`; a direction's zero points must then be equal). Attributes
//! and outputs as LSTM's (time-major layout only).
//!
//! Semantics, as onnxruntime computes them (float32 throughout): the whole
//! X is quantized once like DynamicQuantizeLinear (`ops::quantize::
//! dynamic_quantize`: uint8 codes, its own scale and zero point), and before
//! every step the hidden state of all batch entries likewise; each gate
//! pre-activation is `float(Σ (x_q − z_x)(w − z_w)) · (s_x · s_w) +
//! float(Σ (h_q − z_h)(r − z_r)) · (s_h · s_r) + (Wb + Rb)` with exact
//! int32 sums, followed by LSTM's gates (`cell::lstm_gates`) with the state
//! kept in float32. `sequence_lens` is not supported.
//!
//! Code generation: X is quantized by the `dynamic_quant` kernel, then one
//! call of `rnn_quant::lstm_dynamic_quant` per direction.

use super::cell::lstm_gates;
use super::{Direction, Recurrent};
use crate::back::lower::{Loc, LowerCx};
use crate::back::program::Arg as KArg;
use crate::front::onnx::OnnxNode;
use crate::ir::{Shape, TensorType};
use crate::ops::quant;
use crate::ops::quantize::dynamic_quantize;
use crate::ops::{Arg, OpDef, Slots};
use crate::tensor::{checked_numel, DType, Tensor};
use crate::{bail, unsupported, Result};

// The input slots it shares with LSTM; its weight parameters follow.
use super::{B, INITIAL_C, INITIAL_H, P, R, SEQUENCE_LENS, W, X};
const W_SCALE: usize = 8;
const W_ZERO: usize = 9;
const R_SCALE: usize = 10;
const R_ZERO: usize = 11;

/// The longest dot product whose int32 sum cannot overflow: every term is
/// at most 255 · 255 in magnitude.
const MAX_DEPTH: usize = (i32::MAX / (255 * 255)) as usize;

#[derive(Debug, Clone)]
pub struct DynamicQuantizeLstm {
    lstm: Recurrent,
}

/// The sizes of one evaluation.
struct Dims {
    seq: usize,
    batch: usize,
    input: usize,
    hidden: usize,
    dirs: usize,
}

impl OpDef for DynamicQuantizeLstm {
    /// Integer already (the model quantizes it dynamically): copied as it is.
    fn quantize(&self, rule: crate::ops::Rule) -> Result<crate::ops::Plan> {
        Ok(rule.as_is())
    }

    fn from_onnx(node: &OnnxNode) -> Result<Self> {
        let mut as_lstm = node.clone();
        as_lstm.op_type = "LSTM".into();
        let lstm = Recurrent::from_onnx(&as_lstm)?;
        if lstm.batch_first {
            bail!("layout 1 is not an attribute of DynamicQuantizeLSTM");
        }
        if node.has_input(SEQUENCE_LENS) {
            unsupported!("sequence_lens of DynamicQuantizeLSTM");
        }
        Ok(DynamicQuantizeLstm { lstm })
    }

    fn infer(&self, inputs: &[Option<Arg>]) -> Result<Vec<TensorType>> {
        let x = inputs.req(X)?.ty;
        let (w, r) = (inputs.req(W)?.ty, inputs.req(R)?.ty);
        if x.dtype != DType::F32 {
            bail!("X must be float32, got {}", x.dtype);
        }
        quant::check_8bit(w.dtype, "W")?;
        if r.dtype != w.dtype {
            bail!("R is {} but W is {}", r.dtype, w.dtype);
        }
        let dirs = Some(self.lstm.dirs());
        let rank3 = |t: &TensorType, name: &str| -> Result<Vec<Option<usize>>> {
            match t.shape.dims() {
                None => Ok(vec![None; 3]),
                Some(d) if d.len() == 3 => Ok(d.to_vec()),
                Some(d) => bail!("{name} must have rank 3, got {}", d.len()),
            }
        };
        let (xd, rd) = (rank3(x, "X")?, rank3(r, "R")?);
        let hidden = self.lstm.hidden_size.or(rd[1]);
        let out = |dims: Vec<Option<usize>>| TensorType::new(DType::F32, Shape::from_dims(dims));
        let state = vec![dirs, xd[1], hidden];
        Ok(vec![out(vec![xd[0], dirs, xd[1], hidden]), out(state.clone()), out(state)])
    }

    fn eval(&self, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
        let x = inputs.req(X)?;
        let d = self.dims(x.shape(), inputs.req(W)?.shape(), inputs.req(R)?.shape())?;
        let gh = 4 * d.hidden;
        let xv: Vec<f32> = x.array::<f32>()?.iter().copied().collect();
        let (xq, xs, xz) = dynamic_quantize(xv.iter().copied());
        let (w, r) = (quant::ints(inputs.req(W)?)?, quant::ints(inputs.req(R)?)?);
        let (w_scales, w_zeros) = self.params(inputs, W_SCALE, W_ZERO, inputs.req(W)?.dtype(), &d)?;
        let (r_scales, r_zeros) = self.params(inputs, R_SCALE, R_ZERO, inputs.req(W)?.dtype(), &d)?;
        let floats = |slot: usize, shape: &[usize], name: &str| -> Result<Vec<f32>> {
            match inputs.opt(slot) {
                None => Ok(vec![0.0; checked_numel(shape)?]),
                Some(t) if t.shape() == shape && t.dtype() == DType::F32 => Ok(t.array::<f32>()?.iter().copied().collect()),
                Some(t) => bail!("{name} must be float32 of shape {shape:?}, got {} {:?}", t.dtype(), t.shape()),
            }
        };
        let bias = floats(B, &[d.dirs, 2 * gh], "B")?;
        let peep = floats(P, &[d.dirs, 3 * d.hidden], "P")?;
        let state = [d.dirs, d.batch, d.hidden];
        let (h0, c0) = (floats(INITIAL_H, &state, "initial_h")?, floats(INITIAL_C, &state, "initial_c")?);
        let n_state = checked_numel(&state)?;
        let mut y = vec![0.0f32; checked_numel(&[d.seq, d.dirs, d.batch, d.hidden])?];
        let (mut y_h, mut y_c) = (vec![0.0f32; n_state], vec![0.0f32; n_state]);
        let per_dir = super::cell::Cell::Lstm { input_forget: false }.activations();
        for dir in 0..d.dirs {
            let wd = &w[dir * d.input * gh..(dir + 1) * d.input * gh];
            let rd = &r[dir * d.hidden * gh..(dir + 1) * d.hidden * gh];
            let (ws, rs) = (&w_scales[dir], &r_scales[dir]);
            let scale_at = |s: &[f32], g: usize| s.get(g).or(s.first()).copied().unwrap_or(0.0);
            let bd = &bias[dir * 2 * gh..(dir + 1) * 2 * gh];
            let pd: Vec<f64> = peep[dir * 3 * d.hidden..(dir + 1) * 3 * d.hidden].iter().map(|&v| v as f64).collect();
            let acts = self.lstm.activations.get(dir * per_dir..(dir + 1) * per_dir).unwrap_or(&[]);
            let reverse = self.lstm.direction == Direction::Reverse || dir == 1;
            let at = dir * d.batch * d.hidden;
            let mut h: Vec<f32> = h0[at..at + d.batch * d.hidden].to_vec();
            let mut c: Vec<f32> = c0[at..at + d.batch * d.hidden].to_vec();
            for step in 0..d.seq {
                let t = if reverse { d.seq - 1 - step } else { step };
                let (hq, hs, hz) = dynamic_quantize(h.iter().copied());
                for b in 0..d.batch {
                    let xrow = &xq[(t * d.batch + b) * d.input..][..d.input];
                    let hrow = &hq[b * d.hidden..][..d.hidden];
                    let pre: Vec<f64> = (0..gh)
                        .map(|g| {
                            let ax = dot(xrow, xz, wd, w_zeros[dir], gh, g);
                            let ah = dot(hrow, hz, rd, r_zeros[dir], gh, g);
                            let v = ax as f32 * (xs * scale_at(ws, g)) + ah as f32 * (hs * scale_at(rs, g));
                            (v + (bd[g] + bd[gh + g])) as f64
                        })
                        .collect();
                    let mut hb: Vec<f64> = h[b * d.hidden..][..d.hidden].iter().map(|&v| v as f64).collect();
                    let mut cb: Vec<f64> = c[b * d.hidden..][..d.hidden].iter().map(|&v| v as f64).collect();
                    lstm_gates(&pre, &pd, acts, self.lstm.clip, self.input_forget(), &mut hb, &mut cb);
                    for k in 0..d.hidden {
                        h[b * d.hidden + k] = hb[k] as f32;
                        c[b * d.hidden + k] = cb[k] as f32;
                    }
                    let yat = ((t * d.dirs + dir) * d.batch + b) * d.hidden;
                    y[yat..yat + d.hidden].copy_from_slice(&h[b * d.hidden..][..d.hidden]);
                }
            }
            y_h[at..at + d.batch * d.hidden].copy_from_slice(&h);
            y_c[at..at + d.batch * d.hidden].copy_from_slice(&c);
        }
        Ok(vec![
            Tensor::from_vec(&[d.seq, d.dirs, d.batch, d.hidden], y)?,
            Tensor::from_vec(&state, y_h)?,
            Tensor::from_vec(&state, y_c)?,
        ])
    }

    fn macs(&self, inputs: &[Option<&TensorType>], _outputs: &[&TensorType]) -> u64 {
        let fixed = |i: usize| inputs.get(i).copied().flatten().and_then(|t| t.shape.as_fixed());
        let (Some(x), Some(r)) = (fixed(X), fixed(R)) else { return 0 };
        let (Some(&seq), Some(&batch), Some(&input), Some(&hidden)) = (x.first(), x.get(1), x.get(2), r.get(1)) else { return 0 };
        [seq, batch, self.lstm.dirs(), 4 * hidden, input + hidden].iter().fold(1u64, |a, &v| a.saturating_mul(v as u64))
    }

    fn lower(&self, cx: &mut LowerCx) -> Result<()> {
        self.lower_calls(cx)
    }
}

/// `Σ_k (a[k] − za) · (m[k·cols + col] − zm)`, exactly in int32 (the depth
/// is checked against [`MAX_DEPTH`]).
fn dot(a: &[u8], za: u8, m: &[i32], zm: i32, cols: usize, col: usize) -> i32 {
    a.iter().enumerate().fold(0i32, |s, (k, &v)| s + (v as i32 - za as i32) * (m.get(k * cols + col).copied().unwrap_or(0) - zm))
}

impl DynamicQuantizeLstm {
    fn input_forget(&self) -> bool {
        matches!(self.lstm.cell, super::cell::Cell::Lstm { input_forget: true })
    }

    /// The sizes from the shapes of X, W and R, checked.
    fn dims(&self, x: &[usize], w: &[usize], r: &[usize]) -> Result<Dims> {
        let dirs = self.lstm.dirs();
        let (&[seq, batch, input], &[_, hidden, _]) = (x, r) else { bail!("X and R must have rank 3, got {x:?} and {r:?}") };
        let gh = 4 * hidden;
        if w != [dirs, input, gh] || r != [dirs, hidden, gh] || self.lstm.hidden_size.is_some_and(|h| h != hidden) {
            bail!("W {w:?} and R {r:?} do not fit X {x:?}, {dirs} direction(s) and hidden_size {hidden}");
        }
        if input > MAX_DEPTH || hidden > MAX_DEPTH {
            bail!("input size {input} or hidden size {hidden} exceeds {MAX_DEPTH}, past which the int32 sums could overflow");
        }
        checked_numel(&[seq, batch, input])?;
        Ok(Dims { seq, batch, input, hidden, dirs })
    }

    /// Per direction: the scales (1 or 4·hidden) and the zero point.
    fn params(&self, inputs: &[Option<&Tensor>], scale: usize, zero: usize, dtype: DType, d: &Dims) -> Result<(Vec<Vec<f32>>, Vec<i32>)> {
        let name = if scale == W_SCALE { "W" } else { "R" };
        let (s, z) = (inputs.req(scale)?, inputs.req(zero)?);
        let count = per_direction(s.shape(), d.dirs, 4 * d.hidden, &format!("{name}_scale"))?;
        if per_direction(z.shape(), d.dirs, 4 * d.hidden, &format!("{name}_zero_point"))? != count {
            bail!("{name}_scale and {name}_zero_point have different shapes");
        }
        let scales = quant::scales(s, &format!("{name}_scale"))?;
        let zeros = quant::zero_points(Some(z), dtype, &format!("{name}_zero_point"))?;
        let mut zs = Vec::with_capacity(d.dirs);
        for dir in 0..d.dirs {
            let own = &zeros[dir * count..(dir + 1) * count];
            if own.iter().any(|&v| v != own[0]) {
                unsupported!("{name}_zero_point differs between the columns of direction {dir}");
            }
            zs.push(own[0]);
        }
        Ok((scales.chunks(count).map(<[f32]>::to_vec).collect(), zs))
    }
}

/// Elements per direction of a `[dirs]` or `[dirs, columns]` parameter.
fn per_direction(shape: &[usize], dirs: usize, columns: usize, what: &str) -> Result<usize> {
    match shape {
        [n] if *n == dirs => Ok(1),
        [n, c] if *n == dirs && *c == columns => Ok(columns),
        _ => bail!("{what} must have shape [{dirs}] or [{dirs}, {columns}], got {shape:?}"),
    }
}

impl DynamicQuantizeLstm {
    fn lower_calls(&self, cx: &mut LowerCx) -> Result<()> {
        let x = cx.input(X)?.clone();
        let (w, r) = (cx.input(W)?.clone(), cx.input(R)?.clone());
        let d = self.dims(&x.shape, &w.shape, &r.shape)?;
        let gh = 4 * d.hidden;
        // The zero points as literals; scales and weights are read.
        let zero = |cx: &LowerCx, slot: usize| -> Result<Tensor> {
            match cx.input(slot)?.constant.as_deref() {
                Some(t) => Ok(t.clone()),
                None => unsupported!("code generation needs the zero points of DynamicQuantizeLSTM known at compile time"),
            }
        };
        let (wz, rz) = (zero(cx, W_ZERO)?, zero(cx, R_ZERO)?);
        let fake = |slot: usize, loc: &Loc| Tensor::zeros(loc.dtype, &loc.shape).map(|t| (slot, t));
        let (ws, rs) = (cx.input(W_SCALE)?.clone(), cx.input(R_SCALE)?.clone());
        if ws.dtype != DType::F32 || rs.dtype != DType::F32 {
            unsupported!("code generation needs float32 W_scale and R_scale");
        }
        // Checks shapes and zero points (scale values do not matter here).
        let mut slots: Vec<Option<Tensor>> = vec![None; R_ZERO + 1];
        for (slot, t) in [fake(W_SCALE, &ws)?, fake(R_SCALE, &rs)?, (W_ZERO, wz), (R_ZERO, rz)] {
            slots[slot] = Some(t);
        }
        let refs: Vec<Option<&Tensor>> = slots.iter().map(Option::as_ref).collect();
        let (_, w_zeros) = self.params(&refs, W_SCALE, W_ZERO, w.dtype, &d)?;
        let (_, r_zeros) = self.params(&refs, R_SCALE, R_ZERO, w.dtype, &d)?;
        let (w_count, r_count) = (ws.len() / d.dirs, rs.len() / d.dirs);
        let f32_or_zeros = |cx: &mut LowerCx, slot: usize, what: &str, shape: &[usize]| -> Result<Loc> {
            match cx.opt_input(slot) {
                Some(l) if l.dtype == DType::F32 && l.shape == shape => Ok(l.clone()),
                Some(l) => bail!("{what} must be float32 of shape {shape:?}, got {} {:?}", l.dtype, l.shape),
                None => Ok(cx.constant(&format!("zero_{what}"), Tensor::zeros(DType::F32, shape)?)),
            }
        };
        let state = [d.dirs, d.batch, d.hidden];
        let b = f32_or_zeros(cx, B, "B", &[d.dirs, 2 * gh])?;
        let p = f32_or_zeros(cx, P, "P", &[d.dirs, 3 * d.hidden])?;
        let h0 = f32_or_zeros(cx, INITIAL_H, "initial_h", &state)?;
        let c0 = f32_or_zeros(cx, INITIAL_C, "initial_c", &state)?;
        // X quantized once, for both directions.
        let n = x.len();
        let (xq, xs, xz) = (cx.scratch(DType::U8, n), cx.scratch(DType::F32, 1), cx.scratch(DType::U8, 1));
        let args = vec![x.arg_in(), xq.arg_out(), xs.arg_out(), xz.arg_out(), KArg::Dims(vec![n])];
        cx.call("dynamic_quant", "dynamic_quantize", vec![DType::U8], args);
        let mut outs = Vec::new();
        for slot in 0..3 {
            outs.push(if cx.has_output(slot) { (cx.output(slot)?.arg_out(), true) } else { (cx.scratch(DType::F32, 1).arg_out(), false) });
        }
        let scratch = cx.scratch(DType::F32, lstm_quant_scratch(d.batch, d.hidden));
        let codes = cx.scratch(DType::U8, d.batch * d.hidden + 1);
        let acc = cx.scratch(DType::I32, 2 * gh);
        let part = |l: &Loc, start: usize, len: usize| KArg::In { operand: l.operand, offset: l.offset + start, len };
        let per_dir = super::cell::Cell::Lstm { input_forget: false }.activations();
        for dir in 0..d.dirs {
            let reverse = self.lstm.direction == Direction::Reverse || dir == 1;
            let dims = vec![
                d.seq,
                d.batch,
                d.input,
                d.hidden,
                w_count,
                r_count,
                dir * d.batch * d.hidden,
                d.dirs * d.batch * d.hidden,
                reverse as usize,
                outs[0].1 as usize,
                outs[1].1 as usize,
                outs[2].1 as usize,
                self.input_forget() as usize,
            ];
            let (mut acts, mut params) = (Vec::new(), Vec::new());
            for a in self.lstm.activations.get(dir * per_dir..(dir + 1) * per_dir).unwrap_or(&[]) {
                let (code, alpha, beta) = a.code();
                acts.push(code);
                params.extend([alpha, beta]);
            }
            params.resize(6, 0.0);
            params.push(self.lstm.clip.unwrap_or(0.0));
            let args = vec![
                xq.arg_in(),
                xs.arg_in(),
                xz.arg_in(),
                part(&w, dir * d.input * gh, d.input * gh),
                part(&ws, dir * w_count, w_count),
                part(&r, dir * d.hidden * gh, d.hidden * gh),
                part(&rs, dir * r_count, r_count),
                part(&b, dir * 2 * gh, 2 * gh),
                part(&h0, dir * d.batch * d.hidden, d.batch * d.hidden),
                part(&c0, dir * d.batch * d.hidden, d.batch * d.hidden),
                part(&p, dir * 3 * d.hidden, 3 * d.hidden),
                outs[0].0.clone(),
                outs[1].0.clone(),
                outs[2].0.clone(),
                scratch.arg_out(),
                codes.arg_out(),
                acc.arg_out(),
                KArg::Dims(dims),
                KArg::Ints(vec![w_zeros[dir] as i64, r_zeros[dir] as i64]),
                KArg::Ints(acts),
                KArg::Floats(params, DType::F64),
            ];
            cx.call("rnn_quant", "lstm_dynamic_quant", vec![DType::F32, w.dtype], args);
        }
        cx.needs("rnn", vec![DType::F32]);
        Ok(())
    }
}

/// Float scratch of the `lstm_dynamic_quant` kernel: h and c of every
/// batch entry, the pre-activations, the two multipliers, the bias and the
/// peepholes of one direction, and the hidden state's scale.
pub fn lstm_quant_scratch(batch: usize, hidden: usize) -> usize {
    2 * batch * hidden + 4 * 4 * hidden + 3 * hidden + 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::front::onnx::Attr;
    use crate::ops::testing::f32s;
    use crate::ops::Op;

    fn node(n_in: usize, attrs: Vec<(&str, Attr)>) -> OnnxNode {
        let mut n = crate::ops::testing::node("DynamicQuantizeLSTM", 1, attrs, n_in, 3);
        n.domain = "com.microsoft".into();
        for absent in [SEQUENCE_LENS, INITIAL_H, INITIAL_C, P] {
            n.inputs[absent] = false;
        }
        n
    }

    fn i8s(shape: &[usize], v: &[i8]) -> Tensor {
        Tensor::from_vec(shape, v.to_vec()).unwrap()
    }

    /// One unit, one input: W codes [127, 0, 0, 0] at scale 1/127 make the
    /// input gate's pre-activation x; R is zero; bias: output 3, cell 2.
    fn inputs(x: f32, zero: i8) -> Vec<Option<Tensor>> {
        let mut v: Vec<Option<Tensor>> = vec![None; 12];
        v[X] = Some(f32s(&[1, 1, 1], &[x]));
        v[W] = Some(i8s(&[1, 1, 4], &[127, 0, 0, 0]));
        v[R] = Some(i8s(&[1, 1, 4], &[0; 4]));
        v[B] = Some(f32s(&[1, 8], &[0.0, 3.0, 0.0, 2.0, 0.0, 0.0, 0.0, 0.0]));
        v[W_SCALE] = Some(f32s(&[1], &[1.0 / 127.0]));
        v[W_ZERO] = Some(i8s(&[1], &[zero]));
        v[R_SCALE] = Some(f32s(&[1, 4], &[1.0; 4]));
        v[R_ZERO] = Some(i8s(&[1, 4], &[0; 4]));
        v
    }

    fn eval(op: &Op, inputs: &[Option<Tensor>]) -> Result<Vec<Tensor>> {
        op.eval(&inputs.iter().map(Option::as_ref).collect::<Vec<_>>())
    }

    #[test]
    fn gates_from_dequantized_products() {
        let op = Op::from_onnx(&node(12, vec![("hidden_size", Attr::Int(1))])).unwrap();
        let out = eval(&op, &inputs(1.0, 0)).unwrap();
        let sig = |v: f64| 1.0 / (1.0 + (-v).exp());
        // X = 1 is code 255 at scale 1/255: the input gate sees 255 · 127 · (1/255 · 1/127).
        let c = sig(1.0) * 2.0f64.tanh();
        let y = out[0].to_f64_vec().unwrap()[0];
        assert!((out[2].to_f64_vec().unwrap()[0] - c).abs() < 1e-6);
        assert!((y - sig(3.0) * c.tanh()).abs() < 1e-6, "{y}");
        assert_eq!(out[0].shape(), &[1, 1, 1, 1]);
    }

    #[test]
    fn refuses_what_it_does_not_support() {
        let op = Op::from_onnx(&node(12, vec![])).unwrap();
        // A weight zero point of 10 shifts the codes: W − 10.
        let shifted = eval(&op, &inputs(1.0, 10)).unwrap();
        let plain = eval(&op, &inputs(1.0, 0)).unwrap();
        assert_ne!(shifted[2], plain[2]);
        let mut bad = inputs(1.0, 0);
        bad[R_ZERO] = Some(i8s(&[1, 4], &[0, 1, 0, 0]));
        let e = eval(&op, &bad).unwrap_err();
        assert!(e.to_string().contains("differs between the columns"), "{e}");
        bad[R_ZERO] = Some(i8s(&[2], &[0, 0]));
        assert!(eval(&op, &bad).unwrap_err().to_string().contains("must have shape"));
        let mut n = node(12, vec![]);
        n.inputs[SEQUENCE_LENS] = true;
        assert!(matches!(Op::from_onnx(&n).unwrap_err(), crate::Error::Unsupported(_)));
        assert!(Op::from_onnx(&node(12, vec![("layout", Attr::Int(1))])).is_err());
    }
}
