//! Removes nodes and values that no graph output depends on. Graph inputs
//! stay, even when unused, so the calling convention does not change.

use crate::ir::{Graph, NodeId, ValueId};
use crate::Result;
use std::collections::HashSet;

pub fn run(graph: &mut Graph) -> Result<()> {
    let mut live_values: HashSet<ValueId> = HashSet::new();
    let mut live_nodes: HashSet<NodeId> = HashSet::new();
    let mut stack: Vec<ValueId> = graph.outputs.clone();
    while let Some(v) = stack.pop() {
        if !live_values.insert(v) {
            continue;
        }
        if let Some((n, _)) = graph.producer(v) {
            if live_nodes.insert(n) {
                stack.extend(graph.node_inputs(n).into_iter().flatten());
            }
        }
    }
    for n in graph.nodes() {
        if !live_nodes.contains(&n) {
            graph.remove_node(n);
        }
    }
    let inputs: HashSet<ValueId> = graph.inputs.iter().copied().collect();
    for v in graph.values() {
        // Unused outputs of live nodes stay: the node still produces them.
        let produced = graph.producer(v).is_some();
        if !live_values.contains(&v) && !inputs.contains(&v) && !produced {
            graph.remove_value(v);
        }
    }
    Ok(())
}
