//! The quantizing rewrite: a prepared float graph and calibrated ranges in,
//! a graph of integer operators (`ops::qint`) out, with the numerics of
//! NUMERICS.md. Conv, Gemm and MatMul with constant weights become IntConv
//! (absorbing a following bias Add and a Relu or Clip); Add, Sub and Mul
//! become IntBinary; Mul and Div by a positive constant become IntRescale;
//! unary activations become lookup tables; pools, Concat and data
//! movement run on the codes. ConvTranspose becomes IntConvTranspose,
//! ReduceMean IntReduceMean; Pad and Resize (nearest, and bilinear as
//! IntResize) run on the codes; LayerNormalization becomes IntLayerNorm.
//! Everything else stays float between a DequantizeLinear and a
//! QuantizeLinear, and is listed. This file holds
//! the rewriter and its dispatch; `weighted` the operators with constant
//! weights, `tables` the lookup tables, `spatial` Pad, Resize, ReduceMean
//! and average pooling, `attention` the products of two activations and
//! Softmax, `normalization` LayerNormalization.

use super::calibrate::{Calibration, Range};
use super::fixed_point::{quantize_multiplier, Multiplier, Rounding};
use super::params::QParams;
use super::qdq::Given;
use crate::ir::{Graph, Node, NodeId, TensorType, Value, ValueId};
use crate::ops::binary::Kind as BinKind;
use crate::ops::pool::{global::Kind as GlobalKind, Kind as PoolKind};
use crate::ops::qint::{BinaryKind, ADD_SHIFT, IntBinary, IntRescale, Stage};
use crate::ops::quantize::{DequantizeLinear, QuantizeLinear};
use crate::ops::spatial::Axis;
use crate::ops::unary::Kind as UnaryKind;
use crate::ops::Op;
use crate::tensor::{DType, Tensor};
use crate::{passes, Error, Result};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

mod attention;
mod normalization;
mod spatial;
mod tables;
mod weighted;

use weighted::{scale_tensor, transpose2};

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
}

/// The outcome of cross-layer equalization: the pairs of layers it
/// rescaled and the output SQNR against float on the calibration data
/// without and with it; `kept` when the equalized graph won.
#[derive(Debug, Clone, Copy)]
pub struct Equalization {
    pub pairs: usize,
    pub kept: bool,
    pub sqnr_without: f64,
    pub sqnr_with: f64,
}

impl std::fmt::Display for Equalization {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(
            f,
            "cross-layer equalization {} ({} pairs of layers; output SQNR on the calibration data {:.1} dB with, {:.1} dB without)",
            if self.kept { "applied" } else { "not applied" },
            self.pairs,
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
    /// What cross-layer equalization found and whether it was kept.
    pub equalization: Option<Equalization>,
    /// Every quantized value: (source value, its codes in `graph`, parameters).
    pub int_values: Vec<(ValueId, ValueId, QParams)>,
    /// The float graph `graph` was rewritten from (BatchNormalization
    /// folded, layers equalized): where the source values of `int_values` live.
    pub float: Graph,
}

/// Where activation parameters come from.
pub enum Source<'a> {
    /// Calibrated ranges of every float value.
    Calibrated(&'a Calibration),
    /// The parameters a QDQ model carries (values without them stay float).
    Given(&'a Given),
}

/// Quantizes the prepared float graph `src` with parameters from `source`.
pub fn quantize(src: &Graph, source: &Source, opts: Options) -> Result<Quantized> {
    let mut r = Rewriter {
        src,
        source,
        opts,
        dst: Graph::new(src.name.clone()),
        float: HashMap::new(),
        int: HashMap::new(),
        consumed: HashSet::new(),
        float_nodes: Vec::new(),
        order: Vec::new(),
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
    Ok(Quantized { graph, io_params, float_nodes: r.float_nodes, equalization: None, int_values, float: src.clone() })
}

struct Rewriter<'a> {
    src: &'a Graph,
    source: &'a Source<'a>,
    opts: Options,
    dst: Graph,
    /// Source values available as float in `dst`.
    float: HashMap<ValueId, ValueId>,
    /// Source values available as codes in `dst`, with their parameters.
    int: HashMap<ValueId, (ValueId, QParams)>,
    /// Activation nodes fused into the operator before them.
    consumed: HashSet<NodeId>,
    float_nodes: Vec<(String, String, String)>,
    /// The source's topological order.
    order: Vec<NodeId>,
}

/// What the rewrite of one node decided.
enum Plan {
    Done,
    /// Keep the node in float, for this reason.
    Float(String),
}

impl Rewriter<'_> {
    /// Calibrated parameters of a source value (constants: their own range).
    fn params(&self, v: ValueId) -> Result<QParams> {
        if let Some(c) = &self.src.value(v).constant {
            let values = c.to_f64_vec()?;
            let (lo, hi) = values.iter().fold((0f64, 0f64), |(lo, hi), &x| (lo.min(x), hi.max(x)));
            return Ok(QParams::for_range(Range { lo: lo as f32, hi: hi as f32 }));
        }
        let found = match self.source {
            Source::Calibrated(c) => c.ranges.get(&v).map(|&r| QParams::for_range(r)),
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

    /// The parameters `as_int(v)` gives `v`, without quantizing it yet.
    fn code_params(&self, v: ValueId) -> Result<QParams> {
        match self.int.get(&v) {
            Some(&(_, p)) => Ok(p),
            None => self.params(v),
        }
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
    /// input, and the output (or, for operators that keep their input's
    /// parameters, nothing more), or the output of its single consumer
    /// (a fused activation or bias).
    fn has_params(&self, n: NodeId) -> bool {
        let ins_ok = self.src.node_inputs(n).into_iter().flatten().filter(|&v| self.is_float_activation(Some(v))).all(|v| self.known(v));
        let inherits = matches!(
            self.src.node(n).op,
            Op::Pool(_) | Op::GlobalPool(_) | Op::Reshape(_) | Op::Flatten(_) | Op::Transpose(_) | Op::Squeeze(_) | Op::Slice(_)
                | Op::Split(_) | Op::Identity(_) | Op::DepthSpace(_) | Op::Expand(_) | Op::Tile(_)
                | Op::Pad(_) | Op::Resize(_)
        );
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

    /// The source value as codes in `dst` (quantized on first need).
    fn as_int(&mut self, v: ValueId) -> Result<(ValueId, QParams)> {
        if let Some(&x) = self.int.get(&v) {
            return Ok(x);
        }
        let p = self.params(v)?;
        let name = self.src.value(v).name.clone();
        let id = if let Some(c) = self.src.value(v).constant.clone() {
            let codes: Vec<i32> = c.to_f64_vec()?.into_iter().map(|x| p.quantize(x)).collect();
            self.constant(format!("{name}_q"), crate::ops::qint::codes(p.dtype, c.shape(), codes)?)
        } else {
            let f = self.as_float(v)?;
            let scale = self.constant(format!("{name}_scale"), Tensor::scalar(p.scale));
            let zero = self.constant(format!("{name}_zero_point"), zero_tensor(p));
            let out = self.fresh(format!("{name}_q"));
            let node = Node { name: format!("{name}_quantize"), op_type: "QuantizeLinear".into(), opset: 21, op: Op::QuantizeLinear(QuantizeLinear::per_tensor()) };
            self.dst.add_node(node, &[Some(f), Some(scale), Some(zero)], &[Some(out)])?;
            out
        };
        self.int.insert(v, (id, p));
        Ok((id, p))
    }

    fn is_float_activation(&self, v: Option<ValueId>) -> bool {
        v.is_some_and(|v| self.src.value(v).constant.is_none() && self.src.ty(v).is_ok_and(|t| t.dtype == DType::F32))
    }

    fn node(&mut self, n: NodeId) -> Result<()> {
        let ins = self.src.node_inputs(n);
        let plan = if !self.is_float_activation(ins.first().copied().flatten()) {
            Plan::Float(String::new())
        } else if !self.has_params(n) {
            Plan::Float("not quantized in the model".into())
        } else {
            self.integer(n)?
        };
        match plan {
            Plan::Done => Ok(()),
            Plan::Float(reason) => self.keep_float(n, reason),
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

    /// Rewrites a node whose first input is a float activation.
    fn integer(&mut self, n: NodeId) -> Result<Plan> {
        let node = self.src.node(n);
        let ins = self.src.node_inputs(n);
        let outs = self.src.node_outputs(n);
        let constant = |i: usize| ins.get(i).copied().flatten().and_then(|v| self.src.value(v).constant.clone());
        if let Some((nodes, y)) = self.elementwise_region(n, &self.order) {
            if self.known(y) {
                return self.lut_of(n, &nodes, y);
            }
        }
        match &node.op {
            Op::Conv(c) => {
                let (Some(w), x) = (constant(1), ins[0].unwrap()) else { return Ok(Plan::Float("weights are not constant".into())) };
                let xs = self.src.ty(x)?.shape.as_fixed().unwrap_or_default();
                if xs.len() > 4 {
                    return Ok(Plan::Float("integer convolutions cover 1-D and 2-D".into()));
                }
                let bias = match ins.get(2).copied().flatten() {
                    Some(_) if constant(2).is_none() => return Ok(Plan::Float("the bias is not constant".into())),
                    _ => constant(2),
                };
                let axes = c.window.resolve(&xs[2..], &w.shape()[2..])?;
                let scales = self.given_weight_scales(ins[1], 0);
                self.conv(n, x, &w, bias.as_deref(), axes, c.group, scales)
            }
            Op::Gemm(g) => {
                let (Some(b), x) = (constant(1), ins[0].unwrap()) else { return Ok(Plan::Float("B is not constant".into())) };
                if g.trans_a {
                    return Ok(Plan::Float("transA".into()));
                }
                let bt = if g.trans_b { b.cast(DType::F32)? } else { transpose2(&b)? };
                let w = scale_tensor(&bt, g.alpha)?;
                let n_out = w.shape()[0];
                let bias = match constant(2) {
                    None if ins.get(2).copied().flatten().is_some() => return Ok(Plan::Float("C is not constant".into())),
                    None => None,
                    Some(c) if c.len() == n_out || c.len() == 1 => {
                        let v = c.to_f64_vec()?;
                        let full: Vec<f32> = (0..n_out).map(|i| (g.beta * v[if v.len() == 1 { 0 } else { i }]) as f32).collect();
                        Some(Tensor::from_vec(&[n_out], full)?)
                    }
                    Some(_) => return Ok(Plan::Float("C is not a vector over N".into())),
                };
                let scales = self.given_weight_scales(ins[1], if g.trans_b { 0 } else { 1 });
                self.conv(n, x, &w, bias.as_ref(), Vec::new(), 1, scales)
            }
            Op::MatMul(_) => {
                let (Some(b), x) = (constant(1), ins[0].unwrap()) else { return self.activation_matmul(n) };
                if b.rank() != 2 {
                    return Ok(Plan::Float("B is not a matrix".into()));
                }
                let w = transpose2(&b)?;
                let scales = self.given_weight_scales(ins[1], 1);
                self.conv(n, x, &w, None, Vec::new(), 1, scales)
            }
            Op::Binary(b) if matches!(b.kind, BinKind::Add | BinKind::Sub | BinKind::Mul | BinKind::Div) => self.binary(n, b.kind),
            Op::Unary(u) if !matches!(u.kind, UnaryKind::IsInf { .. } | UnaryKind::IsNaN | UnaryKind::BitwiseNot) => self.lut(n),
            Op::Clip(_) => self.lut(n),
            Op::Pool(p) => {
                if outs.get(1).copied().flatten().is_some() {
                    return Ok(Plan::Float("MaxPool indices".into()));
                }
                if matches!(p.kind, PoolKind::Max { .. }) {
                    return self.passthrough(n);
                }
                let PoolKind::Average { count_include_pad } = p.kind else { return Ok(Plan::Float("LpPool".into())) };
                let x = ins[0].unwrap();
                let xs = self.src.ty(x)?.shape.as_fixed().unwrap_or_default();
                let kernel = p.window.kernel_shape.clone().unwrap_or_default();
                let axes = p.window.resolve(&xs[2..], &kernel)?;
                if axes.is_empty() || axes.len() > 2 || axes.iter().any(|a| a.dilation != 1) || (p.window.ceil_mode && count_include_pad) {
                    return Ok(Plan::Float("integer average pooling covers 1-D and 2-D windows without dilation".into()));
                }
                self.avg_pool(n, axes, count_include_pad)
            }
            Op::GlobalPool(p) => match p.kind {
                GlobalKind::Max => self.passthrough(n),
                GlobalKind::Average => {
                    let xs = self.src.ty(ins[0].unwrap())?.shape.as_fixed().unwrap_or_default();
                    if xs.len() < 3 || xs.len() > 4 {
                        return Ok(Plan::Float("integer average pooling covers 1-D and 2-D".into()));
                    }
                    let axes = xs[2..]
                        .iter()
                        .map(|&d| Axis { input: d, kernel: d, stride: 1, dilation: 1, pad_begin: 0, pad_end: 0, output: 1 })
                        .collect();
                    self.avg_pool(n, axes, false)
                }
                GlobalKind::Lp(_) => Ok(Plan::Float("GlobalLpPool".into())),
            },
            Op::Softmax(s) if s.kind == crate::ops::softmax::Kind::Softmax => {
                let s = s.clone();
                self.softmax(n, &s)
            }
            Op::LayerNorm(l) => {
                let l = l.clone();
                self.layer_norm(n, &l)
            }
            Op::Concat(_) => self.concat(n),
            Op::ConvTranspose(ct) => {
                let (Some(w), x) = (constant(1), ins[0].unwrap()) else { return Ok(Plan::Float("weights are not constant".into())) };
                let xs = self.src.ty(x)?.shape.as_fixed().unwrap_or_default();
                if !(3..=4).contains(&xs.len()) {
                    return Ok(Plan::Float("integer transposed convolutions cover 1-D and 2-D".into()));
                }
                let bias = match ins.get(2).copied().flatten() {
                    Some(_) if constant(2).is_none() => return Ok(Plan::Float("the bias is not constant".into())),
                    _ => constant(2),
                };
                let axes = ct.traversal_axes(&xs, w.shape())?;
                self.conv_transpose(n, x, &w, bias.as_deref(), axes, ct.group())
            }
            Op::Pad(p) => {
                let x = ins[0].unwrap();
                if ins.iter().skip(1).flatten().any(|&v| self.src.value(v).constant.is_none()) {
                    return Ok(Plan::Float("pads or pad value known only at run time".into()));
                }
                // The fill is the code of the real pad value under the input's parameters.
                let real = match (p.attr_value(), constant(2)) {
                    (Some(v), _) => v,
                    (None, Some(t)) if !t.is_empty() => t.scalar_f64()?,
                    _ => 0.0,
                };
                let fill = self.code_params(x)?.quantize(real);
                let legacy = p.attr_value().is_some();
                let op = if legacy { Op::Pad(p.with_attr_value(fill as f64)) } else { node.op.clone() };
                self.pad(n, op, fill, legacy)
            }
            Op::Resize(r) => {
                let x = ins[0].unwrap();
                let Some(xs) = self.src.ty(x)?.shape.as_fixed() else { return Ok(Plan::Float("input shape known only at run time".into())) };
                if ins.iter().skip(1).flatten().any(|&v| self.src.value(v).constant.is_none()) {
                    return Ok(Plan::Float("scales or sizes known only at run time".into()));
                }
                let held: Vec<Option<Arc<Tensor>>> = ins.iter().map(|v| v.and_then(|v| self.src.value(v).constant.clone())).collect();
                let args: Vec<Option<&Tensor>> = held.iter().map(|t| t.as_deref()).collect();
                let sampling = r.code_sampling(&xs, &args)?;
                self.resize(n, sampling, &xs)
            }
            Op::Reduce(r) if r.is_mean() => {
                let x = ins[0].unwrap();
                let Some(xs) = self.src.ty(x)?.shape.as_fixed() else { return Ok(Plan::Float("input shape known only at run time".into())) };
                if ins.get(1).copied().flatten().is_some() && constant(1).is_none() {
                    return Ok(Plan::Float("axes known only at run time".into()));
                }
                let axes = r.resolved_axes(constant(1).as_deref(), xs.len())?;
                if axes.is_empty() {
                    return self.passthrough(n);
                }
                self.reduce_mean(n, x, &xs, &axes)
            }
            Op::Reshape(_) | Op::Flatten(_) | Op::Transpose(_) | Op::Squeeze(_) | Op::Slice(_) | Op::Split(_) | Op::Identity(_)
            | Op::DepthSpace(_) | Op::Expand(_) | Op::Tile(_) => self.passthrough(n),
            _ => Ok(Plan::Float("no integer kernel".into())),
        }
    }

    /// The single consumer of `v` if it is a Relu or Clip that can be
    /// fused, with its output value.
    fn fusable_activation(&self, v: ValueId) -> Option<(NodeId, ValueId)> {
        if self.src.outputs.contains(&v) {
            return None;
        }
        let [(c, 0)] = self.src.consumers(v)[..] else { return None };
        let node = self.src.node(c);
        let is_clamp = match &node.op {
            Op::Unary(u) => u.kind == UnaryKind::Relu,
            Op::Clip(_) => self.src.node_inputs(c).iter().skip(1).flatten().all(|&b| self.src.value(b).constant.is_some()),
            _ => false,
        };
        let out = self.src.node_outputs(c).first().copied().flatten()?;
        is_clamp.then_some((c, out))
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
        Ok((p.quantize(y[0]), p.quantize(y[1])))
    }

    fn stage(&self, p: QParams, lo: i32, hi: i32) -> Stage {
        Stage { zero: p.zero, min: lo, max: hi, rounding: self.opts.rounding }
    }

    fn binary(&mut self, n: NodeId, kind: BinKind) -> Result<Plan> {
        let ins = self.src.node_inputs(n);
        let (Some(a), Some(b)) = (ins[0], ins.get(1).copied().flatten()) else { return Ok(Plan::Float("missing operand".into())) };
        let y = self.src.node_outputs(n)[0].ok_or_else(|| Error::Op("no output".into()))?;
        // Mul or Div by a positive scalar constant: a rescale.
        let scalar = self.src.value(b).constant.as_ref().filter(|c| c.len() == 1).map(|c| c.scalar_f64()).transpose()?;
        if let (Some(c), BinKind::Mul | BinKind::Div) = (scalar, kind) {
            if c > 0.0 && c.is_finite() {
                let factor = if kind == BinKind::Div { 1.0 / c } else { c };
                let (xq, px) = self.as_int(a)?;
                let (target, po, lo, hi) = self.output_stage(y)?;
                let m = quantize_multiplier(px.scale as f64 * factor / po.scale as f64).filter(|m| m.exponent <= 22);
                let Some(m) = m else { return Ok(Plan::Float("scales too far apart".into())) };
                let op = IntRescale { z_in: px.zero, m, stage: self.stage(po, lo, hi) };
                return self.emit(n, target, po, "IntRescale", Op::IntRescale(op), &[Some(xq)]);
            }
        }
        let kind = match kind {
            BinKind::Add => BinaryKind::Add,
            BinKind::Sub => BinaryKind::Sub,
            BinKind::Mul => BinaryKind::Mul,
            _ => return Ok(Plan::Float("division by a tensor".into())),
        };
        let (aq, pa) = self.as_int(a)?;
        let (bq, pb) = self.as_int(b)?;
        let (target, po, lo, hi) = self.output_stage(y)?;
        let none = Multiplier { m: 0, exponent: 0 };
        let (ma, mb, mo) = if kind == BinaryKind::Mul {
            let mo = quantize_multiplier(pa.scale as f64 * pb.scale as f64 / po.scale as f64).filter(|m| m.exponent <= 15);
            let Some(mo) = mo else { return Ok(Plan::Float("scales too far apart".into())) };
            (none, none, mo)
        } else {
            let twice = 2.0 * pa.scale.max(pb.scale) as f64;
            let ma = quantize_multiplier(pa.scale as f64 / twice);
            let mb = quantize_multiplier(pb.scale as f64 / twice);
            let shift = (1u64 << ADD_SHIFT) as f64;
            let mo = quantize_multiplier(twice / (shift * po.scale as f64)).filter(|m| m.exponent <= 2);
            let (Some(ma), Some(mb), Some(mo)) = (ma, mb, mo) else { return Ok(Plan::Float("scales too far apart".into())) };
            (ma, mb, mo)
        };
        let op = IntBinary { kind, za: pa.zero, zb: pb.zero, ma, mb, mo, stage: self.stage(po, lo, hi) };
        self.emit(n, target, po, "IntBinary", Op::IntBinary(op), &[Some(aq), Some(bq)])
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
        let (xq, px) = self.as_int(ins[0].ok_or_else(|| Error::Op("no input".into()))?)?;
        let mut inputs = vec![Some(xq)];
        for v in &ins[1..] {
            inputs.push(match v {
                Some(v) => Some(self.as_float(*v)?),
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

    /// Concat on codes: inputs whose parameters differ from the output's are
    /// rescaled first.
    fn concat(&mut self, n: NodeId) -> Result<Plan> {
        let y = self.src.node_outputs(n)[0].ok_or_else(|| Error::Op("no output".into()))?;
        let po = self.params(y)?;
        let (lo, hi) = po.code_range();
        let mut inputs = Vec::new();
        for v in self.src.node_inputs(n) {
            let Some(v) = v else { continue };
            let (q, p) = self.as_int(v)?;
            if p == po {
                inputs.push(Some(q));
                continue;
            }
            let Some(m) = quantize_multiplier(p.scale as f64 / po.scale as f64).filter(|m| m.exponent <= 22) else {
                return Ok(Plan::Float("scales too far apart".into()));
            };
            let name = format!("{}_to_{}", self.src.value(v).name, self.src.value(y).name);
            let out = self.fresh(name);
            let op = IntRescale { z_in: p.zero, m, stage: self.stage(po, lo, hi) };
            self.add(n, &format!("_rescale_{}", inputs.len()), "IntRescale", Op::IntRescale(op), &[Some(q)], &[Some(out)])?;
            inputs.push(Some(out));
        }
        let node = self.src.node(n).clone();
        let out = self.fresh(format!("{}_q", self.src.value(y).name));
        self.dst.add_node(node, &inputs, &[Some(out)])?;
        self.int.insert(y, (out, po));
        Ok(Plan::Done)
    }
}

fn zero_tensor(p: QParams) -> Tensor {
    match p.dtype {
        DType::U8 => Tensor::scalar(p.zero as u8),
        _ => Tensor::scalar(p.zero as i8),
    }
}

