//! Cast and CastLike: element type conversion to the `to` attribute (Cast)
//! or to the second input's type (CastLike).
//! <https://onnx.ai/onnx/operators/onnx__Cast.html>,
//! <https://onnx.ai/onnx/operators/onnx__CastLike.html>
//!
//! Every element type qcc holds, in both directions, with `saturate` for
//! float8 targets (opset 19+) and `round_mode` for float8e8m0 (opset 24+).
//! The conversions themselves are `Tensor::cast_rounding`. The float6
//! types of opset 28 are not supported.

use super::{Arg, LowerCx, OpDef, Slots};
use crate::back::program::ScalarFn;
use crate::front::onnx::OnnxNode;
use crate::ir::TensorType;
use crate::tensor::small::E8m0Rounding;
use crate::tensor::{DType, Tensor};
use crate::{bail, unsupported, Result};

#[derive(Debug, Clone)]
pub struct Cast {
    /// The target type; `None` for CastLike (the second input's type).
    to: Option<DType>,
    saturate: bool,
    e8m0: E8m0Rounding,
}

impl OpDef for Cast {
    fn from_onnx(node: &OnnxNode) -> Result<Self> {
        let to = if node.op_type == "CastLike" {
            None
        } else {
            let code = node.int_req("to")?;
            match i32::try_from(code).ok().and_then(DType::from_onnx) {
                Some(d) => Some(d),
                None => unsupported!("Cast to element type code {code}"),
            }
        };
        let saturate = node.opset < 19 || node.int("saturate", 1)? != 0;
        let e8m0 = match node.string("round_mode", "up")?.as_str() {
            "up" => E8m0Rounding::Up,
            "down" => E8m0Rounding::Down,
            "nearest" => E8m0Rounding::Nearest,
            other => bail!("round_mode '{other}' is not 'up', 'down' or 'nearest'"),
        };
        Ok(Cast { to, saturate, e8m0 })
    }

    fn infer(&self, inputs: &[Option<Arg>]) -> Result<Vec<TensorType>> {
        let x = inputs.req(0)?.ty;
        let to = match self.to {
            Some(d) => d,
            None => inputs.req(1)?.ty.dtype,
        };
        Ok(vec![TensorType::new(to, x.shape.clone())])
    }

    fn eval(&self, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
        let x = inputs.req(0)?;
        let to = match self.to {
            Some(d) => d,
            None => inputs.req(1)?.dtype(),
        };
        Ok(vec![x.cast_rounding(to, self.saturate, self.e8m0)?])
    }

    fn lower(&self, cx: &mut LowerCx) -> Result<()> {
        let x = cx.input(0)?.clone();
        let to = cx.output_type(0)?.0;
        if x.dtype == to {
            return cx.alias_output(0, x);
        }
        if !plain(x.dtype) || !plain(to) {
            unsupported!("code generation for Cast from {} to {to} is not implemented yet", x.dtype);
        }
        let out = cx.output(0)?;
        cx.map(cast_fn(x.dtype, to), &[&x], &out)
    }

    /// int8: float only.
    fn quantize(&self, rule: super::Rule) -> Result<super::Plan> {
        Ok(rule.float_only(super::NO_INTEGER_KERNEL))
    }
}

/// Types generated code converts with `cast`: bool, integers of 8 bits or
/// more, float16, bfloat16, float32, float64.
fn plain(d: DType) -> bool {
    d == DType::Bool || d.is_int() || d.is_float()
}

/// The runtime's scalar `cast` (the interpreter's numeric Cast semantics)
/// between two plain types.
pub fn cast_fn(from: DType, to: DType) -> ScalarFn {
    ScalarFn { name: "cast", inputs: vec![from], output: to, params: Vec::new(), suffix: vec![from, to] }
}

#[cfg(test)]
mod tests {
    use crate::front::onnx::Attr;
    use crate::ops::testing::{f32s, i64s, run};
    use crate::tensor::{DType, Tensor};

    fn to(d: DType) -> (&'static str, Attr) {
        ("to", Attr::Int(d.onnx_code() as i64))
    }

    #[test]
    fn float_to_int4_truncates_and_wraps() {
        let x = f32s(&[5], &[-9.0, -2.7, 2.7, 7.9, 15.0]);
        let out = run("Cast", 21, vec![to(DType::I4)], &[x]).unwrap();
        let back = out[0].cast(DType::F32).unwrap();
        assert_eq!(back, f32s(&[5], &[7.0, -2.0, 2.0, 7.0, -1.0]));
    }

    #[test]
    fn castlike_takes_the_second_input_type() {
        let out = run("CastLike", 21, vec![], &[f32s(&[2], &[1.5, -2.5]), i64s(&[1], &[0])]).unwrap();
        assert_eq!(out[0], i64s(&[2], &[1, -2]));
    }

    #[test]
    fn e8m0_round_modes() {
        let x = f32s(&[3], &[3.0, 5.0, 0.75]);
        let mode = |m: &str| ("round_mode", Attr::String(m.into()));
        let codes = |t: &Tensor| match t {
            Tensor::Small(DType::F8E8M0, a) => a.iter().copied().collect::<Vec<u8>>(),
            _ => panic!("not float8e8m0"),
        };
        let up = run("Cast", 25, vec![to(DType::F8E8M0), mode("up")], std::slice::from_ref(&x)).unwrap();
        assert_eq!(codes(&up[0]), vec![129, 130, 127]);
        let down = run("Cast", 25, vec![to(DType::F8E8M0), mode("down")], std::slice::from_ref(&x)).unwrap();
        assert_eq!(codes(&down[0]), vec![128, 129, 126]);
        let nearest = run("Cast", 25, vec![to(DType::F8E8M0), mode("nearest")], std::slice::from_ref(&x)).unwrap();
        assert_eq!(codes(&nearest[0]), vec![129, 129, 127]);
        assert!(run("Cast", 25, vec![to(DType::F8E8M0), mode("sideways")], &[x]).is_err());
    }

    #[test]
    fn unknown_target_type_is_unsupported() {
        let err = run("Cast", 21, vec![("to", Attr::Int(14))], &[f32s(&[1], &[1.0])]).unwrap_err();
        assert!(matches!(err, crate::Error::Unsupported(_)), "{err}");
        assert!(run("Cast", 21, vec![], &[f32s(&[1], &[1.0])]).is_err());
    }
}
