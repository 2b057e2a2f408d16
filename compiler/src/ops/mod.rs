//! Operators: one file per operator (or per family of operators sharing one
//! definition), and the one list below that ties ONNX op types to them.
//!
//! Everything qcc knows about an operator lives in its file, behind
//! [`OpDef`]: reading its ONNX attributes, inferring output types, its
//! reference semantics (`eval`, used by the interpreter and by constant
//! folding), its int8 quantization rule (`quantize`, in the vocabulary of
//! [`int8_rule`]) and its lowering. The `ops!` list generates the closed [`Op`] enum and its
//! exhaustive dispatch; adding an op is one file plus one line here.

pub mod util;
pub mod host_simd;
#[cfg(test)]
pub mod testing;

mod affine_grid;
mod arg_extrema;
mod attention;
mod attention_layout;
mod attention_mask;
pub mod binary;
mod bitcast;
mod cast;
mod causal_conv;
mod center_crop_pad;
pub mod clip;
mod col2im;
mod compare;
mod compress;
mod concat;
mod constant;
mod constant_of_shape;
pub mod conv;
mod cumulative;
mod deform_conv;
mod dense;
mod depth_space;
mod det;
mod dft;
mod einsum;
mod expand;
mod eye_like;
mod flatten;
mod gather;
mod gather_elements;
mod gather_nd;
pub mod gemm;
mod grid_sample;
mod identity;
mod if_op;
pub mod int8_rule;
mod linear_attention;
mod logical;
mod loss;
pub mod matmul;
mod mel_weight_matrix;
pub mod ms_qlinear;
mod non_max_suppression;
mod nonzero;
pub mod norm;
mod one_hot;
mod pad;
pub mod pool;
mod precision;
mod quant;
pub mod qint;
pub mod quantize;
mod range;
mod reduce;
mod reduce_lower;
mod runtime_index;
mod reshape;
mod resize;
mod resize_lower;
mod resize_sample;
mod reverse_sequence;
mod rnn;
mod roi_align;
mod rotary_embedding;
mod scatter_elements;
mod scatter_nd;
mod shape;
mod size;
mod slice;
pub mod softmax;
pub mod spatial;
mod split;
mod squeeze;
mod stft;
mod string_normalizer;
mod strings;
mod swiglu;
mod take;
mod tensor_scatter;
mod tile;
mod top_k;
mod transpose;
mod trilu;
pub mod unary;
mod unique;
mod unsupported;
mod variadic;
mod where_op;
mod window;

pub use crate::back::lower::{Loc, LowerCx};
pub use int8_rule::{Plan, Rule, NO_INTEGER_KERNEL};
use crate::front::onnx::OnnxNode;
use crate::ir::TensorType;
use crate::tensor::Tensor;
use crate::{Error, Result};

/// An input known at compile time: its type, and its value when constant.
#[derive(Debug, Clone, Copy)]
pub struct Arg<'a> {
    pub ty: &'a TensorType,
    pub value: Option<&'a Tensor>,
}

/// Everything qcc knows about one operator.
pub trait OpDef: Sized {
    /// Reads the attributes of an ONNX node; rejects values the operator
    /// cannot honour (with the reason; the caller adds the node).
    fn from_onnx(node: &OnnxNode) -> Result<Self>;

    /// Output types from input types and the values of constant inputs.
    /// Dimensions that depend on non-constant data are left unknown.
    fn infer(&self, inputs: &[Option<Arg>]) -> Result<Vec<TensorType>>;

    /// The reference semantics: outputs from inputs (`None` = absent
    /// optional input). Must agree with `infer` on every output type.
    fn eval(&self, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>>;

    /// Outputs that are known from input *types* alone (Shape, Size).
    fn fold_from_types(&self, _inputs: &[Option<Arg>]) -> Option<Vec<Tensor>> {
        None
    }

    /// The interval that output 0 lies in whatever the input, when the
    /// operator bounds it on both sides (Sigmoid [0, 1], Tanh [−1, 1],
    /// Softmax [0, 1], Clip between constant bounds, ...): calibration then
    /// never clips it statistically, since values at a bound (a gate fully
    /// open) are meant. `inputs` carry the values of constant inputs.
    fn output_bounds(&self, _inputs: &[Option<Arg>]) -> Option<(f64, f64)> {
        None
    }

    /// Multiply-accumulates of one evaluation; ops without a MAC-shaped
    /// inner loop (elementwise, data movement) report 0.
    fn macs(&self, _inputs: &[Option<&TensorType>], _outputs: &[&TensorType]) -> u64 {
        0
    }

    /// Emits the steps that compute the node in generated code (see
    /// `back::lower`). Operators without code generation say so.
    fn lower(&self, _cx: &mut LowerCx) -> Result<()> {
        Err(Error::Unsupported("code generation for this operator is not implemented yet".into()))
    }

    /// The int8 quantization rule (`int8_rule`): what the node becomes on
    /// codes, or that it stays float and why. No default: every operator
    /// states its rule, "float only" included.
    fn quantize(&self, rule: Rule) -> Result<Plan>;
}

/// Positional access to an operator's inputs, with clear errors.
pub trait Slots<T> {
    /// Input `i`, which the operator requires.
    fn req(&self, i: usize) -> Result<T>;
    /// Input `i`, if present.
    fn opt(&self, i: usize) -> Option<T>;
}

impl<T: Copy> Slots<T> for [Option<T>] {
    fn req(&self, i: usize) -> Result<T> {
        self.get(i).copied().flatten().ok_or_else(|| Error::Op(format!("required input {i} is missing")))
    }

    fn opt(&self, i: usize) -> Option<T> {
        self.get(i).copied().flatten()
    }
}

macro_rules! ops {
    (
        $( $variant:ident($ty:ty) = [$($name:literal),+ $(,)?] ),+ $(,)?
        ; internal: $( $ivariant:ident($ity:ty) ),+ $(,)?
    ) => {
        /// An operator with its attributes: the closed set qcc supports,
        /// plus [`Op::Unsupported`] for ONNX nodes it cannot handle.
        #[derive(Debug, Clone)]
        pub enum Op {
            $( $variant($ty), )+
            $( $ivariant($ity), )+
            Unsupported(unsupported::Unsupported),
        }

        impl Op {
            /// Every default-domain op type qcc implements.
            pub const OP_TYPES: &'static [&'static str] = &[$($($name,)+)+];

            /// Builds the operator for an ONNX node. Unknown op types become
            /// [`Op::Unsupported`]; bad attributes of known ones are errors.
            pub fn from_onnx(node: &OnnxNode) -> Result<Op> {
                if node.domain.is_empty() {
                    match node.op_type.as_str() {
                        $( $($name)|+ => return Ok(Op::$variant(<$ty as OpDef>::from_onnx(node)?)), )+
                        _ => {}
                    }
                }
                if node.domain == "com.microsoft" && ms_qlinear::OP_TYPES.contains(&node.op_type.as_str()) {
                    return Ok(Op::MsQLinear(ms_qlinear::MsQLinear::from_onnx(node)?));
                }
                if node.domain == "com.microsoft" && node.op_type == "DynamicQuantizeLSTM" {
                    return Ok(Op::DynamicQuantizeLstm(rnn::DynamicQuantizeLstm::from_onnx(node)?));
                }
                Ok(Op::Unsupported(unsupported::Unsupported::from_onnx(node)?))
            }

            pub fn infer(&self, inputs: &[Option<Arg>]) -> Result<Vec<TensorType>> {
                match self { $( Op::$variant(o) => o.infer(inputs), )+ $( Op::$ivariant(o) => o.infer(inputs), )+ Op::Unsupported(o) => o.infer(inputs) }
            }

            pub fn eval(&self, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
                match self { $( Op::$variant(o) => o.eval(inputs), )+ $( Op::$ivariant(o) => o.eval(inputs), )+ Op::Unsupported(o) => o.eval(inputs) }
            }

            pub fn fold_from_types(&self, inputs: &[Option<Arg>]) -> Option<Vec<Tensor>> {
                match self { $( Op::$variant(o) => o.fold_from_types(inputs), )+ $( Op::$ivariant(o) => o.fold_from_types(inputs), )+ Op::Unsupported(o) => o.fold_from_types(inputs) }
            }

            pub fn output_bounds(&self, inputs: &[Option<Arg>]) -> Option<(f64, f64)> {
                match self { $( Op::$variant(o) => o.output_bounds(inputs), )+ $( Op::$ivariant(o) => o.output_bounds(inputs), )+ Op::Unsupported(o) => o.output_bounds(inputs) }
            }

            pub fn macs(&self, inputs: &[Option<&TensorType>], outputs: &[&TensorType]) -> u64 {
                match self { $( Op::$variant(o) => o.macs(inputs, outputs), )+ $( Op::$ivariant(o) => o.macs(inputs, outputs), )+ Op::Unsupported(o) => o.macs(inputs, outputs) }
            }

            pub fn lower(&self, cx: &mut LowerCx) -> Result<()> {
                match self { $( Op::$variant(o) => o.lower(cx), )+ $( Op::$ivariant(o) => o.lower(cx), )+ Op::Unsupported(o) => o.lower(cx) }
            }

            pub fn quantize(&self, rule: Rule) -> Result<Plan> {
                match self { $( Op::$variant(o) => o.quantize(rule), )+ $( Op::$ivariant(o) => o.quantize(rule), )+ Op::Unsupported(o) => o.quantize(rule) }
            }
        }
    };
}

impl Op {
    /// An unsupported node with an explicit reason.
    pub fn unsupported(node: &OnnxNode, reason: String) -> Op {
        Op::Unsupported(unsupported::Unsupported::new(node, reason))
    }

    /// Identity (output = input), for nodes that passes create.
    pub fn identity() -> Op {
        Op::Identity(identity::Identity::new())
    }

    /// Why the node cannot be handled, if it is unsupported.
    pub fn unsupported_reason(&self) -> Option<&str> {
        match self {
            Op::Unsupported(u) => Some(&u.reason),
            _ => None,
        }
    }
}

ops! {
    Identity(identity::Identity) = ["Identity", "Dropout"],
    If(if_op::If) = ["If"],
    Constant(constant::Constant) = ["Constant"],
    Unary(unary::Unary) = [
        "Abs", "Acos", "Acosh", "Asin", "Asinh", "Atan", "Atanh", "Ceil", "Cos", "Cosh", "Elu", "Erf", "Exp",
        "Floor", "Gelu", "HardSigmoid", "HardSwish", "IsInf", "IsNaN", "LeakyRelu", "Log", "Mish", "Neg",
        "Reciprocal", "Relu", "Round", "Selu", "Celu", "Shrink", "Sigmoid", "Sign", "Sin", "Sinh", "Softplus",
        "Softsign", "Sqrt", "Tan", "Tanh", "ThresholdedRelu", "Swish", "BitwiseNot",
    ],
    Binary(binary::Binary) = ["Add", "Sub", "Mul", "Div", "Pow", "Mod", "BitShift", "BitwiseAnd", "BitwiseOr", "BitwiseXor", "PRelu"],
    Shape(shape::Shape) = ["Shape"],
    Reshape(reshape::Reshape) = ["Reshape"],
    Cast(cast::Cast) = ["Cast", "CastLike"],
    Compare(compare::Compare) = ["Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual"],
    Logical(logical::Logical) = ["And", "Or", "Xor", "Not"],
    Variadic(variadic::Variadic) = ["Min", "Max", "Sum", "Mean"],
    Clip(clip::Clip) = ["Clip"],
    Where(where_op::Where) = ["Where"],
    ConstantOfShape(constant_of_shape::ConstantOfShape) = ["ConstantOfShape"],
    Range(range::Range) = ["Range"],
    Size(size::Size) = ["Size"],
    Concat(concat::Concat) = ["Concat"],
    Split(split::Split) = ["Split"],
    Slice(slice::Slice) = ["Slice"],
    Squeeze(squeeze::Squeeze) = ["Squeeze", "Unsqueeze"],
    Transpose(transpose::Transpose) = ["Transpose"],
    Flatten(flatten::Flatten) = ["Flatten"],
    Expand(expand::Expand) = ["Expand"],
    Tile(tile::Tile) = ["Tile"],
    Trilu(trilu::Trilu) = ["Trilu"],
    EyeLike(eye_like::EyeLike) = ["EyeLike"],
    OneHot(one_hot::OneHot) = ["OneHot"],
    Reduce(reduce::Reduce) = [
        "ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2", "ReduceLogSum",
        "ReduceLogSumExp", "ReduceSumSquare",
    ],
    ArgExtremum(arg_extrema::ArgExtremum) = ["ArgMax", "ArgMin"],
    TopK(top_k::TopK) = ["TopK"],
    Cumulative(cumulative::Cumulative) = ["CumSum", "CumProd"],
    Softmax(softmax::Softmax) = ["Softmax", "LogSoftmax", "Hardmax"],
    QuantizeLinear(quantize::QuantizeLinear) = ["QuantizeLinear"],
    DequantizeLinear(quantize::DequantizeLinear) = ["DequantizeLinear"],
    DynamicQuantizeLinear(quantize::DynamicQuantizeLinear) = ["DynamicQuantizeLinear"],
    Recurrent(rnn::Recurrent) = ["RNN", "GRU", "LSTM"],
    Window(window::Window) = ["HannWindow", "HammingWindow", "BlackmanWindow"],
    Det(det::Det) = ["Det"],
    Attention(attention::Attention) = ["Attention"],
    RotaryEmbedding(rotary_embedding::RotaryEmbedding) = ["RotaryEmbedding"],
    SwiGlu(swiglu::SwiGlu) = ["SwiGLU"],
    GridSample(grid_sample::GridSample) = ["GridSample"],
    AffineGrid(affine_grid::AffineGrid) = ["AffineGrid"],
    Col2Im(col2im::Col2Im) = ["Col2Im"],
    NonMaxSuppression(non_max_suppression::NonMaxSuppression) = ["NonMaxSuppression"],
    RoiAlign(roi_align::RoiAlign) = ["RoiAlign"],
    Unique(unique::Unique) = ["Unique"],
    DeformConv(deform_conv::DeformConv) = ["DeformConv"],
    Dft(dft::Dft) = ["DFT"],
    Stft(stft::Stft) = ["STFT"],
    MelWeightMatrix(mel_weight_matrix::MelWeightMatrix) = ["MelWeightMatrix"],
    Conv(conv::Conv) = ["Conv"],
    ConvInteger(conv::ConvInteger) = ["ConvInteger"],
    QLinearConv(conv::QLinearConv) = ["QLinearConv"],
    ConvTranspose(conv::ConvTranspose) = ["ConvTranspose"],
    Pool(pool::Pool) = ["MaxPool", "AveragePool", "LpPool"],
    GlobalPool(pool::GlobalPool) = ["GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool"],
    MaxUnpool(pool::MaxUnpool) = ["MaxUnpool"],
    BatchNormalization(norm::BatchNormalization) = ["BatchNormalization"],
    GroupNorm(norm::GroupNorm) = ["InstanceNormalization", "GroupNormalization"],
    LayerNorm(norm::LayerNorm) = ["LayerNormalization", "RMSNormalization"],
    MeanVarianceNormalization(norm::MeanVarianceNormalization) = ["MeanVarianceNormalization"],
    LpNormalization(norm::LpNormalization) = ["LpNormalization"],
    Lrn(norm::Lrn) = ["LRN"],
    Gemm(gemm::Gemm) = ["Gemm"],
    MatMul(matmul::MatMul) = ["MatMul"],
    MatMulInteger(matmul::MatMulInteger) = ["MatMulInteger"],
    QLinearMatMul(matmul::QLinearMatMul) = ["QLinearMatMul"],
    Einsum(einsum::Einsum) = ["Einsum"],
    Pad(pad::Pad) = ["Pad"],
    Gather(gather::Gather) = ["Gather"],
    GatherElements(gather_elements::GatherElements) = ["GatherElements"],
    GatherND(gather_nd::GatherND) = ["GatherND"],
    ScatterND(scatter_nd::ScatterND) = ["ScatterND"],
    ScatterElements(scatter_elements::ScatterElements) = ["ScatterElements", "Scatter"],
    DepthSpace(depth_space::DepthSpace) = ["DepthToSpace", "SpaceToDepth"],
    NonZero(nonzero::NonZero) = ["NonZero"],
    Compress(compress::Compress) = ["Compress"],
    ReverseSequence(reverse_sequence::ReverseSequence) = ["ReverseSequence"],
    CenterCropPad(center_crop_pad::CenterCropPad) = ["CenterCropPad"],
    Resize(resize::Resize) = ["Resize", "Upsample"],
    Loss(loss::Loss) = ["NegativeLogLikelihoodLoss", "SoftmaxCrossEntropyLoss"],
    BitCast(bitcast::BitCast) = ["BitCast"],
    TensorScatter(tensor_scatter::TensorScatter) = ["TensorScatter"],
    CausalConvWithState(causal_conv::CausalConvWithState) = ["CausalConvWithState"],
    LinearAttention(linear_attention::LinearAttention) = ["LinearAttention"],
    StringConcat(strings::StringConcat) = ["StringConcat"],
    StringSplit(strings::StringSplit) = ["StringSplit"],
    StringNormalizer(string_normalizer::StringNormalizer) = ["StringNormalizer"],
    ; internal:
    // onnxruntime's com.microsoft QLinear ops (not default-domain op types).
    MsQLinear(ms_qlinear::MsQLinear),
    // onnxruntime's com.microsoft DynamicQuantizeLSTM.
    DynamicQuantizeLstm(rnn::DynamicQuantizeLstm),
    IntConv(qint::IntConv),
    IntBinary(qint::IntBinary),
    IntRescale(qint::IntRescale),
    IntConvert(qint::IntConvert),
    IntLut(qint::IntLut),
    IntAvgPool(qint::IntAvgPool),
    IntConvTranspose(qint::IntConvTranspose),
    IntReduceMean(qint::IntReduceMean),
    IntResize(qint::IntResize),
    IntMatMul(qint::IntMatMul),
    IntSoftmax(qint::IntSoftmax),
    IntLayerNorm(qint::IntLayerNorm),
}
