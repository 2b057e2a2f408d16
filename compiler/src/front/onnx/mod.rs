//! ONNX frontend: `ModelProto` bytes to an IR [`Graph`]. Protobuf types never
//! leave this folder.
//!
//! Import decodes initializers (every encoding), declares graph inputs with
//! their ONNX types, inlines local functions, and builds one IR node per
//! primitive ONNX node. An If node's branches become IR subgraphs
//! ([`Attr::Graph`]) whose inputs are the outer values they read; the node
//! takes those values as extra inputs after its condition, so the outer
//! graph's edges show every dependency. Op types qcc does not know become
//! [`Op::Unsupported`](crate::ops::Op) nodes so that `qcc inspect` can list
//! them; running or compiling such a graph is an error naming them all.

mod expand;
mod node;
mod tensor;
mod wire;

#[cfg(test)]
mod subgraph_tests;

pub use node::{Attr, OnnxNode};

use crate::error::NodeRef;
use crate::ir::{Graph, Node, Shape, TensorType, Value, ValueId};
use crate::ops::Op;
use crate::tensor::{DType, Tensor};
use crate::{Error, Result};
use expand::{Expander, FlatGraph, FlatNode, Opsets};
use onnx_protobuf::{type_proto, GraphProto, Message, ModelProto, TensorProto, ValueInfoProto};
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;
use tensor::DataDir;

/// Oldest default-domain opset qcc accepts. Operators check the opset
/// where their semantics changed (legacy broadcasting, attribute forms).
pub const MIN_OPSET: i64 = 1;

/// Loads and imports an ONNX model file. Errors name the file.
pub fn load(path: &Path) -> Result<Graph> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    import(&bytes, path.parent()).map_err(|e| e.in_file(path))
}

/// Imports a serialized model; `dir` is where external data files live.
pub fn import(bytes: &[u8], dir: Option<&Path>) -> Result<Graph> {
    if bytes.is_empty() {
        return Err(Error::InvalidModel("the file is empty".into()));
    }
    if let Some(why) = wire::truncation(bytes) {
        return Err(Error::InvalidModel(format!("the file is truncated ({why})")));
    }
    let model = ModelProto::parse_from_bytes(bytes)
        .map_err(|e| Error::InvalidModel(format!("not ONNX protobuf data (decoding failed: {e})")))?;
    let graph = model.graph.as_ref().ok_or_else(|| Error::InvalidModel("the model has no graph (is this an ONNX model file?)".into()))?;
    let opsets = Opsets::new(&model.opset_import);
    if let Some(default) = opsets.get("").filter(|&v| v < MIN_OPSET) {
        return Err(Error::Unsupported(format!("default-domain opset {default}; qcc reads opsets {MIN_OPSET} and newer")));
    }
    let dir = DataDir(dir);
    let mut expander = Expander::new(&model.functions, &dir);
    expander.expand_graph(&graph.node, &opsets)?;
    let nodes = std::mem::take(&mut expander.out);
    Builder::default().build(graph, nodes, &dir)
}

/// Decodes a serialized `TensorProto` (the `.pb` files of ONNX test data).
pub fn read_tensor_pb(bytes: &[u8]) -> Result<Tensor> {
    if let Some(why) = wire::truncation(bytes) {
        return Err(Error::Usage(format!("not a valid ONNX TensorProto: the file is truncated ({why})")));
    }
    let t = TensorProto::parse_from_bytes(bytes).map_err(|e| Error::Usage(format!("not a valid ONNX TensorProto: {e}")))?;
    tensor::decode(&t, &DataDir(None), "tensor")
}

#[derive(Default)]
struct Builder {
    g: Graph,
    names: HashMap<String, ValueId>,
}

impl Builder {
    fn build(mut self, proto: &GraphProto, nodes: Vec<FlatNode>, dir: &DataDir) -> Result<Graph> {
        self.g.name = proto.name.clone();
        for init in &proto.initializer {
            let t = tensor::decode(init, dir, &format!("initializer '{}'", init.name))?;
            self.define_constant(&init.name, t)?;
        }
        for sparse in &proto.sparse_initializer {
            let name = sparse.values.as_ref().map(|v| v.name.clone()).unwrap_or_default();
            let t = tensor::decode_sparse(sparse, dir, &format!("sparse initializer '{name}'"))?;
            self.define_constant(&name, t)?;
        }
        let sparse = proto.sparse_initializer.iter().filter_map(|s| s.values.as_ref()).map(|t| t.name.as_str());
        let initializers: HashSet<&str> = proto.initializer.iter().map(|t| t.name.as_str()).chain(sparse).collect();
        for input in &proto.input {
            // Older models also list their initializers as inputs; those stay constants.
            if initializers.contains(input.name.as_str()) {
                continue;
            }
            let ty = input_type(input)?;
            let id = self.define(&input.name, Value { name: input.name.clone(), ty: Some(ty), constant: None })?;
            self.g.inputs.push(id);
            let names = dim_names(input);
            if names.iter().any(Option::is_some) {
                self.g.dim_names.insert(id, names);
            }
        }
        for node in &nodes {
            for out in node.outputs.iter().filter(|o| !o.is_empty()) {
                self.define(out, Value { name: out.clone(), ty: None, constant: None }).map_err(|e| e.at_node(&node_ref(node)))?;
            }
        }
        for node in nodes {
            self.add_node(node)?;
        }
        for output in &proto.output {
            let id = self.names.get(&output.name).copied().ok_or_else(|| {
                Error::InvalidModel(format!("graph output '{}' is not produced by any node, initializer or input", output.name))
            })?;
            self.g.outputs.push(id);
        }
        if self.g.outputs.is_empty() {
            return Err(Error::InvalidModel("the graph has no outputs".into()));
        }
        Ok(self.g)
    }

    fn define(&mut self, name: &str, value: Value) -> Result<ValueId> {
        if name.is_empty() {
            return Err(Error::InvalidModel("a value has an empty name".into()));
        }
        if self.names.contains_key(name) {
            return Err(Error::InvalidModel(format!("value '{name}' is defined more than once")));
        }
        let id = self.g.add_value(value);
        self.names.insert(name.to_string(), id);
        Ok(id)
    }

    fn define_constant(&mut self, name: &str, t: Tensor) -> Result<()> {
        let ty = TensorType::of(&t);
        self.define(name, Value { name: name.to_string(), ty: Some(ty), constant: Some(Arc::new(t)) })?;
        Ok(())
    }

    fn add_node(&mut self, flat: FlatNode) -> Result<()> {
        let at = node_ref(&flat);
        let mut inputs = Vec::with_capacity(flat.inputs.len());
        for name in &flat.inputs {
            if name.is_empty() {
                inputs.push(None);
                continue;
            }
            match self.names.get(name) {
                Some(&id) => inputs.push(Some(id)),
                None => {
                    return Err(Error::InvalidModel(format!(
                        "input '{name}' is not defined by any node, initializer or graph input (missing initializer?)"
                    ))
                    .at_node(&at))
                }
            }
        }
        let outputs: Vec<Option<ValueId>> = flat.outputs.iter().map(|o| self.names.get(o).copied()).collect();
        let mut attrs = flat.attrs;
        if !flat.graphs.is_empty() {
            // Every branch sees the same captured values, in this order.
            let mut captures: Vec<String> = Vec::new();
            for (_, g) in &flat.graphs {
                for n in g.free_names() {
                    if !captures.contains(&n) {
                        captures.push(n);
                    }
                }
            }
            for name in &captures {
                match self.names.get(name) {
                    Some(&id) => inputs.push(Some(id)),
                    None => {
                        return Err(Error::InvalidModel(format!(
                            "a subgraph reads '{name}', which no node, initializer or input of an enclosing graph defines"
                        ))
                        .at_node(&at))
                    }
                }
            }
            for (attr, g) in flat.graphs {
                let sub = build_subgraph(g, &captures).map_err(|e| e.at_node(&at))?;
                attrs.push((attr, Attr::Graph(Some(Arc::new(sub)))));
            }
        }
        let onnx = OnnxNode {
            name: flat.name.clone(),
            op_type: flat.op_type.clone(),
            domain: flat.domain.clone(),
            opset: flat.opset.unwrap_or(0),
            attrs,
            inputs: inputs.iter().map(Option::is_some).collect(),
            outputs: outputs.iter().map(Option::is_some).collect(),
        };
        let op = match flat.opset {
            None if flat.domain.is_empty() => Op::unsupported(&onnx, "the model imports no opset for the default ONNX domain".into()),
            None => Op::unsupported(&onnx, format!("the model imports no opset for domain '{}'", flat.domain)),
            Some(_) => Op::from_onnx(&onnx).map_err(|e| e.at_node(&at))?,
        };
        let node = Node { name: flat.name, op_type: flat.op_type, opset: onnx.opset, op };
        self.g.add_node(node, &inputs, &outputs).map_err(|e| e.at_node(&at))?;
        Ok(())
    }
}

/// The IR graph of a subgraph: its formal inputs, then the values it reads
/// from enclosing scopes (`captures`), are its inputs (types unknown: they
/// are inferred once the subgraph is inlined into its enclosing graph).
fn build_subgraph(fg: FlatGraph, captures: &[String]) -> Result<Graph> {
    let mut b = Builder::default();
    b.g.name = fg.name;
    for name in fg.inputs.iter().chain(captures) {
        let id = b.define(name, Value { name: name.to_string(), ty: None, constant: None })?;
        b.g.inputs.push(id);
    }
    for (name, t) in fg.initializers {
        b.define_constant(&name, t)?;
    }
    for node in &fg.nodes {
        for out in node.outputs.iter().filter(|o| !o.is_empty()) {
            b.define(out, Value { name: out.clone(), ty: None, constant: None }).map_err(|e| e.at_node(&node_ref(node)))?;
        }
    }
    for node in fg.nodes {
        b.add_node(node)?;
    }
    for output in &fg.outputs {
        let id = b.names.get(output).copied().ok_or_else(|| {
            Error::InvalidModel(format!("subgraph output '{output}' is not produced by any node, initializer or input"))
        })?;
        b.g.outputs.push(id);
    }
    Ok(b.g)
}

fn node_ref(n: &FlatNode) -> NodeRef {
    NodeRef { name: n.name.clone(), op_type: n.op_type.clone(), opset: n.opset }
}

/// The `dim_param` names of a graph input's dimensions.
fn dim_names(v: &ValueInfoProto) -> Vec<Option<String>> {
    let Some(type_proto::Value::TensorType(t)) = v.type_.as_ref().and_then(|tp| tp.value.as_ref()) else { return Vec::new() };
    let Some(shape) = t.shape.as_ref() else { return Vec::new() };
    shape
        .dim
        .iter()
        .map(|d| match &d.value {
            Some(onnx_protobuf::tensor_shape_proto::dimension::Value::DimParam(p)) if !p.is_empty() => Some(p.clone()),
            _ => None,
        })
        .collect()
}

/// The declared type of a graph input; dims named by `dim_param` (or
/// missing, or -1 as some exporters write) stay unknown until fixed with
/// `--input-shape` or by input data. Other negative dims are errors.
fn input_type(v: &ValueInfoProto) -> Result<TensorType> {
    let what = |m: &str| Error::Unsupported(format!("graph input '{}' {m}", v.name));
    let tp = v.type_.as_ref().ok_or_else(|| Error::InvalidModel(format!("graph input '{}' has no type", v.name)))?;
    let t = match &tp.value {
        Some(type_proto::Value::TensorType(t)) => t,
        Some(type_proto::Value::SequenceType(_)) => return Err(what("is a sequence; qcc handles tensors only")),
        Some(type_proto::Value::MapType(_)) => return Err(what("is a map; qcc handles tensors only")),
        Some(type_proto::Value::OptionalType(_)) => return Err(what("is optional; qcc handles tensors only")),
        Some(type_proto::Value::SparseTensorType(_)) => return Err(what("is a sparse tensor; qcc handles dense tensors only")),
        _ => return Err(Error::InvalidModel(format!("graph input '{}' has no type", v.name))),
    };
    let dtype = DType::from_onnx(t.elem_type).ok_or_else(|| what(&format!("has element type code {}, which qcc does not support", t.elem_type)))?;
    let shape = match t.shape.as_ref() {
        None => Shape::unknown(),
        Some(s) => {
            let mut dims = Vec::with_capacity(s.dim.len());
            for d in &s.dim {
                dims.push(match d.value {
                    Some(onnx_protobuf::tensor_shape_proto::dimension::Value::DimValue(n)) if n < -1 => {
                        return Err(Error::InvalidModel(format!("graph input '{}' has negative dimension {n}", v.name)));
                    }
                    Some(onnx_protobuf::tensor_shape_proto::dimension::Value::DimValue(n)) => usize::try_from(n).ok(),
                    _ => None,
                });
            }
            Shape::from_dims(dims)
        }
    };
    // The known dimensions alone must stay within the limits.
    let known: Vec<usize> = shape.dims().unwrap_or(&[]).iter().flatten().copied().collect();
    crate::tensor::checked_numel(&known).map_err(|e| Error::InvalidModel(format!("graph input '{}': {e}", v.name)))?;
    Ok(TensorType::new(dtype, shape))
}
