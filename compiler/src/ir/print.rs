//! A readable text form of a graph, one node per line, for debugging and
//! pass tests.

use super::Graph;
use std::fmt::Write;

/// Prints inputs, nodes in topological order (or index order if the graph
/// has a cycle) and outputs.
pub fn print(g: &Graph) -> String {
    let mut s = String::new();
    let value = |v| {
        let val = g.value(v);
        match &val.ty {
            Some(t) => format!("%{}: {t}", val.name),
            None => format!("%{}", val.name),
        }
    };
    for &i in &g.inputs {
        let _ = writeln!(s, "input {}", value(i));
    }
    let order = g.topo_order().unwrap_or_else(|_| g.nodes());
    for n in order {
        let node = g.node(n);
        let ins: Vec<String> = g.node_inputs(n).into_iter().map(|v| v.map(|v| format!("%{}", g.value(v).name)).unwrap_or_else(|| "_".into())).collect();
        let outs: Vec<String> = g.node_outputs(n).into_iter().map(|v| v.map(value).unwrap_or_else(|| "_".into())).collect();
        let _ = writeln!(s, "{} = {}[{}]({})", outs.join(", "), node.op_type, node.name, ins.join(", "));
    }
    for &o in &g.outputs {
        let _ = writeln!(s, "output {}", value(o));
    }
    s
}
