//! Builds small ONNX models in Rust (protobuf messages from `onnx-protobuf`)
//! for the CLI, bad-input and no-panic tests.
#![allow(dead_code, unused_imports)]

pub use onnx_protobuf::{
    attribute_proto::AttributeType, tensor_proto::DataLocation, tensor_shape_proto, type_proto, AttributeProto,
    FunctionProto, GraphProto, Message, ModelProto, NodeProto, OperatorSetIdProto, SparseTensorProto, StringStringEntryProto,
    TensorProto, TensorShapeProto, TypeProto, ValueInfoProto,
};
use protobuf::{EnumOrUnknown, MessageField};

/// `TensorProto.DataType` codes used by the tests.
pub const FLOAT: i32 = 1;
pub const INT8: i32 = 3;
pub const INT32: i32 = 6;
pub const INT64: i32 = 7;
pub const DOUBLE: i32 = 11;
pub const BOOL: i32 = 9;

/// The default-domain opset the test models import.
pub const OPSET: i64 = 17;

/// A dimension of a declared input or output type.
#[derive(Debug, Clone, Copy)]
pub enum D {
    /// A fixed size (`dim_value`, may be negative for hostile models).
    N(i64),
    /// A named dynamic dimension (`dim_param`).
    P(&'static str),
}

/// A graph input or output declaration of a tensor type.
pub fn value_info(name: &str, elem_type: i32, dims: &[D]) -> ValueInfoProto {
    let mut shape = TensorShapeProto::new();
    for d in dims {
        let mut dim = tensor_shape_proto::Dimension::new();
        dim.value = Some(match *d {
            D::N(n) => tensor_shape_proto::dimension::Value::DimValue(n),
            D::P(p) => tensor_shape_proto::dimension::Value::DimParam(p.to_string()),
        });
        shape.dim.push(dim);
    }
    let mut tensor = type_proto::Tensor::new();
    tensor.elem_type = elem_type;
    tensor.shape = MessageField::some(shape);
    let mut ty = TypeProto::new();
    ty.value = Some(type_proto::Value::TensorType(tensor));
    let mut v = ValueInfoProto::new();
    v.name = name.to_string();
    v.type_ = MessageField::some(ty);
    v
}

/// A float input or output of fixed shape.
pub fn f32_info(name: &str, dims: &[i64]) -> ValueInfoProto {
    let dims: Vec<D> = dims.iter().map(|&d| D::N(d)).collect();
    value_info(name, FLOAT, &dims)
}

/// A float32 tensor stored in `raw_data`.
pub fn tensor_f32(name: &str, dims: &[i64], data: &[f32]) -> TensorProto {
    let mut t = TensorProto::new();
    t.name = name.to_string();
    t.data_type = FLOAT;
    t.dims = dims.to_vec();
    t.raw_data = data.iter().flat_map(|v| v.to_le_bytes()).collect();
    t
}

/// A float32 tensor stored in `float_data`.
pub fn tensor_f32_typed(name: &str, dims: &[i64], data: &[f32]) -> TensorProto {
    let mut t = TensorProto::new();
    t.name = name.to_string();
    t.data_type = FLOAT;
    t.dims = dims.to_vec();
    t.float_data = data.to_vec();
    t
}

/// An int8 tensor stored in `raw_data`.
pub fn tensor_i8(name: &str, dims: &[i64], data: &[i8]) -> TensorProto {
    let mut t = TensorProto::new();
    t.name = name.to_string();
    t.data_type = INT8;
    t.dims = dims.to_vec();
    t.raw_data = data.iter().map(|&v| v as u8).collect();
    t
}

/// An int64 tensor stored in `int64_data`.
pub fn tensor_i64(name: &str, dims: &[i64], data: &[i64]) -> TensorProto {
    let mut t = TensorProto::new();
    t.name = name.to_string();
    t.data_type = INT64;
    t.dims = dims.to_vec();
    t.int64_data = data.to_vec();
    t
}

/// A float32 tensor whose data lives in an external file.
pub fn tensor_external(name: &str, dims: &[i64], location: &str, offset: Option<u64>, length: Option<u64>) -> TensorProto {
    let mut t = TensorProto::new();
    t.name = name.to_string();
    t.data_type = FLOAT;
    t.dims = dims.to_vec();
    t.data_location = EnumOrUnknown::new(DataLocation::EXTERNAL);
    let mut entry = |k: &str, v: String| {
        let mut e = StringStringEntryProto::new();
        e.key = k.to_string();
        e.value = v;
        t.external_data.push(e);
    };
    entry("location", location.to_string());
    if let Some(o) = offset {
        entry("offset", o.to_string());
    }
    if let Some(l) = length {
        entry("length", l.to_string());
    }
    t
}

/// A node of the default domain.
pub fn node(op_type: &str, name: &str, inputs: &[&str], outputs: &[&str]) -> NodeProto {
    let mut n = NodeProto::new();
    n.op_type = op_type.to_string();
    n.name = name.to_string();
    n.input = inputs.iter().map(|s| s.to_string()).collect();
    n.output = outputs.iter().map(|s| s.to_string()).collect();
    n
}

/// Adds an attribute to a node.
pub fn with(mut n: NodeProto, attr: AttributeProto) -> NodeProto {
    n.attribute.push(attr);
    n
}

fn attr(name: &str, kind: AttributeType) -> AttributeProto {
    let mut a = AttributeProto::new();
    a.name = name.to_string();
    a.type_ = EnumOrUnknown::new(kind);
    a
}

pub fn attr_float(name: &str, v: f32) -> AttributeProto {
    let mut a = attr(name, AttributeType::FLOAT);
    a.f = v;
    a
}

pub fn attr_floats(name: &str, v: &[f32]) -> AttributeProto {
    let mut a = attr(name, AttributeType::FLOATS);
    a.floats = v.to_vec();
    a
}

pub fn attr_string(name: &str, v: &str) -> AttributeProto {
    let mut a = attr(name, AttributeType::STRING);
    a.s = v.as_bytes().to_vec();
    a
}

pub fn attr_int(name: &str, v: i64) -> AttributeProto {
    let mut a = attr(name, AttributeType::INT);
    a.i = v;
    a
}

pub fn attr_ints(name: &str, v: &[i64]) -> AttributeProto {
    let mut a = attr(name, AttributeType::INTS);
    a.ints = v.to_vec();
    a
}

pub fn attr_tensor(name: &str, t: TensorProto) -> AttributeProto {
    let mut a = attr(name, AttributeType::TENSOR);
    a.t = MessageField::some(t);
    a
}

/// A subgraph attribute (If's branches): `nodes` computing `outputs`.
pub fn attr_graph(name: &str, nodes: Vec<NodeProto>, outputs: &[&str]) -> AttributeProto {
    let mut g = GraphProto::new();
    g.name = name.to_string();
    g.node = nodes;
    g.output = outputs.iter().map(|o| f32_info(o, &[])).collect();
    let mut a = attr(name, AttributeType::GRAPH);
    a.g = MessageField::some(g);
    a
}

/// A model importing the default domain at [`OPSET`].
pub fn model(
    nodes: Vec<NodeProto>,
    inputs: Vec<ValueInfoProto>,
    outputs: Vec<ValueInfoProto>,
    initializers: Vec<TensorProto>,
) -> ModelProto {
    let mut g = GraphProto::new();
    g.name = "test".to_string();
    g.node = nodes;
    g.input = inputs;
    g.output = outputs;
    g.initializer = initializers;
    let mut m = ModelProto::new();
    m.ir_version = 8;
    m.producer_name = "qcc-tests".to_string();
    m.graph = MessageField::some(g);
    m.opset_import.push(opset("", OPSET));
    m
}

pub fn opset(domain: &str, version: i64) -> OperatorSetIdProto {
    let mut o = OperatorSetIdProto::new();
    o.domain = domain.to_string();
    o.version = version;
    o
}

/// The model's mutable graph.
pub fn graph(m: &mut ModelProto) -> &mut GraphProto {
    m.graph.mut_or_insert_default()
}

pub fn bytes(m: &ModelProto) -> Vec<u8> {
    m.write_to_bytes().expect("test models serialize")
}

/// `y = relu((a + b) * w)` with `a`, `b`: float[2, 3] and the initializer
/// `w` = [1, -1, 2, -2, 0.5, 3] (raw_data).
pub fn add_mul_relu() -> ModelProto {
    model(
        vec![
            node("Add", "add", &["a", "b"], &["s"]),
            node("Mul", "mul", &["s", "w"], &["m"]),
            node("Relu", "relu", &["m"], &["y"]),
        ],
        vec![f32_info("a", &[2, 3]), f32_info("b", &[2, 3])],
        vec![f32_info("y", &[2, 3])],
        vec![tensor_f32("w", &[2, 3], &ADD_MUL_RELU_W)],
    )
}

pub const ADD_MUL_RELU_W: [f32; 6] = [1.0, -1.0, 2.0, -2.0, 0.5, 3.0];

/// The reference result of [`add_mul_relu`].
pub fn add_mul_relu_expected(a: &[f32], b: &[f32]) -> Vec<f32> {
    a.iter().zip(b).zip(ADD_MUL_RELU_W).map(|((x, y), w)| ((x + y) * w).max(0.0)).collect()
}

/// `y = x * 2` reshaped, with the batch dimension of `x` dynamic ("N", 3).
pub fn dynamic_batch() -> ModelProto {
    model(
        vec![node("Mul", "double", &["x", "two"], &["y"])],
        vec![value_info("x", FLOAT, &[D::P("N"), D::N(3)])],
        vec![value_info("y", FLOAT, &[D::P("N"), D::N(3)])],
        vec![tensor_f32("two", &[], &[2.0])],
    )
}
