//! DepthToSpace and SpaceToDepth: move `blocksize` x `blocksize` blocks
//! between the channel axis and the spatial axes of an NCHW tensor, with
//! the channel order of the blocks given by `mode`: `DCR` (block row,
//! block column, then channel; the default) or `CRD` (channel, block row,
//! block column). DepthToSpace has `mode` from opset 11, SpaceToDepth from
//! 28. Every element type.
//! <https://onnx.ai/onnx/operators/onnx__DepthToSpace.html>,
//! <https://onnx.ai/onnx/operators/onnx__SpaceToDepth.html>

use super::take;
use super::{Arg, OpDef, Slots};
use crate::front::onnx::OnnxNode;
use crate::ir::{Dim, Shape, TensorType};
use crate::tensor::{checked_numel, Tensor};
use crate::{bail, Result};

#[derive(Debug, Clone)]
pub struct DepthSpace {
    to_space: bool,
    block: usize,
    /// Channel-major block order (`CRD`) instead of `DCR`.
    crd: bool,
}

impl OpDef for DepthSpace {
    /// Pure data movement (see `back::movement`).
    fn lower(&self, cx: &mut super::LowerCx) -> Result<()> {
        crate::back::movement::lower(cx, &[0], |inputs| self.eval(inputs))
    }

    fn from_onnx(node: &OnnxNode) -> Result<Self> {
        let to_space = node.op_type == "DepthToSpace";
        let b = node.int_req("blocksize")?;
        let block = match usize::try_from(b) {
            Ok(b) if b > 0 && b <= 1 << 16 => b,
            _ => bail!("blocksize {b} must be positive and at most 65536"),
        };
        let has_mode = if to_space { node.opset >= 11 } else { node.opset >= 28 };
        let crd = match node.string("mode", "DCR")?.as_str() {
            "DCR" => false,
            "CRD" if has_mode => true,
            "CRD" => bail!("mode 'CRD' is not available at opset {}", node.opset),
            other => bail!("mode '{other}' is not DCR or CRD"),
        };
        Ok(DepthSpace { to_space, block, crd })
    }

    fn infer(&self, inputs: &[Option<Arg>]) -> Result<Vec<TensorType>> {
        let x = inputs.req(0)?.ty;
        let shape = match x.shape.dims() {
            None => Shape::of_rank(4),
            Some(&[n, c, h, w]) => {
                let out = |d: Dim, f: &dyn Fn(usize) -> Result<usize>| d.map(f).transpose();
                Shape::from_dims(vec![
                    n,
                    out(c, &|c| self.out_channels(c))?,
                    out(h, &|h| self.out_spatial(h, "height"))?,
                    out(w, &|w| self.out_spatial(w, "width"))?,
                ])
            }
            Some(d) => bail!("input must have rank 4 (NCHW), got rank {}", d.len()),
        };
        Ok(vec![TensorType::new(x.dtype, shape)])
    }

    fn eval(&self, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
        let x = inputs.req(0)?;
        let &[n, c, h, w] = x.shape() else { bail!("input must have rank 4 (NCHW), got shape {:?}", x.shape()) };
        let out_shape = [n, self.out_channels(c)?, self.out_spatial(h, "height")?, self.out_spatial(w, "width")?];
        checked_numel(&out_shape)?;
        let b = self.block;
        let (hw, chw) = (h * w, c * h * w);
        let range = |len: usize, f: &dyn Fn(usize) -> usize| (0..len).map(|i| Some(f(i))).collect::<Vec<_>>();
        let offsets = if self.to_space {
            let oc = out_shape[1];
            // Strides of the block row and block column inside the input channel.
            let (row, col, chan) = if self.crd { (b * hw, hw, b * b * hw) } else { (b * oc * hw, oc * hw, hw) };
            vec![
                range(n, &|i| i * chw),
                range(oc, &|i| i * chan),
                range(h * b, &|i| (i / b) * w + (i % b) * row),
                range(w * b, &|i| i / b + (i % b) * col),
            ]
        } else {
            vec![
                range(n, &|i| i * chw),
                range(c * b * b, &|i| {
                    let (ch, br, bc) = if self.crd { (i / (b * b), i / b % b, i % b) } else { (i % c, i / c / b, i / c % b) };
                    ch * hw + br * w + bc
                }),
                range(h / b, &|i| i * b * w),
                range(w / b, &|i| i * b),
            ]
        };
        let src = take::separable(&out_shape, &offsets)?;
        Ok(vec![take::take(x, &out_shape, &src)?])
    }

    /// int8: data movement on codes; the output keeps the input's parameters.
    fn quantize(&self, rule: super::Rule) -> Result<super::Plan> {
        rule.on_codes(super::int8_rule::Needs::Inputs, |cx| cx.passthrough())
    }
}

impl DepthSpace {
    fn out_channels(&self, c: usize) -> Result<usize> {
        let bb = self.block * self.block;
        if self.to_space {
            if c % bb != 0 {
                bail!("{c} channels are not a multiple of blocksize^2 = {bb}");
            }
            Ok(c / bb)
        } else {
            match c.checked_mul(bb) {
                Some(v) => Ok(v),
                None => bail!("{c} channels times blocksize^2 overflows"),
            }
        }
    }

    fn out_spatial(&self, d: usize, what: &str) -> Result<usize> {
        if self.to_space {
            match d.checked_mul(self.block) {
                Some(v) => Ok(v),
                None => bail!("{what} {d} times blocksize overflows"),
            }
        } else {
            if d % self.block != 0 {
                bail!("{what} {d} is not a multiple of blocksize {}", self.block);
            }
            Ok(d / self.block)
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::front::onnx::Attr;
    use crate::ops::testing::{f32s, run};

    fn attrs(b: i64, mode: &str) -> Vec<(&'static str, Attr)> {
        vec![("blocksize", Attr::Int(b)), ("mode", Attr::String(mode.into()))]
    }

    #[test]
    fn round_trips_in_both_modes() {
        let v: Vec<f32> = (0..16).map(|i| i as f32).collect();
        let x = f32s(&[1, 4, 2, 2], &v);
        for mode in ["DCR", "CRD"] {
            let y = run("DepthToSpace", 13, attrs(2, mode), std::slice::from_ref(&x)).unwrap().remove(0);
            assert_eq!(y.shape(), &[1, 1, 4, 4]);
            let back = run("SpaceToDepth", 28, attrs(2, mode), &[y]).unwrap().remove(0);
            assert_eq!(back, x);
        }
    }

    #[test]
    fn bad_shapes_are_errors() {
        let x = f32s(&[1, 3, 2, 2], &[0.; 12]);
        assert!(run("DepthToSpace", 13, attrs(2, "DCR"), std::slice::from_ref(&x)).is_err());
        assert!(run("SpaceToDepth", 13, attrs(3, "DCR"), std::slice::from_ref(&x)).is_err());
        assert!(run("SpaceToDepth", 13, attrs(2, "CRD"), std::slice::from_ref(&x)).is_err());
        assert!(run("DepthToSpace", 13, attrs(0, "DCR"), &[x]).is_err());
        assert!(run("DepthToSpace", 13, attrs(1, "DCR"), &[f32s(&[2, 2], &[0.; 4])]).is_err());
    }
}
