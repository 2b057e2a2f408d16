//! Lookup tables: a unary activation, or a chain of elementwise steps on
//! one activation and scalar constants, evaluated in float over every
//! input code and stored as a 256-entry table (int16 codes: 513 entries
//! interpolated, `qint::lut16_table`).

use super::Rewriter;
use crate::ir::{NodeId, ValueId};
use crate::ops::int8_rule::{Needs, Plan};
use crate::ops::qint::IntLut;
use crate::ops::Op;
use crate::tensor::{DType, Tensor};
use crate::{Error, Result};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

impl Rewriter<'_> {
    /// Evaluates a unary node of the source on `x` (its other inputs are constants).
    pub(super) fn eval_unary(&self, n: NodeId, x: Tensor) -> Result<Tensor> {
        let input = self.first_input(n)?;
        let y = self.first_output(n)?;
        self.eval_region(input, &[n], y, x)
    }

    /// Evaluates the elementwise `nodes` (in order) with `input` set to
    /// `x`; their other inputs are constants or earlier results. Returns `y`.
    pub(super) fn eval_region(&self, input: ValueId, nodes: &[NodeId], y: ValueId, x: Tensor) -> Result<Tensor> {
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
    pub(super) fn elementwise_step(&self, m: NodeId, inside: &HashSet<ValueId>, shape: &crate::ir::Shape) -> bool {
        let op_ok = match &self.src.node(m).op {
            Op::Unary(u) => u.maps_floats(),
            Op::Clip(_) => true,
            Op::Binary(b) => b.is_arithmetic(),
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
    pub(super) fn elementwise_region(&self, n: NodeId, order: &[NodeId]) -> Option<(Vec<NodeId>, ValueId)> {
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
            let last = self.src.node_outputs(*nodes.last()?).first().copied().flatten()?;
            if exits == [last] {
                return Some((nodes, last));
            }
            nodes.pop();
        }
        None
    }

    /// The elementwise chain `n` starts (see `elementwise_region`), when its
    /// activations have parameters: its nodes and result, for `lut_of`.
    pub(super) fn table_region(&self, n: NodeId) -> Option<(Vec<NodeId>, ValueId)> {
        if !self.has_params(n, Needs::Output) {
            return None;
        }
        let (nodes, y) = self.elementwise_region(n, &self.order)?;
        (self.known(y) && nodes.iter().all(|&m| self.same_precision(m))).then_some((nodes, y))
    }

    /// A unary operator as a 256-entry table; its other inputs must be
    /// constants (the table is computed at compile time).
    pub(super) fn lut(&mut self, n: NodeId) -> Result<Plan> {
        if self.src.node_inputs(n).iter().skip(1).flatten().any(|&v| self.src.value(v).constant.is_none()) {
            return Err(Error::Op("internal: a table of an operator with inputs known only at run time".into()));
        }
        let y = self.first_output(n)?;
        self.lut_of(n, &[n], y)
    }

    /// The region `nodes` (starting at `n`, computing `y` elementwise from
    /// `n`'s first input alone) as one table.
    pub(super) fn lut_of(&mut self, n: NodeId, nodes: &[NodeId], y: ValueId) -> Result<Plan> {
        let x = self.first_input(n)?;
        let (xq, px) = self.as_int(x)?;
        let po = self.params(y)?;
        if po.dtype != px.dtype {
            return Ok(Plan::Float("input and output codes differ in type".into()));
        }
        let inputs = table_inputs(px)?;
        let reals: Vec<f32> = inputs.iter().map(|&q| px.real(q) as f32).collect();
        let ys = self.eval_region(x, nodes, y, Tensor::from_vec(&[reals.len()], reals)?)?.to_f64_vec()?;
        self.consumed.extend(nodes.iter().copied());
        let table: Vec<i32> = ys.into_iter().map(|v| po.quantize(v)).collect();
        let name = self.src.value(y).name.clone();
        let t = self.constant(format!("{name}_table"), crate::ops::qint::codes(po.dtype, &[inputs.len()], table)?);
        self.emit(n, y, po, "IntLut", Op::IntLut(IntLut), &[Some(xq), Some(t)])
    }
}

/// The input codes whose outputs form the table of codes with parameters
/// `p`: every code for 8-bit codes; for int16 the entry points of
/// `qint::lut16_table` (one every 128 codes from −32768, and 32768 past
/// the end), which the lookup interpolates between.
fn table_inputs(p: crate::quant::params::QParams) -> Result<Vec<i32>> {
    if !crate::ops::qint::is_wide(p.dtype)? {
        let (min, max) = p.code_range();
        return Ok((min..=max).collect());
    }
    Ok(crate::ops::qint::lut16_inputs().collect())
}
