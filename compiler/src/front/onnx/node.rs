//! [`OnnxNode`]: what an operator sees of its ONNX node while it is being
//! built (op type, opset, attributes, input and output counts), free of
//! protobuf types.

use crate::ir::Graph;
use crate::tensor::{DType, Tensor};
use crate::{bail, Result};
use std::sync::Arc;

/// A decoded attribute value.
#[derive(Debug, Clone)]
pub enum Attr {
    Float(f32),
    Int(i64),
    String(String),
    Tensor(Tensor),
    Floats(Vec<f32>),
    Ints(Vec<i64>),
    Strings(Vec<String>),
    Tensors(Vec<Tensor>),
    /// A type attribute (e.g. of Cast-like ops); the element type when it is a tensor type.
    Type(Option<DType>),
    /// A subgraph: built for If's branches (its inputs are the values it
    /// reads from enclosing scopes, which the node takes as extra inputs),
    /// `None` for the subgraphs of operators qcc does not build (Loop, Scan).
    Graph(Option<Arc<Graph>>),
}

impl Attr {
    fn kind(&self) -> &'static str {
        match self {
            Attr::Float(_) => "float",
            Attr::Int(_) => "int",
            Attr::String(_) => "string",
            Attr::Tensor(_) => "tensor",
            Attr::Floats(_) => "floats",
            Attr::Ints(_) => "ints",
            Attr::Strings(_) => "strings",
            Attr::Tensors(_) => "tensors",
            Attr::Type(_) => "type",
            Attr::Graph(_) => "graph",
        }
    }
}

/// An ONNX node as operators read it in `OpDef::from_onnx`.
#[derive(Debug, Clone)]
pub struct OnnxNode {
    pub name: String,
    pub op_type: String,
    pub domain: String,
    /// Version of the node's domain in the model's (or function's) opset imports.
    pub opset: i64,
    pub attrs: Vec<(String, Attr)>,
    /// Which input slots are present (ONNX marks absent optional inputs with "").
    pub inputs: Vec<bool>,
    /// Which output slots are used.
    pub outputs: Vec<bool>,
}

impl OnnxNode {
    pub fn attr(&self, name: &str) -> Option<&Attr> {
        self.attrs.iter().find(|(n, _)| n == name).map(|(_, a)| a)
    }

    pub fn has(&self, name: &str) -> bool {
        self.attr(name).is_some()
    }

    fn wrong(&self, name: &str, want: &str, got: &Attr) -> crate::Error {
        crate::Error::Op(format!("attribute '{name}' must be {want}, got {}", got.kind()))
    }

    pub fn int_opt(&self, name: &str) -> Result<Option<i64>> {
        match self.attr(name) {
            None => Ok(None),
            Some(Attr::Int(v)) => Ok(Some(*v)),
            Some(a) => Err(self.wrong(name, "an int", a)),
        }
    }

    pub fn int(&self, name: &str, default: i64) -> Result<i64> {
        Ok(self.int_opt(name)?.unwrap_or(default))
    }

    /// A required int attribute.
    pub fn int_req(&self, name: &str) -> Result<i64> {
        match self.int_opt(name)? {
            Some(v) => Ok(v),
            None => bail!("required attribute '{name}' is missing"),
        }
    }

    /// A float attribute; NaN and infinity are rejected.
    pub fn float_opt(&self, name: &str) -> Result<Option<f32>> {
        match self.attr(name) {
            None => Ok(None),
            Some(Attr::Float(v)) if v.is_finite() => Ok(Some(*v)),
            Some(Attr::Float(v)) => bail!("attribute '{name}' is {v}; it must be a finite number"),
            // Some exporters write integral float attributes as ints.
            Some(Attr::Int(v)) => Ok(Some(*v as f32)),
            Some(a) => Err(self.wrong(name, "a float", a)),
        }
    }

    pub fn float(&self, name: &str, default: f32) -> Result<f32> {
        Ok(self.float_opt(name)?.unwrap_or(default))
    }

    pub fn ints_opt(&self, name: &str) -> Result<Option<Vec<i64>>> {
        match self.attr(name) {
            None => Ok(None),
            Some(Attr::Ints(v)) => Ok(Some(v.clone())),
            Some(Attr::Int(v)) => Ok(Some(vec![*v])),
            Some(a) => Err(self.wrong(name, "a list of ints", a)),
        }
    }

    pub fn ints(&self, name: &str) -> Result<Vec<i64>> {
        Ok(self.ints_opt(name)?.unwrap_or_default())
    }

    /// A list of floats; NaN and infinity are rejected.
    pub fn floats_opt(&self, name: &str) -> Result<Option<Vec<f32>>> {
        match self.attr(name) {
            None => Ok(None),
            Some(Attr::Floats(v)) => {
                if let Some(bad) = v.iter().find(|x| !x.is_finite()) {
                    bail!("attribute '{name}' contains {bad}; it must hold finite numbers");
                }
                Ok(Some(v.clone()))
            }
            Some(Attr::Float(v)) if v.is_finite() => Ok(Some(vec![*v])),
            Some(a) => Err(self.wrong(name, "a list of floats", a)),
        }
    }

    pub fn string_opt(&self, name: &str) -> Result<Option<String>> {
        match self.attr(name) {
            None => Ok(None),
            Some(Attr::String(v)) => Ok(Some(v.clone())),
            Some(a) => Err(self.wrong(name, "a string", a)),
        }
    }

    pub fn string(&self, name: &str, default: &str) -> Result<String> {
        Ok(self.string_opt(name)?.unwrap_or_else(|| default.to_string()))
    }

    pub fn strings_opt(&self, name: &str) -> Result<Option<Vec<String>>> {
        match self.attr(name) {
            None => Ok(None),
            Some(Attr::Strings(v)) => Ok(Some(v.clone())),
            Some(a) => Err(self.wrong(name, "a list of strings", a)),
        }
    }

    pub fn tensor_opt(&self, name: &str) -> Result<Option<Tensor>> {
        match self.attr(name) {
            None => Ok(None),
            Some(Attr::Tensor(t)) => Ok(Some(t.clone())),
            Some(a) => Err(self.wrong(name, "a tensor", a)),
        }
    }

    /// A built subgraph attribute (see [`Attr::Graph`]).
    pub fn graph(&self, name: &str) -> Result<Arc<Graph>> {
        match self.attr(name) {
            None => bail!("required attribute '{name}' is missing"),
            Some(Attr::Graph(Some(g))) => Ok(g.clone()),
            Some(a) => Err(self.wrong(name, "a subgraph", a)),
        }
    }

    /// An element-type attribute given as a `TensorProto.DataType` code.
    pub fn dtype_opt(&self, name: &str) -> Result<Option<DType>> {
        match self.int_opt(name)? {
            None => Ok(None),
            Some(code) => match i32::try_from(code).ok().and_then(DType::from_onnx) {
                Some(d) => Ok(Some(d)),
                None => bail!("attribute '{name}' = {code} is not an element type qcc supports"),
            },
        }
    }

    /// Number of input slots (present or not).
    pub fn num_inputs(&self) -> usize {
        self.inputs.len()
    }

    /// Whether input slot `i` is present.
    pub fn has_input(&self, i: usize) -> bool {
        self.inputs.get(i).copied().unwrap_or(false)
    }

    /// Number of output slots.
    pub fn num_outputs(&self) -> usize {
        self.outputs.len()
    }
}
