//! RNN, GRU and LSTM: one recurrent layer over a sequence.
//! <https://onnx.ai/onnx/operators/onnx__LSTM.html>,
//! <https://onnx.ai/onnx/operators/onnx__GRU.html>,
//! <https://onnx.ai/onnx/operators/onnx__RNN.html>
//!
//! Opsets 7 to 22: directions forward, reverse and bidirectional; every
//! optional input (B, sequence_lens, initial_h, initial_c, P); the
//! `activations` with `activation_alpha` / `activation_beta` (one list per
//! direction, or one list shared by both); `clip`; GRU's
//! `linear_before_reset`; LSTM's `input_forget`; `layout` 0 (time first) and
//! 1 (batch first); all outputs (Y, Y_h, and Y_c for LSTM). Float inputs,
//! computed in f64 and rounded once to the input type.
//!
//! With `sequence_lens`, batch entry `b` runs over its first `len[b]` steps
//! (a reverse direction starts at step `len[b] - 1`); Y is zero past the end
//! and Y_h / Y_c hold the state after the last step run (the initial state
//! when `len[b]` is 0).
//!
//! Code generation (`lower.rs`): the runtime's `rnn` kernel, one call per
//! direction, computing in f32 (f64 for float64 inputs); `sequence_lens`
//! must then be a compile-time constant.

mod activation;
mod cell;
mod lower;
mod quantized;

pub use quantized::DynamicQuantizeLstm;

use super::{util, Arg, OpDef, Slots};
use crate::front::onnx::OnnxNode;
use crate::ir::{Dim, Shape, TensorType};
use crate::tensor::{checked_numel, DType, Tensor};
use crate::{bail, Result};
use activation::Activation;
use cell::{Cell, Recurrence, Weights};
use ndarray::{s, Array3, Array4, ArrayD, Ix3, IxDyn};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    Forward,
    Reverse,
    Bidirectional,
}

#[derive(Debug, Clone)]
pub struct Recurrent {
    cell: Cell,
    hidden_size: Option<usize>,
    direction: Direction,
    /// `cell.activations()` functions per direction, forward's first.
    activations: Vec<Activation>,
    clip: Option<f64>,
    batch_first: bool,
}

/// Input slots.
pub(super) const X: usize = 0;
pub(super) const W: usize = 1;
pub(super) const R: usize = 2;
pub(super) const B: usize = 3;
pub(super) const SEQUENCE_LENS: usize = 4;
pub(super) const INITIAL_H: usize = 5;
pub(super) const INITIAL_C: usize = 6;
pub(super) const P: usize = 7;

impl OpDef for Recurrent {
    fn from_onnx(node: &OnnxNode) -> Result<Self> {
        let cell = match node.op_type.as_str() {
            "RNN" => Cell::Rnn,
            "GRU" => Cell::Gru { linear_before_reset: node.int("linear_before_reset", 0)? != 0 },
            "LSTM" => Cell::Lstm { input_forget: node.int("input_forget", 0)? != 0 },
            other => bail!("'{other}' is not RNN, GRU or LSTM"),
        };
        if node.has("output_sequence") {
            bail!("the 'output_sequence' attribute (opset 1) is not supported");
        }
        let hidden_size = node.int_opt("hidden_size")?.map(|h| util::positive(h, "hidden_size")).transpose()?;
        let direction = match node.string("direction", "forward")?.as_str() {
            "forward" => Direction::Forward,
            "reverse" => Direction::Reverse,
            "bidirectional" => Direction::Bidirectional,
            other => bail!("direction '{other}' is not forward, reverse or bidirectional"),
        };
        let dirs = if direction == Direction::Bidirectional { 2 } else { 1 };
        let names = match node.strings_opt("activations")? {
            Some(n) => n,
            None => cell.default_activations().iter().map(|s| s.to_string()).collect(),
        };
        let alphas = node.floats_opt("activation_alpha")?.unwrap_or_default();
        let betas = node.floats_opt("activation_beta")?.unwrap_or_default();
        let mut activations = Activation::parse_list(&names, &alphas, &betas)?;
        let per_dir = cell.activations();
        if activations.len() == per_dir && dirs == 2 {
            activations.extend_from_within(..);
        }
        if activations.len() != per_dir * dirs {
            bail!("{} activation functions given; {} needs {} per direction", activations.len(), node.op_type, per_dir);
        }
        let clip = match node.float_opt("clip")? {
            Some(c) if c > 0.0 => Some(c as f64),
            Some(c) => bail!("clip must be positive, got {c}"),
            None => None,
        };
        let batch_first = match node.int("layout", 0)? {
            0 => false,
            1 => true,
            other => bail!("layout must be 0 or 1, got {other}"),
        };
        Ok(Recurrent { cell, hidden_size, direction, activations, clip, batch_first })
    }

    fn infer(&self, inputs: &[Option<Arg>]) -> Result<Vec<TensorType>> {
        let x = inputs.req(X)?.ty;
        let (w, r) = (inputs.req(W)?.ty, inputs.req(R)?.ty);
        if !x.dtype.is_float() {
            bail!("{:?} needs a float input, got {}", self.cell, x.dtype);
        }
        for (name, t) in [("W", Some(w)), ("R", Some(r)), ("B", inputs.opt(B).map(|a| a.ty))] {
            if let Some(t) = t {
                if t.dtype != x.dtype {
                    bail!("{name} is {} but X is {}", t.dtype, x.dtype);
                }
            }
        }
        let dims = |t: &TensorType, rank: usize, name: &str| -> Result<Vec<Dim>> {
            match t.shape.dims() {
                None => Ok(vec![None; rank]),
                Some(d) if d.len() == rank => Ok(d.to_vec()),
                Some(d) => bail!("{name} must have rank {rank}, got {}", d.len()),
            }
        };
        let xd = dims(x, 3, "X")?;
        let (wd, rd) = (dims(w, 3, "W")?, dims(r, 3, "R")?);
        let gates = self.cell.gates();
        let hidden = self.hidden_size.or(rd[2]).or(wd[1].map(|g| g / gates));
        let (seq, batch) = if self.batch_first { (xd[1], xd[0]) } else { (xd[0], xd[1]) };
        let dirs = Some(self.dirs());
        let gh = hidden.and_then(|h| h.checked_mul(gates));
        expect("W", &wd, &[dirs, gh, xd[2]])?;
        expect("R", &rd, &[dirs, gh, hidden])?;
        let y = if self.batch_first { vec![batch, seq, dirs, hidden] } else { vec![seq, dirs, batch, hidden] };
        let state = if self.batch_first { vec![batch, dirs, hidden] } else { vec![dirs, batch, hidden] };
        let mut out = vec![TensorType::new(x.dtype, Shape::from_dims(y))];
        for _ in 1..self.cell.outputs() {
            out.push(TensorType::new(x.dtype, Shape::from_dims(state.clone())));
        }
        Ok(out)
    }

    fn eval(&self, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
        let x_t = inputs.req(X)?;
        let dtype = x_t.dtype();
        if !dtype.is_float() {
            bail!("{:?} needs a float input, got {dtype}", self.cell);
        }
        let mut x = to_3d(x_t, "X")?;
        if self.batch_first {
            x = x.permuted_axes([1, 0, 2]).as_standard_layout().into_owned();
        }
        let (seq, batch, input) = x.dim();
        let (w, r) = (to_3d(inputs.req(W)?, "W")?, inputs.req(R)?);
        let &[r_dirs, r_rows, r_cols] = r.shape() else { bail!("R must have rank 3, got shape {:?}", r.shape()) };
        let (dirs, gates) = (self.dirs(), self.cell.gates());
        let hidden = self.hidden_size.unwrap_or(r_cols);
        let gh = hidden.checked_mul(gates).ok_or_else(|| crate::Error::Op("hidden_size is too large".into()))?;
        expect("W", &[Some(w.dim().0), Some(w.dim().1), Some(w.dim().2)], &[Some(dirs), Some(gh), Some(input)])?;
        expect("R", &[Some(r_dirs), Some(r_rows), Some(r_cols)], &[Some(dirs), Some(gh), Some(hidden)])?;
        if r.dtype() != dtype {
            bail!("R is {} but X is {dtype}", r.dtype());
        }
        let bias = optional(inputs.opt(B), dtype, &[dirs, 2 * gh], "B")?;
        let peepholes = optional(inputs.opt(P), dtype, &[dirs, 3 * hidden], "P")?;
        let state_shape = if self.batch_first { [batch, dirs, hidden] } else { [dirs, batch, hidden] };
        let mut init_h = optional(inputs.opt(INITIAL_H), dtype, &state_shape, "initial_h")?;
        let mut init_c = optional(inputs.opt(INITIAL_C), dtype, &state_shape, "initial_c")?;
        if self.batch_first {
            init_h = init_h.permuted_axes(IxDyn(&[1, 0, 2])).as_standard_layout().into_owned();
            init_c = init_c.permuted_axes(IxDyn(&[1, 0, 2])).as_standard_layout().into_owned();
        }
        let lens = self.sequence_lens(inputs.opt(SEQUENCE_LENS), seq, batch)?;
        checked_numel(&[seq, dirs, batch, hidden])?;
        checked_numel(&[dirs, batch, hidden])?;
        let mut y = Array4::<f64>::zeros((seq, dirs, batch, hidden));
        let mut y_h = Array3::<f64>::zeros((dirs, batch, hidden));
        let mut y_c = Array3::<f64>::zeros((dirs, batch, hidden));
        let per_dir = self.cell.activations();
        for d in 0..dirs {
            let slice = |a: &ArrayD<f64>| -> Vec<f64> { a.index_axis(ndarray::Axis(0), d).iter().copied().collect() };
            let wd = w.index_axis(ndarray::Axis(0), d);
            let rv = Recurrence::of(r, d * gh * hidden, gh * hidden)?;
            let bv = slice(&bias);
            let pv = slice(&peepholes);
            let wb = ndarray::ArrayView1::from(bv.get(..gh).unwrap_or(&[]));
            let weights = Weights { r: &rv, rb: bv.get(gh..).unwrap_or(&[]), p: &pv, hidden };
            let acts = self.activations.get(d * per_dir..(d + 1) * per_dir).unwrap_or(&[]);
            let reverse = self.direction == Direction::Reverse || d == 1;
            for (b, &len) in lens.iter().enumerate() {
                let mut h: Vec<f64> = init_h.slice(s![d, b, ..]).iter().copied().collect();
                let mut c: Vec<f64> = init_c.slice(s![d, b, ..]).iter().copied().collect();
                let steps: Box<dyn Iterator<Item = usize>> = if reverse { Box::new((0..len).rev()) } else { Box::new(0..len) };
                // The input terms of every step at once: X_b · Wᵀ + Wb, [seq, gates · hidden].
                let gx = x.slice(s![.., b, ..]).dot(&wd.t()) + &wb;
                for t in steps {
                    let row = gx.row(t);
                    let Some(gx_t) = row.as_slice() else { bail!("{:?}: the input terms of step {t} are not contiguous", self.cell) };
                    cell::step(self.cell, &weights, acts, self.clip, gx_t, &mut h, &mut c);
                    y.slice_mut(s![t, d, b, ..]).iter_mut().zip(&h).for_each(|(o, v)| *o = *v);
                }
                y_h.slice_mut(s![d, b, ..]).iter_mut().zip(&h).for_each(|(o, v)| *o = *v);
                y_c.slice_mut(s![d, b, ..]).iter_mut().zip(&c).for_each(|(o, v)| *o = *v);
            }
        }
        let (y, y_h, y_c) = if self.batch_first {
            (y.permuted_axes([2, 0, 1, 3]).into_dyn(), y_h.permuted_axes([1, 0, 2]).into_dyn(), y_c.permuted_axes([1, 0, 2]).into_dyn())
        } else {
            (y.into_dyn(), y_h.into_dyn(), y_c.into_dyn())
        };
        let mut out = vec![Tensor::F64(y.as_standard_layout().into_owned()).cast(dtype)?];
        out.push(Tensor::F64(y_h.as_standard_layout().into_owned()).cast(dtype)?);
        if self.cell.outputs() == 3 {
            out.push(Tensor::F64(y_c.as_standard_layout().into_owned()).cast(dtype)?);
        }
        Ok(out)
    }

    fn lower(&self, cx: &mut super::LowerCx) -> Result<()> {
        self.lower_calls(cx)
    }

    fn macs(&self, inputs: &[Option<&TensorType>], _outputs: &[&TensorType]) -> u64 {
        let fixed = |i: usize| inputs.get(i).copied().flatten().and_then(|t| t.shape.as_fixed());
        let (Some(x), Some(r)) = (fixed(X), fixed(R)) else { return 0 };
        let (Some(&input), Some(&rows), Some(&hidden)) = (x.get(2), r.get(1), r.get(2)) else { return 0 };
        let steps = x.first().zip(x.get(1)).map(|(a, b)| (*a as u64) * (*b as u64)).unwrap_or(0);
        steps.saturating_mul(self.dirs() as u64).saturating_mul(rows as u64).saturating_mul((input + hidden) as u64)
    }

    /// int8: float only.
    fn quantize(&self, rule: crate::ops::Rule) -> Result<crate::ops::Plan> {
        Ok(rule.float_only(crate::ops::NO_INTEGER_KERNEL))
    }
}

impl Recurrent {
    fn dirs(&self) -> usize {
        if self.direction == Direction::Bidirectional {
            2
        } else {
            1
        }
    }

    /// Steps to run for each batch entry.
    fn sequence_lens(&self, t: Option<&Tensor>, seq: usize, batch: usize) -> Result<Vec<usize>> {
        let Some(t) = t else { return Ok(vec![seq; batch]) };
        if !matches!(t.dtype(), DType::I32 | DType::I64) {
            bail!("sequence_lens must be int32, got {}", t.dtype());
        }
        if t.shape() != [batch] {
            bail!("sequence_lens must have shape [{batch}], got {:?}", t.shape());
        }
        t.to_i64_vec()?
            .into_iter()
            .map(|l| match usize::try_from(l) {
                Ok(l) if l <= seq => Ok(l),
                _ => bail!("sequence length {l} is outside 0..={seq}"),
            })
            .collect()
    }
}

/// Checks known dimensions against expected ones.
fn expect(name: &str, got: &[Dim], want: &[Dim]) -> Result<()> {
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        if let (Some(g), Some(w)) = (g, w) {
            if g != w {
                bail!("{name} has {g} in dimension {i}, expected {w}");
            }
        }
    }
    Ok(())
}

fn to_3d(t: &Tensor, name: &str) -> Result<Array3<f64>> {
    let a = t.cast(DType::F64)?.into_array::<f64>()?;
    match a.into_dimensionality::<Ix3>() {
        Ok(a) => Ok(a),
        Err(_) => bail!("{name} must have rank 3, got shape {:?}", t.shape()),
    }
}

/// An optional input of a fixed shape as f64, zeros when absent.
fn optional(t: Option<&Tensor>, dtype: DType, shape: &[usize], name: &str) -> Result<ArrayD<f64>> {
    checked_numel(shape)?;
    match t {
        None => Ok(ArrayD::zeros(IxDyn(shape))),
        Some(t) if t.dtype() != dtype => bail!("{name} is {} but X is {dtype}", t.dtype()),
        Some(t) if t.shape() != shape => bail!("{name} must have shape {shape:?}, got {:?}", t.shape()),
        Some(t) => t.cast(DType::F64)?.into_array::<f64>(),
    }
}

#[cfg(test)]
mod tests;
