//! Operators with constant weights: Conv, Gemm and MatMul as IntConv,
//! ConvTranspose as IntConvTranspose; weight codes, folded biases and
//! per-channel requantization with the accumulator bound.

use super::super::bias_correction;
use super::super::params::{quantize_weights, quantize_weights_with};
use super::Rewriter;
use crate::ir::{NodeId, ValueId};
use crate::ops::binary::Kind as BinKind;
use crate::ops::int8_rule::{Plan, Weighted};
use crate::ops::qint::{conv_constants, IntConv, ZeroPoint};
use crate::ops::qint::IntConvTranspose;
use crate::ops::spatial::{Axis, TraversalAxis};
use crate::ops::Op;
use crate::tensor::Tensor;
use crate::{Error, Result};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// A weighted layer's int8 weight codes, their scales per output channel,
/// and the bias correction's shift of its float bias.
pub struct CodedWeights {
    codes: Vec<i8>,
    scales: Vec<f32>,
    shift: Option<Vec<f64>>,
}

/// The [`CodedWeights`] of each IntConv node, kept from one rewrite of a
/// graph to the next (`--quantize auto` rewrites it many times with other
/// precisions; the weight codes do not depend on them).
#[derive(Default)]
pub struct WeightMemo(Mutex<HashMap<NodeId, Arc<CodedWeights>>>);

impl WeightMemo {
    /// The codes kept for node `n`, if they are `len` weights.
    fn get(&self, n: NodeId, len: usize) -> Option<Arc<CodedWeights>> {
        self.lock().get(&n).filter(|c| c.codes.len() == len).cloned()
    }

    /// Keeps `coded` as node `n`'s codes.
    fn keep(&self, n: NodeId, coded: CodedWeights) -> Arc<CodedWeights> {
        let coded = Arc::new(coded);
        self.lock().insert(n, coded.clone());
        coded
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<NodeId, Arc<CodedWeights>>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Rewriter<'_> {
    /// IntConv for Conv, Gemm and MatMul (see `Weighted`).
    pub(super) fn conv(&mut self, n: NodeId, layer: Weighted<Axis>) -> Result<Plan> {
        let Weighted { x, w, bias, axes, group, scales } = layer;
        let y = self.first_output(n)?;
        let [c_out, ..] = w.shape()[..] else { return Err(Error::Op("the weights are a scalar".into())) };
        // MatMul + Add of a constant vector: the Add is the bias.
        let fold = if bias.is_none() && axes.is_empty() { self.bias_add(y, c_out) } else { None };
        let (y, bias) = match (bias, fold) {
            (None, Some((add, out, b))) => {
                self.consumed.insert(add);
                (out, Some(b))
            }
            (b, _) => (y, b.cloned()),
        };
        let (xq, px) = self.as_int(x)?;
        let (target, po, lo, hi) = self.output_stage(y)?;
        let coded = match self.memo.get(n, w.len()) {
            Some(coded) => coded,
            None => {
                let wf = w.to_f32()?;
                let (codes, scales) = self.weight_codes(&wf, c_out, scales);
                let means = self.channel_means(x).filter(|_| bias_correction::corrects(&self.src.node(n).op));
                let shift = means.map(|m| bias_correction::shift(&wf, &codes, &scales, group, w.shape().iter().skip(2).product(), m));
                self.memo.keep(n, CodedWeights { codes, scales, shift })
            }
        };
        let mut bias_f = match &bias {
            Some(b) => b.to_f64_vec()?,
            None => vec![0.0; c_out],
        };
        if let Some(shift) = &coded.shift {
            bias_f.iter_mut().zip(shift).for_each(|(b, s)| *b += s);
        }
        let (qw, sw) = (&coded.codes, &coded.scales);
        let k = conv_constants((px.scale as f64, px.zero, px.dtype), qw, sw, &bias_f, po.scale as f64, ZeroPoint::Folded)?;
        let name = self.src.value(target).name.clone();
        let wq = self.constant(format!("{name}_weights"), Tensor::from_vec(w.shape(), qw.clone())?);
        let bq = self.constant(format!("{name}_bias"), k.bias);
        let mq = self.constant(format!("{name}_multipliers"), Tensor::from_vec(&[c_out], k.mult)?);
        let eq = self.constant(format!("{name}_exponents"), Tensor::from_vec(&[c_out], k.exp)?);
        let out = self.fresh(format!("{name}_q"));
        let op = IntConv { axes, group, x_zero: px.zero, stage: self.stage(po, lo, hi) };
        self.add(n, "", "IntConv", Op::IntConv(op), &[Some(xq), Some(wq), Some(bq), Some(mq), Some(eq)], &[Some(out)])?;
        self.int.insert(target, (out, po));
        Ok(Plan::Done)
    }

    /// int8 codes and scales of the float weights `wf` (`c_out` rows, one
    /// per output channel): the model's own scales when it carries them
    /// (`scales`, QDQ), else symmetric per channel or per tensor.
    fn weight_codes(&self, wf: &[f32], c_out: usize, scales: Option<Vec<f32>>) -> (Vec<i8>, Vec<f32>) {
        match scales {
            Some(s) => quantize_weights_with(wf, c_out, &s),
            None => quantize_weights(wf, c_out, self.opts.per_tensor),
        }
    }

    /// IntConvTranspose for ConvTranspose (see `Weighted`).
    pub(super) fn conv_transpose(&mut self, n: NodeId, layer: Weighted<TraversalAxis>) -> Result<Plan> {
        if self.wide {
            return Ok(Plan::float("no 16x8 ConvTranspose kernel"));
        }
        let Weighted { x, w, bias, axes, group, scales } = layer;
        let y = self.first_output(n)?;
        let ws = w.shape().to_vec();
        let [c_in, og, ref kernel @ ..] = ws[..] else { return Err(Error::Op(format!("weights of shape {ws:?}"))) };
        let kvol = kernel.iter().product::<usize>();
        let (cg, c_out) = (c_in / group, og * group);
        // Weight (input channel ci, output o of group g, offset k) sits at
        // [ci, o, k] in W and at row g·og + o, column (ci mod cg, k) in the
        // channel-major copy, whose row c holds every weight reaching output
        // channel c: the layout weight quantization and the bound expect.
        let at = |ci: usize, o: usize, k: usize| ((ci * og + o) * kvol + k, (((ci / cg) * og + o) * cg + ci % cg) * kvol + k);
        let wf = w.to_f32()?;
        let mut rows = vec![0f32; wf.len()];
        for ci in 0..c_in {
            for o in 0..og {
                for k in 0..kvol {
                    let (src, dst) = at(ci, o, k);
                    rows[dst] = wf[src];
                }
            }
        }
        // Per-axis scales of a QDQ model are along axis 1 (C_out / group).
        let scales = scales.filter(|s| s.len() == 1 || s.len() == og).map(|s| (0..c_out).map(|c| s[if s.len() == 1 { 0 } else { c % og }]).collect());
        let (qrows, sw) = self.weight_codes(&rows, c_out, scales);
        let mut qw = vec![0i8; qrows.len()];
        for ci in 0..c_in {
            for o in 0..og {
                for k in 0..kvol {
                    let (src, dst) = at(ci, o, k);
                    qw[src] = qrows[dst];
                }
            }
        }
        let bias_f = match bias {
            Some(b) => b.to_f64_vec()?,
            None => vec![0.0; c_out],
        };
        let (xq, px) = self.as_int(x)?;
        let (target, po, lo, hi) = self.output_stage(y)?;
        let k = conv_constants((px.scale as f64, px.zero, px.dtype), &qrows, &sw, &bias_f, po.scale as f64, ZeroPoint::Centred)?;
        let name = self.src.value(target).name.clone();
        let wq = self.constant(format!("{name}_weights"), Tensor::from_vec(&ws, qw)?);
        let bq = self.constant(format!("{name}_bias"), k.bias);
        let mq = self.constant(format!("{name}_multipliers"), Tensor::from_vec(&[c_out], k.mult)?);
        let eq = self.constant(format!("{name}_exponents"), Tensor::from_vec(&[c_out], k.exp)?);
        let op = IntConvTranspose { axes, group, x_zero: px.zero, stage: self.stage(po, lo, hi) };
        self.emit(n, target, po, "IntConvTranspose", Op::IntConvTranspose(op), &[Some(xq), Some(wq), Some(bq), Some(mq), Some(eq)])
    }

    /// The single consumer of `y` if it adds a constant vector of `n` values
    /// along the last axis: (node, its output, the vector).
    pub(super) fn bias_add(&self, y: ValueId, n: usize) -> Option<(NodeId, ValueId, Tensor)> {
        if self.src.outputs.contains(&y) {
            return None;
        }
        let [(c, _)] = self.src.consumers(y)[..] else { return None };
        if !self.same_precision(c) {
            return None;
        }
        let Op::Binary(b) = &self.src.node(c).op else { return None };
        if b.kind != BinKind::Add {
            return None;
        }
        let other = self.src.node_inputs(c).into_iter().flatten().find(|&v| v != y)?;
        let t = self.src.value(other).constant.clone()?;
        let last_only = t.shape().iter().rev().skip(1).all(|&d| d == 1) && t.shape().last() == Some(&n);
        let out = self.src.node_outputs(c).first().copied().flatten()?;
        last_only.then(|| Some((c, out, t.reshape(&[n]).ok()?))).flatten()
    }
}

