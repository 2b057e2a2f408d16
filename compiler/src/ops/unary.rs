//! Elementwise unary operators: activations and math functions.
//!
//! Float inputs (float16/bfloat16/float32/float64) are computed in f64 and
//! rounded once to the input type. Abs, Neg, Sign and Relu also accept
//! integers; BitwiseNot accepts only integers; IsInf and IsNaN return bool.
//! Operator pages: <https://onnx.ai/onnx/operators/> (one per op type).

use super::int8_rule::Needs;
use super::{LowerCx, Arg, OpDef, Plan, Rule, Slots, NO_INTEGER_KERNEL};
use crate::back::program::Lit;
use crate::front::onnx::OnnxNode;
use crate::ir::TensorType;
use crate::tensor::{DType, Num, Tensor};
use crate::{bail, map_float, map_int, map_num, Result};
use ndarray::ArrayD;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    Abs,
    Acos,
    Acosh,
    Asin,
    Asinh,
    Atan,
    Atanh,
    Ceil,
    Cos,
    Cosh,
    Elu { alpha: f64 },
    Erf,
    Exp,
    Floor,
    Gelu { tanh: bool },
    HardSigmoid { alpha: f64, beta: f64 },
    HardSwish,
    IsInf { negative: bool, positive: bool },
    IsNaN,
    LeakyRelu { alpha: f64 },
    Log,
    Mish,
    Neg,
    Reciprocal,
    Relu,
    Round,
    Selu { alpha: f64, gamma: f64 },
    Celu { alpha: f64 },
    Shrink { bias: f64, lambd: f64 },
    Sigmoid,
    Sign,
    Sin,
    Sinh,
    Softplus,
    Softsign,
    Sqrt,
    Tan,
    Tanh,
    ThresholdedRelu { alpha: f64 },
    Swish { alpha: f64 },
    BitwiseNot,
}

#[derive(Debug, Clone)]
pub struct Unary {
    pub kind: Kind,
}

impl OpDef for Unary {
    fn from_onnx(node: &OnnxNode) -> Result<Self> {
        let f = |name: &str, default: f32| -> Result<f64> { Ok(node.float(name, default)? as f64) };
        let kind = match node.op_type.as_str() {
            "Abs" => Kind::Abs,
            "Acos" => Kind::Acos,
            "Acosh" => Kind::Acosh,
            "Asin" => Kind::Asin,
            "Asinh" => Kind::Asinh,
            "Atan" => Kind::Atan,
            "Atanh" => Kind::Atanh,
            "Ceil" => Kind::Ceil,
            "Cos" => Kind::Cos,
            "Cosh" => Kind::Cosh,
            "Elu" => Kind::Elu { alpha: f("alpha", 1.0)? },
            "Erf" => Kind::Erf,
            "Exp" => Kind::Exp,
            "Floor" => Kind::Floor,
            "Gelu" => Kind::Gelu {
                tanh: match node.string("approximate", "none")?.as_str() {
                    "none" => false,
                    "tanh" => true,
                    other => bail!("Gelu approximate='{other}' is not 'none' or 'tanh'"),
                },
            },
            "HardSigmoid" => Kind::HardSigmoid { alpha: f("alpha", 0.2)?, beta: f("beta", 0.5)? },
            "HardSwish" => Kind::HardSwish,
            "IsInf" => Kind::IsInf {
                negative: node.int("detect_negative", 1)? != 0,
                positive: node.int("detect_positive", 1)? != 0,
            },
            "IsNaN" => Kind::IsNaN,
            "LeakyRelu" => Kind::LeakyRelu { alpha: f("alpha", 0.01)? },
            "Log" => Kind::Log,
            "Mish" => Kind::Mish,
            "Neg" => Kind::Neg,
            "Reciprocal" => Kind::Reciprocal,
            "Relu" => Kind::Relu,
            "Round" => Kind::Round,
            "Selu" => Kind::Selu { alpha: f("alpha", 1.673_263_2)?, gamma: f("gamma", 1.050_701)? },
            "Celu" => Kind::Celu { alpha: f("alpha", 1.0)? },
            "Shrink" => Kind::Shrink { bias: f("bias", 0.0)?, lambd: f("lambd", 0.5)? },
            "Sigmoid" => Kind::Sigmoid,
            "Sign" => Kind::Sign,
            "Sin" => Kind::Sin,
            "Sinh" => Kind::Sinh,
            "Softplus" => Kind::Softplus,
            "Softsign" => Kind::Softsign,
            "Sqrt" => Kind::Sqrt,
            "Tan" => Kind::Tan,
            "Tanh" => Kind::Tanh,
            "ThresholdedRelu" => Kind::ThresholdedRelu { alpha: f("alpha", 1.0)? },
            "Swish" => Kind::Swish { alpha: f("alpha", 1.0)? },
            "BitwiseNot" => Kind::BitwiseNot,
            other => bail!("'{other}' is not a unary operator"),
        };
        Ok(Unary { kind })
    }

    fn infer(&self, inputs: &[Option<Arg>]) -> Result<Vec<TensorType>> {
        let x = inputs.req(0)?.ty;
        self.check_dtype(x.dtype)?;
        let dtype = if self.returns_bool() { DType::Bool } else { x.dtype };
        Ok(vec![TensorType::new(dtype, x.shape.clone())])
    }

    fn eval(&self, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
        let x = inputs.req(0)?;
        self.check_dtype(x.dtype())?;
        let k = self.kind;
        let out = match k {
            Kind::IsInf { negative, positive } => {
                let v = x.cast(DType::F64)?;
                Tensor::Bool(v.array::<f64>()?.mapv(|v| v.is_infinite() && ((v > 0.0 && positive) || (v < 0.0 && negative))))
            }
            Kind::IsNaN => Tensor::Bool(x.cast(DType::F64)?.array::<f64>()?.mapv(f64::is_nan)),
            Kind::BitwiseNot => map_int!(x, a => a.mapv(bit_not))?,
            Kind::Abs | Kind::Neg | Kind::Sign | Kind::Relu if x.dtype().is_int() => map_num!(x, a => int_unary(a, k))?,
            _ => map_float!(x, a => a.mapv(|v| Num::from_f64(apply(k, v.to_f64()))))?,
        };
        Ok(vec![out])
    }

    /// The functions bounded on both sides: the sigmoids and Softsign in
    /// [0, 1] or [−1, 1], HardSigmoid exactly `clamp(beta)` when alpha is 0.
    fn output_bounds(&self, _inputs: &[Option<Arg>]) -> Option<(f64, f64)> {
        match self.kind {
            Kind::Sigmoid => Some((0.0, 1.0)),
            Kind::HardSigmoid { alpha: 0.0, beta } => Some((beta.clamp(0.0, 1.0), beta.clamp(0.0, 1.0))),
            Kind::HardSigmoid { .. } => Some((0.0, 1.0)),
            Kind::Tanh | Kind::Softsign | Kind::Erf | Kind::Sin | Kind::Cos => Some((-1.0, 1.0)),
            _ => None,
        }
    }

    fn lower(&self, cx: &mut LowerCx) -> Result<()> {
        self.lower_elementwise(cx)
    }

    /// int8: a 256-entry table of the function over every input code;
    /// IsInf, IsNaN and BitwiseNot float only.
    fn quantize(&self, rule: Rule) -> Result<Plan> {
        if !self.maps_floats() {
            return Ok(rule.float_only(NO_INTEGER_KERNEL));
        }
        rule.on_codes(Needs::Output, |cx| cx.table())
    }
}

impl Unary {
    /// Whether the function maps floats to floats (all but IsInf, IsNaN and
    /// BitwiseNot), so that a table of codes can hold it.
    pub fn maps_floats(&self) -> bool {
        !matches!(self.kind, Kind::IsInf { .. } | Kind::IsNaN | Kind::BitwiseNot)
    }

    /// Elementwise code through the runtime's scalar functions.
    fn lower_elementwise(&self, cx: &mut LowerCx) -> Result<()> {
        let dtype = cx.input(0)?.dtype;
        let float = |v: f64| Lit::Float(v, dtype);
        // Float functions take their parameters in the compute type (f32
        // for float16 and bfloat16).
        let compute = if dtype == DType::F64 { DType::F64 } else { DType::F32 };
        let c = |v: f64| Lit::Float(v, compute);
        let (name, params) = match self.kind {
            Kind::Abs => ("abs", vec![]),
            Kind::Neg => ("neg", vec![]),
            Kind::Sign => ("sign", vec![]),
            Kind::Relu => ("relu", vec![]),
            Kind::LeakyRelu { alpha } => ("leaky_relu", vec![float(alpha)]),
            Kind::BitwiseNot => ("bit_not", vec![]),
            k if !dtype.is_float() => crate::unsupported!("code generation for {k:?} on {dtype} is not implemented yet"),
            Kind::Acos => ("acos", vec![]),
            Kind::Acosh => ("acosh", vec![]),
            Kind::Asin => ("asin", vec![]),
            Kind::Asinh => ("asinh", vec![]),
            Kind::Atan => ("atan", vec![]),
            Kind::Atanh => ("atanh", vec![]),
            Kind::Ceil => ("ceil", vec![]),
            Kind::Cos => ("cos", vec![]),
            Kind::Cosh => ("cosh", vec![]),
            Kind::Elu { alpha } => ("elu", vec![c(alpha)]),
            Kind::Erf => ("erf", vec![]),
            Kind::Exp => ("exp", vec![]),
            Kind::Floor => ("floor", vec![]),
            Kind::Gelu { tanh: false } => ("gelu", vec![]),
            Kind::Gelu { tanh: true } => ("gelu_tanh", vec![]),
            Kind::HardSigmoid { alpha, beta } => ("hard_sigmoid", vec![c(alpha), c(beta)]),
            Kind::HardSwish => ("hard_swish", vec![]),
            Kind::IsInf { negative, positive } => ("isinf", vec![Lit::Bool(negative), Lit::Bool(positive)]),
            Kind::IsNaN => ("isnan", vec![]),
            Kind::Log => ("log", vec![]),
            Kind::Mish => ("mish", vec![]),
            Kind::Reciprocal => ("reciprocal", vec![]),
            Kind::Round => ("round", vec![]),
            Kind::Selu { alpha, gamma } => ("selu", vec![c(alpha), c(gamma)]),
            Kind::Celu { alpha } => ("celu", vec![c(alpha)]),
            Kind::Shrink { bias, lambd } => ("shrink", vec![c(bias), c(lambd)]),
            Kind::Sigmoid => ("sigmoid", vec![]),
            Kind::Sin => ("sin", vec![]),
            Kind::Sinh => ("sinh", vec![]),
            Kind::Softplus => ("softplus", vec![]),
            Kind::Softsign => ("softsign", vec![]),
            Kind::Sqrt => ("sqrt", vec![]),
            Kind::Tan => ("tan", vec![]),
            Kind::Tanh => ("tanh", vec![]),
            Kind::ThresholdedRelu { alpha } => ("thresholded_relu", vec![c(alpha)]),
            Kind::Swish { alpha } => ("swish", vec![c(alpha)]),
        };
        cx.elementwise(name, params)
    }

    fn returns_bool(&self) -> bool {
        matches!(self.kind, Kind::IsInf { .. } | Kind::IsNaN)
    }

    fn check_dtype(&self, d: DType) -> Result<()> {
        let ok = match self.kind {
            Kind::BitwiseNot => d.is_int(),
            Kind::Abs | Kind::Neg | Kind::Sign | Kind::Relu => d.is_int() || d.is_float(),
            _ => d.is_float(),
        };
        if !ok {
            bail!("{:?} does not accept {d} inputs", self.kind);
        }
        Ok(())
    }
}

fn bit_not<T: Num>(v: T) -> T {
    // !v == -v - 1 in two's complement; for unsigned it is MAX - v.
    if T::min_value() == T::zero() {
        T::max_value().sub(v)
    } else {
        T::zero().sub(v).sub(T::one())
    }
}

fn int_unary<T: Num>(a: &ArrayD<T>, k: Kind) -> ArrayD<T> {
    let zero = T::zero();
    a.mapv(|v| match k {
        Kind::Abs => {
            if v < zero {
                zero.sub(v)
            } else {
                v
            }
        }
        Kind::Neg => zero.sub(v),
        Kind::Sign => {
            if v > zero {
                T::one()
            } else if v < zero {
                zero.sub(T::one())
            } else {
                zero
            }
        }
        _ => {
            if v > zero {
                v
            } else {
                zero
            }
        }
    })
}

fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

fn softplus(x: f64) -> f64 {
    if x > 30.0 {
        x
    } else {
        x.exp().ln_1p()
    }
}

/// The function itself, in f64.
pub fn apply(k: Kind, x: f64) -> f64 {
    match k {
        Kind::Abs => x.abs(),
        Kind::Acos => x.acos(),
        Kind::Acosh => x.acosh(),
        Kind::Asin => x.asin(),
        Kind::Asinh => x.asinh(),
        Kind::Atan => x.atan(),
        Kind::Atanh => x.atanh(),
        Kind::Ceil => x.ceil(),
        Kind::Cos => x.cos(),
        Kind::Cosh => x.cosh(),
        Kind::Elu { alpha } => {
            if x > 0.0 {
                x
            } else {
                alpha * x.exp_m1()
            }
        }
        Kind::Erf => libm::erf(x),
        Kind::Exp => x.exp(),
        Kind::Floor => x.floor(),
        Kind::Gelu { tanh: false } => 0.5 * x * (1.0 + libm::erf(x / std::f64::consts::SQRT_2)),
        Kind::Gelu { tanh: true } => {
            let c = (2.0 / std::f64::consts::PI).sqrt();
            0.5 * x * (1.0 + (c * (x + 0.044715 * x * x * x)).tanh())
        }
        Kind::HardSigmoid { alpha, beta } => (alpha * x + beta).clamp(0.0, 1.0),
        Kind::HardSwish => x * (x / 6.0 + 0.5).clamp(0.0, 1.0),
        Kind::LeakyRelu { alpha } => {
            if x >= 0.0 {
                x
            } else {
                alpha * x
            }
        }
        Kind::Log => x.ln(),
        Kind::Mish => x * softplus(x).tanh(),
        Kind::Neg => -x,
        Kind::Reciprocal => 1.0 / x,
        Kind::Relu => {
            if x > 0.0 || x.is_nan() {
                x
            } else {
                0.0
            }
        }
        Kind::Round => x.round_ties_even(),
        Kind::Selu { alpha, gamma } => {
            if x > 0.0 {
                gamma * x
            } else {
                gamma * alpha * x.exp_m1()
            }
        }
        Kind::Celu { alpha } => x.max(0.0) + (alpha * (x / alpha).exp_m1()).min(0.0),
        Kind::Shrink { bias, lambd } => {
            if x < -lambd {
                x + bias
            } else if x > lambd {
                x - bias
            } else {
                0.0
            }
        }
        Kind::Sigmoid => sigmoid(x),
        Kind::Sign => {
            if x > 0.0 {
                1.0
            } else if x < 0.0 {
                -1.0
            } else {
                x
            }
        }
        Kind::Sin => x.sin(),
        Kind::Sinh => x.sinh(),
        Kind::Softplus => softplus(x),
        Kind::Softsign => x / (1.0 + x.abs()),
        Kind::Sqrt => x.sqrt(),
        Kind::Tan => x.tan(),
        Kind::Tanh => x.tanh(),
        Kind::ThresholdedRelu { alpha } => {
            if x > alpha {
                x
            } else {
                0.0
            }
        }
        Kind::Swish { alpha } => x * sigmoid(alpha * x),
        // Handled before dispatch on floats.
        Kind::IsInf { .. } | Kind::IsNaN | Kind::BitwiseNot => x,
    }
}
