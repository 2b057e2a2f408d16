//! The lowered form of a model that backends render: I/O, constants,
//! intermediate buffers, and an ordered list of steps, every shape and
//! parameter a literal. Backends know nothing about operators; they render
//! these few step kinds.

use crate::tensor::{DType, Tensor};
use std::sync::Arc;

/// Where a tensor lives in generated code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Operand {
    /// The k-th graph input, passed by the caller (read-only).
    Input(usize),
    /// The k-th graph output, passed by the caller (written).
    Output(usize),
    /// The k-th constant (weights and tables in read-only memory).
    Const(usize),
    /// The k-th intermediate buffer (in the arena).
    Buf(usize),
}

/// A strided window onto an operand: element `i` of the iteration space
/// (row-major over the step's shape) is at `offset + Σ index_k * strides[k]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct View {
    pub operand: Operand,
    pub offset: usize,
    pub strides: Vec<isize>,
}

/// A literal argument.
#[derive(Debug, Clone, PartialEq)]
pub enum Lit {
    Bool(bool),
    Int(i64),
    /// A float rendered in the given float type (f16/bf16 as their f32 value).
    Float(f64, DType),
    /// A value of an element type, stored as the tensor element (for fills).
    Elem(ElemLit),
}

/// One element of a given type, held exactly.
#[derive(Debug, Clone, PartialEq)]
pub struct ElemLit {
    pub dtype: DType,
    /// The element's value as a one-element tensor.
    pub value: Arc<Tensor>,
}

/// A scalar function of the runtime, applied elementwise by a `Map` step.
#[derive(Debug, Clone, PartialEq)]
pub struct ScalarFn {
    /// Function name in the runtime's `ops` (Rust) and `qcc_<name>_<type>` (C).
    pub name: &'static str,
    /// Element types of the arguments.
    pub inputs: Vec<DType>,
    /// Element type of the result.
    pub output: DType,
    /// Extra literal parameters passed after the elements (alpha, beta, ...).
    pub params: Vec<Lit>,
    /// The element types that name the C instance (`qcc_<name>_<types>`):
    /// usually the first input's, both types for a cast.
    pub suffix: Vec<DType>,
}

impl ScalarFn {
    /// `name` over inputs of one type `t` with a result of type `out`.
    pub fn new(name: &'static str, inputs: Vec<DType>, output: DType) -> ScalarFn {
        let suffix = inputs.iter().copied().find(|&d| d != DType::Bool).or(inputs.first().copied()).into_iter().collect();
        ScalarFn { name, inputs, output, params: Vec::new(), suffix }
    }

    /// With literal parameters after the elements.
    pub fn with_params(mut self, params: Vec<Lit>) -> ScalarFn {
        self.params = params;
        self
    }
}

/// One step of the program.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// `output[i] = f(inputs[0][i], inputs[1][i], ...)` for every `i` of `shape`.
    Map { f: ScalarFn, inputs: Vec<View>, output: View, shape: Vec<usize> },
    /// `dst[i] = src[i]` for every `i` of `shape` (same element type).
    Copy { src: View, dst: View, shape: Vec<usize>, dtype: DType },
    /// `dst[i] = value` for every `i` of `shape`.
    Fill { dst: View, shape: Vec<usize>, value: ElemLit },
    /// A call of a runtime kernel.
    Call(Call),
}

/// A runtime kernel call: `kernels::<module>::<name>::<types>(args)` in Rust,
/// `qcc_<name>_<types>(args)` in C.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    /// The runtime file that defines the kernel.
    pub module: &'static str,
    pub name: &'static str,
    /// Element types the kernel is instantiated for.
    pub types: Vec<DType>,
    pub args: Vec<Arg>,
}

/// A kernel argument.
#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    /// A whole operand region read by the kernel: `len` elements from `offset`.
    In { operand: Operand, offset: usize, len: usize },
    /// A region written by the kernel.
    Out { operand: Operand, offset: usize, len: usize },
    Lit(Lit),
    /// A list of sizes (shapes, strides of contiguous data, ...): `&[usize]`.
    Dims(Vec<usize>),
    /// A list of signed integers (pads, axes, ...): `&[i64]`.
    Ints(Vec<i64>),
    /// A list of floats of the given type.
    Floats(Vec<f64>, DType),
}

/// A graph input or output of the generated code.
#[derive(Debug, Clone, PartialEq)]
pub struct Io {
    /// The ONNX value name.
    pub name: String,
    /// The identifier used in generated code (unique, derived from `name`).
    pub ident: String,
    pub dtype: DType,
    pub shape: Vec<usize>,
    /// Scale and zero point when the array holds quantized codes
    /// (`real = scale · (code − zero point)`).
    pub quant: Option<(f32, i32)>,
}

/// A constant in read-only memory.
#[derive(Debug, Clone)]
pub struct Constant {
    pub ident: String,
    pub value: Arc<Tensor>,
}

/// An intermediate tensor in the arena.
#[derive(Debug, Clone, PartialEq)]
pub struct Buffer {
    pub dtype: DType,
    pub len: usize,
}

/// A step with the ONNX node(s) it implements, for comments.
#[derive(Debug, Clone)]
pub struct Annotated {
    pub step: Step,
    pub node: String,
}

/// The whole lowered model.
#[derive(Debug, Clone)]
pub struct Program {
    pub name: String,
    pub inputs: Vec<Io>,
    pub outputs: Vec<Io>,
    pub constants: Vec<Constant>,
    pub buffers: Vec<Buffer>,
    pub steps: Vec<Annotated>,
    /// Kernel modules that called kernels use besides their own, with the
    /// element types to instantiate them for (see `LowerCx::needs`).
    pub modules: Vec<(&'static str, Vec<DType>)>,
}

impl Step {
    /// Operands the step reads.
    pub fn reads(&self) -> Vec<Operand> {
        match self {
            Step::Map { inputs, .. } => inputs.iter().map(|v| v.operand).collect(),
            Step::Copy { src, .. } => vec![src.operand],
            Step::Fill { .. } => vec![],
            Step::Call(c) => c.args.iter().filter_map(|a| if let Arg::In { operand, .. } = a { Some(*operand) } else { None }).collect(),
        }
    }

    /// Every operand the step names, for renumbering.
    pub fn operands_mut(&mut self) -> Vec<&mut Operand> {
        match self {
            Step::Map { inputs, output, .. } => inputs.iter_mut().map(|v| &mut v.operand).chain([&mut output.operand]).collect(),
            Step::Copy { src, dst, .. } => vec![&mut src.operand, &mut dst.operand],
            Step::Fill { dst, .. } => vec![&mut dst.operand],
            Step::Call(c) => c
                .args
                .iter_mut()
                .filter_map(|a| match a {
                    Arg::In { operand, .. } | Arg::Out { operand, .. } => Some(operand),
                    _ => None,
                })
                .collect(),
        }
    }

    /// Operands the step writes.
    pub fn writes(&self) -> Vec<Operand> {
        match self {
            Step::Map { output, .. } => vec![output.operand],
            Step::Copy { dst, .. } | Step::Fill { dst, .. } => vec![dst.operand],
            Step::Call(c) => c.args.iter().filter_map(|a| if let Arg::Out { operand, .. } = a { Some(*operand) } else { None }).collect(),
        }
    }
}

/// Size in bytes of one element as generated code stores it.
pub fn elem_bytes(d: DType) -> usize {
    match d {
        DType::Bool | DType::U8 | DType::I8 => 1,
        DType::U16 | DType::I16 | DType::F16 | DType::BF16 => 2,
        DType::U32 | DType::I32 | DType::F32 => 4,
        DType::U64 | DType::I64 | DType::F64 => 8,
        // Sub-byte and float8 types are stored one per byte; strings are not stored.
        _ => 1,
    }
}
