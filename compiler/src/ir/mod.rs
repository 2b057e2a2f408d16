//! The intermediate representation: a dataflow [`Graph`] of operator nodes
//! and typed values, shared by every pass, the interpreter and the backends.

mod graph;
mod inline;
mod print;
mod types;

pub use graph::{Graph, Node, NodeId, Value, ValueId};
pub use print::print;
pub use types::{Dim, Shape, TensorType};

use crate::{Error, Result};

impl Graph {
    /// The inferred type of `v`, or an error if inference has not reached it.
    pub fn ty(&self, v: ValueId) -> Result<&TensorType> {
        let value = self.value(v);
        value.ty.as_ref().ok_or_else(|| Error::Op(format!("the type of '{}' is not known", value.name)))
    }

    /// Nodes that qcc cannot handle, with the reason, in graph order.
    pub fn unsupported_nodes(&self) -> Vec<(NodeId, String)> {
        self.nodes().into_iter().filter_map(|n| self.node(n).op.unsupported_reason().map(|r| (n, r.to_string()))).collect()
    }

    /// Fails with one message listing every unsupported node.
    pub fn check_supported(&self) -> Result<()> {
        let bad = self.unsupported_nodes();
        if bad.is_empty() {
            return Ok(());
        }
        let list: Vec<String> = bad.iter().map(|(n, why)| format!("'{}' ({}): {why}", self.node(*n).name, self.node(*n).op_type)).collect();
        Err(Error::Unsupported(format!("{} node(s) cannot be handled: {}", bad.len(), list.join("; "))))
    }
}
