//! GridSample (opsets 16, 20, 22): samples `X` at the normalized positions of
//! `grid`. <https://onnx.ai/onnx/operators/onnx__GridSample.html>
//!
//! Supported: any number of spatial dimensions (4-D, 5-D, ...); modes
//! `linear`/`bilinear`, `nearest` (ties to even) and `cubic`/`bicubic`
//! (Keys, a = -0.75, separable in N-D); padding `zeros`, `border` and
//! `reflection`; `align_corners`. Nearest sampling works for every element
//! type; linear and cubic need numeric `X`. Denormalized coordinates are
//! float32, as in the reference; interpolation sums are computed in `f64`.

use super::precision::Prec;
use super::{Arg, OpDef, Slots};
use crate::front::onnx::OnnxNode;
use crate::ir::{Shape, TensorType};
use crate::tensor::{checked_numel, DType, Elem, Tensor};
use crate::{bail, map_array, unsupported, Result};
use ndarray::{ArrayD, IxDyn};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Linear,
    Nearest,
    Cubic,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Padding {
    Zeros,
    Border,
    Reflection,
}

#[derive(Debug, Clone)]
pub struct GridSample {
    mode: Mode,
    padding: Padding,
    align_corners: bool,
}

/// The most input elements one output element may read.
const MAX_TAPS: usize = 1 << 12;

/// One input element contributing to an output element: its flat spatial
/// offset (`None`: a zero from padding) and its weight.
type Tap = (Option<usize>, f64);

impl OpDef for GridSample {
    fn from_onnx(node: &OnnxNode) -> Result<Self> {
        let default_mode = if node.opset < 20 { "bilinear" } else { "linear" };
        let mode = match node.string("mode", default_mode)?.as_str() {
            "linear" | "bilinear" => Mode::Linear,
            "nearest" => Mode::Nearest,
            "cubic" | "bicubic" => Mode::Cubic,
            m => bail!("mode '{m}' is not linear, nearest or cubic"),
        };
        let padding = match node.string("padding_mode", "zeros")?.as_str() {
            "zeros" => Padding::Zeros,
            "border" => Padding::Border,
            "reflection" => Padding::Reflection,
            p => bail!("padding_mode '{p}' is not zeros, border or reflection"),
        };
        let align_corners = match node.int("align_corners", 0)? {
            0 => false,
            1 => true,
            v => bail!("align_corners must be 0 or 1, got {v}"),
        };
        Ok(GridSample { mode, padding, align_corners })
    }

    fn infer(&self, inputs: &[Option<Arg>]) -> Result<Vec<TensorType>> {
        let (x, grid) = (inputs.req(0)?.ty, inputs.req(1)?.ty);
        self.check_types(x.dtype, grid.dtype)?;
        let (Some(xd), Some(gd)) = (x.shape.dims(), grid.shape.dims()) else {
            let rank = x.shape.rank().or(grid.shape.rank());
            return Ok(vec![TensorType::new(x.dtype, rank.map_or(Shape::unknown(), Shape::of_rank))]);
        };
        if xd.len() < 3 || gd.len() != xd.len() {
            bail!("X {} must have rank >= 3 and grid {} the same rank", x.shape, grid.shape);
        }
        let r = xd.len() - 2;
        if let Some(last) = gd[r + 1] {
            if last != r {
                bail!("grid {} must end in {r} coordinates for {r} spatial dimensions", grid.shape);
            }
        }
        let batch = match (xd[0], gd[0]) {
            (Some(a), Some(b)) if a != b => bail!("X and grid differ in batch size ({a} vs {b})"),
            (a, b) => a.or(b),
        };
        let mut dims = vec![batch, xd[1]];
        dims.extend_from_slice(&gd[1..=r]);
        Ok(vec![TensorType::new(x.dtype, Shape::from_dims(dims))])
    }

    fn eval(&self, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
        let (x, grid) = (inputs.req(0)?, inputs.req(1)?);
        self.check_types(x.dtype(), grid.dtype())?;
        let (xs, gs) = (x.shape(), grid.shape());
        let r = xs.len().saturating_sub(2);
        if xs.len() < 3 || gs.len() != xs.len() || gs[0] != xs[0] || gs[r + 1] != r {
            bail!("X {xs:?} and grid {gs:?} do not fit: grid must be [N, out..., {r}]");
        }
        let per_axis: usize = match self.mode {
            Mode::Nearest => 1,
            Mode::Linear => 2,
            Mode::Cubic => 4,
        };
        if per_axis.checked_pow(r as u32).is_none_or(|n| n > MAX_TAPS) {
            unsupported!("{:?} sampling in {r} spatial dimensions needs more than {MAX_TAPS} inputs per output", self.mode);
        }
        let (batch, channels) = (xs[0], xs[1]);
        let spatial = &xs[2..];
        let out_spatial = &gs[1..=r];
        let mut out_shape = vec![batch, channels];
        out_shape.extend_from_slice(out_spatial);
        checked_numel(&out_shape)?;
        let plane: usize = spatial.iter().product();
        let locations: usize = out_spatial.iter().product();

        let grid_prec = Prec::of(grid.dtype())?;
        let coords = grid.to_f64_vec()?;
        // The inputs of output location l in batch n come from grid point n * locations + l.
        let points = coords.chunks_exact(r).take(batch * locations);
        let y = if self.mode == Mode::Nearest {
            let sources: Vec<Option<usize>> =
                points.map(|p| self.taps(p, spatial, grid_prec).first().and_then(|&(off, _)| off)).collect();
            map_array!(x, a => gather(a, &sources, channels, plane, locations, &out_shape)?)
        } else {
            let values = x.to_f64_vec()?;
            let mut out = vec![0.0; batch * channels * locations];
            for (point, normalized) in points.enumerate() {
                let (n, l) = (point / locations, point % locations);
                let taps = self.taps(normalized, spatial, grid_prec);
                for c in 0..channels {
                    let base = (n * channels + c) * plane;
                    let sum: f64 = taps.iter().map(|&(off, w)| off.and_then(|o| values.get(base + o)).map_or(0.0, |v| w * v)).sum();
                    if let Some(slot) = out.get_mut((n * channels + c) * locations + l) {
                        *slot = sum;
                    }
                }
            }
            Tensor::from_vec(&out_shape, out)?.cast(x.dtype())?
        };
        Ok(vec![y])
    }

    /// int8: float only.
    fn quantize(&self, rule: super::Rule) -> Result<super::Plan> {
        Ok(rule.float_only(super::NO_INTEGER_KERNEL))
    }
}

impl GridSample {
    /// The inputs of the output element at normalized grid point
    /// `normalized` (innermost axis first) in an image of `spatial` dims.
    fn taps(&self, normalized: &[f64], spatial: &[usize], grid_prec: Prec) -> Vec<Tap> {
        let r = spatial.len();
        let mut combined: Vec<Tap> = vec![(Some(0), 1.0)];
        for (axis, &len) in spatial.iter().enumerate() {
            let u = self.denormalize(normalized[r - 1 - axis], len, grid_prec);
            let axis_taps = self.axis_taps(u, len);
            let mut next = Vec::with_capacity(combined.len() * axis_taps.len());
            for &(off, w) in &combined {
                for &(i, wa) in &axis_taps {
                    next.push((off.zip(i).map(|(o, i)| o * len + i), w * wa));
                }
            }
            combined = next;
        }
        combined
    }

    fn check_types(&self, x: DType, grid: DType) -> Result<()> {
        Prec::of(grid).map_err(|e| crate::Error::Op(format!("grid: {e}")))?;
        if self.mode != Mode::Nearest && !(x.is_float() || x.is_int()) {
            bail!("{:?} sampling needs a numeric X, got {x}", self.mode);
        }
        Ok(())
    }

    /// The pixel coordinate of normalized position `v` along an axis of
    /// `len` pixels, rounded to float32 (after each step in the grid's type)
    /// and adjusted for the padding mode.
    fn denormalize(&self, v: f64, len: usize, p: Prec) -> f64 {
        let r = |x: f64| p.round(x);
        let d = len as f64;
        let u = if self.align_corners { r(r(r(v + 1.0) / 2.0) * (d - 1.0)) } else { r(r(r(r(v + 1.0) * d) - 1.0) / 2.0) };
        let mut u = Prec::F32.round(u);
        if self.mode == Mode::Nearest {
            u = u.round_ties_even();
        }
        let (lo, hi) = self.bounds(len);
        if u < lo || u > hi {
            u = match self.padding {
                Padding::Zeros => u,
                Padding::Border => u.clamp(0.0, (d - 1.0).max(0.0)),
                Padding::Reflection => Prec::F32.round(reflect(u, lo, hi)),
            };
        }
        u
    }

    /// The range of valid coordinates along an axis of `len` pixels.
    fn bounds(&self, len: usize) -> (f64, f64) {
        if self.align_corners {
            (0.0, len as f64 - 1.0)
        } else {
            (-0.5, len as f64 - 0.5)
        }
    }

    /// Inputs along one axis for coordinate `u`.
    fn axis_taps(&self, u: f64, len: usize) -> Vec<Tap> {
        let at = |i: i64| (self.index(i, len), 0.0);
        match self.mode {
            Mode::Nearest => vec![(self.index(u as i64, len), 1.0)],
            Mode::Linear => {
                let x0 = u.floor() as i64;
                let t = (u - x0 as f64).abs();
                vec![(at(x0).0, 1.0 - t), (at(x0.saturating_add(1)).0, t)]
            }
            Mode::Cubic => {
                let x0 = u.floor() as i64;
                let c = cubic_coeffs(u - x0 as f64);
                (0..4).map(|k| (at(x0.saturating_add(k - 1)).0, c[k as usize])).collect()
            }
        }
    }

    /// The pixel read for integer position `i`, by padding mode; `None`
    /// reads a zero.
    fn index(&self, i: i64, len: usize) -> Option<usize> {
        if len == 0 {
            return None;
        }
        let last = len as i64 - 1;
        let i = match self.padding {
            Padding::Zeros => i,
            Padding::Border => i.clamp(0, last),
            Padding::Reflection => {
                let (lo, hi) = self.bounds(len);
                (reflect(i as f64, lo, hi) as i64).clamp(0, last)
            }
        };
        usize::try_from(i).ok().filter(|&i| i < len)
    }
}

/// Reflects `x` at the bounds until it lies within `[lo, hi]`.
fn reflect(x: f64, lo: f64, hi: f64) -> f64 {
    let range = hi - lo;
    if range <= 0.0 {
        return lo;
    }
    let fold = |dx: f64, near: f64, far: f64, sign: f64| {
        let n = (dx / range).trunc();
        let rest = dx - n * range;
        if n % 2.0 == 0.0 {
            near + sign * rest
        } else {
            far - sign * rest
        }
    };
    if x < lo {
        fold(lo - x, lo, hi, 1.0)
    } else if x > hi {
        fold(x - hi, hi, lo, -1.0)
    } else {
        x
    }
}

/// Keys cubic convolution weights (a = -0.75) of the four neighbours
/// `floor(u) - 1 ..= floor(u) + 2` for fractional offset `t`.
fn cubic_coeffs(t: f64) -> [f64; 4] {
    const A: f64 = -0.75;
    let x = t.abs();
    let far = |d: f64| ((A * d - 5.0 * A) * d + 8.0 * A) * d - 4.0 * A;
    let near = |d: f64| ((A + 2.0) * d - (A + 3.0)) * d * d + 1.0;
    [far(x + 1.0), near(x), near(1.0 - x), far(2.0 - x)]
}

/// Nearest sampling: copies input element `sources[n * locations + l]`
/// (`None`: a zero) of each channel plane to output location l of batch n.
fn gather<T: Elem>(a: &ArrayD<T>, sources: &[Option<usize>], channels: usize, plane: usize, locations: usize, shape: &[usize]) -> Result<ArrayD<T>> {
    let flat: Vec<&T> = a.iter().collect();
    let mut out = Vec::with_capacity(sources.len() * channels);
    for (n, batch_sources) in sources.chunks(locations.max(1)).enumerate() {
        for c in 0..channels {
            let base = (n * channels + c) * plane;
            for source in batch_sources {
                let v = source.and_then(|o| flat.get(base + o));
                out.push(v.map_or_else(T::default, |v| (*v).clone()));
            }
        }
    }
    match ArrayD::from_shape_vec(IxDyn(shape), out) {
        Ok(y) => Ok(y),
        Err(e) => bail!("internal error: {e}"),
    }
}

#[cfg(test)]
#[path = "grid_sample_tests.rs"]
mod tests;
