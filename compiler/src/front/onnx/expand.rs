//! Flattens a graph's node list: calls of ONNX local functions (the model's
//! `functions`) are inlined recursively, attribute references
//! (`ref_attr_name`) resolved, and every attribute decoded into [`Attr`].

use super::node::Attr;
use super::tensor::{decode, decode_sparse, DataDir};
use crate::tensor::DType;
use crate::{Error, Result};
use onnx_protobuf::{attribute_proto::AttributeType, AttributeProto, FunctionProto, NodeProto, OperatorSetIdProto};
use std::collections::HashMap;

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
}

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
        Expander { functions, dir, out: Vec::new(), calls: 0, sizes: HashMap::new() }
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
        let attrs = self.decode_attrs(&node.attribute, &frame.attrs).map_err(node_err)?;
        let key = (canonical(&node.domain).to_string(), node.op_type.clone());
        if let Some(&function) = self.functions.get(&key) {
            if depth >= MAX_DEPTH {
                return Err(node_err(Error::InvalidModel(format!("function calls nest deeper than {MAX_DEPTH} levels (recursive function?)"))));
            }
            let size = self.expanded_size(&key, depth).map_err(node_err)?;
            if (self.out.len() as u64).saturating_add(size) > MAX_NODES {
                return Err(node_err(Error::Unsupported(format!(
                    "function '{}' expands to {size} nodes, which with the {} before it exceeds qcc's limit of {MAX_NODES} nodes",
                    f_name(&key),
                    self.out.len()
                ))));
            }
            return self.inline(function, &name, inputs, outputs, attrs, depth).map_err(node_err);
        }
        self.out.push(FlatNode {
            opset: frame.opsets.get(&node.domain),
            name,
            op_type: node.op_type.clone(),
            domain: canonical(&node.domain).to_string(),
            attrs,
            inputs,
            outputs,
        });
        Ok(())
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

    fn decode_attrs(&self, protos: &[AttributeProto], refs: &HashMap<String, Attr>) -> Result<Vec<(String, Attr)>> {
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
            AttributeType::GRAPH | AttributeType::GRAPHS => Attr::Graph,
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
