//! CenterCropPad: crops or zero-pads each selected axis (`axes`, default
//! all) to the length given by the int `shape` input, keeping the content
//! centred (the extra element of an odd difference goes to the end).
//! Every element type. <https://onnx.ai/onnx/operators/onnx__CenterCropPad.html>

use super::take::{self, FILL};
use super::{util, Arg, OpDef, Slots};
use crate::front::onnx::OnnxNode;
use crate::ir::{Dim, Shape, TensorType};
use crate::tensor::{checked_numel, shape_from_i64, Tensor};
use crate::{bail, Result};

#[derive(Debug, Clone)]
pub struct CenterCropPad {
    axes: Option<Vec<i64>>,
}

impl OpDef for CenterCropPad {
    /// Pure data movement (see `back::movement`).
    fn lower(&self, cx: &mut super::LowerCx) -> Result<()> {
        crate::back::movement::lower(cx, &[0], |inputs| self.eval(inputs))
    }

    fn from_onnx(node: &OnnxNode) -> Result<Self> {
        Ok(CenterCropPad { axes: node.ints_opt("axes")? })
    }

    fn infer(&self, inputs: &[Option<Arg>]) -> Result<Vec<TensorType>> {
        let (x, shape) = (inputs.req(0)?.ty, inputs.req(1)?.ty);
        take::check_index_type(shape.dtype, "shape")?;
        let Some(dims) = x.shape.dims() else { return Ok(vec![TensorType::new(x.dtype, Shape::unknown())]) };
        let axes = self.axes(dims.len())?;
        let mut out: Vec<Dim> = dims.to_vec();
        match util::const_ints(inputs, 1)? {
            Some(target) => {
                for (&a, len) in axes.iter().zip(self.targets(&target, axes.len())?) {
                    out[a] = Some(len);
                }
            }
            None => axes.iter().for_each(|&a| out[a] = None),
        }
        Ok(vec![TensorType::new(x.dtype, Shape::from_dims(out))])
    }

    fn eval(&self, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
        let (x, shape) = (inputs.req(0)?, inputs.req(1)?);
        take::check_index_type(shape.dtype(), "shape")?;
        let in_shape = x.shape();
        let axes = self.axes(in_shape.len())?;
        let mut out_shape = in_shape.to_vec();
        for (&a, len) in axes.iter().zip(self.targets(&shape.to_i64_vec()?, axes.len())?) {
            out_shape[a] = len;
        }
        checked_numel(&out_shape)?;
        let strides = take::strides(in_shape);
        let offsets: Vec<Vec<Option<usize>>> = (0..in_shape.len())
            .map(|a| {
                let (len, out) = (in_shape[a], out_shape[a]);
                (0..out)
                    .map(|o| {
                        let from = if out <= len { Some(o + (len - out) / 2) } else { o.checked_sub((out - len) / 2).filter(|&i| i < len) };
                        from.map(|i| i * strides[a])
                    })
                    .collect()
            })
            .collect();
        let src = take::separable(&out_shape, &offsets)?;
        let out = if src.contains(&FILL) {
            take::take_or_fill(x, &out_shape, &src, &Tensor::zeros(x.dtype(), &[])?)?
        } else {
            take::take(x, &out_shape, &src)?
        };
        Ok(vec![out])
    }

    /// int8: float only.
    fn quantize(&self, rule: super::Rule) -> Result<super::Plan> {
        Ok(rule.float_only(super::NO_INTEGER_KERNEL))
    }
}

impl CenterCropPad {
    fn axes(&self, rank: usize) -> Result<Vec<usize>> {
        match &self.axes {
            Some(a) => util::axes(a, rank),
            None => Ok((0..rank).collect()),
        }
    }

    /// The target lengths, one per selected axis.
    fn targets(&self, shape: &[i64], n_axes: usize) -> Result<Vec<usize>> {
        if shape.len() != n_axes {
            bail!("shape has {} entries for {n_axes} axes", shape.len());
        }
        shape_from_i64(shape)
    }
}

#[cfg(test)]
mod tests {
    use crate::front::onnx::Attr;
    use crate::ops::testing::{f32s, i64s, run};

    #[test]
    fn crops_and_pads_around_the_centre() {
        let x = f32s(&[5], &[1., 2., 3., 4., 5.]);
        assert_eq!(run("CenterCropPad", 18, vec![], &[x.clone(), i64s(&[1], &[2])]).unwrap()[0], f32s(&[2], &[2., 3.]));
        assert_eq!(
            run("CenterCropPad", 18, vec![], &[x.clone(), i64s(&[1], &[8])]).unwrap()[0],
            f32s(&[8], &[0., 1., 2., 3., 4., 5., 0., 0.])
        );
        assert!(run("CenterCropPad", 18, vec![], &[x.clone(), i64s(&[1], &[-1])]).is_err());
        assert!(run("CenterCropPad", 18, vec![], &[x.clone(), i64s(&[2], &[1, 1])]).is_err());
        assert!(run("CenterCropPad", 18, vec![("axes", Attr::Ints(vec![1]))], &[x, i64s(&[1], &[1])]).is_err());
    }
}

#[cfg(test)]
mod infer_tests {
    use crate::front::onnx::Attr;
    use crate::ir::Shape;
    use crate::ops::take::infer_with_constants;
    use crate::ops::testing::{f32s, i64s};

    #[test]
    fn constant_shape_gives_exact_dims() {
        let x = f32s(&[2, 3, 4], &[0.; 24]);
        let attrs = vec![("axes", Attr::Ints(vec![-1, 0]))];
        let shape = i64s(&[2], &[7, 1]);
        let t = infer_with_constants("CenterCropPad", 18, attrs.clone(), &[x.clone(), shape.clone()], &[false, true]).unwrap();
        assert_eq!(t[0].shape, Shape::fixed(&[1, 3, 7]));
        let t = infer_with_constants("CenterCropPad", 18, attrs, &[x, shape], &[false, false]).unwrap();
        assert_eq!(t[0].shape, Shape::from_dims(vec![None, Some(3), None]));
    }
}
