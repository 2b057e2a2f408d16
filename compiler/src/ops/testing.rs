//! Test helpers for operator files: build an ONNX node, evaluate it, and
//! check that `infer` agrees with `eval` on the result; add one to a test
//! graph; a seeded generator.

use super::{Arg, Op};
use crate::front::onnx::{Attr, OnnxNode};
use crate::ir::{Graph, Node, TensorType, Value, ValueId};
use crate::tensor::Tensor;
use crate::Result;

/// A small deterministic random generator (xorshift64*) for tests.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

/// An ONNX node of the default domain at `opset` with `n_in` inputs and
/// `n_out` outputs.
pub fn node(op_type: &str, opset: i64, attrs: Vec<(&str, Attr)>, n_in: usize, n_out: usize) -> OnnxNode {
    OnnxNode {
        name: format!("test_{op_type}"),
        op_type: op_type.to_string(),
        domain: String::new(),
        opset,
        attrs: attrs.into_iter().map(|(n, a)| (n.to_string(), a)).collect(),
        inputs: vec![true; n_in],
        outputs: vec![true; n_out],
    }
}

/// Adds a node `op_type` (opset 17, named after its op type) with `attrs`
/// reading `inputs` to `g`; returns its output `<op_type>_out`, untyped.
pub fn add_op(g: &mut Graph, op_type: &str, attrs: Vec<(&str, Attr)>, inputs: &[ValueId]) -> ValueId {
    let onnx = node(op_type, 17, attrs, inputs.len(), 1);
    let node = Node { name: op_type.into(), op_type: op_type.into(), opset: 17, op: Op::from_onnx(&onnx).unwrap() };
    let out = g.add_value(Value { name: format!("{op_type}_out"), ty: None, constant: None });
    let ins: Vec<_> = inputs.iter().map(|&v| Some(v)).collect();
    g.add_node(node, &ins, &[Some(out)]).unwrap();
    out
}

/// Adds a float constant `name` of `shape` holding `v` to `g`.
pub fn add_constant(g: &mut Graph, name: &str, shape: &[usize], v: Vec<f32>) -> ValueId {
    let t = Tensor::from_vec(shape, v).unwrap();
    g.add_value(Value { name: name.into(), ty: Some(TensorType::of(&t)), constant: Some(std::sync::Arc::new(t)) })
}

/// Builds the op for `op_type` with `attrs`, infers its output types from
/// the inputs (as non-constant values), evaluates it, and checks that every
/// output fits its inferred type.
pub fn run(op_type: &str, opset: i64, attrs: Vec<(&str, Attr)>, inputs: &[Tensor]) -> Result<Vec<Tensor>> {
    let node = node(op_type, opset, attrs, inputs.len(), 1);
    let op = Op::from_onnx(&node)?;
    let types: Vec<TensorType> = inputs.iter().map(TensorType::of).collect();
    let args: Vec<Option<Arg>> = types.iter().map(|ty| Some(Arg { ty, value: None })).collect();
    let inferred = op.infer(&args)?;
    let outputs = op.eval(&inputs.iter().map(Some).collect::<Vec<_>>())?;
    for (i, (t, ty)) in outputs.iter().zip(&inferred).enumerate() {
        assert!(ty.admits(t), "output {i}: inferred {ty}, evaluated {}{:?}", t.dtype(), t.shape());
    }
    Ok(outputs)
}

/// The output types `infer` gives when the inputs at positions `constant`
/// are compile-time constants (the others are known only by type).
pub fn infer(op_type: &str, opset: i64, attrs: Vec<(&str, Attr)>, inputs: &[Tensor], constant: &[usize]) -> Result<Vec<TensorType>> {
    let node = node(op_type, opset, attrs, inputs.len(), 1);
    let op = Op::from_onnx(&node)?;
    let types: Vec<TensorType> = inputs.iter().map(TensorType::of).collect();
    let args: Vec<Option<Arg>> = types
        .iter()
        .zip(inputs)
        .enumerate()
        .map(|(i, (ty, t))| Some(Arg { ty, value: constant.contains(&i).then_some(t) }))
        .collect();
    op.infer(&args)
}

/// A float32 tensor from a shape and values.
pub fn f32s(shape: &[usize], v: &[f32]) -> Tensor {
    Tensor::from_vec(shape, v.to_vec()).expect("test tensor shape matches its data")
}

/// An int64 tensor from a shape and values.
pub fn i64s(shape: &[usize], v: &[i64]) -> Tensor {
    Tensor::from_vec(shape, v.to_vec()).expect("test tensor shape matches its data")
}

/// A bool tensor from a shape and values.
pub fn bools(shape: &[usize], v: &[bool]) -> Tensor {
    Tensor::from_vec(shape, v.to_vec()).expect("test tensor shape matches its data")
}

/// A uint8 tensor from a shape and values.
pub fn u8s(shape: &[usize], v: &[u8]) -> Tensor {
    Tensor::from_vec(shape, v.to_vec()).expect("test tensor shape matches its data")
}

/// A string tensor from a shape and values.
pub fn strs(shape: &[usize], v: &[&str]) -> Tensor {
    Tensor::from_vec(shape, v.iter().map(|s| s.to_string()).collect()).expect("test tensor shape matches its data")
}

/// The elements of a float32 tensor in row-major order.
pub fn f32_values(t: &Tensor) -> Vec<f32> {
    t.array::<f32>().expect("a float32 tensor").iter().copied().collect()
}

/// The output types `node`'s op infers for inputs of the given types, each
/// constant when a value is given (`None` entries are absent inputs).
pub fn infer_node(node: &OnnxNode, inputs: &[Option<(TensorType, Option<Tensor>)>]) -> Result<Vec<TensorType>> {
    let op = Op::from_onnx(node)?;
    let args: Vec<Option<Arg>> =
        inputs.iter().map(|i| i.as_ref().map(|(ty, value)| Arg { ty, value: value.as_ref() })).collect();
    op.infer(&args)
}
