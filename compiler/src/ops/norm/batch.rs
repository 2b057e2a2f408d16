//! BatchNormalization in inference mode: `y = (x − mean) / sqrt(var + ε)
//! · scale + B` per channel (axis 1) with the given running statistics;
//! the opset 7-8 `spatial = 0` form takes per-element statistics of shape
//! X.shape[1..]. Float types; the half types are computed in float32.
//! Training mode (`training_mode = 1`, or the training-only outputs of
//! older opsets) is not supported.
//! <https://onnx.ai/onnx/operators/onnx__BatchNormalization.html>

use super::super::dense::{array, compute_type, demote, promote, row_major};
use super::super::{Arg, LowerCx, OpDef, Slots};
use crate::back::program::{Arg as KArg, Lit};
use super::{check_float, check_nc_rank, floats, nc_shape};
use crate::front::onnx::OnnxNode;
use crate::ir::TensorType;
use crate::tensor::{DType, Num, Tensor};
use crate::{bail, unsupported, Result};
use ndarray::ArrayD;

#[derive(Debug, Clone)]
pub struct BatchNormalization {
    pub(crate) epsilon: f64,
    /// Per-channel statistics (every opset from 9; `spatial = 1` before).
    pub(crate) spatial: bool,
}

impl OpDef for BatchNormalization {
    fn from_onnx(node: &OnnxNode) -> Result<Self> {
        // Before opset 7, `is_test = 0` (the default) selected training mode.
        if node.int("training_mode", 0)? != 0 || (node.opset < 7 && node.int("is_test", 0)? == 0) {
            unsupported!("training_mode = 1 (batch statistics and running-statistic updates)");
        }
        if node.outputs.iter().skip(1).any(|&used| used) {
            unsupported!("the training-mode outputs (running or saved statistics)");
        }
        let spatial = node.opset >= 9 || node.int("spatial", 1)? != 0;
        Ok(BatchNormalization { epsilon: node.float("epsilon", 1e-5)? as f64, spatial })
    }

    fn infer(&self, inputs: &[Option<Arg>]) -> Result<Vec<TensorType>> {
        let x = inputs.req(0)?.ty;
        check_float(x, "X")?;
        for (i, what) in [(1, "scale"), (2, "B"), (3, "input_mean"), (4, "input_var")] {
            check_float(inputs.req(i)?.ty, what)?;
        }
        check_nc_rank(x)?;
        Ok(vec![x.clone()])
    }

    fn eval(&self, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
        let x = inputs.req(0)?;
        let shape = nc_shape(x)?;
        let (params, inner) = if self.spatial {
            (shape[1], shape[2..].iter().product::<usize>())
        } else {
            (shape[1..].iter().product::<usize>(), 1)
        };
        let mut p = Vec::with_capacity(4);
        for (i, what) in [(1, "scale"), (2, "B"), (3, "input_mean"), (4, "input_var")] {
            let v = floats(inputs.req(i)?)?;
            if v.len() != params {
                bail!("{what} has {} elements, expected {params}", v.len());
            }
            p.push(v);
        }
        let mul: Vec<f64> = p[0].iter().zip(&p[3]).map(|(s, v)| s / (v + self.epsilon).sqrt()).collect();
        let add: Vec<f64> = p[1].iter().zip(&p[2]).zip(&mul).map(|((b, m), a)| b - m * a).collect();
        let xp = promote(x)?;
        let y = match compute_type(x.dtype())? {
            DType::F64 => Tensor::F64(affine(xp.array::<f64>()?, &mul, &add, inner)?),
            _ => Tensor::F32(affine(xp.array::<f32>()?, &mul, &add, inner)?),
        };
        Ok(vec![demote(y, x.dtype())?])
    }

    /// A per-channel affine map: coefficients folded at compile time when
    /// the statistics are constant, else computed by the kernel.
    fn lower(&self, cx: &mut LowerCx) -> Result<()> {
        let x = cx.input(0)?.clone();
        let dtype = x.dtype;
        if !matches!(dtype, DType::F32 | DType::F64) {
            unsupported!("code generation for BatchNormalization on {dtype} is not implemented yet");
        }
        if x.shape.len() < 2 {
            bail!("X must have rank 2 or more ([N, C, ...])");
        }
        let (outer, channels, inner) = if self.spatial {
            (x.shape[0], x.shape[1], x.shape[2..].iter().product::<usize>())
        } else {
            (x.shape[0], x.shape[1..].iter().product::<usize>(), 1)
        };
        let params = (1..=4).map(|i| cx.input(i).cloned()).collect::<Result<Vec<_>>>()?;
        if params.iter().any(|p| p.len() != channels) {
            bail!("scale, B, mean and var must have {channels} elements each");
        }
        let y = cx.output(0)?;
        if y.is_empty() {
            return Ok(());
        }
        let dims = KArg::Dims(vec![outer, channels, inner]);
        let constants: Option<Vec<_>> = params.iter().map(|p| p.constant.clone()).collect();
        if let Some(c) = constants {
            let p = c.iter().map(|t| floats(t)).collect::<Result<Vec<_>>>()?;
            let mul: Vec<f64> = p[0].iter().zip(&p[3]).map(|(s, v)| s / (v + self.epsilon).sqrt()).collect();
            let add: Vec<f64> = p[1].iter().zip(&p[2]).zip(&mul).map(|((b, m), a)| b - m * a).collect();
            let mul = cx.constant("mul", Tensor::from_vec(&[channels], mul)?.cast(dtype)?);
            let add = cx.constant("add", Tensor::from_vec(&[channels], add)?.cast(dtype)?);
            cx.call("batch_norm", "channel_affine", vec![dtype], vec![x.arg_in(), mul.arg_in(), add.arg_in(), y.arg_out(), dims]);
            return Ok(());
        }
        if params.iter().any(|p| p.dtype != dtype) {
            unsupported!("code generation for BatchNormalization with non-constant statistics of another type than X");
        }
        let mut args = vec![x.arg_in()];
        args.extend(params.iter().map(|p| p.arg_in()));
        args.extend([y.arg_out(), dims, KArg::Lit(Lit::Float(self.epsilon, DType::F64))]);
        cx.call("batch_norm", "batch_norm", vec![dtype], args);
        Ok(())
    }

    /// int8: float only.
    fn quantize(&self, rule: crate::ops::Rule) -> Result<crate::ops::Plan> {
        Ok(rule.float_only(crate::ops::NO_INTEGER_KERNEL))
    }
}

/// `y = x · mul[p] + add[p]` where blocks of `inner` elements share `p`,
/// cycling through the parameters.
fn affine<T: Num>(x: &ArrayD<T>, mul: &[f64], add: &[f64], inner: usize) -> Result<ArrayD<T>> {
    let xs = row_major(x);
    let mut y = Vec::with_capacity(xs.len());
    let coeffs = mul.iter().zip(add).map(|(&m, &a)| (T::from_f64(m), T::from_f64(a))).cycle();
    for (block, (m, a)) in xs.chunks(inner.max(1)).zip(coeffs) {
        y.extend(block.iter().map(|&v| v.mul(m).add(a)));
    }
    array(x.shape(), y)
}

#[cfg(test)]
mod tests {
    use crate::front::onnx::Attr;
    use crate::ops::testing::{f32s, run};

    #[test]
    fn per_channel_affine_and_errors() {
        let x = f32s(&[1, 2, 2], &[1.0, 2.0, 3.0, 4.0]);
        let p = |a: f32, b: f32| f32s(&[2], &[a, b]);
        let y = run("BatchNormalization", 15, vec![("epsilon", Attr::Float(0.0))], &[x.clone(), p(1.0, 2.0), p(0.0, 1.0), p(1.0, 3.0), p(1.0, 4.0)]).unwrap();
        assert_eq!(y[0], f32s(&[1, 2, 2], &[0.0, 1.0, 1.0, 2.0]));
        assert!(run("BatchNormalization", 15, vec![], &[x.clone(), p(1.0, 2.0), p(0.0, 1.0), p(1.0, 3.0), f32s(&[1], &[1.0])]).is_err());
        let training = run("BatchNormalization", 15, vec![("training_mode", Attr::Int(1))], &[x, p(1.0, 1.0), p(0.0, 0.0), p(0.0, 0.0), p(1.0, 1.0)]);
        assert!(matches!(training, Err(crate::Error::Unsupported(_))));
    }
}
