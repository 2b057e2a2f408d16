//! Tests of subgraph import (If's branches, nested, reading outer values)
//! and of their folding by the pipeline, on models built here.

use super::import;
use crate::interp::Interpreter;
use crate::ops::Op;
use crate::passes::pipeline::prepare;
use crate::tensor::Tensor;
use crate::Error;
use onnx_protobuf::{attribute_proto::AttributeType, type_proto, AttributeProto, GraphProto, Message, ModelProto, NodeProto, TensorProto};
use onnx_protobuf::{tensor_shape_proto, TensorShapeProto, TypeProto, ValueInfoProto};
use protobuf::{EnumOrUnknown, MessageField};

fn node(op: &str, name: &str, inputs: &[&str], outputs: &[&str]) -> NodeProto {
    let mut n = NodeProto::new();
    n.op_type = op.into();
    n.name = name.into();
    n.input = inputs.iter().map(|s| s.to_string()).collect();
    n.output = outputs.iter().map(|s| s.to_string()).collect();
    n
}

fn graph(name: &str, nodes: Vec<NodeProto>, outputs: &[&str], inits: Vec<TensorProto>) -> GraphProto {
    let mut g = GraphProto::new();
    g.name = name.into();
    g.node = nodes;
    g.initializer = inits;
    g.output = outputs.iter().map(|o| info(o, 1, &[])).collect();
    g
}

fn with_graph(mut n: NodeProto, name: &str, g: GraphProto) -> NodeProto {
    let mut a = AttributeProto::new();
    a.name = name.into();
    a.type_ = EnumOrUnknown::new(AttributeType::GRAPH);
    a.g = MessageField::some(g);
    n.attribute.push(a);
    n
}

/// A value declaration; dims < 0 are dynamic.
fn info(name: &str, elem: i32, dims: &[i64]) -> ValueInfoProto {
    let mut shape = TensorShapeProto::new();
    for &d in dims {
        let mut dim = tensor_shape_proto::Dimension::new();
        dim.value = Some(if d < 0 {
            tensor_shape_proto::dimension::Value::DimParam("N".into())
        } else {
            tensor_shape_proto::dimension::Value::DimValue(d)
        });
        shape.dim.push(dim);
    }
    let mut t = type_proto::Tensor::new();
    t.elem_type = elem;
    t.shape = MessageField::some(shape);
    let mut ty = TypeProto::new();
    ty.value = Some(type_proto::Value::TensorType(t));
    let mut v = ValueInfoProto::new();
    v.name = name.into();
    v.type_ = MessageField::some(ty);
    v
}

fn int64(name: &str, v: i64) -> TensorProto {
    let mut t = TensorProto::new();
    t.name = name.into();
    t.data_type = 7;
    t.int64_data = vec![v];
    t
}

fn float(name: &str, v: f32) -> TensorProto {
    let mut t = TensorProto::new();
    t.name = name.into();
    t.data_type = 1;
    t.float_data = vec![v];
    t
}

fn model(nodes: Vec<NodeProto>, inputs: Vec<ValueInfoProto>, inits: Vec<TensorProto>) -> Vec<u8> {
    let mut g = graph("main", nodes, &["y"], inits);
    g.input = inputs;
    let mut m = ModelProto::new();
    m.ir_version = 8;
    m.graph = MessageField::some(g);
    let mut o = onnx_protobuf::OperatorSetIdProto::new();
    o.version = 16;
    m.opset_import.push(o);
    m.write_to_bytes().unwrap()
}

/// y = If(N == 1) { If(Size(x) == 3) { Relu(2x) } else { Neg(2x) } } else { x },
/// x: float[N, 3]. The inner branches read `t` (then-branch) and `x` (outer).
fn nested_if() -> Vec<u8> {
    let inner = with_graph(
        with_graph(node("If", "inner", &["c2"], &["r"]), "then_branch", graph("t", vec![node("Relu", "relu", &["t"], &["r1"])], &["r1"], vec![])),
        "else_branch",
        graph("e", vec![node("Neg", "neg", &["t"], &["r2"])], &["r2"], vec![]),
    );
    let then_branch = graph(
        "then",
        vec![node("Mul", "double", &["x", "two"], &["t"]), node("Size", "size", &["x"], &["n"]), node("Equal", "eq3", &["n", "three"], &["c2"]), inner],
        &["r"],
        vec![int64("three", 3)],
    );
    let outer = with_graph(with_graph(node("If", "outer", &["c1"], &["y"]), "then_branch", then_branch), "else_branch", graph("else", vec![], &["x"], vec![]));
    let nodes = vec![
        node("Shape", "shape", &["x"], &["s"]),
        node("Gather", "batch", &["s", "zero"], &["b"]),
        node("Equal", "eq1", &["b", "one"], &["c1"]),
        outer,
    ];
    model(nodes, vec![info("x", 1, &[-1, 3])], vec![int64("zero", 0), int64("one", 1), float("two", 2.0)])
}

fn run(bytes: &[u8], n: usize) -> Result<Vec<f32>, Error> {
    let mut g = import(bytes, None)?;
    prepare(&mut g, &[("x".into(), vec![n, 3])])?;
    assert!(g.nodes().iter().all(|&id| !matches!(g.node(id).op, Op::If(_))));
    let x: Vec<f32> = (0..n * 3).map(|i| i as f32 - 1.0).collect();
    let out = Interpreter::new(&g)?.run(vec![Tensor::from_vec(&[n, 3], x)?])?;
    Ok(out[0].to_f64_vec()?.into_iter().map(|v| v as f32).collect())
}

#[test]
fn branches_read_outer_values_through_node_inputs() {
    let g = import(&nested_if(), None).unwrap();
    let outer = g.nodes().into_iter().find(|&n| g.node(n).name == "outer").unwrap();
    // The condition, then x and two (read by the then-branch and the nested If).
    let names: Vec<String> = g.node_inputs(outer).into_iter().flatten().map(|v| g.value(v).name.clone()).collect();
    assert_eq!(names, ["c1", "x", "two"]);
}

#[test]
fn nested_ifs_fold_once_shapes_are_fixed() {
    assert_eq!(run(&nested_if(), 1).unwrap(), [0.0, 0.0, 2.0]);
    // N = 2: the else branch passes x through to the graph output.
    assert_eq!(run(&nested_if(), 2).unwrap(), [-1.0, 0.0, 1.0, 2.0, 3.0, 4.0]);
}

#[test]
fn a_condition_from_input_data_is_an_error_naming_the_node() {
    let iff = with_graph(
        with_graph(node("If", "by_flag", &["flag"], &["y"]), "then_branch", graph("t", vec![node("Neg", "neg", &["x"], &["n"])], &["n"], vec![])),
        "else_branch",
        graph("e", vec![], &["x"], vec![]),
    );
    let bytes = model(vec![iff], vec![info("x", 1, &[1, 3]), info("flag", 9, &[])], vec![]);
    let mut g = import(&bytes, None).unwrap();
    let e = prepare(&mut g, &[]).unwrap_err();
    assert!(matches!(e.root(), Error::Unsupported(_)));
    let msg = e.to_string();
    assert!(msg.contains("'by_flag' (If") && msg.contains("not known at compile time"), "{msg}");
}

#[test]
fn undefined_outer_names_and_loops_are_refused() {
    let iff = with_graph(
        with_graph(node("If", "bad", &["c"], &["y"]), "then_branch", graph("t", vec![node("Neg", "neg", &["missing"], &["n"])], &["n"], vec![])),
        "else_branch",
        graph("e", vec![], &["c"], vec![]),
    );
    let e = import(&model(vec![iff], vec![info("c", 9, &[])], vec![]), None).unwrap_err();
    assert!(e.to_string().contains("reads 'missing'"), "{e}");
    let lp = with_graph(node("Loop", "loop", &["", "c"], &["y"]), "body", graph("b", vec![], &["c"], vec![]));
    let mut g = import(&model(vec![lp], vec![info("c", 9, &[])], vec![]), None).unwrap();
    let e = prepare(&mut g, &[]).unwrap_err();
    assert!(e.to_string().contains("data-dependent number of times"), "{e}");
}
