//! Folds If nodes away: once input shapes are fixed and constants are
//! folded, an If whose condition is a constant is replaced by the branch it
//! selects (inlined with `Graph::inline`). Inference and folding run again
//! after each round, since an inlined branch can make further conditions
//! constant (nested Ifs fold in turn), until no If with a known condition
//! is left. An If whose condition stays unknown is left in place; type
//! inference then reports it (its condition depends on input data).

use super::infer_shapes;
use crate::ir::{Graph, NodeId};
use crate::ops::Op;
use crate::{Error, Result};

/// Inlines every If whose condition becomes known; returns the failures of
/// the last lenient inference sweep (see `infer_shapes::run_lenient`), or
/// nothing if the graph has no If.
pub fn run(graph: &mut Graph) -> Result<Vec<(NodeId, Error)>> {
    if !has_if(graph) {
        return Ok(Vec::new());
    }
    loop {
        let failures = infer_shapes::run_lenient(graph)?;
        if fold_known(graph)? == 0 {
            return Ok(failures);
        }
    }
}

fn has_if(graph: &Graph) -> bool {
    graph.nodes().into_iter().any(|n| matches!(graph.node(n).op, Op::If(_)))
}

/// Inlines the Ifs whose condition is a constant; returns how many.
fn fold_known(graph: &mut Graph) -> Result<usize> {
    let mut folded = 0;
    for n in graph.nodes() {
        let Op::If(op) = &graph.node(n).op else { continue };
        let inputs = graph.node_inputs(n);
        let Some(cond) = inputs.first().copied().flatten().and_then(|v| graph.value(v).constant.clone()) else { continue };
        let at = graph.node_ref(n);
        let body = op.branch(&cond).map_err(|e| e.at_node(&at))?.clone();
        graph.inline(n, &body, &inputs[1..]).map_err(|e| e.at_node(&at))?;
        folded += 1;
    }
    Ok(folded)
}
