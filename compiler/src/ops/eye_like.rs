//! EyeLike: a 2-D tensor shaped like the input with ones on diagonal `k`
//! and zeros elsewhere, of element type `dtype` (the input's by default).
//! Integer, float and bool types.
//! <https://onnx.ai/onnx/operators/onnx__EyeLike.html>

use super::{Arg, OpDef, Slots};
use crate::front::onnx::OnnxNode;
use crate::ir::TensorType;
use crate::tensor::{DType, Tensor};
use crate::{bail, Result};
use ndarray::{ArrayD, IxDyn};

#[derive(Debug, Clone)]
pub struct EyeLike {
    dtype: Option<DType>,
    k: i64,
}

impl OpDef for EyeLike {
    fn from_onnx(node: &OnnxNode) -> Result<Self> {
        Ok(EyeLike { dtype: node.dtype_opt("dtype")?, k: node.int("k", 0)? })
    }

    fn infer(&self, inputs: &[Option<Arg>]) -> Result<Vec<TensorType>> {
        let x = inputs.req(0)?.ty;
        if x.shape.rank().is_some_and(|r| r != 2) {
            bail!("the input must be 2-D, its shape is {}", x.shape);
        }
        Ok(vec![TensorType::new(self.out_dtype(x.dtype)?, x.shape.clone())])
    }

    fn eval(&self, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
        let x = inputs.req(0)?;
        let &[rows, cols] = x.shape() else { bail!("the input must be 2-D, its shape is {:?}", x.shape()) };
        let dtype = self.out_dtype(x.dtype())?;
        let k = self.k;
        // Indices are below 2^31, so the difference cannot overflow.
        let eye = ArrayD::from_shape_fn(IxDyn(&[rows, cols]), |i| (i[1] as i64 - i[0] as i64 == k) as i64);
        Ok(vec![Tensor::I64(eye).cast(dtype)?])
    }

    /// int8: float only.
    fn quantize(&self, rule: super::Rule) -> Result<super::Plan> {
        Ok(rule.float_only(super::NO_INTEGER_KERNEL))
    }
}

impl EyeLike {
    fn out_dtype(&self, input: DType) -> Result<DType> {
        let d = self.dtype.unwrap_or(input);
        if !(d.is_int() || d.is_float() || d == DType::Bool) {
            bail!("EyeLike does not produce {d} tensors");
        }
        Ok(d)
    }
}

#[cfg(test)]
mod tests {
    use crate::front::onnx::Attr;
    use crate::ops::testing::{f32s, i64s, run};

    #[test]
    fn off_diagonal_with_dtype() {
        let x = i64s(&[2, 3], &[0; 6]);
        let attrs = vec![("k", Attr::Int(1)), ("dtype", Attr::Int(1))];
        assert_eq!(run("EyeLike", 9, attrs, &[x]).unwrap()[0], f32s(&[2, 3], &[0.0, 1.0, 0.0, 0.0, 0.0, 1.0]));
    }

    #[test]
    fn non_matrix_is_an_error() {
        assert!(run("EyeLike", 9, vec![], &[i64s(&[2], &[0; 2])]).is_err());
    }
}
