//! The order in which passes run, as straight-line code.

use super::{eliminate_dead_code, fold_if, infer_shapes, remove_identity, set_input_shapes};
use crate::ir::Graph;
use crate::Result;

/// Fixes input shapes, then infers every type, folds constants (shape
/// subgraphs included) and Ifs with known conditions, and removes what does
/// not contribute to the outputs. Afterwards every value has a type, and
/// every node is supported.
pub fn prepare(graph: &mut Graph, input_shapes: &[(String, Vec<usize>)]) -> Result<()> {
    set_input_shapes::run(graph, input_shapes)?;
    graph.check_supported()?;
    fold_if::run(graph)?;
    // Inlined branches may hold unsupported nodes.
    graph.check_supported()?;
    infer_shapes::run(graph)?;
    remove_identity::run(graph)?;
    eliminate_dead_code::run(graph)?;
    Ok(())
}
