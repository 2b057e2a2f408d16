//! The IR graph: operator nodes and the values (tensors) that flow between
//! them. The only file that knows petgraph.
//!
//! Internally a bipartite petgraph: value -> node edges carry the input slot,
//! node -> value edges the output slot. A node's argument list is therefore
//! stored once, in the edges; optional inputs and outputs that are absent
//! simply have no edge.

use super::TensorType;
use crate::error::NodeRef;
use crate::ops::Op;
use crate::tensor::Tensor;
use crate::{Error, Result};
use petgraph::stable_graph::{NodeIndex, StableDiGraph};
use petgraph::visit::EdgeRef;
use petgraph::Direction;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

/// Handle of a value in a [`Graph`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ValueId(NodeIndex);

/// Handle of an operator node in a [`Graph`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(NodeIndex);

/// A tensor in the graph: a graph input, an operator output or a constant.
#[derive(Debug, Clone)]
pub struct Value {
    pub name: String,
    /// The static type; `None` until inferred.
    pub ty: Option<TensorType>,
    /// The value, when it is known at compile time.
    pub constant: Option<Arc<Tensor>>,
}

/// An operator application.
#[derive(Debug, Clone)]
pub struct Node {
    /// The ONNX node name (or a generated `<op_type>_<k>` when it had none).
    pub name: String,
    /// The ONNX op type the node came from, for messages.
    pub op_type: String,
    /// Opset version of the node's domain.
    pub opset: i64,
    pub op: Op,
}

#[derive(Debug, Clone)]
enum Item {
    Node { node: Node, n_inputs: usize, n_outputs: usize },
    Value(Value),
}

/// A dataflow graph with ordered inputs and outputs.
#[derive(Debug, Clone, Default)]
pub struct Graph {
    g: StableDiGraph<Item, usize>,
    pub name: String,
    pub inputs: Vec<ValueId>,
    pub outputs: Vec<ValueId>,
    /// The model's names for the dynamic dimensions of graph inputs
    /// (ONNX `dim_param`), by input and axis: the same name is the same size.
    pub dim_names: BTreeMap<ValueId, Vec<Option<String>>>,
    /// Scale and zero point of graph inputs and outputs that hold 8-bit
    /// quantized codes (`--io int8`), for the generated code's constants.
    pub io_quant: BTreeMap<ValueId, (f32, i32)>,
}

impl Graph {
    pub fn new(name: impl Into<String>) -> Graph {
        Graph { name: name.into(), ..Graph::default() }
    }

    pub fn add_value(&mut self, value: Value) -> ValueId {
        ValueId(self.g.add_node(Item::Value(value)))
    }

    /// Adds a node reading `inputs` (None = absent optional input) and
    /// producing `outputs` (None = unused optional output). Each output
    /// value must not already have a producer.
    pub fn add_node(&mut self, node: Node, inputs: &[Option<ValueId>], outputs: &[Option<ValueId>]) -> Result<NodeId> {
        for v in outputs.iter().flatten() {
            if let Some((p, _)) = self.producer(*v) {
                return Err(Error::InvalidModel(format!(
                    "value '{}' is produced by both '{}' and '{}'",
                    self.value(*v).name,
                    self.node(p).name,
                    node.name
                )));
            }
        }
        let id = self.g.add_node(Item::Node { node, n_inputs: inputs.len(), n_outputs: outputs.len() });
        for (slot, v) in inputs.iter().enumerate() {
            if let Some(v) = v {
                self.g.add_edge(v.0, id, slot);
            }
        }
        for (slot, v) in outputs.iter().enumerate() {
            if let Some(v) = v {
                self.g.add_edge(id, v.0, slot);
            }
        }
        Ok(NodeId(id))
    }

    pub fn value(&self, v: ValueId) -> &Value {
        match &self.g[v.0] {
            Item::Value(value) => value,
            Item::Node { .. } => unreachable!("ValueId always names a value"),
        }
    }

    pub fn value_mut(&mut self, v: ValueId) -> &mut Value {
        match &mut self.g[v.0] {
            Item::Value(value) => value,
            Item::Node { .. } => unreachable!("ValueId always names a value"),
        }
    }

    pub fn node(&self, n: NodeId) -> &Node {
        match &self.g[n.0] {
            Item::Node { node, .. } => node,
            Item::Value(_) => unreachable!("NodeId always names a node"),
        }
    }

    pub fn node_mut(&mut self, n: NodeId) -> &mut Node {
        match &mut self.g[n.0] {
            Item::Node { node, .. } => node,
            Item::Value(_) => unreachable!("NodeId always names a node"),
        }
    }

    /// The node's name, op type and opset, for error messages.
    pub fn node_ref(&self, n: NodeId) -> NodeRef {
        let node = self.node(n);
        NodeRef { name: node.name.clone(), op_type: node.op_type.clone(), opset: Some(node.opset) }
    }

    fn arity(&self, n: NodeId) -> (usize, usize) {
        match &self.g[n.0] {
            Item::Node { n_inputs, n_outputs, .. } => (*n_inputs, *n_outputs),
            Item::Value(_) => unreachable!("NodeId always names a node"),
        }
    }

    /// The node's inputs by slot.
    pub fn node_inputs(&self, n: NodeId) -> Vec<Option<ValueId>> {
        let mut slots = vec![None; self.arity(n).0];
        for e in self.g.edges_directed(n.0, Direction::Incoming) {
            slots[*e.weight()] = Some(ValueId(e.source()));
        }
        slots
    }

    /// The node's outputs by slot.
    pub fn node_outputs(&self, n: NodeId) -> Vec<Option<ValueId>> {
        let mut slots = vec![None; self.arity(n).1];
        for e in self.g.edges_directed(n.0, Direction::Outgoing) {
            slots[*e.weight()] = Some(ValueId(e.target()));
        }
        slots
    }

    /// Multiply-accumulates of node `n`, from its inputs' and outputs'
    /// types (0 where the op cannot tell).
    pub fn node_macs(&self, n: NodeId) -> u64 {
        let ty = |v: &Option<ValueId>| v.and_then(|v| self.value(v).ty.as_ref());
        let ins: Vec<Option<&TensorType>> = self.node_inputs(n).iter().map(ty).collect();
        let outs: Vec<&TensorType> = self.node_outputs(n).iter().filter_map(ty).collect();
        self.node(n).op.macs(&ins, &outs)
    }

    /// The node producing `v` and the output slot, if any.
    pub fn producer(&self, v: ValueId) -> Option<(NodeId, usize)> {
        self.g.edges_directed(v.0, Direction::Incoming).next().map(|e| (NodeId(e.source()), *e.weight()))
    }

    /// The nodes reading `v`, with the input slot, in a stable order.
    pub fn consumers(&self, v: ValueId) -> Vec<(NodeId, usize)> {
        let mut c: Vec<_> = self.g.edges_directed(v.0, Direction::Outgoing).map(|e| (NodeId(e.target()), *e.weight())).collect();
        c.sort();
        c
    }

    /// All nodes, in index order.
    pub fn nodes(&self) -> Vec<NodeId> {
        let mut ids: Vec<_> = self.g.node_indices().filter(|&i| matches!(self.g[i], Item::Node { .. })).map(NodeId).collect();
        ids.sort();
        ids
    }

    /// All values, in index order.
    pub fn values(&self) -> Vec<ValueId> {
        let mut ids: Vec<_> = self.g.node_indices().filter(|&i| matches!(self.g[i], Item::Value(_))).map(ValueId).collect();
        ids.sort();
        ids
    }

    /// Nodes in dependency order; among ready nodes the earliest added comes
    /// first, so the order is deterministic. A cycle is an error naming a
    /// node on it.
    pub fn topo_order(&self) -> Result<Vec<NodeId>> {
        let nodes = self.nodes();
        let mut waiting: HashMap<NodeId, usize> = HashMap::new();
        let mut ready = BTreeSet::new();
        for &n in &nodes {
            let deps = self.node_inputs(n).into_iter().flatten().filter(|&v| self.producer(v).is_some()).count();
            if deps == 0 {
                ready.insert(n);
            } else {
                waiting.insert(n, deps);
            }
        }
        let mut order = Vec::with_capacity(nodes.len());
        while let Some(n) = ready.pop_first() {
            order.push(n);
            for v in self.node_outputs(n).into_iter().flatten() {
                for (c, _) in self.consumers(v) {
                    if let Some(count) = waiting.get_mut(&c) {
                        *count -= 1;
                        if *count == 0 {
                            waiting.remove(&c);
                            ready.insert(c);
                        }
                    }
                }
            }
        }
        if let Some(&stuck) = waiting.keys().min() {
            let on_cycle = self.walk_to_cycle(stuck, &waiting);
            return Err(Error::InvalidModel(format!(
                "the graph has a cycle: node '{}' ({}) depends on its own output",
                self.node(on_cycle).name,
                self.node(on_cycle).op_type
            )));
        }
        Ok(order)
    }

    /// A node on a cycle, found by walking upstream from `start` through
    /// nodes that topological ordering could not place (each has such a
    /// producer, so the walk ends on a node it has seen).
    fn walk_to_cycle(&self, start: NodeId, waiting: &HashMap<NodeId, usize>) -> NodeId {
        let mut seen = BTreeSet::new();
        let mut n = start;
        while seen.insert(n) {
            let next = self
                .node_inputs(n)
                .into_iter()
                .flatten()
                .filter_map(|v| self.producer(v).map(|(p, _)| p))
                .filter(|p| waiting.contains_key(p))
                .min();
            match next {
                Some(p) => n = p,
                None => break,
            }
        }
        n
    }

    /// Makes every reader of `old` (nodes and graph outputs) read `new`.
    pub fn replace_uses(&mut self, old: ValueId, new: ValueId) {
        let uses: Vec<_> = self.g.edges_directed(old.0, Direction::Outgoing).map(|e| (e.id(), e.target(), *e.weight())).collect();
        for (edge, target, slot) in uses {
            self.g.remove_edge(edge);
            self.g.add_edge(new.0, target, slot);
        }
        for o in &mut self.outputs {
            if *o == old {
                *o = new;
            }
        }
    }

    /// Exchanges the values node `n` reads at input slots `a` and `b`.
    pub fn swap_inputs(&mut self, n: NodeId, a: usize, b: usize) {
        let edges: Vec<_> = self.g.edges_directed(n.0, Direction::Incoming).map(|e| (e.id(), *e.weight())).collect();
        for (edge, slot) in edges {
            let swapped = if slot == a { b } else if slot == b { a } else { slot };
            if let Some(w) = self.g.edge_weight_mut(edge) {
                *w = swapped;
            }
        }
    }

    /// Whether `n` is a node of the graph (not removed).
    pub fn contains_node(&self, n: NodeId) -> bool {
        matches!(self.g.node_weight(n.0), Some(Item::Node { .. }))
    }

    /// Removes a node; its output values stay, without a producer.
    pub fn remove_node(&mut self, n: NodeId) {
        self.g.remove_node(n.0);
    }

    /// Removes a value and its edges.
    pub fn remove_value(&mut self, v: ValueId) {
        self.g.remove_node(v.0);
    }

    /// Number of operator nodes.
    pub fn node_count(&self) -> usize {
        self.g.node_indices().filter(|&i| matches!(self.g[i], Item::Node { .. })).count()
    }
}
