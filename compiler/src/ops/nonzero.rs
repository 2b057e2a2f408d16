//! NonZero: the coordinates of the non-zero elements of a numeric or bool
//! tensor, as an int64 tensor of shape `[rank, count]` in row-major order
//! (a scalar gives `[0, count]`). The count depends on the data, so it is
//! an unknown dimension. <https://onnx.ai/onnx/operators/onnx__NonZero.html>

use super::take;
use super::{Arg, OpDef, Slots};
use crate::front::onnx::OnnxNode;
use crate::ir::{Shape, TensorType};
use crate::tensor::{DType, Tensor};
use crate::{bail, Result};

#[derive(Debug, Clone)]
pub struct NonZero;

impl OpDef for NonZero {
    fn from_onnx(_node: &OnnxNode) -> Result<Self> {
        Ok(NonZero)
    }

    fn infer(&self, inputs: &[Option<Arg>]) -> Result<Vec<TensorType>> {
        let x = inputs.req(0)?.ty;
        check_dtype(x.dtype)?;
        Ok(vec![TensorType::new(DType::I64, Shape::from_dims(vec![x.shape.rank(), None]))])
    }

    fn eval(&self, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
        let x = inputs.req(0)?;
        check_dtype(x.dtype())?;
        let nonzero: Vec<bool> = x.cast(DType::Bool)?.array::<bool>()?.iter().copied().collect();
        let rank = x.rank();
        let mut coords: Vec<Vec<i64>> = vec![Vec::new(); rank];
        let mut k = 0usize;
        let mut count = 0usize;
        take::for_each_index(x.shape(), |p| {
            if nonzero.get(k).copied().unwrap_or(false) {
                count += 1;
                for (axis, &i) in p.iter().enumerate() {
                    coords[axis].push(i as i64);
                }
            }
            k += 1;
            Ok(())
        })?;
        Ok(vec![Tensor::from_vec(&[rank, count], coords.concat())?])
    }

    /// int8: float only.
    fn quantize(&self, rule: super::Rule) -> Result<super::Plan> {
        Ok(rule.float_only(super::NO_INTEGER_KERNEL))
    }
}

fn check_dtype(d: DType) -> Result<()> {
    if !(d.is_int() || d.is_float() || d == DType::Bool) {
        bail!("NonZero does not accept {d} inputs");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::ops::testing::{f32s, run};
    use crate::tensor::Tensor;

    #[test]
    fn coordinates_in_row_major_order() {
        let y = run("NonZero", 13, vec![], &[f32s(&[2, 2], &[0., 1., -2., 0.])]).unwrap();
        assert_eq!(y[0], Tensor::from_vec(&[2, 2], vec![0i64, 1, 1, 0]).unwrap());
        let y = run("NonZero", 13, vec![], &[Tensor::scalar(3.0f32)]).unwrap();
        assert_eq!(y[0].shape(), &[0, 1]);
        let y = run("NonZero", 13, vec![], &[f32s(&[0, 3], &[])]).unwrap();
        assert_eq!(y[0].shape(), &[2, 0]);
    }

    #[test]
    fn strings_are_rejected() {
        let s = Tensor::from_vec(&[1], vec![String::from("a")]).unwrap();
        assert!(run("NonZero", 13, vec![], &[s]).is_err());
    }
}
