//! HannWindow, HammingWindow and BlackmanWindow: window functions of a
//! given length. <https://onnx.ai/onnx/operators/onnx__HannWindow.html>
//! (and siblings)
//!
//! Opset 17: `size` is a scalar int32/int64 input; `periodic` (default 1)
//! divides by N instead of N - 1; `output_datatype` (default float32) may
//! be any numeric type (integer outputs truncate). Computed in f64 and
//! rounded once. A symmetric window of one point is [1].

use super::{Arg, OpDef, Slots};
use crate::front::onnx::OnnxNode;
use crate::ir::{Shape, TensorType};
use crate::tensor::{shape_from_i64, DType, Tensor};
use crate::{bail, Result};
use std::f64::consts::PI;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Hann,
    Hamming,
    Blackman,
}

#[derive(Debug, Clone)]
pub struct Window {
    kind: Kind,
    periodic: bool,
    dtype: DType,
}

impl OpDef for Window {
    fn from_onnx(node: &OnnxNode) -> Result<Self> {
        let kind = match node.op_type.as_str() {
            "HannWindow" => Kind::Hann,
            "HammingWindow" => Kind::Hamming,
            "BlackmanWindow" => Kind::Blackman,
            other => bail!("'{other}' is not a window function"),
        };
        let dtype = node.dtype_opt("output_datatype")?.unwrap_or(DType::F32);
        if !(dtype.is_float() || dtype.is_int()) {
            bail!("output_datatype {dtype} is not a numeric type");
        }
        Ok(Window { kind, periodic: node.int("periodic", 1)? != 0, dtype })
    }

    fn infer(&self, inputs: &[Option<Arg>]) -> Result<Vec<TensorType>> {
        let size = inputs.req(0)?;
        check_size_type(size.ty.dtype)?;
        let shape = match size.value {
            Some(t) => Shape::fixed(&[length(t)?]),
            None => Shape::of_rank(1),
        };
        Ok(vec![TensorType::new(self.dtype, shape)])
    }

    fn eval(&self, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
        let size = inputs.req(0)?;
        check_size_type(size.dtype())?;
        let n = length(size)?;
        let denominator = if self.periodic { n } else { n.saturating_sub(1) } as f64;
        let values: Vec<f64> = (0..n)
            .map(|i| {
                if denominator == 0.0 {
                    return 1.0;
                }
                let phase = 2.0 * PI * i as f64 / denominator;
                match self.kind {
                    Kind::Hann => 0.5 - 0.5 * phase.cos(),
                    Kind::Hamming => {
                        let alpha = 25.0 / 46.0;
                        alpha - (1.0 - alpha) * phase.cos()
                    }
                    Kind::Blackman => 0.42 - 0.5 * phase.cos() + 0.08 * (2.0 * phase).cos(),
                }
            })
            .collect();
        Ok(vec![Tensor::from_vec(&[n], values)?.cast(self.dtype)?])
    }

    /// int8: float only.
    fn quantize(&self, rule: super::Rule) -> Result<super::Plan> {
        Ok(rule.float_only(super::NO_INTEGER_KERNEL))
    }
}

fn check_size_type(d: DType) -> Result<()> {
    if !matches!(d, DType::I32 | DType::I64) {
        bail!("the window size must be int32 or int64, got {d}");
    }
    Ok(())
}

/// The window length from the scalar `size` input.
fn length(t: &Tensor) -> Result<usize> {
    if t.rank() != 0 {
        bail!("the window size must be a scalar, got shape {:?}", t.shape());
    }
    let n = t.scalar_i64()?;
    match shape_from_i64(&[n])?.as_slice() {
        [n] => Ok(*n),
        _ => bail!("invalid window size {n}"),
    }
}

#[cfg(test)]
mod tests {
    use crate::front::onnx::Attr;
    use crate::ir::Shape;
    use crate::ops::testing::{i64s, infer, run};

    #[test]
    fn constant_size_gives_an_exact_shape() {
        let size = i64s(&[], &[7]);
        assert_eq!(infer("HannWindow", 17, vec![], std::slice::from_ref(&size), &[0]).unwrap()[0].shape, Shape::fixed(&[7]));
        assert_eq!(infer("HannWindow", 17, vec![], &[size], &[]).unwrap()[0].shape, Shape::of_rank(1));
    }

    fn close(t: &crate::tensor::Tensor, want: &[f64]) {
        let v = t.to_f64_vec().unwrap();
        assert_eq!(v.len(), want.len());
        assert!(v.iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-6), "{v:?} vs {want:?}");
    }

    #[test]
    fn periodic_and_symmetric_windows() {
        close(&run("HannWindow", 17, vec![], &[i64s(&[], &[4])]).unwrap()[0], &[0.0, 0.5, 1.0, 0.5]);
        let sym = run("HannWindow", 17, vec![("periodic", Attr::Int(0))], &[i64s(&[], &[3])]).unwrap();
        close(&sym[0], &[0.0, 1.0, 0.0]);
        let ham = run("HammingWindow", 17, vec![("periodic", Attr::Int(0))], &[i64s(&[], &[3])]).unwrap();
        close(&ham[0], &[4.0 / 46.0, 1.0, 4.0 / 46.0]);
        let black = run("BlackmanWindow", 17, vec![("periodic", Attr::Int(0))], &[i64s(&[], &[3])]).unwrap();
        close(&black[0], &[0.0, 1.0, 0.0]);
        close(&run("HannWindow", 17, vec![("periodic", Attr::Int(0))], &[i64s(&[], &[1])]).unwrap()[0], &[1.0]);
    }

    #[test]
    fn bad_sizes_are_errors() {
        assert!(run("HannWindow", 17, vec![], &[i64s(&[], &[-1])]).is_err());
        assert!(run("HannWindow", 17, vec![], &[i64s(&[1], &[4])]).is_err());
        assert!(run("HannWindow", 17, vec![("output_datatype", Attr::Int(9))], &[i64s(&[], &[4])]).is_err());
    }
}
