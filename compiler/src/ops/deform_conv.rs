//! DeformConv (opsets 19, 22): convolution whose kernel taps are moved by
//! learned per-position offsets and scaled by an optional mask.
//! <https://onnx.ai/onnx/operators/onnx__DeformConv.html>
//!
//! Supported: any number of spatial dimensions, `group`, `offset_group`,
//! `strides`, `dilations`, `pads`, `kernel_shape` (checked against W),
//! optional bias and mask; float types, computed in `f64`. Taps are sampled
//! by N-linear interpolation, reading zeros outside the input.

use super::spatial::{per_axis, positive_each};
use super::util::positive;
use super::{Arg, OpDef, Slots};
use crate::front::onnx::OnnxNode;
use crate::interp::gemm::Dot;
use crate::ir::{Dim, Shape, TensorType};
use crate::tensor::{checked_numel, Tensor};
use crate::{bail, unsupported, Error, Result};
use ndarray::ArrayView2;

#[derive(Debug, Clone)]
pub struct DeformConv {
    group: usize,
    offset_group: usize,
    kernel_shape: Option<Vec<i64>>,
    strides: Option<Vec<i64>>,
    dilations: Option<Vec<i64>>,
    pads: Option<Vec<i64>>,
}

/// Sliding-window sizes per spatial axis.
struct Geometry {
    out: Vec<usize>,
    strides: Vec<usize>,
    dilations: Vec<usize>,
    pads_begin: Vec<usize>,
}

/// Validated sizes of one evaluation.
struct Plan {
    batch: usize,
    channels: usize,
    out_channels: usize,
    spatial: Vec<usize>,
    kernel: Vec<usize>,
    strides: Vec<usize>,
    dilations: Vec<usize>,
    pads_begin: Vec<usize>,
    out: Vec<usize>,
}

impl OpDef for DeformConv {
    fn from_onnx(node: &OnnxNode) -> Result<Self> {
        let count = |name: &str| positive(node.int(name, 1)?, name);
        Ok(DeformConv {
            group: count("group")?,
            offset_group: count("offset_group")?,
            kernel_shape: node.ints_opt("kernel_shape")?,
            strides: node.ints_opt("strides")?,
            dilations: node.ints_opt("dilations")?,
            pads: node.ints_opt("pads")?,
        })
    }

    fn infer(&self, inputs: &[Option<Arg>]) -> Result<Vec<TensorType>> {
        let (x, w) = (inputs.req(0)?.ty, inputs.req(1)?.ty);
        for i in 2..5 {
            if let Some(a) = inputs.opt(i) {
                if a.ty.dtype != x.dtype {
                    bail!("input {i} has element type {}, but X has {}", a.ty.dtype, x.dtype);
                }
            }
        }
        check_dtype(x, w)?;
        let (Some(xd), Some(wd)) = (x.shape.dims(), w.shape.dims()) else {
            return Ok(vec![TensorType::new(x.dtype, x.shape.rank().or(w.shape.rank()).map_or(Shape::unknown(), Shape::of_rank))]);
        };
        if xd.len() < 3 || wd.len() != xd.len() {
            bail!("X {} must have rank >= 3 and W {} the same rank", x.shape, w.shape);
        }
        let mut dims: Vec<Dim> = vec![xd[0], wd[0]];
        match (xd[2..].iter().copied().collect::<Option<Vec<_>>>(), wd[2..].iter().copied().collect::<Option<Vec<_>>>()) {
            (Some(spatial), Some(kernel)) => {
                dims.extend(self.geometry(&spatial, &kernel)?.out.into_iter().map(Some));
            }
            _ => dims.extend(std::iter::repeat_n(None, xd.len() - 2)),
        }
        Ok(vec![TensorType::new(x.dtype, Shape::from_dims(dims))])
    }

    fn eval(&self, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
        let (x, w, offset) = (inputs.req(0)?, inputs.req(1)?, inputs.req(2)?);
        let (bias, mask) = (inputs.opt(3), inputs.opt(4));
        check_dtype(&TensorType::of(x), &TensorType::of(w))?;
        for t in [Some(offset), bias, mask].into_iter().flatten() {
            if t.dtype() != x.dtype() {
                bail!("offset, B and mask must have X's element type {}, got {}", x.dtype(), t.dtype());
            }
        }
        let plan = self.plan(x.shape(), w.shape())?;
        let r = plan.spatial.len();
        let k: usize = plan.kernel.iter().product();
        let positions: usize = plan.out.iter().product();
        let expect = |t: &Tensor, rows: usize, name: &str| -> Result<()> {
            let mut want = vec![plan.batch, rows];
            want.extend_from_slice(&plan.out);
            if t.shape() != want.as_slice() {
                bail!("{name} must have shape {want:?}, got {:?}", t.shape());
            }
            Ok(())
        };
        expect(offset, self.offset_group * k * r, "offset")?;
        if let Some(m) = mask {
            expect(m, self.offset_group * k, "mask")?;
        }
        if let Some(b) = bias {
            if b.shape() != [plan.out_channels] {
                bail!("B must have shape [{}], got {:?}", plan.out_channels, b.shape());
            }
        }
        let mut out_shape = vec![plan.batch, plan.out_channels];
        out_shape.extend_from_slice(&plan.out);
        checked_numel(&out_shape)?;
        let columns_len = checked_numel(&[plan.channels, k, positions])?;

        let xv = x.to_f64_vec()?;
        let wv = w.to_f64_vec()?;
        let ov = offset.to_f64_vec()?;
        let mv = mask.map(Tensor::to_f64_vec).transpose()?;
        let bv = bias.map(Tensor::to_f64_vec).transpose()?;
        let plane: usize = plan.spatial.iter().product();
        let in_per_group = plan.channels / self.group;
        let out_per_group = plan.out_channels / self.group;
        let in_per_offset_group = plan.channels / self.offset_group;
        let mut y = Vec::with_capacity(out_shape.iter().product());
        let mut columns = vec![0.0; columns_len];
        let mut kernel_at = vec![0usize; r];
        let mut out_at = vec![0usize; r];
        let mut point = vec![0.0; r];
        for n in 0..plan.batch {
            // Deformable im2col: columns[c][k][p] = mask * X[n, c] sampled at tap k of position p.
            for c in 0..plan.channels {
                let og = c / in_per_offset_group;
                let image = &xv[(n * plan.channels + c) * plane..(n * plan.channels + c + 1) * plane];
                for tap in 0..k {
                    unravel(tap, &plan.kernel, &mut kernel_at);
                    let offset_row = (n * self.offset_group + og) * k + tap;
                    for p in 0..positions {
                        unravel(p, &plan.out, &mut out_at);
                        for d in 0..r {
                            let shift = ov[((offset_row * r + d) * positions) + p];
                            point[d] = (out_at[d] * plan.strides[d] + kernel_at[d] * plan.dilations[d]) as f64 - plan.pads_begin[d] as f64 + shift;
                        }
                        let scale = mv.as_ref().map_or(1.0, |m| m[offset_row * positions + p]);
                        columns[(c * k + tap) * positions + p] = scale * interpolate(image, &plan.spatial, &point);
                    }
                }
            }
            for g in 0..self.group {
                let rows = in_per_group * k;
                let weights = view(&wv, g * out_per_group * rows, out_per_group, rows)?;
                let cols = view(&columns, g * rows * positions, rows, positions)?;
                let product = f64::dot(weights, cols);
                for (o, row) in product.outer_iter().enumerate() {
                    let b = bv.as_ref().map_or(0.0, |b| b[g * out_per_group + o]);
                    y.extend(row.iter().map(|v| v + b));
                }
            }
        }
        Ok(vec![Tensor::from_vec(&out_shape, y)?.cast(x.dtype())?])
    }

    /// int8: float only.
    fn quantize(&self, rule: super::Rule) -> Result<super::Plan> {
        Ok(rule.float_only(super::NO_INTEGER_KERNEL))
    }
}

impl DeformConv {
    /// Output spatial dims, strides, dilations and leading pads for an input
    /// of `spatial` dims and a kernel of `kernel` dims.
    fn geometry(&self, spatial: &[usize], kernel: &[usize]) -> Result<Geometry> {
        let r = spatial.len();
        if let Some(ks) = &self.kernel_shape {
            if ks.len() != r || ks.iter().zip(kernel).any(|(&a, &b)| a != b as i64) {
                bail!("kernel_shape {ks:?} does not match W's kernel {kernel:?}");
            }
        }
        let strides = positive_each(per_axis(&self.strides, r, 1, "strides")?, "strides")?;
        let dilations = positive_each(per_axis(&self.dilations, r, 1, "dilations")?, "dilations")?;
        let pads = per_axis(&self.pads, 2 * r, 0, "pads")?;
        if pads.iter().any(|&p| p < 0) {
            bail!("pads must be nonnegative, got {pads:?}");
        }
        let mut out = Vec::with_capacity(r);
        for d in 0..r {
            let span = dilations[d] as i128 * (kernel[d] as i128 - 1) + 1;
            let room = spatial[d] as i128 + pads[d] as i128 + pads[d + r] as i128 - span;
            if kernel[d] == 0 || room < 0 {
                bail!("kernel {kernel:?} (dilations {dilations:?}) does not fit input {spatial:?} with pads {pads:?}");
            }
            out.push(usize::try_from(room / strides[d] as i128 + 1).map_err(|_| Error::Op("output too large".into()))?);
        }
        checked_numel(&out)?;
        let pads_begin = pads[..r].iter().map(|&p| usize::try_from(p).unwrap_or(usize::MAX)).collect();
        Ok(Geometry { out, strides, dilations, pads_begin })
    }

    fn plan(&self, x: &[usize], w: &[usize]) -> Result<Plan> {
        if x.len() < 3 || w.len() != x.len() {
            bail!("X {x:?} must have rank >= 3 and W {w:?} the same rank");
        }
        let (batch, channels, out_channels) = (x[0], x[1], w[0]);
        if w[1].checked_mul(self.group) != Some(channels) || out_channels % self.group != 0 {
            bail!("W {w:?} does not fit X {x:?} with group {}", self.group);
        }
        if channels % self.offset_group != 0 {
            bail!("the {channels} input channels are not divisible by offset_group {}", self.offset_group);
        }
        if x.len() - 2 > 12 {
            unsupported!("deformable convolution in {} spatial dimensions (at most 12)", x.len() - 2);
        }
        let (spatial, kernel) = (x[2..].to_vec(), w[2..].to_vec());
        let Geometry { out, strides, dilations, pads_begin } = self.geometry(&spatial, &kernel)?;
        // Keep tap coordinates far from overflow.
        if spatial.iter().chain(&kernel).chain(&strides).chain(&dilations).chain(&pads_begin).any(|&v| v > (1 << 40)) {
            bail!("sizes, strides, dilations and pads above 2^40 are not supported");
        }
        Ok(Plan { batch, channels, out_channels, spatial, kernel, strides, dilations, pads_begin, out })
    }
}

fn check_dtype(x: &TensorType, w: &TensorType) -> Result<()> {
    if !x.dtype.is_float() || x.dtype.is_small_float() {
        bail!("X must be a float tensor, got {}", x.dtype);
    }
    if w.dtype != x.dtype {
        bail!("W has element type {}, but X has {}", w.dtype, x.dtype);
    }
    Ok(())
}

/// `image` (row-major, `dims`) at real coordinates `point`, N-linearly
/// interpolated; pixels outside the image read as zero.
fn interpolate(image: &[f64], dims: &[usize], point: &[f64]) -> f64 {
    let mut sum = 0.0;
    // Each bit of `corner` picks the lower or upper neighbour along one axis.
    'corners: for corner in 0..(1usize << dims.len()) {
        let mut weight = 1.0;
        let mut flat = 0usize;
        for (d, (&len, &x)) in dims.iter().zip(point).enumerate() {
            if !x.is_finite() {
                return 0.0;
            }
            let low = x.floor();
            let (pos, w) = if corner >> d & 1 == 0 { (low, 1.0 - (x - low)) } else { (low + 1.0, x - low) };
            if pos < 0.0 || pos >= len as f64 {
                continue 'corners;
            }
            weight *= w;
            flat = flat * len + pos as usize;
        }
        sum += weight * image.get(flat).copied().unwrap_or(0.0);
    }
    sum
}

/// Row-major multi-index of `flat` in `dims`.
fn unravel(mut flat: usize, dims: &[usize], out: &mut [usize]) {
    for (o, &d) in out.iter_mut().zip(dims).rev() {
        *o = flat % d.max(1);
        flat /= d.max(1);
    }
}

fn view(data: &[f64], start: usize, rows: usize, cols: usize) -> Result<ArrayView2<'_, f64>> {
    let Some(part) = data.get(start..start + rows * cols) else { bail!("internal error: block out of range") };
    ArrayView2::from_shape((rows, cols), part).map_err(|e| Error::Op(format!("internal error: {e}")))
}

#[cfg(test)]
mod tests {
    use crate::front::onnx::Attr;
    use crate::ops::testing::{f32_values, f32s, run};

    #[test]
    fn zero_offsets_give_a_plain_convolution() {
        let x = f32s(&[1, 1, 2, 3], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        let w = f32s(&[1, 1, 1, 2], &[1.0, 10.0]);
        let offset = f32s(&[1, 4, 2, 2], &[0.0; 16]);
        let y = run("DeformConv", 22, vec![], &[x, w, offset]).unwrap();
        assert_eq!(f32_values(&y[0]), vec![21.0, 32.0, 54.0, 65.0]);
    }

    #[test]
    fn half_pixel_offsets_interpolate_and_outside_reads_zero() {
        let x = f32s(&[1, 1, 1, 2], &[2.0, 4.0]);
        let w = f32s(&[1, 1, 1, 1], &[1.0]);
        // Position 0 shifted by +0.5 in w: halfway between 2 and 4. Position 1
        // shifted by +0.5: halfway between 4 and a zero outside.
        let offset = f32s(&[1, 2, 1, 2], &[0.0, 0.0, 0.5, 0.5]);
        let y = run("DeformConv", 22, vec![], &[x, w, offset]).unwrap();
        assert_eq!(f32_values(&y[0]), vec![3.0, 2.0]);
    }

    #[test]
    fn shape_errors() {
        let x = f32s(&[1, 2, 2, 2], &[0.0; 8]);
        let w = f32s(&[1, 2, 1, 1], &[0.0; 2]);
        let offset = f32s(&[1, 2, 2, 2], &[0.0; 8]);
        // The offset must have offset_group * K * 2 rows.
        assert!(run("DeformConv", 22, vec![("offset_group", Attr::Int(2))], &[x.clone(), w.clone(), offset.clone()]).is_err());
        assert!(run("DeformConv", 22, vec![("group", Attr::Int(2))], &[x.clone(), w.clone(), offset.clone()]).is_err());
        assert!(run("DeformConv", 22, vec![("kernel_shape", Attr::Ints(vec![2, 2]))], &[x.clone(), w.clone(), offset.clone()]).is_err());
        assert!(run("DeformConv", 22, vec![("strides", Attr::Ints(vec![0, 1]))], &[x.clone(), w.clone(), offset.clone()]).is_err());
        let big_w = f32s(&[1, 2, 3, 3], &[0.0; 18]);
        assert!(run("DeformConv", 22, vec![], &[x, big_w, offset]).is_err());
    }
}
