//! The rules' vocabulary (`ops::int8_rule::QuantCx`) on the rewriter, for
//! one node of the source graph.

use super::Rewriter;
use crate::ir::{NodeId, TensorType, ValueId};
use crate::ops::int8_rule::{Needs, Plan, QParams, QuantCx, Weighted};
use crate::ops::spatial::{Axis, TraversalAxis};
use crate::ops::qint::Stage;
use crate::ops::Op;
use crate::tensor::Tensor;
use crate::Result;
use std::sync::Arc;

/// The rewriter, working on node `n`.
pub(super) struct NodeCx<'r, 'a> {
    pub r: &'r mut Rewriter<'a>,
    pub n: NodeId,
}

impl QuantCx for NodeCx<'_, '_> {
    fn inputs(&self) -> Vec<Option<ValueId>> {
        self.r.src.node_inputs(self.n)
    }

    fn outputs(&self) -> Vec<Option<ValueId>> {
        self.r.src.node_outputs(self.n)
    }

    fn node_name(&self) -> String {
        self.r.src.node(self.n).name.clone()
    }

    fn op_type(&self) -> String {
        self.r.src.node(self.n).op_type.clone()
    }

    fn name(&self, v: ValueId) -> String {
        self.r.src.value(v).name.clone()
    }

    fn constant(&self, v: ValueId) -> Option<Arc<Tensor>> {
        self.r.src.value(v).constant.clone()
    }

    fn ty(&self, v: ValueId) -> Result<&TensorType> {
        self.r.src.ty(v)
    }

    fn is_used(&self, v: ValueId) -> bool {
        !self.r.src.consumers(v).is_empty() || self.r.src.outputs.contains(&v)
    }

    fn has_params(&self, needs: Needs) -> bool {
        self.r.has_params(self.n, needs)
    }

    fn params(&self, v: ValueId) -> Result<QParams> {
        self.r.params(v)
    }

    fn code_params(&self, v: ValueId) -> Result<QParams> {
        self.r.code_params(v)
    }

    fn stage_params(&self, y: ValueId) -> Result<QParams> {
        self.r.stage_params(y)
    }

    fn given_weight_scales(&self, w: Option<ValueId>, axis: usize) -> Option<Vec<f32>> {
        self.r.given_weight_scales(w, axis)
    }

    fn stage(&self, p: QParams, lo: i32, hi: i32) -> Stage {
        self.r.stage(p, lo, hi)
    }

    fn as_int(&mut self, v: ValueId) -> Result<(ValueId, QParams)> {
        self.r.as_int(v)
    }

    fn as_float(&mut self, v: ValueId) -> Result<ValueId> {
        self.r.as_float(v)
    }

    fn output_stage(&mut self, y: ValueId) -> Result<(ValueId, QParams, i32, i32)> {
        self.r.output_stage(y)
    }

    fn add_constant(&mut self, name: String, t: Tensor) -> ValueId {
        self.r.constant(name, t)
    }

    fn fresh(&mut self, name: String) -> ValueId {
        self.r.fresh(name)
    }

    fn add(&mut self, suffix: &str, op_type: &str, op: Op, inputs: &[Option<ValueId>], outputs: &[Option<ValueId>]) -> Result<()> {
        self.r.add(self.n, suffix, op_type, op, inputs, outputs)
    }

    fn emit(&mut self, target: ValueId, p: QParams, op_type: &str, op: Op, inputs: &[Option<ValueId>]) -> Result<Plan> {
        self.r.emit(self.n, target, p, op_type, op, inputs)
    }

    fn passthrough(&mut self) -> Result<Plan> {
        self.r.passthrough(self.n)
    }

    fn table(&mut self) -> Result<Plan> {
        self.r.lut(self.n)
    }

    fn weighted(&mut self, layer: Weighted<Axis>) -> Result<Plan> {
        self.r.conv(self.n, layer)
    }

    fn weighted_transpose(&mut self, layer: Weighted<TraversalAxis>) -> Result<Plan> {
        self.r.conv_transpose(self.n, layer)
    }
}
