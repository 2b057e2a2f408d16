//! LayerNormalization and RMSNormalization over the trailing axes
//! `axis..rank`: `y = (x − mean) · inv_std · scale + B` or
//! `y = x / sqrt(mean(x²) + ε) · scale`, with scale and B broadcast to X.
//! LayerNormalization also returns Mean and InvStdDev (shape X.shape[..axis]
//! then ones, element type `stash_type`). Float types, computed in float64
//! (which satisfies every `stash_type`).
//! <https://onnx.ai/onnx/operators/onnx__LayerNormalization.html>
//! <https://onnx.ai/onnx/operators/onnx__RMSNormalization.html>

use super::super::int8_rule::{Needs, Plan, Rule};
use super::super::{util, Arg, OpDef, Slots};
use super::{check_float, floats, mean_var, output};
use crate::front::onnx::OnnxNode;
use crate::ir::{Dim, Shape, TensorType};
use crate::tensor::{DType, Tensor};
use crate::{bail, Result};
use ndarray::{ArrayD, IxDyn, Zip};

#[derive(Debug, Clone)]
pub struct LayerNorm {
    rms: bool,
    axis: i64,
    epsilon: f64,
    stash: DType,
}

impl OpDef for LayerNorm {
    fn from_onnx(node: &OnnxNode) -> Result<Self> {
        let rms = match node.op_type.as_str() {
            "LayerNormalization" => false,
            "RMSNormalization" => true,
            other => bail!("'{other}' is not a layer normalization"),
        };
        let stash = node.dtype_opt("stash_type")?.unwrap_or(DType::F32);
        if !stash.is_float() {
            bail!("stash_type {stash} is not a float type");
        }
        Ok(LayerNorm { rms, axis: node.int("axis", -1)?, epsilon: node.float("epsilon", 1e-5)? as f64, stash })
    }

    fn infer(&self, inputs: &[Option<Arg>]) -> Result<Vec<TensorType>> {
        let x = inputs.req(0)?.ty;
        check_float(x, "X")?;
        let scale = inputs.req(1)?.ty;
        check_float(scale, "Scale")?;
        let mut params = vec![&x.shape, &scale.shape];
        if let Some(b) = inputs.opt(2).filter(|_| !self.rms) {
            check_float(b.ty, "B")?;
            params.push(&b.ty.shape);
        }
        let joined = Shape::broadcast(&params)?;
        if let (Some(j), Some(_)) = (joined.rank(), x.shape.rank()) {
            if Some(j) != x.shape.rank() {
                bail!("Scale and B must broadcast to X {}", x.shape);
            }
        }
        let mut out = vec![x.clone()];
        if !self.rms {
            let stats = match x.shape.dims() {
                Some(d) => {
                    let a = util::axis(self.axis, d.len())?;
                    let mut s: Vec<Dim> = d[..a].to_vec();
                    s.resize(d.len(), Some(1));
                    Shape::from_dims(s)
                }
                None => Shape::unknown(),
            };
            out.push(TensorType::new(self.stash, stats.clone()));
            out.push(TensorType::new(self.stash, stats));
        }
        Ok(out)
    }

    fn eval(&self, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
        let x = inputs.req(0)?;
        let shape = x.shape();
        let a = util::axis(self.axis, shape.len())?;
        let inner: usize = shape[a..].iter().product();
        let xs = floats(x)?;
        let (mut means, mut invs) = (Vec::new(), Vec::new());
        let mut normalized = Vec::with_capacity(xs.len());
        for block in xs.chunks(inner.max(1)) {
            let (mean, inv) = if self.rms {
                let ms = block.iter().map(|v| v * v).sum::<f64>() / block.len().max(1) as f64;
                (0.0, 1.0 / (ms + self.epsilon).sqrt())
            } else {
                let (mean, var) = mean_var(block);
                (mean, 1.0 / (var + self.epsilon).sqrt())
            };
            normalized.extend(block.iter().map(|v| (v - mean) * inv));
            means.push(mean);
            invs.push(inv);
        }
        let mut y = ArrayD::from_shape_vec(IxDyn(shape), normalized).map_err(|e| crate::Error::Op(e.to_string()))?;
        let scale = param(inputs.req(1)?, shape, "Scale")?;
        Zip::from(&mut y).and(&util::broadcast(&scale, shape)?).for_each(|v, &s| *v *= s);
        if let Some(b) = inputs.opt(2).filter(|_| !self.rms) {
            let b = param(b, shape, "B")?;
            Zip::from(&mut y).and(&util::broadcast(&b, shape)?).for_each(|v, &o| *v += o);
        }
        let mut out = vec![crate::ops::dense::demote(Tensor::F64(y), x.dtype())?];
        if !self.rms {
            let mut stats: Vec<usize> = shape[..a].to_vec();
            stats.resize(shape.len(), 1);
            out.push(output(&stats, means, self.stash)?);
            out.push(output(&stats, invs, self.stash)?);
        }
        Ok(out)
    }

    fn lower(&self, cx: &mut crate::back::lower::LowerCx) -> Result<()> {
        let x = cx.input(0)?.clone();
        let a = util::axis(self.axis, x.shape.len())?;
        let block = x.shape[a..].to_vec();
        let len: usize = block.iter().product();
        let count: usize = x.shape[..a].iter().product();
        let scale = super::lower::contiguous_param(cx, &cx.input(1)?.clone(), &block, x.dtype)?;
        let bias = match cx.opt_input(2).cloned().filter(|_| !self.rms) {
            Some(b) => Some(super::lower::contiguous_param(cx, &b, &block, x.dtype)?),
            None => None,
        };
        super::lower::group_norm(cx, &x, &scale, bias.as_ref(), [count, 1, len, 1], self.epsilon, super::lower::NormKind { by_group: false, stats: !self.rms, centered: !self.rms })
    }

    /// int8: LayerNormalization as IntLayerNorm where its bounds hold
    /// (`layer_int8`); RMSNormalization float only.
    fn quantize(&self, rule: Rule) -> Result<Plan> {
        if self.rms {
            return Ok(rule.float_only("RMSNormalization has no integer kernel"));
        }
        rule.on_codes(Needs::Output, |cx| super::layer_int8::on_codes(self, cx))
    }
}

impl LayerNorm {
    /// The first normalized axis of an input of `rank`: the operator
    /// normalizes over axes `first_axis..rank`.
    pub fn first_axis(&self, rank: usize) -> Result<usize> {
        util::axis(self.axis, rank)
    }

    /// ε, added to the variance.
    pub fn epsilon(&self) -> f64 {
        self.epsilon
    }
}

/// A scale or bias as float64, checked to broadcast to X's `shape`.
fn param(t: &Tensor, shape: &[usize], what: &str) -> Result<ArrayD<f64>> {
    if util::broadcast_shapes(&[shape, t.shape()])? != shape {
        bail!("{what} {:?} does not broadcast to X {shape:?}", t.shape());
    }
    let v = floats(t)?;
    ArrayD::from_shape_vec(IxDyn(t.shape()), v).map_err(|e| crate::Error::Op(e.to_string()))
}

#[cfg(test)]
mod tests {
    use crate::front::onnx::Attr;
    use crate::ops::testing::{f32s, run};

    #[test]
    fn layer_and_rms_norms() {
        let x = f32s(&[2, 2], &[1.0, 3.0, -2.0, 2.0]);
        let eps = ("epsilon", Attr::Float(0.0));
        let y = run("LayerNormalization", 17, vec![eps.clone()], &[x.clone(), f32s(&[2], &[1.0, 2.0]), f32s(&[1], &[0.5])]).unwrap();
        assert_eq!(y[0], f32s(&[2, 2], &[-0.5, 2.5, -0.5, 2.5]));
        assert_eq!(y[1], f32s(&[2, 1], &[2.0, 0.0]));
        assert_eq!(y[2], f32s(&[2, 1], &[1.0, 0.5]));
        let y = run("RMSNormalization", 23, vec![eps, ("axis", Attr::Int(0))], &[x.clone(), f32s(&[1], &[2.0])]).unwrap();
        let rms = (18.0f64 / 4.0).sqrt();
        assert_eq!(y[0], f32s(&[2, 2], &[(2.0 / rms) as f32, (6.0 / rms) as f32, (-4.0 / rms) as f32, (4.0 / rms) as f32]));
        assert!(run("LayerNormalization", 17, vec![], &[x.clone(), f32s(&[3], &[1.0; 3])]).is_err());
        assert!(run("LayerNormalization", 17, vec![("axis", Attr::Int(2))], &[x, f32s(&[2], &[1.0; 2])]).is_err());
    }
}
