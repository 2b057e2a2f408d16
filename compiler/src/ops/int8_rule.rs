//! The vocabulary of int8 quantization rules. Every operator states its
//! rule in its own file, as `OpDef::quantize`: what its node becomes on
//! integer codes, or that it stays float and why (the reason the report
//! shows). The quantizer (`quant::rewrite`) drives the rewrite and
//! implements [`QuantCx`], the words a rule is written in: parameters of
//! the activations, the values as codes or as float, the output stage with
//! a fused Relu/Clip, emitting an integer operator, the weighted-layer
//! builder, lookup tables and data movement on codes.
//!
//! A rule receives a [`Rule`] and answers with exactly one of
//! [`Rule::float_only`], [`Rule::as_is`] or [`Rule::on_codes`]; only
//! `on_codes` hands out the context, once the activations the rule needs
//! have parameters (calibrated, or given by a QDQ model).

use super::qint::Stage;
use super::spatial::{Axis, TraversalAxis};
use super::Op;
use crate::ir::{TensorType, ValueId};
use crate::tensor::Tensor;
use crate::{Error, Result};
use std::sync::Arc;

// The numerics contract the rules compute with (NUMERICS.md).
pub use crate::quant::fixed_point::{isqrt, quantize_multiplier, Multiplier};
pub use crate::quant::params::QParams;

/// The reason of every operator that has no integer form.
pub const NO_INTEGER_KERNEL: &str = "no integer kernel";

/// The reason when an activation the rule needs has no parameters (a QDQ
/// model that left the node in float).
const NOT_QUANTIZED: &str = "not quantized in the model";

/// What the rule of one node decided.
#[derive(Debug)]
pub enum Plan {
    /// The node's outputs are computed on codes (written through [`QuantCx`]).
    Done,
    /// The node stays float between DequantizeLinear and QuantizeLinear,
    /// for this reason (listed in the report); empty: copied as it is and
    /// not listed.
    Float(String),
}

impl Plan {
    /// Stays float for `reason`.
    pub fn float(reason: impl Into<String>) -> Plan {
        Plan::Float(reason.into())
    }
}

/// Which activations need parameters before a node may run on codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Needs {
    /// Every non-constant float input, and the output (or the output of
    /// its single consumer: a fused activation or bias Add).
    Output,
    /// The inputs only: the output keeps the input's parameters when it has
    /// none of its own (data movement, pooling, Pad, Resize).
    Inputs,
}

/// The quantizer's offer to one node whose first input is a float
/// activation; the rule answers with one of the three methods.
pub struct Rule<'a> {
    cx: &'a mut dyn QuantCx,
}

impl<'a> Rule<'a> {
    /// For the quantizer: the offer of the node `cx` is about.
    pub fn new(cx: &'a mut dyn QuantCx) -> Rule<'a> {
        Rule { cx }
    }

    /// The operator has no integer form here: the node stays float for
    /// `reason`, or for the model not quantizing it when it did not.
    pub fn float_only(self, reason: &str) -> Plan {
        Plan::float(if self.cx.has_params(Needs::Output) { reason } else { NOT_QUANTIZED })
    }

    /// The operator is integer already (an integer operator of the model,
    /// or one that rules produce): the node is copied as it is, unlisted.
    pub fn as_is(self) -> Plan {
        Plan::Float(String::new())
    }

    /// Runs `rule` on codes once the activations `needs` names have
    /// parameters; otherwise the node stays float, not quantized.
    pub fn on_codes(self, needs: Needs, rule: impl FnOnce(&mut dyn QuantCx) -> Result<Plan>) -> Result<Plan> {
        if !self.cx.has_params(needs) {
            return Ok(Plan::float(NOT_QUANTIZED));
        }
        rule(self.cx)
    }
}

/// A layer with constant weights over the spatial `axes` `A`: with
/// [`Axis`], IntConv (Conv, Gemm, MatMul); with [`TraversalAxis`],
/// IntConvTranspose (ConvTranspose).
pub struct Weighted<'t, A> {
    /// The activation input.
    pub x: ValueId,
    /// Float weights: [C_out, C_in/group, kernel...] (or [N, K] with no
    /// `axes`) for IntConv, [C_in, C_out/group, kernel...] for
    /// IntConvTranspose.
    pub w: &'t Tensor,
    /// One float bias per output channel.
    pub bias: Option<&'t Tensor>,
    /// The spatial axes of a convolution; empty for a matrix product.
    pub axes: Vec<A>,
    pub group: usize,
    /// The weight scales the model carries (QDQ) along the output-channel
    /// axis of `w` (C_out / group for IntConvTranspose), or one for all;
    /// None: the quantizer chooses them.
    pub scales: Option<Vec<f32>>,
}

/// What a rule may ask of the quantizer about its node. Values are the
/// source graph's (`inputs`, `outputs`, `ty`) until `as_int`, `as_float`,
/// `add_constant` and `fresh` give values of the graph being built.
pub trait QuantCx {
    // --- The node in the float graph.

    /// The node's inputs (None: absent optional input).
    fn inputs(&self) -> Vec<Option<ValueId>>;
    /// The node's outputs (None: unused optional output).
    fn outputs(&self) -> Vec<Option<ValueId>>;
    /// The node's name.
    fn node_name(&self) -> String;
    /// The node's ONNX op type.
    fn op_type(&self) -> String;
    /// The name of `v`, a value of the source graph.
    fn name(&self, v: ValueId) -> String;
    /// The value of `v`, when it is a constant.
    fn constant(&self, v: ValueId) -> Option<Arc<Tensor>>;
    /// The value of input `i`, when it is present and a constant.
    fn input_constant(&self, i: usize) -> Option<Arc<Tensor>> {
        self.inputs().get(i).copied().flatten().and_then(|v| self.constant(v))
    }
    /// The node's output 0, which every rule computes.
    fn first_output(&self) -> Result<ValueId> {
        self.outputs().first().copied().flatten().ok_or_else(|| Error::Op("output 0 is missing".into()))
    }
    /// The type of `v`.
    fn ty(&self, v: ValueId) -> Result<&TensorType>;
    /// Whether anything reads `v` (a node, or the graph's outputs).
    fn is_used(&self, v: ValueId) -> bool;
    /// Whether the activations `needs` names have parameters.
    fn has_params(&self, needs: Needs) -> bool;

    // --- Parameters.

    /// The parameters of `v` (calibrated, given, or a constant's own range).
    fn params(&self, v: ValueId) -> Result<QParams>;
    /// The parameters `as_int(v)` gives `v`, without quantizing it yet.
    fn code_params(&self, v: ValueId) -> Result<QParams>;
    /// The parameters of `y` after a fusable Relu or Clip, without
    /// consuming it (`output_stage` does).
    fn stage_params(&self, y: ValueId) -> Result<QParams>;
    /// The weight scales the model carries for weight input `w` along
    /// `axis` (QDQ import), if any.
    fn given_weight_scales(&self, w: Option<ValueId>, axis: usize) -> Option<Vec<f32>>;
    /// The output stage of codes with parameters `p` clamped to `[lo, hi]`,
    /// with the user's rounding.
    fn stage(&self, p: QParams, lo: i32, hi: i32) -> Stage;

    // --- Building the integer graph.

    /// `v` as codes (quantized on first need): the value and its parameters.
    fn as_int(&mut self, v: ValueId) -> Result<(ValueId, QParams)>;
    /// `v` as float (dequantized on first need).
    fn as_float(&mut self, v: ValueId) -> Result<ValueId>;
    /// Where the output `y` goes: the source value it stands for (`y`, or
    /// the output of a fused Relu or Clip, consumed here), its parameters
    /// and the code range the activation leaves.
    fn output_stage(&mut self, y: ValueId) -> Result<(ValueId, QParams, i32, i32)>;
    /// A new constant named `name`.
    fn add_constant(&mut self, name: String, t: Tensor) -> ValueId;
    /// A new value named `name`, computed by a node added next.
    fn fresh(&mut self, name: String) -> ValueId;
    /// Adds `op`, named after the node with `suffix`.
    fn add(&mut self, suffix: &str, op_type: &str, op: Op, inputs: &[Option<ValueId>], outputs: &[Option<ValueId>]) -> Result<()>;
    /// Adds `op` (named after the node) computing the source value
    /// `target` as codes with parameters `p`; the rule is done.
    fn emit(&mut self, target: ValueId, p: QParams, op_type: &str, op: Op, inputs: &[Option<ValueId>]) -> Result<Plan>;

    // --- Rules shared by several operators.

    /// The node as it is on codes (data movement, max pooling): every
    /// output keeps input 0's parameters; other inputs must be constants.
    fn passthrough(&mut self) -> Result<Plan>;
    /// The node (elementwise on input 0, other inputs constants) as a
    /// 256-entry table of its output codes, one per input code.
    fn table(&mut self) -> Result<Plan>;
    /// The node as IntConv (absorbing a bias Add and a Relu or Clip that follow).
    fn weighted(&mut self, layer: Weighted<Axis>) -> Result<Plan>;
    /// The node as IntConvTranspose.
    fn weighted_transpose(&mut self, layer: Weighted<TraversalAxis>) -> Result<Plan>;
}

/// The transpose of a 2-D tensor, as float32: weights [K, N] as rows [N, K].
pub fn transpose2(t: &Tensor) -> Result<Tensor> {
    let [r, c] = t.shape()[..] else { return Err(Error::Op(format!("expected a matrix, got shape {:?}", t.shape()))) };
    let v = t.to_f32()?;
    let mut out: Vec<f32> = Vec::with_capacity(c * r);
    for j in 0..c {
        out.extend(v.iter().skip(j).step_by(c.max(1)).take(r));
    }
    Tensor::from_vec(&[c, r], out)
}
