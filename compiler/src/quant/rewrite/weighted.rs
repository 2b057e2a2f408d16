//! Operators with constant weights: Conv, Gemm and MatMul as IntConv,
//! ConvTranspose as IntConvTranspose; weight codes, folded biases and
//! per-channel requantization with the accumulator bound.

use super::super::bias_correction;
use super::super::gptq::{self, Gram};
use super::super::params::{quantize_weights_with, symmetric_codes, weight_scales, QParams};
use super::Rewriter;
use crate::ir::{NodeId, ValueId};
use crate::ops::binary::Kind as BinKind;
use crate::ops::int8_rule::{Plan, Weighted};
use crate::ops::qint::{conv_constants, ConvConstants, IntConv, ZeroPoint};
use crate::ops::qint::IntConvTranspose;
use crate::ops::spatial::{Axis, TraversalAxis};
use crate::ops::Op;
use crate::tensor::Tensor;
use crate::{Error, Result};
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

/// A weighted layer's int8 weight codes, their scales per output channel,
/// and the bias correction's shift of its float bias.
pub struct CodedWeights {
    codes: Vec<i8>,
    scales: Vec<f32>,
    shift: Option<Vec<f64>>,
}

/// A layer's output correction (`quant::correct`): each output channel's
/// weight scale multiplied by `gain[c]`, its float bias replaced by `bias[c]`.
#[derive(Debug, Clone)]
pub struct Correction {
    pub gain: Vec<f64>,
    pub bias: Vec<f64>,
}

impl Correction {
    /// The weight scales `scales` multiplied by the gains.
    fn scales(&self, scales: &[f32]) -> Vec<f32> {
        scales.iter().zip(&self.gain).map(|(&s, &g)| (s as f64 * g) as f32).collect()
    }
}

/// What every rewrite of a graph shares (`--quantize auto` rewrites it
/// many times with other precisions): the input Gram matrices that the
/// weight rounding of 16x8 layers reads (`quant::gptq`), the
/// [`CodedWeights`] of each IntConv node at each activation width, and the
/// [`Correction`]s of its int8 layers.
#[derive(Default)]
pub struct WeightMemo(RefCell<Memo>);

#[derive(Default)]
struct Memo {
    grams: Arc<HashMap<NodeId, Gram>>,
    coded: HashMap<(NodeId, bool), Arc<CodedWeights>>,
    corrections: HashMap<NodeId, Arc<Correction>>,
}

impl WeightMemo {
    /// A memo whose 16x8 layers' weights are rounded against the input
    /// Gram matrices `grams` where a layer has one (nearest rounding
    /// elsewhere).
    pub fn with_grams(grams: Arc<HashMap<NodeId, Gram>>) -> WeightMemo {
        WeightMemo(RefCell::new(Memo { grams, ..Memo::default() }))
    }

    /// Sets the corrections, by source node (the codes already made stay).
    pub fn set_corrections(&self, corrections: HashMap<NodeId, Correction>) {
        self.0.borrow_mut().corrections = corrections.into_iter().map(|(n, c)| (n, Arc::new(c))).collect();
    }

    /// The codes kept for node `n` with int16 activations when `wide`,
    /// if they are `len` weights.
    fn get(&self, n: NodeId, wide: bool, len: usize) -> Option<Arc<CodedWeights>> {
        self.0.borrow().coded.get(&(n, wide)).filter(|c| c.codes.len() == len).cloned()
    }

    /// Keeps `coded` as node `n`'s codes with int16 activations when `wide`.
    fn keep(&self, n: NodeId, wide: bool, coded: CodedWeights) -> Arc<CodedWeights> {
        let coded = Arc::new(coded);
        self.0.borrow_mut().coded.insert((n, wide), coded.clone());
        coded
    }

    /// The input Gram matrices the memo rounds 16x8 layers against, by node.
    fn grams(&self) -> Arc<HashMap<NodeId, Gram>> {
        self.0.borrow().grams.clone()
    }

    /// Node `n`'s correction, if it has one for `c_out` channels.
    fn correction(&self, n: NodeId, c_out: usize) -> Option<Arc<Correction>> {
        self.0.borrow().corrections.get(&n).filter(|c| c.gain.len() == c_out && c.bias.len() == c_out).cloned()
    }
}

/// How an int8 layer's constants were made, so that `quant::correct` can
/// make them again with each output channel's scale multiplied by a gain
/// and its float bias replaced.
pub struct Correctable {
    /// The layer's node in the graph the quantization was rewritten from.
    pub node: NodeId,
    /// The layer's float output before any fused activation, in the graph
    /// the quantization was rewritten from.
    pub reference: ValueId,
    /// The float bias per output channel (weight-rounding shift included).
    pub bias: Vec<f64>,
    /// The input's scale times each channel's weight scale: the float
    /// value of one unit of the accumulator.
    pub unit: Vec<f64>,
    /// The multipliers and exponents the new constants replace.
    pub multipliers: ValueId,
    pub exponents: ValueId,
    /// Whether the layer is a matrix product (channels last) rather than a
    /// convolution (channels on axis 1).
    pub rows: bool,
    input: (f64, i32, crate::tensor::DType),
    coded: Arc<CodedWeights>,
    s_out: f64,
}

impl Correctable {
    /// The folded bias, multipliers and exponents the rewrite gives the
    /// layer under `correction`.
    pub fn constants(&self, correction: &Correction) -> Result<ConvConstants> {
        conv_constants(self.input, &self.coded.codes, &correction.scales(&self.coded.scales), &correction.bias, self.s_out, ZeroPoint::Folded)
    }
}

/// The smallest weight scale of each output channel whose bias, counted in
/// units of the accumulator (input scale × weight scale), stays below
/// 2^-7 of the accumulator's limit (2^24 for 8-bit codes). A channel whose
/// weights are tiny beside its bias (a bias folded into a convolution
/// whose channel BatchNormalization nearly silenced) would otherwise
/// overflow the accumulator; its weights then get the coarser scale, and
/// the bias still fits.
fn bias_floor(bias: Option<&Tensor>, px: QParams) -> Result<Option<Vec<f32>>> {
    let Some(b) = bias else { return Ok(None) };
    let limit = crate::ops::qint::acc_limit(px.dtype)? as f64 / 128.0;
    Ok(Some(b.to_f64_vec()?.iter().map(|b| (b.abs() / (px.scale as f64 * limit)) as f32).collect()))
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
        let coded = match self.memo.get(n, self.wide, w.len()) {
            Some(coded) => coded,
            None => {
                let wf = w.to_f32()?;
                let means = self.channel_means(x).filter(|_| bias_correction::corrects(&self.src.node(n).op));
                // Error-compensating rounding pays where the weights' rounding
                // is the larger error: with int16 activations, not int8
                // (ARCHITECTURE.md).
                let grams = self.memo.grams();
                let gram = grams.get(&n).filter(|_| self.wide);
                let floor = bias_floor(bias.as_ref(), px)?;
                let (codes, scales) = self.weight_codes(&wf, c_out, scales, gram.map(|g| (g, means.is_some())), floor.as_deref());
                let shift = means.map(|m| bias_correction::shift(&wf, &codes, &scales, group, w.shape().iter().skip(2).product(), m));
                self.memo.keep(n, self.wide, CodedWeights { codes, scales, shift })
            }
        };
        let mut bias_f = match &bias {
            Some(b) => b.to_f64_vec()?,
            None => vec![0.0; c_out],
        };
        if let Some(shift) = &coded.shift {
            bias_f.iter_mut().zip(shift).for_each(|(b, s)| *b += s);
        }
        let correction = self.memo.correction(n, c_out).filter(|_| !self.wide);
        let sw = correction.as_ref().map_or_else(|| coded.scales.clone(), |c| c.scales(&coded.scales));
        let qw = &coded.codes;
        let k = conv_constants((px.scale as f64, px.zero, px.dtype), qw, &sw, correction.as_ref().map_or(&bias_f, |c| &c.bias), po.scale as f64, ZeroPoint::Folded)?;
        let name = self.src.value(target).name.clone();
        let wq = self.constant(format!("{name}_weights"), Tensor::from_vec(w.shape(), qw.clone())?);
        let bq = self.constant(format!("{name}_bias"), k.bias);
        let mq = self.constant(format!("{name}_multipliers"), Tensor::from_vec(&[c_out], k.mult)?);
        let eq = self.constant(format!("{name}_exponents"), Tensor::from_vec(&[c_out], k.exp)?);
        let out = self.fresh(format!("{name}_q"));
        if self.corrects() && !self.wide && correction.is_none() {
            let unit = sw.iter().map(|&s| px.scale as f64 * s as f64).collect();
            let input = (px.scale as f64, px.zero, px.dtype);
            let c = Correctable { node: n, reference: y, bias: bias_f, unit, multipliers: mq, exponents: eq, rows: axes.is_empty(), input, coded: coded.clone(), s_out: po.scale as f64 };
            self.correctable.insert(bq, c);
        }
        let op = IntConv { axes, group, x_zero: px.zero, stage: self.stage(po, lo, hi) };
        self.add(n, "", "IntConv", Op::IntConv(op), &[Some(xq), Some(wq), Some(bq), Some(mq), Some(eq)], &[Some(out)])?;
        self.int.insert(target, (out, po));
        Ok(Plan::Done)
    }

    /// int8 codes and scales of the float weights `wf` (`c_out` rows, one
    /// per output channel): the model's own scales when it carries them
    /// (`scales`, QDQ), else symmetric per channel or per tensor, with the
    /// codes rounded against the input's Gram matrix when there is one
    /// (`quant::gptq`; centered when bias correction takes the mean). No
    /// row's scale is below its `floor` ([`bias_floor`]).
    fn weight_codes(&self, wf: &[f32], c_out: usize, scales: Option<Vec<f32>>, gram: Option<(&Gram, bool)>, floor: Option<&[f32]>) -> (Vec<i8>, Vec<f32>) {
        match scales {
            Some(s) => quantize_weights_with(wf, c_out, &s),
            None => {
                let mut scales = weight_scales(wf, c_out, self.opts.per_tensor);
                if let Some(floor) = floor {
                    scales.iter_mut().zip(floor).for_each(|(s, &f)| *s = s.max(f));
                }
                let compensated = gram.and_then(|(g, centered)| gptq::round(wf, &scales, g, centered, -127.0));
                (compensated.unwrap_or_else(|| symmetric_codes(wf, &scales)), scales)
            }
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
        let (qrows, sw) = self.weight_codes(&rows, c_out, scales, None, None);
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

