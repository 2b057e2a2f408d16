//! The quantizing rewrite: a prepared float graph and calibrated ranges in,
//! a graph of integer operators (`ops::qint`) out, with the numerics of
//! NUMERICS.md. What each node becomes is its operator's rule
//! (`OpDef::quantize`, in its own file under `ops/`); nodes that stay float
//! run between a DequantizeLinear and a QuantizeLinear, and are listed.
//!
//! This file is the driver: activation parameters, the boundaries between
//! codes and float (`as_int`, `as_float`), the fusion of a following Relu or
//! Clip into an output stage, and the order of decisions per node (float
//! inputs, an elementwise chain as one table, then the operator's rule).
//! `cx` gives the rules their vocabulary (`ops::int8_rule::QuantCx`) on the
//! rewriter; `weighted` builds the layers with constant weights, `tables`
//! the lookup tables of one node or of an elementwise chain.

use super::calibrate::{Calibration, Range};
use super::fixed_point::Rounding;
use super::params::QParams;
use super::qdq::Given;
use crate::ir::{Graph, Node, NodeId, TensorType, Value, ValueId};
use crate::ops::int8_rule::{Needs, Plan, Rule};
use crate::ops::qint::{IntConvert, Stage};
use crate::ops::quantize::{DequantizeLinear, QuantizeLinear};
use crate::ops::unary::Kind as UnaryKind;
use crate::ops::{Op, Slots};
use crate::tensor::{DType, Tensor};
use crate::{passes, Error, Result};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

mod cx;
mod tables;
#[cfg(test)]
mod tests;
mod weighted;

pub use weighted::{Correctable, Correction, WeightMemo};

/// Choices of the user (`--per-tensor`, `--rounding`, `--io`).
#[derive(Debug, Clone, Copy)]
pub struct Options {
    pub per_tensor: bool,
    pub rounding: Rounding,
    /// Graph inputs and outputs as int8 codes instead of float.
    pub int8_io: bool,
    /// Cross-layer equalization before calibration (`quant::equalize`).
    pub equalize: bool,
    /// Weight-rounding bias folded into the biases (`quant::bias_correction`).
    pub bias_correction: bool,
    /// Layer-by-layer output correction after calibration (`quant::correct`).
    pub correct_layers: bool,
    /// The weight codes of 16x8 layers rounded against the calibration
    /// inputs (`quant::gptq`) rather than to nearest.
    pub gptq: bool,
}

/// The outcome of cross-layer equalization: the pairs of layers it
/// rescaled and the output SQNR against float on the first `samples`
/// calibration samples without and with it; `kept` when the equalized
/// graph won.
#[derive(Debug, Clone, Copy)]
pub struct Equalization {
    pub pairs: usize,
    pub kept: bool,
    pub sqnr_without: f64,
    pub sqnr_with: f64,
    pub samples: usize,
}

impl std::fmt::Display for Equalization {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(
            f,
            "cross-layer equalization {} ({} pairs of layers; output SQNR on {} calibration samples {:.1} dB with, {:.1} dB without)",
            if self.kept { "applied" } else { "not applied" },
            self.pairs,
            self.samples,
            self.sqnr_with,
            self.sqnr_without
        )
    }
}

/// The quantized graph and what the user needs to know about it.
pub struct Quantized {
    pub graph: Graph,
    /// Parameters of every int8 graph input and output, by name.
    pub io_params: Vec<(String, QParams)>,
    /// Nodes left in float: (node name, op type, reason).
    pub float_nodes: Vec<(String, String, String)>,
    /// Nodes computed in 16x8: (node name, op type, reason).
    pub wide_nodes: Vec<(String, String, String)>,
    /// What cross-layer equalization found and whether it was kept.
    pub equalization: Option<Equalization>,
    /// Pairs of layers into a depthwise one whose channels between were
    /// equalized by activation ranges (`quant::equalize`).
    pub depthwise_equalized: usize,
    /// What `--quantize auto` kept in float and the SQNR it reached.
    pub mixed: Option<super::mixed::Mixed>,
    /// Whether `--calibrate auto`'s ranges beat minmax at the outputs.
    pub range_check: Option<super::RangeCheck>,
    /// Whether the layer-by-layer output correction was kept.
    pub correction: Option<super::CorrectionCheck>,
    /// Every quantized value: (source value, its codes in `graph`, parameters).
    pub int_values: Vec<(ValueId, ValueId, QParams)>,
    /// The float graph `graph` was rewritten from (BatchNormalization
    /// folded, layers equalized): where the source values of `int_values` live.
    pub float: Graph,
    /// The calibrated int8 layers `quant::correct` may adjust, by the
    /// value of their folded bias in `graph`.
    pub correctable: HashMap<ValueId, weighted::Correctable>,
}

/// Where activation parameters come from.
pub enum Source<'a> {
    /// Calibrated ranges of every float value.
    Calibrated(&'a Calibration),
    /// The parameters a QDQ model carries (values without them stay float).
    Given(&'a Given),
}

/// A node's precision other than int8, chosen by `--quantize auto`, with
/// the reason the summary and report show.
#[derive(Debug, Clone, PartialEq)]
pub enum Precision {
    /// 16x8: int16 activations (inputs and outputs), int8 weights.
    Wide(String),
    /// Float between DequantizeLinear and QuantizeLinear.
    Float(String),
}

/// The nodes whose precision is not int8.
pub type Choices = HashMap<NodeId, Precision>;

/// Quantizes the prepared float graph `src` with parameters from `source`.
pub fn quantize(src: &Graph, source: &Source, opts: Options) -> Result<Quantized> {
    quantize_choosing(src, source, opts, &Choices::new(), &WeightMemo::default())
}

/// As [`quantize`], with the nodes of `choices` in 16x8 or float (the mixed
/// precision of `--quantize auto`). 16x8 applies to calibrated ranges only.
/// `memo` keeps the weight codes of every rewrite of `src` from `source`
/// with `opts` for the next.
pub fn quantize_choosing(src: &Graph, source: &Source, opts: Options, choices: &Choices, memo: &WeightMemo) -> Result<Quantized> {
    let mut r = Rewriter {
        src,
        source,
        opts,
        choices,
        memo,
        wide: false,
        converted: HashMap::new(),
        dst: Graph::new(src.name.clone()),
        float: HashMap::new(),
        int: HashMap::new(),
        consumed: HashSet::new(),
        float_nodes: Vec::new(),
        wide_nodes: Vec::new(),
        order: Vec::new(),
        correctable: HashMap::new(),
    };
    let mut io_params = Vec::new();
    for &v in &src.inputs {
        let value = src.value(v);
        let ty = src.ty(v)?.clone();
        if opts.int8_io && ty.dtype == DType::F32 {
            let p = r.params(v)?;
            let id = r.dst.add_value(Value { name: value.name.clone(), ty: Some(TensorType::new(p.dtype, ty.shape)), constant: None });
            r.int.insert(v, (id, p));
            r.dst.io_quant.insert(id, (p.scale, p.zero));
            io_params.push((value.name.clone(), p));
        } else {
            let id = r.dst.add_value(Value { name: value.name.clone(), ty: Some(ty), constant: None });
            r.float.insert(v, id);
        }
        r.dst.inputs.push(r.float.get(&v).or(r.int.get(&v).map(|x| &x.0)).copied().ok_or_else(|| Error::Op("input".into()))?);
    }
    r.order = src.topo_order()?;
    for n in r.order.clone() {
        if !r.consumed.contains(&n) {
            r.node(n).map_err(|e| e.at_node(&src.node_ref(n)))?;
        }
    }
    for &v in &src.outputs {
        let name = src.value(v).name.clone();
        let id = if opts.int8_io && src.ty(v)?.dtype == DType::F32 {
            let (id, p) = r.as_int(v)?;
            r.dst.io_quant.insert(id, (p.scale, p.zero));
            io_params.push((name.clone(), p));
            id
        } else {
            r.as_float(v)?
        };
        r.dst.value_mut(id).name = name;
        r.dst.outputs.push(id);
    }
    let mut int_values: Vec<(ValueId, ValueId, QParams)> = r.int.iter().map(|(&s, &(d, p))| (s, d, p)).collect();
    int_values.sort_by_key(|&(s, _, _)| s);
    let mut graph = r.dst;
    passes::infer_shapes::run(&mut graph)?;
    let wide_nodes = r.wide_nodes;
    Ok(Quantized { graph, io_params, float_nodes: r.float_nodes, wide_nodes, equalization: None, depthwise_equalized: 0, mixed: None, range_check: None, correction: None, int_values, float: src.clone(), correctable: r.correctable })
}

struct Rewriter<'a> {
    src: &'a Graph,
    source: &'a Source<'a>,
    opts: Options,
    /// Nodes in 16x8 or kept in float whatever their rule.
    choices: &'a Choices,
    memo: &'a WeightMemo,
    /// Whether the node being rewritten is 16x8: its activations' parameters
    /// and codes are int16 (`params`, `as_int`).
    wide: bool,
    dst: Graph,
    /// Source values available as float in `dst`.
    float: HashMap<ValueId, ValueId>,
    /// Source values available as codes in `dst`, with their parameters:
    /// the codes their producer computes.
    int: HashMap<ValueId, (ValueId, QParams)>,
    /// Codes of the other width (`wide`) made for readers of another
    /// precision than the producer (IntConvert).
    converted: HashMap<(ValueId, bool), (ValueId, QParams)>,
    /// Activation nodes fused into the operator before them.
    consumed: HashSet<NodeId>,
    float_nodes: Vec<(String, String, String)>,
    wide_nodes: Vec<(String, String, String)>,
    /// The source's topological order.
    order: Vec<NodeId>,
    correctable: HashMap<ValueId, weighted::Correctable>,
}

impl Rewriter<'_> {
    /// Calibrated parameters of a source value (constants: their own
    /// range), int16 ones in a 16x8 node.
    fn params(&self, v: ValueId) -> Result<QParams> {
        let of_range = |r: Range| if self.wide { QParams::for_range_16(r) } else { QParams::for_range(r) };
        if let Some(c) = &self.src.value(v).constant {
            let values = c.to_f64_vec()?;
            let (lo, hi) = values.iter().fold((0f64, 0f64), |(lo, hi), &x| (lo.min(x), hi.max(x)));
            return Ok(of_range(Range { lo: lo as f32, hi: hi as f32 }));
        }
        let found = match self.source {
            Source::Calibrated(c) if self.wide => c.wide_ranges.get(&v).or(c.ranges.get(&v)).map(|&r| of_range(r)),
            Source::Calibrated(c) => c.ranges.get(&v).map(|&r| of_range(r)),
            Source::Given(given) => given.activations.get(&v).copied(),
        };
        found.ok_or_else(|| Error::Op(format!("no quantization parameters for '{}'", self.src.value(v).name)))
    }

    /// The per-channel means of `x` over the calibration data, when bias
    /// correction is on (`quant::bias_correction`).
    fn channel_means(&self, x: ValueId) -> Option<&[f64]> {
        match self.source {
            Source::Calibrated(c) if self.opts.bias_correction => c.channel_means.get(&x).map(Vec::as_slice),
            _ => None,
        }
    }

    /// Whether int8 layers are recorded for `quant::correct`: with
    /// calibrated ranges, when asked for.
    fn corrects(&self) -> bool {
        matches!(self.source, Source::Calibrated(_)) && self.opts.correct_layers
    }

    /// The parameters `as_int(v)` gives `v`, without quantizing it yet.
    fn code_params(&self, v: ValueId) -> Result<QParams> {
        match self.codes(v) {
            Some((_, p)) => Ok(p),
            None => self.params(v),
        }
    }

    /// The codes of `v` of the current node's width, if there are any yet.
    fn codes(&self, v: ValueId) -> Option<(ValueId, QParams)> {
        match self.int.get(&v) {
            Some(&(id, p)) if self.same_width(p) => Some((id, p)),
            _ => self.converted.get(&(v, self.wide)).copied(),
        }
    }

    /// Whether codes with parameters `p` have the current node's width
    /// (int16 in a 16x8 node, 8-bit otherwise).
    fn same_width(&self, p: QParams) -> bool {
        crate::ops::qint::is_wide(p.dtype).is_ok_and(|wide| wide == self.wide)
    }

    /// The parameters of `y`'s value after a fusable Relu or Clip, without
    /// consuming it (`output_stage` does, once the rewrite is decided).
    fn stage_params(&self, y: ValueId) -> Result<QParams> {
        match self.fusable_activation(y) {
            Some((_, out)) => self.params(out),
            None => self.params(y),
        }
    }

    /// Whether `v` is a constant, already has codes, or has activation parameters.
    fn known(&self, v: ValueId) -> bool {
        self.src.value(v).constant.is_some() || self.int.contains_key(&v) || self.params(v).is_ok()
    }

    /// Whether the node's activations have parameters: every non-constant
    /// float input, and, when `needs` says so, the output or the output of
    /// its single consumer (a fused activation or bias).
    fn has_params(&self, n: NodeId, needs: Needs) -> bool {
        let ins_ok = self.src.node_inputs(n).into_iter().flatten().filter(|&v| self.is_float_activation(Some(v))).all(|v| self.known(v));
        let inherits = needs == Needs::Inputs;
        let out_ok = |v: ValueId| {
            self.known(v)
                || matches!(self.src.consumers(v)[..], [(c, _)] if self.src.node_outputs(c).first().copied().flatten().is_some_and(|o| self.known(o)))
        };
        ins_ok && (inherits || self.src.node_outputs(n).first().copied().flatten().is_some_and(out_ok))
    }

    /// Scales of the weight input `w` (a source value) along `axis`, when
    /// the model carries them (QDQ import).
    fn given_weight_scales(&self, w: Option<ValueId>, axis: usize) -> Option<Vec<f32>> {
        let Source::Given(given) = self.source else { return None };
        let ws = given.weights.get(&w?)?;
        (ws.axis == axis || ws.scales.len() == 1).then(|| ws.scales.clone())
    }

    fn constant(&mut self, name: String, t: Tensor) -> ValueId {
        self.dst.add_value(Value { name, ty: Some(TensorType::of(&t)), constant: Some(Arc::new(t)) })
    }

    fn fresh(&mut self, name: String) -> ValueId {
        self.dst.add_value(Value { name, ty: None, constant: None })
    }

    fn add(&mut self, like: NodeId, suffix: &str, op_type: &str, op: Op, inputs: &[Option<ValueId>], outputs: &[Option<ValueId>]) -> Result<()> {
        let n = self.src.node(like);
        let node = Node { name: format!("{}{suffix}", n.name), op_type: op_type.into(), opset: n.opset, op };
        self.dst.add_node(node, inputs, outputs).map(|_| ())
    }

    /// The source value as float in `dst` (dequantized on first need).
    fn as_float(&mut self, v: ValueId) -> Result<ValueId> {
        if let Some(&id) = self.float.get(&v) {
            return Ok(id);
        }
        let value = self.src.value(v).clone();
        let id = if value.constant.is_some() {
            self.dst.add_value(value.clone())
        } else {
            let &(q, p) = self.int.get(&v).ok_or_else(|| Error::Op(format!("'{}' has not been computed", value.name)))?;
            let scale = self.constant(format!("{}_scale", value.name), Tensor::scalar(p.scale));
            let zero = self.constant(format!("{}_zero_point", value.name), zero_tensor(p));
            let out = self.fresh(value.name.clone());
            let producer = self.src.producer(v).map(|(n, _)| n);
            let node = Node {
                name: format!("{}_dequantize", value.name),
                op_type: "DequantizeLinear".into(),
                opset: producer.map_or(21, |n| self.src.node(n).opset),
                op: Op::DequantizeLinear(DequantizeLinear::per_tensor()),
            };
            self.dst.add_node(node, &[Some(q), Some(scale), Some(zero)], &[Some(out)])?;
            out
        };
        self.float.insert(v, id);
        Ok(id)
    }

    /// The source value as codes of the current node's width in `dst`
    /// (quantized, or converted from the other width, on first need).
    fn as_int(&mut self, v: ValueId) -> Result<(ValueId, QParams)> {
        if let Some(x) = self.codes(v) {
            return Ok(x);
        }
        if let Some(&from) = self.int.get(&v) {
            let x = self.convert(v, from)?;
            self.converted.insert((v, self.wide), x);
            return Ok(x);
        }
        let p = self.params(v)?;
        let name = self.src.value(v).name.clone();
        let id = if let Some(c) = self.src.value(v).constant.clone() {
            let codes: Vec<i32> = c.to_f64_vec()?.into_iter().map(|x| p.quantize(x)).collect();
            self.constant(format!("{name}_q"), crate::ops::qint::codes(p.dtype, c.shape(), codes)?)
        } else {
            let f = self.as_float(v)?;
            self.quantize_linear(&name, f, p)?
        };
        self.int.insert(v, (id, p));
        Ok((id, p))
    }

    /// The codes `from` of `v` as codes of the current node's width: one
    /// IntConvert, or through float when the scales are too far apart.
    fn convert(&mut self, v: ValueId, (q, from): (ValueId, QParams)) -> Result<(ValueId, QParams)> {
        let to = self.params(v)?;
        let name = self.src.value(v).name.clone();
        let op = IntConvert::for_scales(to.dtype, (from.dtype, from.scale as f64, from.zero), (to.scale as f64, to.zero), to.code_range(), self.opts.rounding)?;
        let Some(op) = op else {
            let f = self.as_float(v)?;
            let out = self.quantize_linear(&name, f, to)?;
            return Ok((out, to));
        };
        let out = self.fresh(format!("{name}_{}", to.dtype));
        let node = Node { name: format!("{name}_to_{}", to.dtype), op_type: "IntConvert".into(), opset: 21, op: Op::IntConvert(op) };
        self.dst.add_node(node, &[Some(q)], &[Some(out)])?;
        Ok((out, to))
    }

    /// A QuantizeLinear of the float value `f` (of source value `name`) with `p`.
    fn quantize_linear(&mut self, name: &str, f: ValueId, p: QParams) -> Result<ValueId> {
        let scale = self.constant(format!("{name}_scale"), Tensor::scalar(p.scale));
        let zero = self.constant(format!("{name}_zero_point"), zero_tensor(p));
        let out = self.fresh(format!("{name}_q"));
        let node = Node { name: format!("{name}_quantize"), op_type: "QuantizeLinear".into(), opset: 21, op: Op::QuantizeLinear(QuantizeLinear::per_tensor()) };
        self.dst.add_node(node, &[Some(f), Some(scale), Some(zero)], &[Some(out)])?;
        Ok(out)
    }

    /// Input 0 of node `n`, which every rule reads.
    fn first_input(&self, n: NodeId) -> Result<ValueId> {
        self.src.node_inputs(n).req(0)
    }

    /// Output 0 of node `n`, which every rule computes.
    fn first_output(&self, n: NodeId) -> Result<ValueId> {
        self.src.node_outputs(n).first().copied().flatten().ok_or_else(|| Error::Op("output 0 is missing".into()))
    }

    fn is_float_activation(&self, v: Option<ValueId>) -> bool {
        v.is_some_and(|v| self.src.value(v).constant.is_none() && self.src.ty(v).is_ok_and(|t| t.dtype == DType::F32))
    }

    /// Rewrites node `n`: copied as it is when its first input is not a
    /// float activation; else one table when it starts an elementwise chain
    /// whose activations have parameters; else as its operator's rule says.
    fn node(&mut self, n: NodeId) -> Result<()> {
        let ins = self.src.node_inputs(n);
        self.wide = matches!(self.source, Source::Calibrated(_)) && matches!(self.choices.get(&n), Some(Precision::Wide(_)));
        let plan = if let Some(Precision::Float(reason)) = self.choices.get(&n) {
            Plan::Float(reason.clone())
        } else if !self.is_float_activation(ins.first().copied().flatten()) {
            Plan::Float(String::new())
        } else if self.fed_by_float(n)? {
            Plan::Float(FED_BY_FLOAT.into())
        } else if let Some((nodes, y)) = self.table_region(n) {
            self.lut_of(n, &nodes, y)?
        } else {
            let src = self.src;
            src.node(n).op.quantize(Rule::new(&mut cx::NodeCx { r: self, n }))?
        };
        let done = match plan {
            Plan::Done => {
                if let (true, Some(Precision::Wide(reason))) = (self.wide, self.choices.get(&n)) {
                    let node = self.src.node(n);
                    self.wide_nodes.push((node.name.clone(), node.op_type.clone(), reason.clone()));
                }
                Ok(())
            }
            Plan::Float(reason) => self.keep_float(n, reason),
        };
        self.wide = false;
        done
    }

    /// Whether calibrated node `n` multiplies no weights and reads only
    /// activations computed in float by nodes before it: it then stays
    /// float and its output is quantized where an integer operator reads
    /// it. Quantizing before it would lose codes to no purpose: before a
    /// lookup table (a square root of a power spectrum), a sum or a reshape
    /// the codes cost precision and save no multiply-accumulates. Graph
    /// inputs are quantized where they enter, as with `--io int8`.
    fn fed_by_float(&self, n: NodeId) -> Result<bool> {
        if !matches!(self.source, Source::Calibrated(_)) {
            return Ok(false);
        }
        let ins = self.src.node_inputs(n);
        let activations: Vec<ValueId> = ins.iter().copied().filter(|&v| self.is_float_activation(v)).flatten().collect();
        if activations.is_empty() {
            return Ok(false);
        }
        if activations.iter().any(|&v| self.int.contains_key(&v) || !self.float.contains_key(&v) || self.src.producer(v).is_none()) {
            return Ok(false);
        }
        Ok(self.src.node_macs(n) == 0)
    }

    /// The precision `choices` gives node `m` is the current node's: a
    /// fused or folded neighbour must share it.
    fn same_precision(&self, m: NodeId) -> bool {
        match self.choices.get(&m) {
            Some(Precision::Float(_)) => false,
            Some(Precision::Wide(_)) => self.wide,
            None => !self.wide,
        }
    }

    /// Copies the node as it is, on float inputs.
    fn keep_float(&mut self, n: NodeId, reason: String) -> Result<()> {
        let node = self.src.node(n).clone();
        let mut inputs = Vec::new();
        for v in self.src.node_inputs(n) {
            inputs.push(match v {
                Some(v) if self.int.contains_key(&v) || self.float.contains_key(&v) || self.src.value(v).constant.is_some() => Some(self.as_float(v)?),
                Some(v) => return Err(Error::Op(format!("'{}' has not been computed", self.src.value(v).name))),
                None => None,
            });
        }
        let mut outputs = Vec::new();
        let mut computes_floats = false;
        for v in self.src.node_outputs(n) {
            outputs.push(match v {
                Some(v) => {
                    computes_floats |= self.src.ty(v).is_ok_and(|t| t.dtype.is_float());
                    let id = self.fresh(self.src.value(v).name.clone());
                    self.float.insert(v, id);
                    Some(id)
                }
                None => None,
            });
        }
        if computes_floats && !reason.is_empty() {
            self.float_nodes.push((node.name.clone(), node.op_type.clone(), reason));
        }
        self.dst.add_node(node, &inputs, &outputs).map(|_| ())
    }

    /// The single consumer of `v` if it is a Relu or Clip that can be
    /// fused (of the current node's precision), with its output value.
    fn fusable_activation(&self, v: ValueId) -> Option<(NodeId, ValueId)> {
        clamp_consumer(self.src, v).filter(|&(c, _)| self.same_precision(c))
    }

    /// The output of `v`'s producer: where it goes, its parameters and the
    /// clamp of a fused Relu or Clip (consumed here).
    fn output_stage(&mut self, v: ValueId) -> Result<(ValueId, QParams, i32, i32)> {
        if let Some((act, out)) = self.fusable_activation(v) {
            let p = self.params(out)?;
            let (lo, hi) = self.clamp_of(act, p)?;
            self.consumed.insert(act);
            return Ok((out, p, lo, hi));
        }
        let p = self.params(v)?;
        let (lo, hi) = p.code_range();
        Ok((v, p, lo, hi))
    }

    /// The code range a clamp-like activation leaves under output params `p`:
    /// the activation of ±1e30, quantized.
    fn clamp_of(&self, act: NodeId, p: QParams) -> Result<(i32, i32)> {
        let probe = Tensor::from_vec(&[2], vec![-1e30f32, 1e30])?;
        let y = self.eval_unary(act, probe)?.to_f64_vec()?;
        let [lo, hi] = y[..] else { return Err(Error::Op(format!("the activation of two values gave {}", y.len()))) };
        Ok((p.quantize(lo), p.quantize(hi)))
    }

    fn stage(&self, p: QParams, lo: i32, hi: i32) -> Stage {
        Stage { zero: p.zero, min: lo, max: hi, rounding: self.opts.rounding }
    }

    /// Adds `op` computing the source value `target` as codes with `p`.
    fn emit(&mut self, n: NodeId, target: ValueId, p: QParams, op_type: &str, op: Op, inputs: &[Option<ValueId>]) -> Result<Plan> {
        let out = self.fresh(format!("{}_q", self.src.value(target).name));
        self.add(n, "", op_type, op, inputs, &[Some(out)])?;
        self.int.insert(target, (out, p));
        Ok(Plan::Done)
    }

    /// Data movement (and max pooling) on codes: outputs keep the input's
    /// parameters; other inputs must be constants.
    fn passthrough(&mut self, n: NodeId) -> Result<Plan> {
        let ins = self.src.node_inputs(n);
        if ins.iter().skip(1).flatten().any(|&v| self.src.value(v).constant.is_none()) {
            return Ok(Plan::Float("shape inputs known only at run time".into()));
        }
        let (xq, px) = self.as_int(ins.req(0)?)?;
        let mut inputs = vec![Some(xq)];
        for &v in ins.iter().skip(1) {
            inputs.push(match v {
                Some(v) => Some(self.as_float(v)?),
                None => None,
            });
        }
        let mut outputs = Vec::new();
        for v in self.src.node_outputs(n) {
            outputs.push(match v {
                Some(v) => {
                    let id = self.fresh(format!("{}_q", self.src.value(v).name));
                    self.int.insert(v, (id, px));
                    Some(id)
                }
                None => None,
            });
        }
        let node = self.src.node(n).clone();
        self.dst.add_node(node, &inputs, &outputs).map(|_| Plan::Done)
    }
}

/// The single reader of `v` when it is a Relu, or a Clip with constant
/// bounds, and `v` is not a graph output: an activation an integer
/// operator computes in its output stage. Its node and output.
pub(crate) fn clamp_consumer(g: &Graph, v: ValueId) -> Option<(NodeId, ValueId)> {
    if g.outputs.contains(&v) {
        return None;
    }
    let [(c, 0)] = g.consumers(v)[..] else { return None };
    let is_clamp = match &g.node(c).op {
        Op::Unary(u) => u.kind == UnaryKind::Relu,
        Op::Clip(_) => g.node_inputs(c).iter().skip(1).flatten().all(|&b| g.value(b).constant.is_some()),
        _ => false,
    };
    let out = g.node_outputs(c).first().copied().flatten()?;
    is_clamp.then_some((c, out))
}

/// Why a node that [`Rewriter::fed_by_float`] keeps is float.
const FED_BY_FLOAT: &str = "reads float values and multiplies no weights: computed in float, quantized where a layer reads it";

fn zero_tensor(p: QParams) -> Tensor {
    match p.dtype {
        DType::U8 => Tensor::scalar(p.zero as u8),
        DType::I16 => Tensor::scalar(p.zero as i16),
        _ => Tensor::scalar(p.zero as i8),
    }
}

