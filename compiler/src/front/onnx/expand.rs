//! Flattens a graph's node list: calls of ONNX local functions (the model's
//! `functions`) are inlined recursively, attribute references
//! (`ref_attr_name`) resolved, and every attribute decoded into [`Attr`].
//! The `then_branch` / `else_branch` subgraphs of If nodes are flattened
//! the same way into [`FlatGraph`]s (names renamed as their enclosing scope
//! renames them); other subgraph attributes (Loop, Scan) stay markers.

use super::node::Attr;
use super::tensor::{decode, decode_sparse, DataDir};
use crate::tensor::DType;
use crate::{Error, Result};
use crate::tensor::Tensor;
use onnx_protobuf::{attribute_proto::AttributeType, AttributeProto, FunctionProto, GraphProto, NodeProto, OperatorSetIdProto};
use std::collections::{HashMap, HashSet};

/// Deepest nesting of function calls accepted (recursive functions are invalid).
const MAX_DEPTH: usize = 32;

/// Most primitive nodes a graph may expand to. Nested function calls can
/// multiply a small file into billions of nodes; past this it is an error.
pub const MAX_NODES: u64 = 1 << 20;

/// A primitive node after inlining, with decoded attributes.
#[derive(Debug)]
pub struct FlatNode {
    pub name: String,
    pub op_type: String,
    pub domain: String,
    pub opset: Option<i64>,
    pub attrs: Vec<(String, Attr)>,
    pub inputs: Vec<String>,
    pub outputs: Vec<String>,
    /// Subgraph attributes qcc builds (If's branches), by attribute name.
    pub graphs: Vec<(String, FlatGraph)>,
}

/// A subgraph after flattening, its names as the enclosing scope sees them.
#[derive(Debug)]
pub struct FlatGraph {
    pub name: String,
    /// Formal inputs (If's branches have none).
    pub inputs: Vec<String>,
    pub initializers: Vec<(String, Tensor)>,
    pub nodes: Vec<FlatNode>,
    pub outputs: Vec<String>,
}

impl FlatGraph {
    /// The names the subgraph reads from enclosing scopes (nested subgraphs
    /// included), in order of first use.
    pub fn free_names(&self) -> Vec<String> {
        let mut defined: HashSet<&str> = self.inputs.iter().map(String::as_str).collect();
        defined.extend(self.initializers.iter().map(|(n, _)| n.as_str()));
        defined.extend(self.nodes.iter().flat_map(|n| n.outputs.iter()).map(String::as_str));
        let mut used: Vec<String> = Vec::new();
        for node in &self.nodes {
            used.extend(node.inputs.iter().cloned());
            for (_, g) in &node.graphs {
                used.extend(g.free_names());
            }
        }
        used.extend(self.outputs.iter().cloned());
        let mut seen = HashSet::new();
        used.into_iter().filter(|n| !n.is_empty() && !defined.contains(n.as_str()) && seen.insert(n.clone())).collect()
    }
}

/// Op types whose subgraph attributes qcc builds.
const SUBGRAPH_OPS: &[&str] = &["If"];

/// Opset versions by domain ("" and "ai.onnx" are the same domain).
#[derive(Debug, Clone, Default)]
pub struct Opsets(HashMap<String, i64>);

impl Opsets {
    pub fn new(imports: &[OperatorSetIdProto]) -> Opsets {
        Opsets(imports.iter().map(|o| (canonical(&o.domain).to_string(), o.version)).collect())
    }

    pub fn get(&self, domain: &str) -> Option<i64> {
        self.0.get(canonical(domain)).copied()
    }
}

/// A function's name as messages show it: `domain.name`, or `name`.
fn f_name((domain, name): &(String, String)) -> String {
    if domain.is_empty() {
        name.clone()
    } else {
        format!("{domain}.{name}")
    }
}

/// The default domain has two spellings.
pub fn canonical(domain: &str) -> &str {
    if domain == "ai.onnx" {
        ""
    } else {
        domain
    }
}

pub struct Expander<'a> {
    pub functions: HashMap<(String, String), &'a FunctionProto>,
    pub dir: &'a DataDir<'a>,
    pub out: Vec<FlatNode>,
    calls: usize,
    /// Primitive nodes emitted so far, subgraphs included (the budget).
    emitted: u64,
    /// Primitive nodes each function expands to, once computed.
    sizes: HashMap<(String, String), u64>,
}

/// What a function body sees of its call.
struct Frame {
    opsets: Opsets,
    /// Formal name -> actual name, for inputs, outputs and internal values.
    rename: HashMap<String, String>,
    /// Attribute values visible through `ref_attr_name`.
    attrs: HashMap<String, Attr>,
    prefix: String,
}

impl<'a> Expander<'a> {
    pub fn new(functions: &'a [FunctionProto], dir: &'a DataDir<'a>) -> Expander<'a> {
        let functions = functions.iter().map(|f| ((canonical(&f.domain).to_string(), f.name.clone()), f)).collect();
        Expander { functions, dir, out: Vec::new(), calls: 0, emitted: 0, sizes: HashMap::new() }
    }

    /// Expands the top-level node list of a graph.
    pub fn expand_graph(&mut self, nodes: &'a [NodeProto], opsets: &Opsets) -> Result<()> {
        let frame = Frame { opsets: opsets.clone(), rename: HashMap::new(), attrs: HashMap::new(), prefix: String::new() };
        for (i, node) in nodes.iter().enumerate() {
            let name = if node.name.is_empty() { format!("{}_{i}", node.op_type) } else { node.name.clone() };
            self.expand_node(node, name, &frame, 0)?;
        }
        Ok(())
    }

    fn expand_node(&mut self, node: &'a NodeProto, name: String, frame: &Frame, depth: usize) -> Result<()> {
        let rename = |n: &String| if n.is_empty() { String::new() } else { frame.rename.get(n).cloned().unwrap_or_else(|| format!("{}{n}", frame.prefix)) };
        let inputs: Vec<String> = node.input.iter().map(rename).collect();
        let outputs: Vec<String> = node.output.iter().map(rename).collect();
        let node_err = |e: Error| {
            let opset = frame.opsets.get(&node.domain);
            e.at_node(&crate::error::NodeRef { name: name.clone(), op_type: node.op_type.clone(), opset })
        };
        let builds_graphs = canonical(&node.domain).is_empty() && SUBGRAPH_OPS.contains(&node.op_type.as_str());
        let (graph_attrs, plain): (Vec<&AttributeProto>, Vec<&AttributeProto>) = node
            .attribute
            .iter()
            .partition(|a| builds_graphs && a.type_.enum_value() == Ok(AttributeType::GRAPH) && a.ref_attr_name.is_empty());
        let attrs = self.decode_attrs(plain, &frame.attrs).map_err(node_err)?;
        let key = (canonical(&node.domain).to_string(), node.op_type.clone());
        if let Some(&function) = self.functions.get(&key) {
            if depth >= MAX_DEPTH {
                return Err(node_err(Error::InvalidModel(format!("function calls nest deeper than {MAX_DEPTH} levels (recursive function?)"))));
            }
            let size = self.expanded_size(&key, depth).map_err(node_err)?;
            if self.emitted.saturating_add(size) > MAX_NODES {
                return Err(node_err(Error::Unsupported(format!(
                    "function '{}' expands to {size} nodes, which with the {} before it exceeds qcc's limit of {MAX_NODES} nodes",
                    f_name(&key),
                    self.emitted
                ))));
            }
            return self.inline(function, &name, inputs, outputs, attrs, depth).map_err(node_err);
        }
        if self.emitted >= MAX_NODES {
            return Err(node_err(Error::Unsupported(format!("the model has more than qcc's limit of {MAX_NODES} nodes"))));
        }
        let mut graphs = Vec::new();
        for a in graph_attrs {
            let g = a.g.as_ref().ok_or_else(|| node_err(Error::InvalidModel(format!("attribute '{}' of type GRAPH has no value", a.name))))?;
            graphs.push((a.name.clone(), self.flatten_subgraph(g, &name, &a.name, frame, depth)?));
        }
        self.emitted += 1;
        self.out.push(FlatNode {
            opset: frame.opsets.get(&node.domain),
            name,
            op_type: node.op_type.clone(),
            domain: canonical(&node.domain).to_string(),
            attrs,
            inputs,
            outputs,
            graphs,
        });
        Ok(())
    }

    /// Flattens subgraph `g`, attribute `attr` of node `owner`, in the scope
    /// of `frame`: its names are renamed as the enclosing scope renames
    /// them, so references to outer values keep meaning the same values.
    fn flatten_subgraph(&mut self, g: &'a GraphProto, owner: &str, attr: &str, frame: &Frame, depth: usize) -> Result<FlatGraph> {
        let node_err = |e: Error| e.at_node(&crate::error::NodeRef { name: owner.to_string(), op_type: "If".into(), opset: frame.opsets.get("") });
        if depth >= MAX_DEPTH {
            return Err(node_err(Error::InvalidModel(format!("subgraphs nest deeper than {MAX_DEPTH} levels"))));
        }
        let rename = |n: &String| if n.is_empty() { String::new() } else { frame.rename.get(n).cloned().unwrap_or_else(|| format!("{}{n}", frame.prefix)) };
        let what = |kind: &str, name: &str| format!("{kind} '{name}' of subgraph '{attr}' of node '{owner}'");
        let mut initializers = Vec::new();
        for t in &g.initializer {
            initializers.push((rename(&t.name), decode(t, self.dir, &what("initializer", &t.name)).map_err(node_err)?));
        }
        for sp in &g.sparse_initializer {
            let name = sp.values.as_ref().map(|v| v.name.clone()).unwrap_or_default();
            initializers.push((rename(&name), decode_sparse(sp, self.dir, &what("sparse initializer", &name)).map_err(node_err)?));
        }
        let saved = std::mem::take(&mut self.out);
        let mut result = Ok(());
        for (i, node) in g.node.iter().enumerate() {
            let name = if node.name.is_empty() {
                format!("{owner}/{attr}/{}_{i}", node.op_type)
            } else {
                format!("{}{}", frame.prefix, node.name)
            };
            result = self.expand_node(node, name, frame, depth + 1);
            if result.is_err() {
                break;
            }
        }
        let nodes = std::mem::replace(&mut self.out, saved);
        result?;
        Ok(FlatGraph {
            name: format!("{owner}/{attr}"),
            inputs: g.input.iter().map(|v| rename(&v.name)).collect(),
            initializers,
            nodes,
            outputs: g.output.iter().map(|v| rename(&v.name)).collect(),
        })
    }

    /// The number of primitive nodes a call of function `key` expands to
    /// (saturating), computed once per function; nesting deeper than
    /// [`MAX_DEPTH`] (which recursion always reaches) is an error.
    fn expanded_size(&mut self, key: &(String, String), depth: usize) -> Result<u64> {
        if let Some(&n) = self.sizes.get(key) {
            return Ok(n);
        }
        if depth >= MAX_DEPTH {
            return Err(Error::InvalidModel(format!(
                "function calls nest deeper than {MAX_DEPTH} levels (is function '{}' recursive?)",
                f_name(key)
            )));
        }
        let Some(&f) = self.functions.get(key) else { return Ok(1) };
        let mut total = 0u64;
        for node in &f.node {
            let callee = (canonical(&node.domain).to_string(), node.op_type.clone());
            let n = if self.functions.contains_key(&callee) { self.expanded_size(&callee, depth + 1)? } else { 1 };
            total = total.saturating_add(n);
        }
        self.sizes.insert(key.clone(), total);
        Ok(total)
    }

    fn inline(
        &mut self,
        f: &'a FunctionProto,
        call: &str,
        inputs: Vec<String>,
        outputs: Vec<String>,
        call_attrs: Vec<(String, Attr)>,
        depth: usize,
    ) -> Result<()> {
        self.calls += 1;
        let prefix = format!("{call}/{}#{}/", f.name, self.calls);
        let mut rename = HashMap::new();
        for (k, formal) in f.input.iter().enumerate() {
            rename.insert(formal.clone(), inputs.get(k).cloned().unwrap_or_default());
        }
        for (k, formal) in f.output.iter().enumerate() {
            if let Some(actual) = outputs.get(k).filter(|a| !a.is_empty()) {
                rename.insert(formal.clone(), actual.clone());
            }
        }
        let mut attrs: HashMap<String, Attr> = HashMap::new();
        for default in &f.attribute_proto {
            let value = self.decode_attr(default, &HashMap::new())?;
            if let Some(v) = value {
                attrs.insert(default.name.clone(), v);
            }
        }
        for (n, v) in call_attrs {
            attrs.insert(n, v);
        }
        let frame = Frame { opsets: Opsets::new(&f.opset_import), rename, attrs, prefix: prefix.clone() };
        for (i, node) in f.node.iter().enumerate() {
            let name = format!("{prefix}{}", if node.name.is_empty() { format!("{}_{i}", node.op_type) } else { node.name.clone() });
            self.expand_node(node, name, &frame, depth + 1)?;
        }
        Ok(())
    }

    fn decode_attrs<'p>(&self, protos: impl IntoIterator<Item = &'p AttributeProto>, refs: &HashMap<String, Attr>) -> Result<Vec<(String, Attr)>> {
        let mut attrs = Vec::new();
        for a in protos {
            if let Some(v) = self.decode_attr(a, refs)? {
                attrs.push((a.name.clone(), v));
            }
        }
        Ok(attrs)
    }

    /// Decodes one attribute; `None` when it references an attribute the
    /// function call did not set.
    fn decode_attr(&self, a: &AttributeProto, refs: &HashMap<String, Attr>) -> Result<Option<Attr>> {
        if !a.ref_attr_name.is_empty() {
            return Ok(refs.get(&a.ref_attr_name).cloned());
        }
        let what = format!("attribute '{}'", a.name);
        let missing = |field: &str| Error::InvalidModel(format!("{what} of type {field} has no value"));
        let Ok(kind) = a.type_.enum_value() else {
            return Err(Error::InvalidModel(format!("{what} has unknown type code {}", a.type_.value())));
        };
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        Ok(Some(match kind {
            AttributeType::FLOAT => Attr::Float(a.f),
            AttributeType::INT => Attr::Int(a.i),
            AttributeType::STRING => Attr::String(text(&a.s)),
            AttributeType::FLOATS => Attr::Floats(a.floats.clone()),
            AttributeType::INTS => Attr::Ints(a.ints.clone()),
            AttributeType::STRINGS => Attr::Strings(a.strings.iter().map(|s| text(s)).collect()),
            AttributeType::TENSOR => Attr::Tensor(decode(a.t.as_ref().ok_or_else(|| missing("TENSOR"))?, self.dir, &what)?),
            AttributeType::TENSORS => Attr::Tensors(a.tensors.iter().map(|t| decode(t, self.dir, &what)).collect::<Result<_>>()?),
            AttributeType::SPARSE_TENSOR => {
                Attr::Tensor(decode_sparse(a.sparse_tensor.as_ref().ok_or_else(|| missing("SPARSE_TENSOR"))?, self.dir, &what)?)
            }
            AttributeType::SPARSE_TENSORS => {
                Attr::Tensors(a.sparse_tensors.iter().map(|t| decode_sparse(t, self.dir, &what)).collect::<Result<_>>()?)
            }
            AttributeType::GRAPH | AttributeType::GRAPHS => Attr::Graph(None),
            AttributeType::TYPE_PROTO => {
                let tp = a.tp.as_ref().ok_or_else(|| missing("TYPE_PROTO"))?;
                Attr::Type(match &tp.value {
                    Some(onnx_protobuf::type_proto::Value::TensorType(t)) => DType::from_onnx(t.elem_type),
                    _ => None,
                })
            }
            AttributeType::TYPE_PROTOS => Attr::Type(None),
            AttributeType::UNDEFINED => return Err(Error::InvalidModel(format!("{what} has no type"))),
        }))
    }
}
