//! Det: the determinant of each square matrix in the last two axes.
//! <https://onnx.ai/onnx/operators/onnx__Det.html>
//!
//! Opsets 11 and 22, float inputs. LU decomposition with partial pivoting
//! in f64, rounded once to the input type; a 0x0 matrix has determinant 1.

use super::{Arg, OpDef, Slots};
use crate::front::onnx::OnnxNode;
use crate::ir::{Shape, TensorType};
use crate::tensor::{checked_numel, Tensor};
use crate::{bail, Result};

#[derive(Debug, Clone)]
pub struct Det;

impl OpDef for Det {
    fn from_onnx(_node: &OnnxNode) -> Result<Self> {
        Ok(Det)
    }

    fn infer(&self, inputs: &[Option<Arg>]) -> Result<Vec<TensorType>> {
        let x = inputs.req(0)?.ty;
        if !x.dtype.is_float() {
            bail!("Det needs a float input, got {}", x.dtype);
        }
        let shape = match x.shape.dims() {
            None => Shape::unknown(),
            Some(d) if d.len() < 2 => bail!("Det needs at least 2 dimensions, got {}", d.len()),
            Some(d) => {
                let n = d.len();
                if let (Some(a), Some(b)) = (d[n - 2], d[n - 1]) {
                    if a != b {
                        bail!("Det needs square matrices, got {a}x{b}");
                    }
                }
                Shape::from_dims(d[..n - 2].to_vec())
            }
        };
        Ok(vec![TensorType::new(x.dtype, shape)])
    }

    fn eval(&self, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
        let x = inputs.req(0)?;
        if !x.dtype().is_float() {
            bail!("Det needs a float input, got {}", x.dtype());
        }
        let shape = x.shape();
        let n = shape.len();
        if n < 2 || shape[n - 2] != shape[n - 1] {
            bail!("Det needs square matrices in the last two axes, got shape {shape:?}");
        }
        let m = shape[n - 1];
        let batch = &shape[..n - 2];
        let count = checked_numel(batch)?;
        let values = x.to_f64_vec()?;
        let size = checked_numel(&[m, m])?;
        let dets: Vec<f64> = (0..count)
            .map(|i| values.get(i * size..(i + 1) * size).map(|a| determinant(a.to_vec(), m)).unwrap_or(f64::NAN))
            .collect();
        Ok(vec![Tensor::from_vec(batch, dets)?.cast(x.dtype())?])
    }

    /// int8: float only.
    fn quantize(&self, rule: super::Rule) -> Result<super::Plan> {
        Ok(rule.float_only(super::NO_INTEGER_KERNEL))
    }
}

/// Determinant of a row-major `m` x `m` matrix.
fn determinant(mut a: Vec<f64>, m: usize) -> f64 {
    let mut det = 1.0;
    for col in 0..m {
        // The row with the largest pivot candidate.
        let pivot = (col..m).max_by(|&i, &j| a[i * m + col].abs().total_cmp(&a[j * m + col].abs())).unwrap_or(col);
        let p = a[pivot * m + col];
        if p == 0.0 {
            return 0.0;
        }
        if pivot != col {
            for k in 0..m {
                a.swap(pivot * m + k, col * m + k);
            }
            det = -det;
        }
        det *= p;
        for row in col + 1..m {
            let factor = a[row * m + col] / p;
            for k in col..m {
                a[row * m + k] -= factor * a[col * m + k];
            }
        }
    }
    det
}

#[cfg(test)]
mod tests {
    use crate::ops::testing::{f32s, run};

    #[test]
    fn batched_determinants() {
        let x = f32s(&[2, 2, 2], &[1.0, 2.0, 3.0, 4.0, 0.0, 1.0, 1.0, 0.0]);
        assert_eq!(run("Det", 22, vec![], &[x]).unwrap()[0], f32s(&[2], &[-2.0, -1.0]));
        let singular = f32s(&[3, 3], &[1.0, 2.0, 3.0, 2.0, 4.0, 6.0, 0.0, 1.0, 1.0]);
        assert_eq!(run("Det", 22, vec![], &[singular]).unwrap()[0], f32s(&[], &[0.0]));
        assert!(run("Det", 22, vec![], &[f32s(&[2, 3], &[0.0; 6])]).is_err());
        assert!(run("Det", 22, vec![], &[f32s(&[3], &[0.0; 3])]).is_err());
    }
}
