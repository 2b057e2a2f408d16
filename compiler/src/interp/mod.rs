//! The reference interpreter: evaluates a prepared graph with each
//! operator's `eval`, in topological order, freeing every value after its
//! last use.
//!
//! It also checks, at every node, that the evaluated outputs fit the types
//! that inference assigned; a mismatch is reported as an internal error, so
//! the conformance suite tests inference as well as evaluation.

pub mod gemm;

use crate::ir::{Graph, NodeId, ValueId};
use crate::tensor::Tensor;
use crate::{Error, Result};
use std::collections::HashMap;
use std::sync::Arc;

/// A graph ready to run: its node order and value lifetimes, computed once.
pub struct Interpreter<'g> {
    graph: &'g Graph,
    order: Vec<NodeId>,
    /// For each value read by a node, the position in `order` of its last
    /// reader; graph outputs are never freed and have no entry.
    last_use: HashMap<ValueId, usize>,
}

impl<'g> Interpreter<'g> {
    pub fn new(graph: &'g Graph) -> Result<Interpreter<'g>> {
        graph.check_supported()?;
        let order = graph.topo_order()?;
        let mut last_use = HashMap::new();
        for (pos, &n) in order.iter().enumerate() {
            for v in graph.node_inputs(n).into_iter().flatten() {
                last_use.insert(v, pos);
            }
        }
        for o in &graph.outputs {
            last_use.remove(o);
        }
        Ok(Interpreter { graph, order, last_use })
    }

    /// Runs the graph on `inputs`, given in graph-input order.
    pub fn run(&self, inputs: Vec<Tensor>) -> Result<Vec<Tensor>> {
        self.run_observed(inputs, &mut |_, _| {})
    }

    /// [`Interpreter::run`], showing `observe` every graph input and every
    /// computed value once, as soon as it exists (calibration).
    pub fn run_observed(&self, inputs: Vec<Tensor>, observe: &mut dyn FnMut(ValueId, &Tensor)) -> Result<Vec<Tensor>> {
        let g = self.graph;
        if inputs.len() != g.inputs.len() {
            return Err(Error::Usage(format!("the model has {} input(s), but {} were given", g.inputs.len(), inputs.len())));
        }
        let mut env: HashMap<ValueId, Arc<Tensor>> = HashMap::new();
        for (&id, t) in g.inputs.iter().zip(inputs) {
            let value = g.value(id);
            let ty = g.ty(id)?;
            if !ty.admits(&t) {
                return Err(Error::Usage(format!(
                    "input '{}' must be {ty}, but the data is {}{:?}",
                    value.name,
                    t.dtype(),
                    t.shape()
                )));
            }
            observe(id, &t);
            env.insert(id, Arc::new(t));
        }
        for (pos, &n) in self.order.iter().enumerate() {
            self.step(n, &mut env).map_err(|e| e.at_node(&g.node_ref(n)))?;
            for v in g.node_outputs(n).into_iter().flatten() {
                if let Some(t) = env.get(&v) {
                    observe(v, t);
                }
            }
            for v in g.node_inputs(n).into_iter().flatten() {
                if self.last_use.get(&v) == Some(&pos) {
                    env.remove(&v);
                }
            }
        }
        g.outputs.iter().map(|&o| fetch(g, &env, o).map(|t| Tensor::clone(t))).collect()
    }

    fn step(&self, n: NodeId, env: &mut HashMap<ValueId, Arc<Tensor>>) -> Result<()> {
        let g = self.graph;
        let inputs = g.node_inputs(n);
        let mut held = Vec::with_capacity(inputs.len());
        for v in &inputs {
            held.push(match v {
                Some(v) => Some(fetch(g, env, *v)?.clone()),
                None => None,
            });
        }
        let args: Vec<Option<&Tensor>> = held.iter().map(|t| t.as_deref()).collect();
        let results = g.node(n).op.eval(&args)?;
        let outputs = g.node_outputs(n);
        let mut results: Vec<Option<Tensor>> = results.into_iter().map(Some).collect();
        for (slot, v) in outputs.iter().enumerate() {
            let Some(v) = v else { continue };
            let Some(t) = results.get_mut(slot).and_then(Option::take) else {
                return Err(Error::Op(format!("evaluation produced no output {slot}")));
            };
            let ty = g.ty(*v)?;
            if !ty.admits(&t) {
                return Err(Error::Op(format!(
                    "internal error: output '{}' was inferred as {ty} but evaluates to {}{:?}",
                    g.value(*v).name,
                    t.dtype(),
                    t.shape()
                )));
            }
            env.insert(*v, Arc::new(t));
        }
        Ok(())
    }
}

fn fetch<'a>(g: &'a Graph, env: &'a HashMap<ValueId, Arc<Tensor>>, v: ValueId) -> Result<&'a Arc<Tensor>> {
    if let Some(t) = env.get(&v) {
        return Ok(t);
    }
    g.value(v).constant.as_ref().ok_or_else(|| Error::Op(format!("value '{}' has not been computed", g.value(v).name)))
}
