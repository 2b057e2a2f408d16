//! Removes Identity and inference-mode Dropout nodes by rewiring their
//! readers to the input. Nodes whose output is a graph output stay, so
//! output names are preserved.

use crate::ir::{Graph, ValueId};
use crate::ops::Op;
use crate::Result;
use std::collections::HashSet;

pub fn run(graph: &mut Graph) -> Result<()> {
    // Graph outputs never change below: an Identity producing one stays.
    let graph_outputs: HashSet<ValueId> = graph.outputs.iter().copied().collect();
    for n in graph.nodes() {
        if !matches!(graph.node(n).op, Op::Identity(_)) {
            continue;
        }
        let outputs = graph.node_outputs(n);
        // A used Dropout mask keeps the node.
        if outputs.iter().skip(1).flatten().any(|&m| !graph.consumers(m).is_empty() || graph_outputs.contains(&m)) {
            continue;
        }
        let (Some(Some(input)), Some(Some(output))) = (graph.node_inputs(n).first().copied(), outputs.first().copied()) else {
            continue;
        };
        if graph_outputs.contains(&output) {
            continue;
        }
        graph.replace_uses(output, input);
        graph.remove_node(n);
        for v in outputs.into_iter().flatten() {
            graph.remove_value(v);
        }
    }
    Ok(())
}
