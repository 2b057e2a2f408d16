//! SwiGLU (opset 28): `Y = A * sigmoid(alpha * A) * B` for inputs of one
//! shape (no broadcasting).
//! <https://onnx.ai/onnx/operators/onnx__SwiGLU.html>
//!
//! Float16/bfloat16/float32/float64; each step is rounded to the input type
//! as the reference computes it.

use super::precision::Prec;
use super::{Arg, OpDef, Slots};
use crate::front::onnx::OnnxNode;
use crate::ir::TensorType;
use crate::tensor::Tensor;
use crate::{bail, Result};

#[derive(Debug, Clone)]
pub struct SwiGlu {
    alpha: f64,
}

impl OpDef for SwiGlu {
    fn from_onnx(node: &OnnxNode) -> Result<Self> {
        Ok(SwiGlu { alpha: node.float("alpha", 1.0)? as f64 })
    }

    fn infer(&self, inputs: &[Option<Arg>]) -> Result<Vec<TensorType>> {
        let (a, b) = (inputs.req(0)?.ty, inputs.req(1)?.ty);
        Prec::of(a.dtype)?;
        if a.dtype != b.dtype {
            bail!("A and B must have one element type, got {} and {}", a.dtype, b.dtype);
        }
        let (Some(da), Some(db)) = (a.shape.dims(), b.shape.dims()) else {
            return Ok(vec![TensorType::new(a.dtype, if a.shape.rank().is_some() { a.shape.clone() } else { b.shape.clone() })]);
        };
        if da.len() != db.len() {
            bail!("A {} and B {} must have the same shape", a.shape, b.shape);
        }
        let mut dims = Vec::with_capacity(da.len());
        for (x, y) in da.iter().zip(db) {
            dims.push(match (x, y) {
                (Some(x), Some(y)) if x != y => bail!("A {} and B {} must have the same shape", a.shape, b.shape),
                (Some(d), _) | (None, Some(d)) => Some(*d),
                (None, None) => None,
            });
        }
        Ok(vec![TensorType::new(a.dtype, crate::ir::Shape::from_dims(dims))])
    }

    fn eval(&self, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
        let (a, b) = (inputs.req(0)?, inputs.req(1)?);
        let p = Prec::of(a.dtype())?;
        if a.dtype() != b.dtype() || a.shape() != b.shape() {
            bail!("A {}{:?} and B {}{:?} must have the same type and shape", a.dtype(), a.shape(), b.dtype(), b.shape());
        }
        let r = |v: f64| p.round(v);
        let neg_alpha = r(-self.alpha);
        let y: Vec<f64> = a
            .to_f64_vec()?
            .into_iter()
            .zip(b.to_f64_vec()?)
            .map(|(a, b)| {
                let gate = r(1.0 / r(1.0 + r(r(neg_alpha * a).exp())));
                r(r(a * gate) * b)
            })
            .collect();
        Ok(vec![Tensor::from_vec(a.shape(), y)?.cast(a.dtype())?])
    }

    /// int8: float only.
    fn quantize(&self, rule: super::Rule) -> Result<super::Plan> {
        Ok(rule.float_only(super::NO_INTEGER_KERNEL))
    }
}

#[cfg(test)]
mod tests {
    use crate::front::onnx::Attr;
    use crate::ops::testing::{f32s, run};

    #[test]
    fn gates_b_with_the_swish_of_a() {
        let a = f32s(&[3], &[0.0, 2.0, -1.0]);
        let b = f32s(&[3], &[5.0, 3.0, 2.0]);
        let y = run("SwiGLU", 28, vec![("alpha", Attr::Float(0.5))], &[a, b]).unwrap();
        let swish = |x: f64| x / (1.0 + (-0.5 * x).exp());
        let want = [0.0, swish(2.0) * 3.0, swish(-1.0) * 2.0];
        for (y, w) in y[0].array::<f32>().unwrap().iter().zip(want) {
            assert!((*y as f64 - w).abs() < 1e-6);
        }
    }

    #[test]
    fn shapes_must_match_exactly() {
        let a = f32s(&[2], &[0.0; 2]);
        let b = f32s(&[1], &[0.0]);
        assert!(run("SwiGLU", 28, vec![], &[a.clone(), b]).is_err());
        let ints = crate::ops::testing::i64s(&[2], &[0, 0]);
        assert!(run("SwiGLU", 28, vec![], &[ints.clone(), ints]).is_err());
    }
}
