//! Code generation for RNN, GRU and LSTM: one call of the runtime's
//! `rnn::recurrent` kernel per direction (runtime-template kernels/rnn.rs
//! and rnn.h), with the layouts as strides, absent B / initial states / P
//! as zero constants, and `sequence_lens` (int32, a constant of the whole
//! length when absent) read by the kernel, which clamps each length to
//! `0..=seq` where the interpreter rejects one outside it.

use super::cell::Cell;
use super::{Direction, Recurrent, B, INITIAL_C, INITIAL_H, P, R, SEQUENCE_LENS, W, X};
use crate::back::lower::{Loc, LowerCx};
use crate::back::program::Arg;
use crate::tensor::{DType, Tensor};
use crate::{bail, unsupported, Result};

/// The element type the kernel computes in for `d`.
pub fn compute_type(d: DType) -> DType {
    if d == DType::F64 {
        DType::F64
    } else {
        DType::F32
    }
}

/// Elements of the kernel's scratch for `gates` gates of `hidden` units.
pub fn scratch_len(gates: usize, hidden: usize) -> usize {
    3 * gates * hidden + 2 * hidden
}

/// `len` elements of `loc` from element `start`, as a kernel input.
fn part(loc: &Loc, start: usize, len: usize) -> Arg {
    Arg::In { operand: loc.operand, offset: loc.offset + start, len }
}

/// An optional input of `shape`, or a constant of zeros when absent.
fn or_zeros(cx: &mut LowerCx, slot: usize, what: &str, dtype: DType, shape: &[usize]) -> Result<Loc> {
    match cx.opt_input(slot) {
        Some(l) if l.shape == shape && l.dtype == dtype => Ok(l.clone()),
        Some(l) => bail!("{what} has shape {:?} and type {}, expected {shape:?} and {dtype}", l.shape, l.dtype),
        None => Ok(cx.constant(&format!("zero_{what}"), Tensor::zeros(dtype, shape)?)),
    }
}

/// Output `slot` as a kernel argument and whether it is written (unused
/// outputs get a one-element scratch the kernel does not touch).
fn out_arg(cx: &mut LowerCx, slot: usize, dtype: DType) -> Result<(Arg, bool)> {
    if cx.has_output(slot) {
        Ok((cx.output(slot)?.arg_out(), true))
    } else {
        Ok((cx.scratch(dtype, 1).arg_out(), false))
    }
}

impl Recurrent {
    /// The steps each batch entry runs, as int32: `sequence_lens` (checked
    /// now when constant), or the whole sequence.
    fn lens(&self, cx: &mut LowerCx, seq: usize, batch: usize) -> Result<Loc> {
        match cx.opt_input(SEQUENCE_LENS).cloned() {
            None => {
                let n = i32::try_from(seq).or_else(|_| bail!("the sequence is too long ({seq} steps)"))?;
                Ok(cx.constant("sequence_lens", Tensor::from_vec(&[batch], vec![n; batch])?))
            }
            Some(l) => {
                if let Some(t) = &l.constant {
                    self.sequence_lens(Some(t), seq, batch)?;
                }
                if l.dtype != DType::I32 || l.shape != [batch] {
                    unsupported!("code generation for sequence_lens of type {} and shape {:?} (int32 [{batch}] expected)", l.dtype, l.shape);
                }
                Ok(l)
            }
        }
    }

    pub(super) fn lower_calls(&self, cx: &mut LowerCx) -> Result<()> {
        let x = cx.input(X)?.clone();
        let dtype = x.dtype;
        if !dtype.is_float() || dtype.is_small() {
            unsupported!("code generation for {:?} on {dtype} is not implemented yet", self.cell);
        }
        let (w, r) = (cx.input(W)?.clone(), cx.input(R)?.clone());
        let (dirs, gates) = (self.dirs(), self.cell.gates());
        let (&[s0, s1, input], &[_, gh, hidden]) = (&x.shape[..], &r.shape[..]) else {
            bail!("X and R must have rank 3, got {:?} and {:?}", x.shape, r.shape);
        };
        let (seq, batch) = if self.batch_first { (s1, s0) } else { (s0, s1) };
        if w.shape != [dirs, gh, input] || gh != gates * hidden || w.dtype != dtype || r.dtype != dtype {
            bail!("W {:?} and R {:?} do not fit X {:?} and {dirs} direction(s) of {gates} gates", w.shape, r.shape, x.shape);
        }
        let lens = self.lens(cx, seq, batch)?;
        let b = or_zeros(cx, B, "B", dtype, &[dirs, 2 * gh])?;
        let state = if self.batch_first { [batch, dirs, hidden] } else { [dirs, batch, hidden] };
        let h0 = or_zeros(cx, INITIAL_H, "initial_h", dtype, &state)?;
        let lstm = matches!(self.cell, Cell::Lstm { .. });
        let (c0, p) = if lstm {
            (Some(or_zeros(cx, INITIAL_C, "initial_c", dtype, &state)?), Some(or_zeros(cx, P, "P", dtype, &[dirs, 3 * hidden])?))
        } else {
            (None, None)
        };
        let (y, has_y) = out_arg(cx, 0, dtype)?;
        let (y_h, has_y_h) = out_arg(cx, 1, dtype)?;
        let (y_c, has_y_c) = if lstm { out_arg(cx, 2, dtype)? } else { (cx.scratch(dtype, 1).arg_out(), false) };
        let scratch = cx.scratch(compute_type(dtype), scratch_len(gates, hidden));
        let cell = match self.cell {
            Cell::Rnn => 0,
            Cell::Gru { linear_before_reset } => 1 + linear_before_reset as usize,
            Cell::Lstm { input_forget } => 3 + input_forget as usize,
        };
        let per_dir = self.cell.activations();
        for d in 0..dirs {
            let (x_ts, x_bs) = if self.batch_first { (input, seq * input) } else { (batch * input, input) };
            let (y_off, y_ts, y_bs) =
                if self.batch_first { (d * hidden, dirs * hidden, seq * dirs * hidden) } else { (d * batch * hidden, dirs * batch * hidden, hidden) };
            let (s_off, s_bs) = if self.batch_first { (d * hidden, dirs * hidden) } else { (d * batch * hidden, hidden) };
            let reverse = self.direction == Direction::Reverse || d == 1;
            let flags = [cell, reverse as usize, has_y as usize, has_y_h as usize, has_y_c as usize];
            let mut dims = vec![seq, batch, input, hidden, x_ts, x_bs, y_off, y_ts, y_bs, s_off, s_bs];
            dims.extend(flags);
            let (mut codes, mut params) = (Vec::new(), Vec::new());
            for a in self.activations.get(d * per_dir..(d + 1) * per_dir).unwrap_or(&[]) {
                let (code, alpha, beta) = a.code();
                codes.push(code);
                params.extend([alpha, beta]);
            }
            params.resize(6, 0.0);
            params.push(self.clip.unwrap_or(0.0));
            let none = part(&h0, 0, 0);
            let args = vec![
                x.arg_in(),
                part(&w, d * gh * input, gh * input),
                part(&r, d * gh * hidden, gh * hidden),
                part(&b, d * 2 * gh, 2 * gh),
                h0.arg_in(),
                c0.as_ref().map(Loc::arg_in).unwrap_or(none.clone()),
                p.as_ref().map(|p| part(p, d * 3 * hidden, 3 * hidden)).unwrap_or(none),
                y.clone(),
                y_h.clone(),
                y_c.clone(),
                scratch.arg_out(),
                Arg::Dims(dims),
                lens.arg_in(),
                Arg::Ints(codes),
                Arg::Floats(params, DType::F64),
            ];
            cx.call("rnn", "recurrent", vec![dtype], args);
        }
        Ok(())
    }
}
