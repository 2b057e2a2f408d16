//! LRN (local response normalization across channels):
//! `y = x / (bias + alpha / size · Σ x²)^beta`, the sum over channels
//! `c − ⌊(size−1)/2⌋ ..= c + ⌈(size−1)/2⌉` clipped to the tensor, for
//! [N, C, ...] float tensors, computed in float64.
//! <https://onnx.ai/onnx/operators/onnx__LRN.html>

use super::super::{Arg, OpDef, Slots};
use super::{check_float, check_nc_rank, floats, nc_shape, output};
use crate::front::onnx::OnnxNode;
use crate::ir::TensorType;
use crate::tensor::Tensor;
use crate::{bail, Result};

#[derive(Debug, Clone)]
pub struct Lrn {
    size: usize,
    alpha: f64,
    beta: f64,
    bias: f64,
}

impl OpDef for Lrn {
    fn from_onnx(node: &OnnxNode) -> Result<Self> {
        let size = node.int_req("size")?;
        if !(1..=1 << 31).contains(&size) {
            bail!("size must be positive, got {size}");
        }
        Ok(Lrn {
            size: size as usize,
            alpha: node.float("alpha", 1e-4)? as f64,
            beta: node.float("beta", 0.75)? as f64,
            bias: node.float("bias", 1.0)? as f64,
        })
    }

    fn infer(&self, inputs: &[Option<Arg>]) -> Result<Vec<TensorType>> {
        let x = inputs.req(0)?.ty;
        check_float(x, "X")?;
        check_nc_rank(x)?;
        Ok(vec![x.clone()])
    }

    fn eval(&self, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
        let x = inputs.req(0)?;
        let shape = nc_shape(x)?;
        let (c, inner) = (shape[1], shape[2..].iter().product::<usize>());
        let (before, after) = ((self.size - 1) / 2, self.size / 2);
        let xs = floats(x)?;
        let mut y = vec![0.0; xs.len()];
        for (image, out) in xs.chunks((c * inner).max(1)).zip(y.chunks_mut((c * inner).max(1))) {
            for ch in 0..c {
                let (lo, hi) = (ch.saturating_sub(before), (ch + after + 1).min(c));
                for i in 0..inner {
                    let sum: f64 = (lo..hi).filter_map(|k| image.get(k * inner + i)).map(|v| v * v).sum();
                    let at = ch * inner + i;
                    if let (Some(o), Some(&v)) = (out.get_mut(at), image.get(at)) {
                        *o = v / (self.bias + self.alpha / self.size as f64 * sum).powf(self.beta);
                    }
                }
            }
        }
        Ok(vec![output(shape, y, x.dtype())?])
    }

    fn lower(&self, cx: &mut crate::back::lower::LowerCx) -> Result<()> {
        let x = cx.input(0)?.clone();
        if x.shape.len() < 2 {
            bail!("X must have rank 2 or more ([N, C, ...]), got {:?}", x.shape);
        }
        let dims = [x.shape[0], x.shape[1], x.shape[2..].iter().product(), self.size];
        super::lower::lrn(cx, &x, dims, self.alpha, self.beta, self.bias)
    }

    /// int8: float only.
    fn quantize(&self, rule: crate::ops::Rule) -> Result<crate::ops::Plan> {
        Ok(rule.float_only(crate::ops::NO_INTEGER_KERNEL))
    }
}

#[cfg(test)]
mod tests {
    use crate::front::onnx::Attr;
    use crate::ops::testing::{f32s, run};

    #[test]
    fn sums_over_neighbouring_channels() {
        let x = f32s(&[1, 3, 1], &[1.0, 2.0, 3.0]);
        let attrs = vec![("size", Attr::Int(3)), ("alpha", Attr::Float(3.0)), ("beta", Attr::Float(1.0)), ("bias", Attr::Float(0.0))];
        // Channel 0 sums 1 + 4, channel 1 sums 1 + 4 + 9, channel 2 sums 4 + 9.
        let y = run("LRN", 13, attrs, std::slice::from_ref(&x)).unwrap();
        assert_eq!(y[0], f32s(&[1, 3, 1], &[0.2, 2.0 / 14.0, 3.0 / 13.0]));
        assert!(run("LRN", 13, vec![("size", Attr::Int(0))], &[x]).is_err());
    }
}
