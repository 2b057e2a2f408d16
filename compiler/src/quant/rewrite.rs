//! The quantizing rewrite: a prepared float graph and calibrated ranges in,
//! a graph of integer operators (`ops::qint`) out, with the numerics of
//! NUMERICS.md. Conv, Gemm and MatMul with constant weights become IntConv
//! (absorbing a following bias Add and a Relu or Clip); Add, Sub and Mul
//! become IntBinary; Mul and Div by a positive constant become IntRescale;
//! unary activations become lookup tables; pools, Concat and data
//! movement run on the codes. ConvTranspose becomes IntConvTranspose,
//! ReduceMean IntReduceMean; Pad and Resize (nearest, and bilinear as
//! IntResize) run on the codes. Everything else stays float between a
//! DequantizeLinear and a QuantizeLinear, and is listed.

use super::calibrate::Range;
use super::fixed_point::{quantize_multiplier, Multiplier, Rounding};
use super::params::{quantize_weights, quantize_weights_with, QParams};
use super::qdq::Given;
use crate::ir::{Graph, Node, NodeId, TensorType, Value, ValueId};
use crate::ops::binary::Kind as BinKind;
use crate::ops::pool::{global::Kind as GlobalKind, Kind as PoolKind};
use crate::ops::qint::{BinaryKind, ADD_SHIFT, IntAvgPool, IntBinary, IntConv, IntLut, IntRescale, Stage};
use crate::ops::qint::{q11_taps, reduce_groups, IntConvTranspose, IntReduceMean, IntResize, Sampling};
use crate::ops::quantize::{DequantizeLinear, QuantizeLinear};
use crate::ops::spatial::{Axis, TraversalAxis};
use crate::ops::unary::Kind as UnaryKind;
use crate::ops::Op;
use crate::tensor::{DType, Tensor};
use crate::{passes, Error, Result};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

mod attention;

/// Choices of the user (`--per-tensor`, `--rounding`, `--io`).
#[derive(Debug, Clone, Copy)]
pub struct Options {
    pub per_tensor: bool,
    pub rounding: Rounding,
    /// Graph inputs and outputs as int8 codes instead of float.
    pub int8_io: bool,
}

/// The quantized graph and what the user needs to know about it.
pub struct Quantized {
    pub graph: Graph,
    /// Parameters of every int8 graph input and output, by name.
    pub io_params: Vec<(String, QParams)>,
    /// Nodes left in float: (node name, op type, reason).
    pub float_nodes: Vec<(String, String, String)>,
    /// Every quantized value: (source value, its codes in `graph`, parameters).
    pub int_values: Vec<(ValueId, ValueId, QParams)>,
}

/// Where activation parameters come from.
pub enum Source<'a> {
    /// Calibrated ranges of every float value.
    Calibrated(&'a HashMap<ValueId, Range>),
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
    Ok(Quantized { graph, io_params, float_nodes: r.float_nodes, int_values })
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
            Source::Calibrated(ranges) => ranges.get(&v).map(|&r| QParams::for_range(r)),
            Source::Given(given) => given.activations.get(&v).copied(),
        };
        found.ok_or_else(|| Error::Op(format!("no quantization parameters for '{}'", self.src.value(v).name)))
    }

    /// The parameters `as_int(v)` gives `v`, without quantizing it yet.
    fn code_params(&self, v: ValueId) -> Result<QParams> {
        match self.int.get(&v) {
            Some(&(_, p)) => Ok(p),
            None => self.params(v),
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

    /// Evaluates a unary node of the source on `x` (its other inputs are constants).
    fn eval_unary(&self, n: NodeId, x: Tensor) -> Result<Tensor> {
        let input = self.src.node_inputs(n)[0].ok_or_else(|| Error::Op("no input".into()))?;
        let y = self.src.node_outputs(n)[0].ok_or_else(|| Error::Op("no output".into()))?;
        self.eval_region(input, &[n], y, x)
    }

    /// Evaluates the elementwise `nodes` (in order) with `input` set to
    /// `x`; their other inputs are constants or earlier results. Returns `y`.
    fn eval_region(&self, input: ValueId, nodes: &[NodeId], y: ValueId, x: Tensor) -> Result<Tensor> {
        let mut values: HashMap<ValueId, Arc<Tensor>> = HashMap::from([(input, Arc::new(x))]);
        for &n in nodes {
            let held: Vec<Option<Arc<Tensor>>> = self
                .src
                .node_inputs(n)
                .iter()
                .map(|v| v.and_then(|v| values.get(&v).cloned().or_else(|| self.src.value(v).constant.clone())))
                .collect();
            let args: Vec<Option<&Tensor>> = held.iter().map(|t| t.as_deref()).collect();
            let outs = self.src.node(n).op.eval(&args)?;
            for (v, t) in self.src.node_outputs(n).into_iter().zip(outs) {
                if let Some(v) = v {
                    values.insert(v, Arc::new(t));
                }
            }
        }
        values.remove(&y).map(|t| Tensor::clone(&t)).ok_or_else(|| Error::Op("the region does not compute its output".into()))
    }

    /// Whether `m` computes elementwise on float32 values of `shape` from
    /// values in `inside` and scalar constants (a candidate table step).
    fn elementwise_step(&self, m: NodeId, inside: &HashSet<ValueId>, shape: &crate::ir::Shape) -> bool {
        let op_ok = match &self.src.node(m).op {
            Op::Unary(u) => !matches!(u.kind, UnaryKind::IsInf { .. } | UnaryKind::IsNaN | UnaryKind::BitwiseNot),
            Op::Clip(_) => true,
            Op::Binary(b) => matches!(b.kind, BinKind::Add | BinKind::Sub | BinKind::Mul | BinKind::Div),
            _ => false,
        };
        let ins_ok = self.src.node_inputs(m).into_iter().flatten().all(|v| {
            inside.contains(&v) || self.src.value(v).constant.as_ref().is_some_and(|c| c.len() == 1 && c.dtype() == DType::F32)
        });
        let outs = self.src.node_outputs(m);
        let out_ok = outs.len() == 1 && outs[0].is_some_and(|o| self.src.ty(o).is_ok_and(|t| t.dtype == DType::F32 && &t.shape == shape));
        op_ok && ins_ok && out_ok && !self.consumed.contains(&m)
    }

    /// The largest chain of elementwise steps from `n` that reads only
    /// `n`'s first input and scalar constants and has one result used
    /// outside (GELU as Div/Erf/Add/Mul/Mul, HardSwish as Add/Clip/Mul/Div,
    /// x · sigmoid(x), ...): its nodes in order and the result, when it has
    /// two steps or more.
    fn elementwise_region(&self, n: NodeId, order: &[NodeId]) -> Option<(Vec<NodeId>, ValueId)> {
        let x = self.src.node_inputs(n).first().copied().flatten()?;
        let shape = self.src.ty(x).ok()?.shape.clone();
        let mut inside: HashSet<ValueId> = HashSet::from([x]);
        let mut nodes = Vec::new();
        let start = order.iter().position(|&m| m == n)?;
        for &m in &order[start..] {
            if self.elementwise_step(m, &inside, &shape) && (m == n || self.src.node_inputs(m).iter().flatten().any(|v| *v != x && inside.contains(v))) {
                nodes.push(m);
                inside.extend(self.src.node_outputs(m).into_iter().flatten());
            }
        }
        // Drop trailing steps until exactly one produced value leaves the region.
        while nodes.len() >= 2 {
            let members: HashSet<NodeId> = nodes.iter().copied().collect();
            let exits: Vec<ValueId> = nodes
                .iter()
                .flat_map(|&m| self.src.node_outputs(m).into_iter().flatten())
                .filter(|&v| self.src.outputs.contains(&v) || self.src.consumers(v).iter().any(|(c, _)| !members.contains(c)))
                .collect();
            let last = self.src.node_outputs(*nodes.last()?)[0]?;
            if exits == [last] {
                return Some((nodes, last));
            }
            nodes.pop();
        }
        None
    }

    fn stage(&self, p: QParams, lo: i32, hi: i32) -> Stage {
        Stage { zero: p.zero, min: lo, max: hi, rounding: self.opts.rounding }
    }

    /// IntConv for Conv, Gemm and MatMul: `w` is float [C_out, C_in/group,
    /// kernel...] (or [N, K] with no `axes`).
    /// `scales`: the weight scales the model carries (QDQ), else chosen here.
    #[allow(clippy::too_many_arguments)]
    fn conv(&mut self, n: NodeId, x: ValueId, w: &Tensor, bias: Option<&Tensor>, axes: Vec<Axis>, group: usize, scales: Option<Vec<f32>>) -> Result<Plan> {
        let y = self.src.node_outputs(n)[0].ok_or_else(|| Error::Op("no output".into()))?;
        let c_out = w.shape()[0];
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
        let wf: Vec<f32> = w.cast(DType::F32)?.to_f64_vec()?.into_iter().map(|v| v as f32).collect();
        let (qw, sw) = self.weight_codes(n, &wf, c_out, scales);
        let bias_f = match &bias {
            Some(b) => b.to_f64_vec()?,
            None => vec![0.0; c_out],
        };
        let (folded, mult, exp) = channel_requant(px, &qw, &sw, &bias_f, po, ZeroPoint::Folded)?;
        let name = self.src.value(target).name.clone();
        let wq = self.constant(format!("{name}_weights"), Tensor::from_vec(w.shape(), qw)?);
        let bq = self.constant(format!("{name}_bias"), Tensor::from_vec(&[c_out], folded)?);
        let mq = self.constant(format!("{name}_multipliers"), Tensor::from_vec(&[c_out], mult)?);
        let eq = self.constant(format!("{name}_exponents"), Tensor::from_vec(&[c_out], exp)?);
        let out = self.fresh(format!("{name}_q"));
        let op = IntConv { axes, group, x_zero: px.zero, stage: self.stage(po, lo, hi) };
        self.add(n, "", "IntConv", Op::IntConv(op), &[Some(xq), Some(wq), Some(bq), Some(mq), Some(eq)], &[Some(out)])?;
        self.int.insert(target, (out, po));
        Ok(Plan::Done)
    }

    /// int8 codes and scales of the float weights `wf` (`c_out` rows, one
    /// per output channel): the model's own scales when it carries them
    /// (`scales`, QDQ), else symmetric per channel or per tensor.
    fn weight_codes(&self, n: NodeId, wf: &[f32], c_out: usize, scales: Option<Vec<f32>>) -> (Vec<i8>, Vec<f32>) {
        match scales {
            Some(s) if alpha_is_one(n, self.src) => quantize_weights_with(wf, c_out, &s),
            _ => quantize_weights(wf, c_out, self.opts.per_tensor),
        }
    }

    /// IntConvTranspose for ConvTranspose with constant weights `w` [C_in,
    /// C_out/group, kernel...] over one or two spatial axes.
    fn conv_transpose(&mut self, n: NodeId, x: ValueId, w: &Tensor, bias: Option<&Tensor>, axes: Vec<TraversalAxis>, group: usize) -> Result<Plan> {
        let y = self.src.node_outputs(n)[0].ok_or_else(|| Error::Op("no output".into()))?;
        let ws = w.shape().to_vec();
        let (c_in, og, kvol) = (ws[0], ws[1], ws[2..].iter().product::<usize>());
        let (cg, c_out) = (c_in / group, og * group);
        // Weight (input channel ci, output o of group g, offset k) sits at
        // [ci, o, k] in W and at row g·og + o, column (ci mod cg, k) in the
        // channel-major copy, whose row c holds every weight reaching output
        // channel c: the layout weight quantization and the bound expect.
        let at = |ci: usize, o: usize, k: usize| ((ci * og + o) * kvol + k, (((ci / cg) * og + o) * cg + ci % cg) * kvol + k);
        let wf: Vec<f32> = w.cast(DType::F32)?.to_f64_vec()?.into_iter().map(|v| v as f32).collect();
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
        let given = self.given_weight_scales(self.src.node_inputs(n)[1], 1);
        let scales = given.filter(|s| s.len() == 1 || s.len() == og).map(|s| (0..c_out).map(|c| s[if s.len() == 1 { 0 } else { c % og }]).collect());
        let (qrows, sw) = self.weight_codes(n, &rows, c_out, scales);
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
        let (bq, mult, exp) = channel_requant(px, &qrows, &sw, &bias_f, po, ZeroPoint::Centred)?;
        let name = self.src.value(target).name.clone();
        let wq = self.constant(format!("{name}_weights"), Tensor::from_vec(&ws, qw)?);
        let bq = self.constant(format!("{name}_bias"), Tensor::from_vec(&[c_out], bq)?);
        let mq = self.constant(format!("{name}_multipliers"), Tensor::from_vec(&[c_out], mult)?);
        let eq = self.constant(format!("{name}_exponents"), Tensor::from_vec(&[c_out], exp)?);
        let op = IntConvTranspose { axes, group, x_zero: px.zero, stage: self.stage(po, lo, hi) };
        self.emit(n, target, po, "IntConvTranspose", Op::IntConvTranspose(op), &[Some(xq), Some(wq), Some(bq), Some(mq), Some(eq)])
    }

    /// Pad on codes (its other inputs constants): `op` is the node's
    /// operator with an attribute fill (opsets before 11) already replaced
    /// by `fill`, the fill's code; from opset 11 `fill` becomes input 2.
    /// The output keeps the input's parameters.
    fn pad(&mut self, n: NodeId, op: Op, fill: i32, legacy: bool) -> Result<Plan> {
        let ins = self.src.node_inputs(n);
        let (xq, px) = self.as_int(ins[0].ok_or_else(|| Error::Op("no input".into()))?)?;
        let mut inputs = vec![Some(xq)];
        let slots = if legacy { ins.len() } else { ins.len().max(3) };
        for i in 1..slots {
            inputs.push(match ins.get(i).copied().flatten() {
                _ if i == 2 && !legacy => {
                    let name = format!("{}_fill_q", self.src.node(n).name);
                    Some(self.constant(name, crate::ops::qint::codes(px.dtype, &[], vec![fill])?))
                }
                Some(v) => Some(self.as_float(v)?),
                None => None,
            });
        }
        let y = self.src.node_outputs(n)[0].ok_or_else(|| Error::Op("no output".into()))?;
        let out = self.fresh(format!("{}_q", self.src.value(y).name));
        let node = Node { op, ..self.src.node(n).clone() };
        self.dst.add_node(node, &inputs, &[Some(out)])?;
        self.int.insert(y, (out, px));
        Ok(Plan::Done)
    }

    /// IntResize: nearest copies codes; linear interpolates the last two
    /// axes (the others unchanged). The output keeps the input's parameters.
    fn resize(&mut self, n: NodeId, sampling: Sampling, xs: &[usize]) -> Result<Plan> {
        let x = self.src.node_inputs(n)[0].ok_or_else(|| Error::Op("no input".into()))?;
        let y = self.src.node_outputs(n)[0].ok_or_else(|| Error::Op("no output".into()))?;
        let (op, tables) = match sampling {
            Sampling::Float(reason) => return Ok(Plan::Float(reason)),
            Sampling::Nearest(picks) => (IntResize::Nearest(picks), None),
            Sampling::Linear(taps) => {
                let rank = taps.len();
                let unchanged = |a: usize| taps[a].len() == xs[a] && taps[a].iter().enumerate().all(|(i, t)| t[0] == (i, 1.0) && t[1].1 == 0.0);
                if rank < 2 || !(0..rank - 2).all(unchanged) {
                    return Ok(Plan::Float("linear resize of axes other than the last two".into()));
                }
                (IntResize::Bilinear, Some((q11_taps(&taps[rank - 2])?, q11_taps(&taps[rank - 1])?)))
            }
        };
        let (xq, px) = self.as_int(x)?;
        let mut inputs = vec![Some(xq)];
        if let Some((th, tw)) = tables {
            let name = self.src.value(y).name.clone();
            let (lh, lw) = (th.len(), tw.len());
            inputs.push(Some(self.constant(format!("{name}_taps_h"), Tensor::from_vec(&[lh / 3, 3], th)?)));
            inputs.push(Some(self.constant(format!("{name}_taps_w"), Tensor::from_vec(&[lw / 3, 3], tw)?)));
        }
        self.emit(n, y, px, "IntResize", Op::IntResize(op), &inputs)
    }

    /// IntReduceMean of `x` (shape `xs`) over `axes`, requantized to the
    /// output's parameters.
    fn reduce_mean(&mut self, n: NodeId, x: ValueId, xs: &[usize], axes: &[usize]) -> Result<Plan> {
        let y = self.src.node_outputs(n)[0].ok_or_else(|| Error::Op("no output".into()))?;
        let Some(ys) = self.src.ty(y)?.shape.as_fixed() else { return Ok(Plan::Float("output shape known only at run time".into())) };
        let count: usize = axes.iter().map(|&a| xs[a]).product();
        let px = self.code_params(x)?;
        let po = self.params(y)?;
        let Some(m) = quantize_multiplier(px.scale as f64 / (count.max(1) as f64 * po.scale as f64)) else {
            return Ok(Plan::Float("scales too far apart".into()));
        };
        // |Σ (q − z_x)| ≤ count · max |q − z_x|, times 2^max(e, 0) inside `requantize`.
        let (x_min, x_max) = px.code_range();
        let x_bound = (px.zero - x_min).max(x_max - px.zero) as u128;
        if (count as u128 * x_bound) << m.exponent.max(0) >= 1 << 31 {
            return Ok(Plan::Float(format!("the int32 sum of {count} elements could overflow")));
        }
        let (xq, _) = self.as_int(x)?;
        let (kept, reduced) = reduce_groups(xs, axes);
        let (lo, hi) = po.code_range();
        let op = IntReduceMean { kept, reduced, out_shape: ys, x_zero: px.zero, m, stage: self.stage(po, lo, hi) };
        self.emit(n, y, po, "IntReduceMean", Op::IntReduceMean(op), &[Some(xq)])
    }

    /// The single consumer of `y` if it adds a constant vector of `n` values
    /// along the last axis: (node, its output, the vector).
    fn bias_add(&self, y: ValueId, n: usize) -> Option<(NodeId, ValueId, Tensor)> {
        if self.src.outputs.contains(&y) {
            return None;
        }
        let [(c, _)] = self.src.consumers(y)[..] else { return None };
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

    /// A unary operator as a 256-entry table.
    /// A unary operator as a 256-entry table.
    fn lut(&mut self, n: NodeId) -> Result<Plan> {
        let y = self.src.node_outputs(n)[0].ok_or_else(|| Error::Op("no output".into()))?;
        self.lut_of(n, &[n], y)
    }

    /// The region `nodes` (starting at `n`, computing `y` elementwise from
    /// `n`'s first input alone) as one table.
    fn lut_of(&mut self, n: NodeId, nodes: &[NodeId], y: ValueId) -> Result<Plan> {
        let x = self.src.node_inputs(n)[0].ok_or_else(|| Error::Op("no input".into()))?;
        let (xq, px) = self.as_int(x)?;
        let po = self.params(y)?;
        if po.dtype != px.dtype {
            return Ok(Plan::Float("input and output codes differ in type".into()));
        }
        let (min, max) = px.code_range();
        let reals: Vec<f32> = (min..=max).map(|q| px.real(q) as f32).collect();
        let ys = self.eval_region(x, nodes, y, Tensor::from_vec(&[reals.len()], reals)?)?.to_f64_vec()?;
        self.consumed.extend(nodes.iter().copied());
        let table: Vec<i32> = ys.into_iter().map(|v| po.quantize(v)).collect();
        let name = self.src.value(y).name.clone();
        let t = self.constant(format!("{name}_table"), crate::ops::qint::codes(po.dtype, &[256], table)?);
        self.emit(n, y, po, "IntLut", Op::IntLut(IntLut), &[Some(xq), Some(t)])
    }

    fn avg_pool(&mut self, n: NodeId, axes: Vec<Axis>, include_pad: bool) -> Result<Plan> {
        let x = self.src.node_inputs(n)[0].ok_or_else(|| Error::Op("no input".into()))?;
        let y = self.src.node_outputs(n)[0].ok_or_else(|| Error::Op("no output".into()))?;
        let (xq, px) = self.as_int(x)?;
        // Every window counts the same when no padding is excluded.
        let inside = axes.iter().all(|a| (a.output.max(1) - 1) * a.stride + a.kernel <= a.input + a.pad_begin + a.pad_end);
        let same_count = inside && (include_pad || axes.iter().all(|a| a.pad_begin == 0 && a.pad_end == 0));
        let count: usize = axes.iter().map(|a| a.kernel).product();
        let requant = match self.params(y) {
            Ok(po) if same_count && po != px => {
                let m = quantize_multiplier(px.scale as f64 / (count as f64 * po.scale as f64)).filter(|m| m.exponent <= 0);
                let (lo, hi) = po.code_range();
                m.map(|m| (m, self.stage(po, lo, hi), po))
            }
            _ => None,
        };
        let po = requant.map_or(px, |r| r.2);
        let op = IntAvgPool { axes, include_pad, x_zero: px.zero, requant: requant.map(|(m, s, _)| (m, s)) };
        self.emit(n, y, po, "IntAvgPool", Op::IntAvgPool(op), &[Some(xq)])
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

/// How the input zero point enters an integer convolution's accumulator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ZeroPoint {
    /// Folded into the bias (`b_q − z_x · Σ w`); the kernel adds `q_x · w`
    /// and reads padding as `z_x` (IntConv).
    Folded,
    /// Subtracted at run time: the kernel adds `(q_x − z_x) · w`
    /// (IntConvTranspose, where the number of products varies by position).
    Centred,
}

/// Per output channel `c` (row `c` of the weight codes `qw`, scale `sw[c]`):
/// the int32 bias, the multiplier and the exponent of an integer
/// convolution from `px` to `po`, once its accumulator is proven below
/// 2^31 (NUMERICS.md): `(|bias| + max|x| · Σ|w|) · 2^max(e, 0)`, where `x`
/// is the code (`Folded`) or the centred code (`Centred`).
fn channel_requant(px: QParams, qw: &[i8], sw: &[f32], bias_f: &[f64], po: QParams, zero: ZeroPoint) -> Result<(Vec<i32>, Vec<i32>, Vec<i32>)> {
    let c_out = sw.len();
    let per_channel = qw.len() / c_out.max(1);
    let (x_min, x_max) = px.code_range();
    let x_bound = match zero {
        ZeroPoint::Folded => x_min.unsigned_abs().max(x_max.unsigned_abs()) as i64,
        ZeroPoint::Centred => (px.zero - x_min).max(x_max - px.zero) as i64,
    };
    let (mut folded, mut mult, mut exp) = (Vec::new(), Vec::new(), Vec::new());
    for c in 0..c_out {
        let s_acc = px.scale as f64 * sw[c] as f64;
        let b = (bias_f[c] / s_acc).round_ties_even();
        let row = &qw[c * per_channel..(c + 1) * per_channel];
        let sum: i64 = row.iter().map(|&v| v as i64).sum();
        let abs: i64 = row.iter().map(|&v| (v as i64).abs()).sum();
        let f = match zero {
            ZeroPoint::Folded => b as i64 - px.zero as i64 * sum,
            ZeroPoint::Centred => b as i64,
        };
        let m = quantize_multiplier(s_acc / po.scale as f64)
            .ok_or_else(|| Error::Op(format!("the requantization multiplier of output channel {c} is out of range")))?;
        let bound = (f.abs() + x_bound * abs) << m.exponent.max(0);
        if !b.is_finite() || bound >= 1 << 31 {
            return Err(Error::Op(format!(
                "the int32 accumulator of output channel {c} could overflow (bound {bound}); the bias or the weights are too large for the input scale"
            )));
        }
        folded.push(f as i32);
        mult.push(m.m);
        exp.push(m.exponent);
    }
    Ok((folded, mult, exp))
}

/// Gemm's alpha scales the float weights before quantization, so the
/// model's own weight scales apply only when it is 1.
fn alpha_is_one(n: NodeId, g: &Graph) -> bool {
    !matches!(&g.node(n).op, Op::Gemm(gm) if gm.alpha != 1.0)
}

fn zero_tensor(p: QParams) -> Tensor {
    match p.dtype {
        DType::U8 => Tensor::scalar(p.zero as u8),
        _ => Tensor::scalar(p.zero as i8),
    }
}

/// The transpose of a 2-D tensor, as float32.
fn transpose2(t: &Tensor) -> Result<Tensor> {
    let [r, c] = t.shape()[..] else { return Err(Error::Op(format!("expected a matrix, got shape {:?}", t.shape()))) };
    let v = t.to_f64_vec()?;
    let out: Vec<f32> = (0..c * r).map(|i| v[(i % r) * c + i / r] as f32).collect();
    Tensor::from_vec(&[c, r], out)
}

fn scale_tensor(t: &Tensor, factor: f64) -> Result<Tensor> {
    let v: Vec<f32> = t.to_f64_vec()?.into_iter().map(|x| (x * factor) as f32).collect();
    Tensor::from_vec(t.shape(), v)
}
