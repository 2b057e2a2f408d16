//! Type and shape inference with constant folding, in one sweep in
//! topological order.
//!
//! A node whose inputs are all constants is evaluated and replaced by its
//! outputs as constants; a node whose outputs follow from input types alone
//! (Shape, Size) is folded the same way; any other node gets its output
//! types from `OpDef::infer`. Because folding happens during the sweep, a
//! shape subgraph (Shape -> Gather -> Concat -> Reshape) collapses to a
//! constant and the Reshape after it gets a fully known shape.

use crate::ir::{Graph, NodeId, TensorType};
use crate::ops::Arg;
use crate::tensor::Tensor;
use crate::{Error, Result};
use std::sync::Arc;

/// Infers every value's type; the first failure is an error naming its node.
pub fn run(graph: &mut Graph) -> Result<()> {
    sweep(graph, true).map(|_| ())
}

/// Infers what can be inferred and returns the nodes that failed (values
/// downstream of them stay untyped). Used by `qcc inspect`.
pub fn run_lenient(graph: &mut Graph) -> Result<Vec<(NodeId, Error)>> {
    sweep(graph, false)
}

/// A present input's type and, when constant, its value.
type Typed = Option<(TensorType, Option<Arc<Tensor>>)>;

enum Outcome {
    Folded(Vec<Tensor>),
    Typed(Vec<TensorType>),
}

fn sweep(graph: &mut Graph, strict: bool) -> Result<Vec<(NodeId, Error)>> {
    let mut failures = Vec::new();
    for n in graph.topo_order()? {
        let inputs = graph.node_inputs(n);
        let mut typed: Vec<Typed> = Vec::with_capacity(inputs.len());
        let mut complete = true;
        for v in &inputs {
            typed.push(match v {
                None => None,
                Some(v) => {
                    let value = graph.value(*v);
                    match &value.ty {
                        Some(ty) => Some((ty.clone(), value.constant.clone())),
                        None => {
                            complete = false;
                            None
                        }
                    }
                }
            });
        }
        if !complete {
            // Downstream of a node that failed in lenient mode.
            continue;
        }
        match infer_node(graph, n, &typed) {
            Ok(outcome) => apply(graph, n, outcome).map_err(|e| e.at_node(&graph.node_ref(n)))?,
            Err(e) => {
                let e = e.at_node(&graph.node_ref(n));
                if strict {
                    return Err(e);
                }
                failures.push((n, e));
            }
        }
    }
    Ok(failures)
}

fn infer_node(graph: &Graph, n: NodeId, typed: &[Typed]) -> Result<Outcome> {
    let op = &graph.node(n).op;
    let args: Vec<Option<Arg>> = typed.iter().map(|t| t.as_ref().map(|(ty, c)| Arg { ty, value: c.as_deref() })).collect();
    let all_constant = typed.iter().flatten().all(|(_, c)| c.is_some());
    if all_constant {
        let values: Vec<Option<&Tensor>> = typed.iter().map(|t| t.as_ref().and_then(|(_, c)| c.as_deref())).collect();
        return Ok(Outcome::Folded(op.eval(&values)?));
    }
    if let Some(values) = op.fold_from_types(&args) {
        return Ok(Outcome::Folded(values));
    }
    Ok(Outcome::Typed(op.infer(&args)?))
}

fn apply(graph: &mut Graph, n: NodeId, outcome: Outcome) -> Result<()> {
    let outputs = graph.node_outputs(n);
    match outcome {
        Outcome::Folded(values) => {
            let mut values: Vec<Option<Tensor>> = values.into_iter().map(Some).collect();
            for (slot, v) in outputs.iter().enumerate() {
                let Some(v) = v else { continue };
                let Some(t) = values.get_mut(slot).and_then(Option::take) else {
                    return Err(Error::Op(format!("evaluation produced no output {slot}")));
                };
                let value = graph.value_mut(*v);
                value.ty = Some(TensorType::of(&t));
                value.constant = Some(Arc::new(t));
            }
            graph.remove_node(n);
        }
        Outcome::Typed(types) => {
            for (slot, v) in outputs.iter().enumerate() {
                let Some(v) = v else { continue };
                let Some(ty) = types.get(slot) else {
                    return Err(Error::Op(format!("inference produced no type for output {slot}")));
                };
                ty.shape.check_size()?;
                graph.value_mut(*v).ty = Some(ty.clone());
            }
        }
    }
    Ok(())
}
