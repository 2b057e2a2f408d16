//! AffineGrid (opset 20): the sampling grid of a batch of affine transforms,
//! for use with GridSample. <https://onnx.ai/onnx/operators/onnx__AffineGrid.html>
//!
//! Supported: 2-D (`theta` `[N, 2, 3]`, `size` `[N, C, H, W]`, grid
//! `[N, H, W, 2]`) and 3-D (`theta` `[N, 3, 4]`, `size` `[N, C, D, H, W]`,
//! grid `[N, D, H, W, 3]`), with and without `align_corners`; float types,
//! computed in `f64`. An axis of size 1 samples its centre (0).

use super::{util, Arg, OpDef, Slots};
use crate::front::onnx::OnnxNode;
use crate::ir::{Shape, TensorType};
use crate::tensor::{shape_from_i64, DType, Tensor};
use crate::{bail, Result};

#[derive(Debug, Clone)]
pub struct AffineGrid {
    align_corners: bool,
}

impl OpDef for AffineGrid {
    fn from_onnx(node: &OnnxNode) -> Result<Self> {
        let align_corners = match node.int("align_corners", 0)? {
            0 => false,
            1 => true,
            v => bail!("align_corners must be 0 or 1, got {v}"),
        };
        Ok(AffineGrid { align_corners })
    }

    fn infer(&self, inputs: &[Option<Arg>]) -> Result<Vec<TensorType>> {
        let theta = inputs.req(0)?.ty;
        let size = inputs.req(1)?;
        check_types(theta.dtype, size.ty.dtype)?;
        let theta_dims = theta.shape.dims();
        if let Some(d) = theta_dims {
            if d.len() != 3 {
                bail!("theta must be 3-D, got {}", theta.shape);
            }
        }
        if let Some(size) = util::const_ints(inputs, 1)? {
            let size = shape_from_i64(&size)?;
            let (n, spatial) = split_size(&size)?;
            let r = spatial.len();
            if let Some(d) = theta_dims {
                check_theta(&d.iter().map(|d| d.unwrap_or(usize::MAX)).collect::<Vec<_>>(), n, r, true)?;
            }
            let mut dims = vec![n];
            dims.extend_from_slice(spatial);
            dims.push(r);
            return Ok(vec![TensorType::fixed(theta.dtype, &dims)]);
        }
        // Without the size, the rank still follows from theta ([N, 2, 3] or [N, 3, 4]).
        let spatial_rank = match (theta_dims, size.ty.shape.dims()) {
            (_, Some([Some(len)])) => Some(len.saturating_sub(2)),
            (Some([_, Some(r), _]), _) => Some(*r),
            _ => None,
        };
        let shape = match spatial_rank {
            Some(r) if r == 2 || r == 3 => {
                let mut dims = vec![theta_dims.and_then(|d| d[0])];
                dims.extend(std::iter::repeat_n(None, r));
                dims.push(Some(r));
                Shape::from_dims(dims)
            }
            Some(r) => bail!("AffineGrid handles 2-D and 3-D grids, not {r}-D"),
            None => Shape::unknown(),
        };
        Ok(vec![TensorType::new(theta.dtype, shape)])
    }

    fn eval(&self, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
        let (theta, size) = (inputs.req(0)?, inputs.req(1)?);
        let dtype = theta.dtype();
        check_types(dtype, size.dtype())?;
        let size = shape_from_i64(&size.to_i64_vec()?)?;
        let (n, spatial) = split_size(&size)?;
        let r = spatial.len();
        check_theta(theta.shape(), n, r, false)?;
        let mut out_shape = vec![n];
        out_shape.extend_from_slice(spatial);
        out_shape.push(r);
        crate::tensor::checked_numel(&out_shape)?;

        let theta = theta.to_f64_vec()?;
        // Base coordinates per axis, innermost (x) first in the output vector.
        let axes: Vec<Vec<f64>> = spatial.iter().map(|&len| self.linspace(len)).collect();
        let points: usize = spatial.iter().product();
        let mut out = Vec::with_capacity(n * points * r);
        let mut homogeneous = vec![1.0; r + 1];
        for b in 0..n {
            let t = &theta[b * r * (r + 1)..(b + 1) * r * (r + 1)];
            for p in 0..points {
                // Spatial index of point p, outermost axis first.
                let mut rest = p;
                for (axis, len) in spatial.iter().enumerate().rev() {
                    let i = rest % len;
                    rest /= len;
                    // Output component 0 is the innermost axis.
                    homogeneous[r - 1 - axis] = axes[axis][i];
                }
                for row in t.chunks_exact(r + 1) {
                    out.push(row.iter().zip(&homogeneous).map(|(a, b)| a * b).sum::<f64>());
                }
            }
        }
        Ok(vec![Tensor::from_vec(&out_shape, out)?.cast(dtype)?])
    }

    /// int8: float only.
    fn quantize(&self, rule: super::Rule) -> Result<super::Plan> {
        Ok(rule.float_only(super::NO_INTEGER_KERNEL))
    }
}

impl AffineGrid {
    /// Normalized coordinates of the `len` pixels along one axis.
    fn linspace(&self, len: usize) -> Vec<f64> {
        if len <= 1 {
            return vec![0.0; len];
        }
        let n = len as f64;
        (0..len)
            .map(|i| {
                let i = i as f64;
                if self.align_corners {
                    -1.0 + i * (2.0 / (n - 1.0))
                } else {
                    -1.0 + 1.0 / n + i * (2.0 / n)
                }
            })
            .collect()
    }
}

fn check_types(theta: DType, size: DType) -> Result<()> {
    if !theta.is_float() || theta.is_small_float() {
        bail!("theta must be a float tensor, got {theta}");
    }
    if size != DType::I64 {
        bail!("size must be int64, got {size}");
    }
    Ok(())
}

/// `size` = `[N, C, spatial...]` with 2 or 3 spatial dimensions.
fn split_size(size: &[usize]) -> Result<(usize, &[usize])> {
    match size {
        [n, _, spatial @ ..] if spatial.len() == 2 || spatial.len() == 3 => Ok((*n, spatial)),
        _ => bail!("size must be [N, C, H, W] or [N, C, D, H, W], got {size:?}"),
    }
}

/// theta must be `[N, r, r + 1]`; `usize::MAX` stands for an unknown dim
/// when `partial`.
fn check_theta(dims: &[usize], n: usize, r: usize, partial: bool) -> Result<()> {
    let want = [n, r, r + 1];
    let ok = dims.len() == 3 && dims.iter().zip(want).all(|(&d, w)| d == w || (partial && d == usize::MAX));
    if !ok {
        bail!("theta must have shape {want:?} for size with {r} spatial dimensions, got {dims:?}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::front::onnx::Attr;
    use crate::ops::testing::{f32s, i64s, run};

    #[test]
    fn identity_transform_gives_the_base_grid() {
        let theta = f32s(&[1, 2, 3], &[1.0, 0.0, 0.0, 0.0, 1.0, 0.0]);
        let y = run("AffineGrid", 20, vec![("align_corners", Attr::Int(1))], &[theta.clone(), i64s(&[4], &[1, 1, 2, 3])]).unwrap();
        let v: Vec<f32> = y[0].array::<f32>().unwrap().iter().copied().collect();
        assert_eq!(y[0].shape(), &[1, 2, 3, 2]);
        assert_eq!(v, vec![-1.0, -1.0, 0.0, -1.0, 1.0, -1.0, -1.0, 1.0, 0.0, 1.0, 1.0, 1.0]);
        let y = run("AffineGrid", 20, vec![], &[theta, i64s(&[4], &[1, 1, 1, 2])]).unwrap();
        let v: Vec<f32> = y[0].array::<f32>().unwrap().iter().copied().collect();
        assert_eq!(v, vec![-0.5, 0.0, 0.5, 0.0]);
    }

    #[test]
    fn mismatched_theta_and_size_are_errors() {
        let theta = f32s(&[1, 2, 3], &[0.0; 6]);
        assert!(run("AffineGrid", 20, vec![], &[theta.clone(), i64s(&[5], &[1, 1, 1, 2, 2])]).is_err());
        assert!(run("AffineGrid", 20, vec![], &[theta.clone(), i64s(&[4], &[2, 1, 2, 2])]).is_err());
        assert!(run("AffineGrid", 20, vec![], &[theta.clone(), i64s(&[4], &[1, 1, -2, 2])]).is_err());
        assert!(run("AffineGrid", 20, vec![], &[theta, i64s(&[3], &[1, 1, 2])]).is_err());
    }
}

#[cfg(test)]
mod infer_tests {
    use crate::ir::{Shape, TensorType};
    use crate::ops::testing::{i64s, node};
    use crate::ops::{Arg, Op};
    use crate::tensor::DType;

    #[test]
    fn constant_size_gives_exact_dims() {
        let op = Op::from_onnx(&node("AffineGrid", 20, vec![], 2, 1)).unwrap();
        let theta = TensorType::fixed(DType::F32, &[2, 3, 4]);
        let size_ty = TensorType::fixed(DType::I64, &[5]);
        let size = i64s(&[5], &[2, 1, 4, 5, 6]);
        let args = [Some(Arg { ty: &theta, value: None }), Some(Arg { ty: &size_ty, value: Some(&size) })];
        assert_eq!(op.infer(&args).unwrap()[0].shape, Shape::fixed(&[2, 4, 5, 6, 3]));
        let args = [Some(Arg { ty: &theta, value: None }), Some(Arg { ty: &size_ty, value: None })];
        assert_eq!(op.infer(&args).unwrap()[0].shape, Shape::from_dims(vec![Some(2), None, None, None, Some(3)]));
    }
}
