//! RoiAlign (opsets 10, 16, 22): pools each region of interest of a 4-D
//! feature map into a fixed `[output_height, output_width]` grid by
//! bilinear sampling. <https://onnx.ai/onnx/operators/onnx__RoiAlign.html>
//!
//! Supported: `mode` `avg` and `max` (the maximum over samples of the
//! largest weighted corner, as the ONNX reference defines it),
//! `coordinate_transformation_mode` `half_pixel` (default from opset 16) and
//! `output_half_pixel` (opset 10's behaviour), `sampling_ratio` (0:
//! adaptive), `spatial_scale`; float types, computed in `f64`. Batch indices
//! are checked against the batch size.

use super::{Arg, OpDef, Slots};
use crate::front::onnx::OnnxNode;
use crate::ir::{Shape, TensorType};
use crate::tensor::{checked_numel, DType, Tensor, MAX_ELEMENTS};
use crate::{bail, Error, Result};

#[derive(Debug, Clone)]
pub struct RoiAlign {
    max: bool,
    half_pixel: bool,
    output_height: usize,
    output_width: usize,
    sampling_ratio: usize,
    spatial_scale: f64,
}

/// One bilinear sample: four flat offsets into a feature plane with their
/// weights (all zero for samples outside the map).
type Sample = [(usize, f64); 4];

/// The most bilinear samples one region may take (they are held in memory).
const MAX_SAMPLES: usize = 1 << 24;

impl OpDef for RoiAlign {
    fn from_onnx(node: &OnnxNode) -> Result<Self> {
        let max = match node.string("mode", "avg")?.as_str() {
            "avg" => false,
            "max" => true,
            m => bail!("mode '{m}' is not avg or max"),
        };
        let default_ctm = if node.opset < 16 { "output_half_pixel" } else { "half_pixel" };
        let half_pixel = match node.string("coordinate_transformation_mode", default_ctm)?.as_str() {
            "half_pixel" => true,
            "output_half_pixel" => false,
            m => bail!("coordinate_transformation_mode '{m}' is not half_pixel or output_half_pixel"),
        };
        let size = |name: &str, default: i64| -> Result<usize> {
            match node.int(name, default)? {
                v if v >= 0 => usize::try_from(v).map_err(|_| Error::Op(format!("{name} {v} is too large"))),
                v => bail!("{name} must be nonnegative, got {v}"),
            }
        };
        let (output_height, output_width) = (size("output_height", 1)?, size("output_width", 1)?);
        if output_height == 0 || output_width == 0 {
            bail!("output_height and output_width must be positive");
        }
        Ok(RoiAlign {
            max,
            half_pixel,
            output_height,
            output_width,
            sampling_ratio: size("sampling_ratio", 0)?,
            spatial_scale: node.float("spatial_scale", 1.0)? as f64,
        })
    }

    fn infer(&self, inputs: &[Option<Arg>]) -> Result<Vec<TensorType>> {
        let (x, rois, idx) = (inputs.req(0)?.ty, inputs.req(1)?.ty, inputs.req(2)?.ty);
        check_types(x.dtype, rois.dtype, idx.dtype)?;
        let dims = |t: &TensorType, rank: usize, name: &str| -> Result<Option<Vec<Option<usize>>>> {
            match t.shape.dims() {
                Some(d) if d.len() != rank => bail!("{name} must be {rank}-D, got {}", t.shape),
                d => Ok(d.map(<[_]>::to_vec)),
            }
        };
        let (xd, rd, id) = (dims(x, 4, "X")?, dims(rois, 2, "rois")?, dims(idx, 1, "batch_indices")?);
        let n_rois = match (rd.as_ref().and_then(|d| d[0]), id.as_ref().and_then(|d| d[0])) {
            (Some(a), Some(b)) if a != b => bail!("rois ({a}) and batch_indices ({b}) disagree on the number of regions"),
            (a, b) => a.or(b),
        };
        if let Some(Some(cols)) = rd.as_ref().map(|d| d[1]) {
            if cols != 4 {
                bail!("rois must have 4 coordinates per region, got {cols}");
            }
        }
        let channels = xd.and_then(|d| d[1]);
        Ok(vec![TensorType::new(x.dtype, Shape::from_dims(vec![n_rois, channels, Some(self.output_height), Some(self.output_width)]))])
    }

    fn eval(&self, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
        let (x, rois, idx) = (inputs.req(0)?, inputs.req(1)?, inputs.req(2)?);
        check_types(x.dtype(), rois.dtype(), idx.dtype())?;
        let &[batch, channels, height, width] = x.shape() else { bail!("X must be 4-D, got {:?}", x.shape()) };
        let n_rois = match (rois.shape(), idx.shape()) {
            (&[n, 4], &[m]) if n == m => n,
            (r, i) => bail!("rois must be [num_rois, 4] and batch_indices [num_rois], got {r:?} and {i:?}"),
        };
        let (ph, pw) = (self.output_height, self.output_width);
        let out_shape = [n_rois, channels, ph, pw];
        checked_numel(&out_shape)?;
        let data = x.to_f64_vec()?;
        let boxes = rois.to_f64_vec()?;
        let batch_indices = idx.to_i64_vec()?;
        let plane = height * width;
        let mut out = Vec::with_capacity(out_shape.iter().product());
        for (r, coords) in boxes.chunks_exact(4).enumerate() {
            let b = batch_indices.get(r).copied().unwrap_or(-1);
            let b = match usize::try_from(b) {
                Ok(b) if b < batch => b,
                _ => bail!("batch index {b} of region {r} is out of range for a batch of {batch}"),
            };
            let (grid_h, grid_w, samples) = self.samples(coords, height, width, channels)?;
            let count = (grid_h * grid_w).max(1) as f64;
            let per_bin = grid_h * grid_w;
            for c in 0..channels {
                let base = (b * channels + c) * plane;
                let at = |off: usize| data.get(base + off).copied().unwrap_or(0.0);
                for bin in samples.chunks(per_bin.max(1)).take(ph * pw) {
                    let value = if self.max {
                        bin.iter()
                            .map(|s| s.iter().map(|&(o, w)| w * at(o)).fold(f64::NEG_INFINITY, f64::max))
                            .reduce(f64::max)
                            .unwrap_or(0.0)
                    } else {
                        bin.iter().map(|s| s.iter().map(|&(o, w)| w * at(o)).sum::<f64>()).sum::<f64>() / count
                    };
                    out.push(value);
                }
                if per_bin == 0 {
                    out.extend(std::iter::repeat_n(0.0, ph * pw));
                }
            }
        }
        Ok(vec![Tensor::from_vec(&out_shape, out)?.cast(x.dtype())?])
    }

    /// int8: float only.
    fn quantize(&self, rule: super::Rule) -> Result<super::Plan> {
        Ok(rule.float_only(super::NO_INTEGER_KERNEL))
    }
}

impl RoiAlign {
    /// The sampling grid of one region (`[x1, y1, x2, y2]`): grid height and
    /// width per bin, and every sample, bin by bin in row-major order.
    fn samples(&self, coords: &[f64], height: usize, width: usize, channels: usize) -> Result<(usize, usize, Vec<Sample>)> {
        let (ph, pw) = (self.output_height as f64, self.output_width as f64);
        let shift = if self.half_pixel { 0.5 } else { 0.0 };
        let [x1, y1, x2, y2] = [0, 1, 2, 3].map(|i| coords[i] * self.spatial_scale - shift);
        let (mut roi_w, mut roi_h) = (x2 - x1, y2 - y1);
        if !self.half_pixel {
            // Malformed regions become at least 1x1.
            roi_w = roi_w.max(1.0);
            roi_h = roi_h.max(1.0);
        }
        let (bin_h, bin_w) = (roi_h / ph, roi_w / pw);
        let grid = |bin: f64| -> Result<usize> {
            if self.sampling_ratio > 0 {
                return Ok(self.sampling_ratio);
            }
            let n = bin.ceil();
            if n.is_nan() || n <= 0.0 {
                Ok(0)
            } else if n > MAX_ELEMENTS as f64 {
                bail!("region {coords:?} needs too many samples")
            } else {
                Ok(n as usize)
            }
        };
        let (grid_h, grid_w) = (grid(bin_h)?, grid(bin_w)?);
        let count = [grid_h, grid_w, self.output_height].iter().try_fold(self.output_width, |acc, &d| acc.checked_mul(d));
        let work = count.and_then(|n| n.checked_mul(channels.max(1)));
        match (count, work) {
            (Some(n), Some(w)) if n <= MAX_SAMPLES && w <= MAX_ELEMENTS => {}
            _ => bail!("region {coords:?} needs too many samples"),
        }
        let mut samples = Vec::with_capacity(grid_h * grid_w * self.output_height * self.output_width);
        for py in 0..self.output_height {
            for px in 0..self.output_width {
                for iy in 0..grid_h {
                    let y = y1 + py as f64 * bin_h + (iy as f64 + 0.5) * bin_h / grid_h as f64;
                    for ix in 0..grid_w {
                        let x = x1 + px as f64 * bin_w + (ix as f64 + 0.5) * bin_w / grid_w as f64;
                        samples.push(bilinear(y, x, height, width));
                    }
                }
            }
        }
        Ok((grid_h, grid_w, samples))
    }
}

/// Corner offsets and weights of a bilinear sample at (`y`, `x`).
fn bilinear(y: f64, x: f64, height: usize, width: usize) -> Sample {
    let (h, w) = (height as f64, width as f64);
    if !(y >= -1.0 && y <= h && x >= -1.0 && x <= w) || height == 0 || width == 0 {
        return [(0, 0.0); 4];
    }
    let axis = |v: f64, len: usize| -> (usize, usize, f64) {
        let v = v.max(0.0);
        let low = v as usize;
        if low >= len - 1 {
            (len - 1, len - 1, 0.0)
        } else {
            (low, low + 1, v - low as f64)
        }
    };
    let (y0, y1, ly) = axis(y, height);
    let (x0, x1, lx) = axis(x, width);
    let (hy, hx) = (1.0 - ly, 1.0 - lx);
    [(y0 * width + x0, hy * hx), (y0 * width + x1, hy * lx), (y1 * width + x0, ly * hx), (y1 * width + x1, ly * lx)]
}

fn check_types(x: DType, rois: DType, idx: DType) -> Result<()> {
    if !x.is_float() || x.is_small_float() {
        bail!("X must be a float tensor, got {x}");
    }
    if rois != x {
        bail!("rois must have X's element type {x}, got {rois}");
    }
    if idx != DType::I64 {
        bail!("batch_indices must be int64, got {idx}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::front::onnx::Attr;
    use crate::ops::testing::{f32s, i64s, run};

    #[test]
    fn averages_a_constant_map() {
        let x = f32s(&[1, 1, 4, 4], &[3.0; 16]);
        let rois = f32s(&[1, 4], &[0.0, 0.0, 3.0, 3.0]);
        let y = run("RoiAlign", 22, vec![("output_height", Attr::Int(2)), ("output_width", Attr::Int(2))], &[x, rois, i64s(&[1], &[0])]).unwrap();
        assert_eq!(y[0].shape(), &[1, 1, 2, 2]);
        for v in y[0].array::<f32>().unwrap() {
            assert!((v - 3.0).abs() < 1e-6);
        }
    }

    #[test]
    fn bad_batch_indices_and_huge_regions_are_errors() {
        let x = f32s(&[1, 1, 2, 2], &[0.0; 4]);
        let rois = f32s(&[1, 4], &[0.0, 0.0, 1.0, 1.0]);
        for b in [1, -1] {
            let err = run("RoiAlign", 22, vec![], &[x.clone(), rois.clone(), i64s(&[1], &[b])]).unwrap_err();
            assert!(err.to_string().contains("out of range"), "{err}");
        }
        let huge = f32s(&[1, 4], &[0.0, 0.0, 1e30, 1e30]);
        assert!(run("RoiAlign", 22, vec![], &[x.clone(), huge, i64s(&[1], &[0])]).is_err());
        assert!(run("RoiAlign", 22, vec![], &[x, f32s(&[1, 3], &[0.0; 3]), i64s(&[1], &[0])]).is_err());
    }
}
