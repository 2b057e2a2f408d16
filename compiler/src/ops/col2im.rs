//! Col2Im (opset 18): sums sliding blocks `[N, C * prod(block), L]` back
//! into images `[N, C, image...]`, the inverse layout of im2col.
//! <https://onnx.ai/onnx/operators/onnx__Col2Im.html>
//!
//! Supported: any number of spatial dimensions, `strides`, `dilations`,
//! `pads`; numeric element types (integers add with wrapping, floats in
//! the input type, in the reference's order).

use super::spatial::{per_axis, positive_each};
use super::{util, Arg, OpDef, Slots};
use crate::front::onnx::OnnxNode;
use crate::ir::{Dim, Shape, TensorType};
use crate::tensor::{checked_numel, shape_from_i64, DType, Num, Tensor};
use crate::{bail, map_num, Error, Result};
use ndarray::{ArrayD, IxDyn};

#[derive(Debug, Clone)]
pub struct Col2Im {
    strides: Option<Vec<i64>>,
    dilations: Option<Vec<i64>>,
    pads: Option<Vec<i64>>,
}

/// Validated geometry of one evaluation, per spatial axis.
struct Plan {
    image: Vec<usize>,
    block: Vec<usize>,
    strides: Vec<usize>,
    dilations: Vec<usize>,
    pads_begin: Vec<usize>,
    /// Number of block positions along each axis.
    blocks: Vec<usize>,
}

impl OpDef for Col2Im {
    fn from_onnx(node: &OnnxNode) -> Result<Self> {
        Ok(Col2Im { strides: node.ints_opt("strides")?, dilations: node.ints_opt("dilations")?, pads: node.ints_opt("pads")? })
    }

    fn infer(&self, inputs: &[Option<Arg>]) -> Result<Vec<TensorType>> {
        let x = inputs.req(0)?.ty;
        check_dtype(x.dtype)?;
        for i in [1, 2] {
            if inputs.req(i)?.ty.dtype != DType::I64 {
                bail!("image_shape and block_shape must be int64");
            }
        }
        let xd = x.shape.dims();
        if let Some(d) = xd {
            if d.len() != 3 {
                bail!("the input must be 3-D [N, C * prod(block_shape), L], got {}", x.shape);
            }
        }
        let image = util::const_ints(inputs, 1)?;
        let block = util::const_ints(inputs, 2)?;
        let rank = match (&image, inputs.req(1)?.ty.shape.dims()) {
            (Some(v), _) => Some(v.len()),
            (None, Some([Some(r)])) => Some(*r),
            _ => None,
        };
        let Some(rank) = rank else { return Ok(vec![TensorType::new(x.dtype, Shape::unknown())]) };
        let batch: Dim = xd.and_then(|d| d[0]);
        let mut channels: Dim = None;
        let mut spatial: Vec<Dim> = vec![None; rank];
        if let (Some(image), Some(block)) = (&image, &block) {
            let plan = self.plan(image, block)?;
            if let Some(d) = xd {
                channels = plan.channels(d[1], d[2])?;
            }
            spatial = plan.image.iter().map(|&d| Some(d)).collect();
        } else if let Some(image) = &image {
            spatial = shape_from_i64(image)?.into_iter().map(Some).collect();
        }
        let mut dims = vec![batch, channels];
        dims.extend(spatial);
        Ok(vec![TensorType::new(x.dtype, Shape::from_dims(dims))])
    }

    fn eval(&self, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
        let x = inputs.req(0)?;
        check_dtype(x.dtype())?;
        let plan = self.plan(&inputs.req(1)?.to_i64_vec()?, &inputs.req(2)?.to_i64_vec()?)?;
        let &[batch, rows, cols] = x.shape() else { bail!("the input must be 3-D, got {:?}", x.shape()) };
        let Some(channels) = plan.channels(Some(rows), Some(cols))? else { bail!("internal error: channels unknown") };
        let mut shape = vec![batch, channels];
        shape.extend_from_slice(&plan.image);
        checked_numel(&shape)?;
        Ok(vec![map_num!(x, a => fold(a, &plan, batch, channels, &shape)?)?])
    }

    /// int8: float only.
    fn quantize(&self, rule: super::Rule) -> Result<super::Plan> {
        Ok(rule.float_only(super::NO_INTEGER_KERNEL))
    }
}

impl Col2Im {
    fn plan(&self, image: &[i64], block: &[i64]) -> Result<Plan> {
        let r = image.len();
        if r == 0 || block.len() != r {
            bail!("image_shape {image:?} and block_shape {block:?} must have the same nonzero length");
        }
        let strides = positive_each(per_axis(&self.strides, r, 1, "strides")?, "strides")?;
        let dilations = positive_each(per_axis(&self.dilations, r, 1, "dilations")?, "dilations")?;
        let block_u = positive_each(block.to_vec(), "block_shape")?;
        let pads = per_axis(&self.pads, 2 * r, 0, "pads")?;
        if pads.iter().any(|&p| p < 0) {
            bail!("pads must be nonnegative, got {pads:?}");
        }
        let image_u = shape_from_i64(image)?;
        let mut blocks = Vec::with_capacity(r);
        for i in 0..r {
            // (image + pads - dilation * (block - 1) - 1) / stride + 1, in i128.
            let span = dilations[i] as i128 * (block_u[i] as i128 - 1) + 1;
            let room = image_u[i] as i128 + pads[i] as i128 + pads[i + r] as i128 - span;
            if room < 0 {
                bail!("block {block:?} (dilations {dilations:?}) does not fit image {image:?} with pads {pads:?}");
            }
            let n = room / strides[i] as i128 + 1;
            blocks.push(usize::try_from(n).map_err(|_| Error::Op("too many blocks".into()))?);
        }
        checked_numel(&blocks)?;
        checked_numel(&block_u)?;
        let pads_begin = pads[..r].iter().map(|&p| p as usize).collect();
        Ok(Plan { image: image_u, block: block_u, strides, dilations, pads_begin, blocks })
    }
}

impl Plan {
    /// The number of image channels for an input with `rows` rows of
    /// `cols` blocks each, checking both against the plan.
    fn channels(&self, rows: Dim, cols: Dim) -> Result<Dim> {
        let block: usize = self.block.iter().product();
        let count: usize = self.blocks.iter().product();
        if let Some(cols) = cols {
            if cols != count {
                bail!("the input has {cols} blocks, but the image and block shapes give {count} ({:?})", self.blocks);
            }
        }
        match rows {
            Some(rows) if rows % block != 0 => bail!("input dimension 1 ({rows}) is not a multiple of the block size {block}"),
            Some(rows) => Ok(Some(rows / block)),
            None => Ok(None),
        }
    }
}

fn check_dtype(d: DType) -> Result<()> {
    if !(d.is_int() || d.is_float()) || d.is_small() {
        bail!("Col2Im needs a numeric input, got {d}");
    }
    Ok(())
}

fn fold<T: Num>(x: &ArrayD<T>, plan: &Plan, batch: usize, channels: usize, shape: &[usize]) -> Result<ArrayD<T>> {
    let input: Vec<T> = x.iter().copied().collect();
    let r = plan.image.len();
    let image_size: usize = plan.image.iter().product();
    let block_size: usize = plan.block.iter().product();
    let count: usize = plan.blocks.iter().product();
    let mut out = vec![T::zero(); batch * channels * image_size];
    let mut offset = vec![0usize; r];
    let mut position = vec![0usize; r];
    for n in 0..batch {
        for c in 0..channels {
            let image_base = (n * channels + c) * image_size;
            for k in 0..block_size {
                unravel(k, &plan.block, &mut offset);
                let row = (n * channels + c) * block_size + k;
                for col in 0..count {
                    unravel(col, &plan.blocks, &mut position);
                    // The image index of this element, if it is not padding.
                    let mut flat = 0usize;
                    let mut inside = true;
                    for a in 0..r {
                        let at = position[a] as i128 * plan.strides[a] as i128 + offset[a] as i128 * plan.dilations[a] as i128
                            - plan.pads_begin[a] as i128;
                        if at < 0 || at >= plan.image[a] as i128 {
                            inside = false;
                            break;
                        }
                        flat = flat * plan.image[a] + at as usize;
                    }
                    if inside {
                        let (Some(v), Some(slot)) = (input.get(row * count + col), out.get_mut(image_base + flat)) else {
                            bail!("internal error: Col2Im index out of range");
                        };
                        *slot = slot.add(*v);
                    }
                }
            }
        }
    }
    ArrayD::from_shape_vec(IxDyn(shape), out).map_err(|e| Error::Op(format!("internal error: {e}")))
}

/// Row-major multi-index of `flat` in `dims`.
fn unravel(mut flat: usize, dims: &[usize], out: &mut [usize]) {
    for (o, &d) in out.iter_mut().zip(dims).rev() {
        *o = flat % d;
        flat /= d;
    }
}

#[cfg(test)]
mod tests {
    use crate::ops::testing::{f32s, i64s, run};

    #[test]
    fn overlapping_blocks_add_up() {
        // A 1x3 image from two 1x2 blocks at stride 1: the middle pixel gets both.
        let x = f32s(&[1, 2, 2], &[1.0, 10.0, 2.0, 20.0]);
        let y = run("Col2Im", 18, vec![], &[x, i64s(&[2], &[1, 3]), i64s(&[2], &[1, 2])]).unwrap();
        let v: Vec<f32> = y[0].array::<f32>().unwrap().iter().copied().collect();
        assert_eq!(y[0].shape(), &[1, 1, 1, 3]);
        assert_eq!(v, vec![1.0, 12.0, 20.0]);
    }

    #[test]
    fn inconsistent_shapes_are_errors() {
        let x = f32s(&[1, 2, 2], &[0.0; 4]);
        // Wrong number of blocks.
        assert!(run("Col2Im", 18, vec![], &[x.clone(), i64s(&[2], &[1, 4]), i64s(&[2], &[1, 2])]).is_err());
        // Rows not a multiple of the block size.
        assert!(run("Col2Im", 18, vec![], &[x.clone(), i64s(&[2], &[2, 2]), i64s(&[2], &[1, 3])]).is_err());
        // Block larger than the image.
        assert!(run("Col2Im", 18, vec![], &[x.clone(), i64s(&[2], &[1, 1]), i64s(&[2], &[1, 2])]).is_err());
        assert!(run("Col2Im", 18, vec![], &[x.clone(), i64s(&[2], &[1, 3]), i64s(&[2], &[0, 2])]).is_err());
        assert!(run("Col2Im", 18, vec![], &[x, i64s(&[2], &[-1, 3]), i64s(&[2], &[1, 2])]).is_err());
    }
}

#[cfg(test)]
mod infer_tests {
    use crate::ir::{Shape, TensorType};
    use crate::ops::testing::{i64s, node};
    use crate::ops::{Arg, Op};
    use crate::tensor::DType;

    #[test]
    fn constant_shapes_give_exact_dims_and_others_stay_unknown() {
        let op = Op::from_onnx(&node("Col2Im", 18, vec![], 3, 1)).unwrap();
        let x = TensorType::new(DType::F32, Shape::from_dims(vec![None, Some(8), Some(6)]));
        let (image, block) = (i64s(&[2], &[3, 4]), i64s(&[2], &[2, 2]));
        let shape_ty = TensorType::fixed(DType::I64, &[2]);
        let known = [Some(Arg { ty: &x, value: None }), Some(Arg { ty: &shape_ty, value: Some(&image) }), Some(Arg { ty: &shape_ty, value: Some(&block) })];
        assert_eq!(op.infer(&known).unwrap()[0].shape, Shape::from_dims(vec![None, Some(2), Some(3), Some(4)]));
        let unknown = [Some(Arg { ty: &x, value: None }), Some(Arg { ty: &shape_ty, value: None }), Some(Arg { ty: &shape_ty, value: None })];
        assert_eq!(op.infer(&unknown).unwrap()[0].shape, Shape::of_rank(4));
        // 8 rows are not a multiple of a 3x3 block.
        let bad = i64s(&[2], &[3, 3]);
        let wrong = [Some(Arg { ty: &x, value: None }), Some(Arg { ty: &shape_ty, value: Some(&image) }), Some(Arg { ty: &shape_ty, value: Some(&bad) })];
        assert!(op.infer(&wrong).is_err());
    }
}
