//! Resize (opsets 10, 11, 13, 18, 19) and the older Upsample (7, 9, 10):
//! resamples every axis of an N-D tensor.
//! <https://onnx.ai/onnx/operators/onnx__Resize.html>,
//! <https://onnx.ai/onnx/operators/onnx__Upsample.html>
//!
//! Supported: modes nearest (every `nearest_mode`), linear and cubic
//! (`cubic_coeff_a`, `exclude_outside`, `antialias`), all separable over any
//! number of axes; every `coordinate_transformation_mode`
//! (`tf_crop_and_resize` with `roi` and `extrapolation_value`); the output
//! size from `scales` (floor(in * scale)) or `sizes`, `axes` and
//! `keep_aspect_ratio_policy`. Upsample and Resize-10 use asymmetric
//! coordinates, and their nearest mode rounds down (up when downsampling).
//!
//! `pytorch_half_pixel` maps every position of a length-1 output to source
//! coordinate 0, as the operator definition (and ONNX Runtime) say; the ONNX
//! reference implementation uses -0.5 there, which only matters for cubic
//! and antialiased filters.
//!
//! Nearest mode copies elements, so it takes every element type; linear and
//! cubic compute in float64 and round once to the input type (integers
//! round half to even and saturate). `exclude_outside` and `antialias` do
//! not apply to nearest mode (it has a single tap).
//!
//! Code generation (`resize_lower.rs`) needs roi, scales and sizes known at
//! compile time: the per-axis sampling tables of [`Resize::tables`] (from
//! `resize_sample.rs`, the one definition) become constants read by the
//! runtime's `resize` kernels; linear and cubic modes for float tensors.

use super::int8_rule::{Needs, Plan, Rule};
use super::qint::{q11_taps, IntResize, Sampling};
use super::resize_lower::Tables;
use super::resize_sample::{Axis, Coord, Filter, Nearest};
use super::take::{self, FILL};
use super::{util, Arg, Op, OpDef, Slots};
use crate::front::onnx::OnnxNode;
use crate::ir::{Dim, Shape, TensorType};
use crate::tensor::{checked_numel, DType, Tensor};
use crate::{bail, unsupported, Result};
use ndarray::{ArrayD, IxDyn};

#[derive(Debug, Clone, Copy, PartialEq)]
enum Mode {
    Nearest(Nearest),
    Filter(Filter),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Policy {
    Stretch,
    NotLarger,
    NotSmaller,
}

#[derive(Debug, Clone)]
pub struct Resize {
    mode: Mode,
    coord: Coord,
    exclude_outside: bool,
    antialias: bool,
    extrapolation: f64,
    axes: Option<Vec<i64>>,
    policy: Policy,
    /// Upsample-7: the scales attribute.
    attr_scales: Option<Vec<f64>>,
    /// Input slots of roi, scales and sizes (roi and sizes from opset 11).
    roi_at: Option<usize>,
    scales_at: usize,
    sizes_at: Option<usize>,
    /// Upsample requires scales of at least 1.
    upsample: bool,
}

/// A value known at compile time, or not.
enum Known<T> {
    Absent,
    Values(T),
    Unknown,
}

impl OpDef for Resize {
    fn from_onnx(node: &OnnxNode) -> Result<Self> {
        let upsample = node.op_type == "Upsample";
        if upsample && node.opset < 7 {
            unsupported!("Upsample before opset 7 (height_scale/width_scale attributes)");
        }
        let legacy = upsample || node.opset < 11;
        let mode_name = node.string("mode", "nearest")?;
        let nearest = if legacy {
            Nearest::Legacy
        } else {
            match node.string("nearest_mode", "round_prefer_floor")?.as_str() {
                "round_prefer_floor" => Nearest::RoundPreferFloor,
                "round_prefer_ceil" => Nearest::RoundPreferCeil,
                "floor" => Nearest::Floor,
                "ceil" => Nearest::Ceil,
                other => bail!("nearest_mode '{other}' is not round_prefer_floor, round_prefer_ceil, floor or ceil"),
            }
        };
        let mode = match mode_name.as_str() {
            "nearest" => Mode::Nearest(nearest),
            "linear" => Mode::Filter(Filter::Linear),
            "cubic" if !legacy => Mode::Filter(Filter::Cubic { a: node.float("cubic_coeff_a", -0.75)? as f64 }),
            other => bail!("mode '{other}' is not supported by {} at opset {}", node.op_type, node.opset),
        };
        let coord = if legacy {
            Coord::Asymmetric
        } else {
            match node.string("coordinate_transformation_mode", "half_pixel")?.as_str() {
                "half_pixel" => Coord::HalfPixel,
                "half_pixel_symmetric" if node.opset >= 19 => Coord::HalfPixelSymmetric,
                "pytorch_half_pixel" => Coord::PytorchHalfPixel,
                "align_corners" => Coord::AlignCorners,
                "asymmetric" => Coord::Asymmetric,
                "tf_crop_and_resize" => Coord::TfCropAndResize,
                "tf_half_pixel_for_nn" if node.opset < 13 => Coord::TfHalfPixelForNn,
                other => bail!("coordinate_transformation_mode '{other}' is not defined at opset {}", node.opset),
            }
        };
        let policy = match node.string("keep_aspect_ratio_policy", "stretch")?.as_str() {
            "stretch" => Policy::Stretch,
            "not_larger" => Policy::NotLarger,
            "not_smaller" => Policy::NotSmaller,
            other => bail!("keep_aspect_ratio_policy '{other}' is not stretch, not_larger or not_smaller"),
        };
        let attr_scales = if upsample && node.opset < 9 {
            let Some(s) = node.floats_opt("scales")? else { bail!("required attribute 'scales' is missing") };
            Some(s.into_iter().map(f64::from).collect())
        } else {
            None
        };
        Ok(Resize {
            mode,
            coord,
            exclude_outside: node.int("exclude_outside", 0)? != 0,
            antialias: node.int("antialias", 0)? != 0,
            extrapolation: node.float("extrapolation_value", 0.0)? as f64,
            axes: node.ints_opt("axes")?,
            policy,
            attr_scales,
            roi_at: (!legacy).then_some(1),
            scales_at: if legacy { 1 } else { 2 },
            sizes_at: (!legacy).then_some(3),
            upsample,
        })
    }

    fn infer(&self, inputs: &[Option<Arg>]) -> Result<Vec<TensorType>> {
        let x = inputs.req(0)?.ty;
        self.check_dtype(x.dtype)?;
        let Some(dims) = x.shape.dims() else { return Ok(vec![TensorType::new(x.dtype, Shape::unknown())]) };
        let axes = self.axes(dims.len())?;
        let scales = match &self.attr_scales {
            Some(s) => Known::Values(s.clone()),
            None => known(inputs.opt(self.scales_at), |t| t.to_f64_vec())?,
        };
        let sizes = match self.sizes_at {
            Some(i) => known(inputs.opt(i), |t| t.to_i64_vec())?,
            None => Known::Absent,
        };
        let out = match (scales, sizes) {
            (Known::Values(s), Known::Absent) => self.sized_by_scales(dims, &axes, &s)?.0,
            (Known::Absent, Known::Values(s)) => self.sized_by_sizes(dims, &axes, &s)?.0,
            (Known::Values(_), Known::Values(_)) => bail!("only one of scales and sizes may be given"),
            (Known::Absent, Known::Absent) => bail!("one of scales and sizes must be given"),
            _ => dims.iter().enumerate().map(|(i, d)| if axes.contains(&i) { None } else { *d }).collect(),
        };
        Ok(vec![TensorType::new(x.dtype, Shape::from_dims(out))])
    }

    fn eval(&self, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
        let x = inputs.req(0)?;
        self.check_dtype(x.dtype())?;
        let plan = self.plan(x.shape(), inputs)?;
        let y = match self.mode {
            Mode::Nearest(n) => self.nearest(x, &plan, n)?,
            Mode::Filter(f) => self.filter(x, &plan, f)?,
        };
        Ok(vec![y])
    }

    /// int8: IntResize when the shape, scales and sizes are known at compile
    /// time: nearest copies codes; linear interpolates the last two axes
    /// (the others unchanged); the rest (`code_sampling`) float only. The
    /// output keeps the input's parameters.
    fn quantize(&self, rule: Rule) -> Result<Plan> {
        rule.on_codes(Needs::Inputs, |cx| {
            let ins = cx.inputs();
            let x = ins.req(0)?;
            let Some(xs) = cx.ty(x)?.shape.as_fixed() else { return Ok(Plan::float("input shape known only at run time")) };
            if ins.iter().skip(1).flatten().any(|&v| cx.constant(v).is_none()) {
                return Ok(Plan::float("scales or sizes known only at run time"));
            }
            let held: Vec<Option<std::sync::Arc<Tensor>>> = ins.iter().map(|v| v.and_then(|v| cx.constant(v))).collect();
            let args: Vec<Option<&Tensor>> = held.iter().map(|t| t.as_deref()).collect();
            let (op, tables) = match self.code_sampling(&xs, &args)? {
                Sampling::Float(reason) => return Ok(Plan::Float(reason)),
                Sampling::Nearest(picks) => (IntResize::Nearest(picks), None),
                Sampling::Linear(taps) => {
                    let rank = taps.len();
                    let unchanged = |a: usize| xs.get(a) == Some(&taps[a].len()) && taps[a].iter().enumerate().all(|(i, t)| t[0] == (i, 1.0) && t[1].1 == 0.0);
                    if rank < 2 || !(0..rank - 2).all(unchanged) {
                        return Ok(Plan::float("linear resize of axes other than the last two"));
                    }
                    (IntResize::Bilinear, Some((q11_taps(&taps[rank - 2])?, q11_taps(&taps[rank - 1])?)))
                }
            };
            let y = cx.first_output()?;
            let (xq, px) = cx.as_int(x)?;
            let mut inputs = vec![Some(xq)];
            if let Some((th, tw)) = tables {
                let name = cx.name(y);
                let (lh, lw) = (th.len(), tw.len());
                inputs.push(Some(cx.add_constant(format!("{name}_taps_h"), Tensor::from_vec(&[lh / 3, 3], th)?)));
                inputs.push(Some(cx.add_constant(format!("{name}_taps_w"), Tensor::from_vec(&[lw / 3, 3], tw)?)));
            }
            cx.emit(y, px, "IntResize", Op::IntResize(op), &inputs)
        })
    }

    fn lower(&self, cx: &mut super::LowerCx) -> Result<()> {
        super::resize_lower::lower(cx, |shape, inputs| self.tables(shape, inputs), self.extrapolation)
    }
}

impl Resize {
    /// Every axis's sampling of an input of `shape` (`inputs` as for
    /// `eval`, input 0 unread), as `eval` performs it: an axis left
    /// unchanged copies each position with weight 1.
    pub fn tables(&self, shape: &[usize], inputs: &[Option<&Tensor>]) -> Result<Tables> {
        let plan = self.plan(shape, inputs)?;
        let identity = |axis: &Axis| (0..axis.in_len).map(Some).collect::<Vec<_>>();
        match self.mode {
            Mode::Nearest(n) => Ok(Tables::Nearest(
                plan.iter().map(|a| if a.is_identity(self.coord) { Ok(identity(a)) } else { a.nearest(self.coord, n) }).collect::<Result<_>>()?,
            )),
            Mode::Filter(f) => Ok(Tables::Filter(
                plan.iter()
                    .map(|a| {
                        if a.is_identity(self.coord) {
                            Ok(identity(a).into_iter().map(|p| p.map(|p| vec![(p, 1.0)])).collect())
                        } else {
                            a.taps(self.coord, f, self.antialias, self.exclude_outside)
                        }
                    })
                    .collect::<Result<_>>()?,
            )),
        }
    }

    /// How every axis of an input of `shape` is resampled, from the scales,
    /// sizes and roi among `inputs` (input 0 is not read).
    fn plan(&self, shape: &[usize], inputs: &[Option<&Tensor>]) -> Result<Vec<Axis>> {
        let dims: Vec<Dim> = shape.iter().map(|&d| Some(d)).collect();
        let axes = self.axes(shape.len())?;
        let present = |i: usize| inputs.opt(i).filter(|t| !t.is_empty());
        let scales = match &self.attr_scales {
            Some(s) => Some(s.clone()),
            None => present(self.scales_at).map(Tensor::to_f64_vec).transpose()?,
        };
        let sizes = self.sizes_at.and_then(present).map(Tensor::to_i64_vec).transpose()?;
        let (out, scale) = match (scales, sizes) {
            (Some(s), None) => self.sized_by_scales(&dims, &axes, &s)?,
            (None, Some(s)) => self.sized_by_sizes(&dims, &axes, &s)?,
            (Some(_), Some(_)) => bail!("only one of scales and sizes may be given"),
            (None, None) => bail!("one of scales and sizes must be given"),
        };
        let out_dims: Option<Vec<usize>> = out.iter().copied().collect();
        checked_numel(&out_dims.unwrap_or_default())?;
        let roi = self.roi(self.roi_at.and_then(present), shape.len(), &axes)?;
        let mut plan = Vec::with_capacity(shape.len());
        for (a, &in_len) in shape.iter().enumerate() {
            let (Some(out_len), Some(scale)) = (out[a], scale[a]) else { bail!("internal: output size of axis {a} unresolved") };
            plan.push(Axis { in_len, out_len, scale, roi: roi[a] });
        }
        Ok(plan)
    }

    /// The resampling of an input of `shape` as the integer path can run it
    /// on codes (`inputs` as for `eval`, input 0 unread): nearest mode as
    /// the input position each output position copies, per axis; linear
    /// mode as two (position, weight) taps per output position, per axis.
    /// Anything else (cubic, antialias, extrapolation) is `Sampling::Float`.
    pub fn code_sampling(&self, shape: &[usize], inputs: &[Option<&Tensor>]) -> Result<Sampling> {
        let plan = self.plan(shape, inputs)?;
        let outside = || Sampling::Float("tf_crop_and_resize extrapolates outside the input".into());
        match self.mode {
            Mode::Nearest(n) => {
                let mut picks = Vec::with_capacity(plan.len());
                for axis in &plan {
                    let p = if axis.is_identity(self.coord) { (0..axis.in_len).map(Some).collect() } else { axis.nearest(self.coord, n)? };
                    let Some(p) = p.into_iter().collect::<Option<Vec<usize>>>() else { return Ok(outside()) };
                    picks.push(p);
                }
                Ok(Sampling::Nearest(picks))
            }
            Mode::Filter(Filter::Cubic { .. }) => Ok(Sampling::Float("cubic interpolation".into())),
            Mode::Filter(Filter::Linear) if self.antialias => Ok(Sampling::Float("antialiased interpolation".into())),
            Mode::Filter(Filter::Linear) => {
                let mut taps = Vec::with_capacity(plan.len());
                for axis in &plan {
                    if axis.is_identity(self.coord) {
                        taps.push((0..axis.in_len).map(|i| [(i, 1.0), (i, 0.0)]).collect());
                        continue;
                    }
                    let mut t = Vec::with_capacity(axis.out_len);
                    for pair in axis.taps(self.coord, Filter::Linear, false, self.exclude_outside)? {
                        match pair.as_deref() {
                            Some(&[a, b]) => t.push([a, b]),
                            Some(_) => return Ok(Sampling::Float("a linear filter of more than two taps".into())),
                            None => return Ok(outside()),
                        }
                    }
                    taps.push(t);
                }
                Ok(Sampling::Linear(taps))
            }
        }
    }
}

/// A shape-deciding input: absent (or empty), constant, or unknown.
fn known<T>(arg: Option<Arg>, read: impl Fn(&Tensor) -> Result<T>) -> Result<Known<T>> {
    let Some(arg) = arg else { return Ok(Known::Absent) };
    match arg.value {
        Some(t) if t.is_empty() => Ok(Known::Absent),
        Some(t) => Ok(Known::Values(read(t)?)),
        None if arg.ty.shape.numel() == Some(0) => Ok(Known::Absent),
        None => Ok(Known::Unknown),
    }
}

impl Resize {
    fn check_dtype(&self, d: DType) -> Result<()> {
        if matches!(self.mode, Mode::Filter(_)) && !(d.is_float() || d.is_int()) {
            unsupported!("{:?} interpolation of {d} tensors (only nearest mode copies non-numeric elements)", self.mode);
        }
        Ok(())
    }

    /// The resized axes, in increasing order.
    fn axes(&self, rank: usize) -> Result<Vec<usize>> {
        match &self.axes {
            Some(a) => util::axes(a, rank),
            None => Ok((0..rank).collect()),
        }
    }

    /// Per-axis values given for the resized axes, spread over all axes.
    fn spread<T: Copy>(&self, rank: usize, axes: &[usize], given: &[T], what: &str, rest: impl Fn(usize) -> T) -> Result<Vec<T>> {
        if given.len() != axes.len() {
            bail!("{what} has {} values for {} axes", given.len(), axes.len());
        }
        let mut all: Vec<T> = (0..rank).map(rest).collect();
        for (&a, &v) in axes.iter().zip(given) {
            all[a] = v;
        }
        Ok(all)
    }

    /// Output dims and per-axis scales from `scales`: floor(in * scale).
    fn sized_by_scales(&self, dims: &[Dim], axes: &[usize], scales: &[f64]) -> Result<(Vec<Dim>, Vec<Option<f64>>)> {
        if self.axes.is_none() && scales.len() != dims.len() {
            bail!("scales has {} values for an input of rank {}", scales.len(), dims.len());
        }
        let scales = self.spread(dims.len(), axes, scales, "scales", |_| 1.0)?;
        let mut out = Vec::with_capacity(dims.len());
        for (&d, &s) in dims.iter().zip(&scales) {
            if !(s > 0.0 && s.is_finite()) {
                bail!("scale {s} must be a positive number");
            }
            if self.upsample && s < 1.0 {
                bail!("Upsample scale {s} is below 1");
            }
            out.push(d.map(|d| out_len(d as f64 * s)).transpose()?);
        }
        Ok((out, scales.into_iter().map(Some).collect()))
    }

    /// Output dims and per-axis scales from `sizes` and the aspect policy.
    fn sized_by_sizes(&self, dims: &[Dim], axes: &[usize], sizes: &[i64]) -> Result<(Vec<Dim>, Vec<Option<f64>>)> {
        let sizes = crate::tensor::shape_from_i64(sizes).or_else(|e| bail!("invalid sizes: {e}"))?;
        if self.axes.is_none() && sizes.len() != dims.len() {
            bail!("sizes has {} values for an input of rank {}", sizes.len(), dims.len());
        }
        let sizes: Vec<Dim> = self.spread(dims.len(), axes, &sizes.into_iter().map(Some).collect::<Vec<_>>(), "sizes", |a| dims[a])?;
        let ratio = |a: usize| -> Result<Option<f64>> {
            Ok(match (dims[a], sizes[a]) {
                (Some(0), Some(0)) => Some(1.0),
                (Some(0), Some(s)) => bail!("cannot resize an empty axis {a} to {s} elements"),
                (Some(d), Some(s)) => Some(s as f64 / d as f64),
                _ => None,
            })
        };
        if self.policy == Policy::Stretch {
            let scales = (0..dims.len()).map(|a| if axes.contains(&a) { ratio(a) } else { Ok(Some(1.0)) }).collect::<Result<_>>()?;
            return Ok((sizes, scales));
        }
        let ratios: Option<Vec<f64>> = axes.iter().map(|&a| ratio(a)).collect::<Result<_>>()?;
        let Some(ratios) = ratios else {
            let out = dims.iter().enumerate().map(|(a, d)| if axes.contains(&a) { None } else { *d }).collect();
            return Ok((out, vec![None; dims.len()]));
        };
        let pick = if self.policy == Policy::NotLarger { f64::min } else { f64::max };
        let scale = ratios.into_iter().reduce(pick).unwrap_or(1.0);
        let mut out = dims.to_vec();
        let mut scales = vec![Some(1.0); dims.len()];
        for &a in axes {
            // Round half up.
            out[a] = dims[a].map(|d| out_len(scale * d as f64 + 0.5)).transpose()?;
            scales[a] = Some(scale);
        }
        Ok((out, scales))
    }

    /// The (start, end) region of every axis: `roi` for
    /// `tf_crop_and_resize`, the whole axis otherwise.
    fn roi(&self, roi: Option<&Tensor>, rank: usize, axes: &[usize]) -> Result<Vec<(f64, f64)>> {
        let whole = vec![(0.0, 1.0); rank];
        if self.coord != Coord::TfCropAndResize {
            return Ok(whole);
        }
        let Some(roi) = roi else { bail!("tf_crop_and_resize needs the roi input") };
        let v = roi.to_f64_vec()?;
        if v.len() != 2 * axes.len() {
            bail!("roi has {} values; {} axes need {}", v.len(), axes.len(), 2 * axes.len());
        }
        let mut out = whole;
        for (i, &a) in axes.iter().enumerate() {
            out[a] = (v[i], v[axes.len() + i]);
        }
        Ok(out)
    }

    fn nearest(&self, x: &Tensor, plan: &[Axis], mode: Nearest) -> Result<Tensor> {
        let strides = take::strides(x.shape());
        let mut offsets = Vec::with_capacity(plan.len());
        for (a, axis) in plan.iter().enumerate() {
            let picks =
                if axis.is_identity(self.coord) { (0..axis.in_len).map(Some).collect() } else { axis.nearest(self.coord, mode)? };
            offsets.push(picks.into_iter().map(|p| p.map(|p| p * strides[a])).collect());
        }
        let out_shape: Vec<usize> = plan.iter().map(|a| a.out_len).collect();
        let src = take::separable(&out_shape, &offsets)?;
        if src.contains(&FILL) {
            // Integers round half to even, as interpolated values do.
            let value = if x.dtype().is_int() { self.extrapolation.round_ties_even() } else { self.extrapolation };
            let fill = Tensor::scalar(value).cast(x.dtype())?;
            take::take_or_fill(x, &out_shape, &src, &fill)
        } else {
            take::take(x, &out_shape, &src)
        }
    }

    fn filter(&self, x: &Tensor, plan: &[Axis], filter: Filter) -> Result<Tensor> {
        let mut shape = x.shape().to_vec();
        let mut data: Vec<f64> = x.to_f64_vec()?;
        for (a, axis) in plan.iter().enumerate() {
            if axis.is_identity(self.coord) {
                continue;
            }
            let taps = axis.taps(self.coord, filter, self.antialias, self.exclude_outside)?;
            let outer = checked_numel(&shape[..a])?;
            let inner = checked_numel(&shape[a + 1..])?;
            shape[a] = axis.out_len;
            let mut next = Vec::with_capacity(checked_numel(&shape)?);
            for o in 0..outer {
                let base = o * axis.in_len * inner;
                for t in &taps {
                    for i in 0..inner {
                        next.push(match t {
                            None => self.extrapolation,
                            Some(t) => t.iter().map(|&(p, w)| w * data.get(base + p * inner + i).copied().unwrap_or(0.0)).sum(),
                        });
                    }
                }
            }
            data = next;
        }
        if x.dtype().is_int() {
            // Round half to even; the cast then saturates.
            data.iter_mut().for_each(|v| *v = v.round_ties_even());
        }
        let y = ArrayD::from_shape_vec(IxDyn(&shape), data).or_else(|e| bail!("internal: {e}"))?;
        Tensor::F64(y).cast(x.dtype())
    }
}

/// floor(v) as an output length, checked.
fn out_len(v: f64) -> Result<usize> {
    let f = v.floor();
    if !(0.0..=crate::tensor::MAX_ELEMENTS as f64).contains(&f) {
        bail!("output length {v} is out of range");
    }
    Ok(f as usize)
}

#[cfg(test)]
mod tests {
    use crate::front::onnx::Attr;
    use crate::ir::Shape;
    use crate::ops::take::infer_with_constants;
    use crate::ops::testing::{f32s, i64s, run};
    use crate::tensor::Tensor;

    fn s(v: &str) -> Attr {
        Attr::String(v.into())
    }

    fn close(a: &Tensor, shape: &[usize], want: &[f64]) {
        assert_eq!(a.shape(), shape);
        let got = a.to_f64_vec().unwrap();
        assert!(got.iter().zip(want).all(|(g, w)| (g - w).abs() < 1e-5), "{got:?} vs {want:?}");
    }

    #[test]
    fn linear_two_axes_by_sizes() {
        let x = f32s(&[2, 4], &[0., 1., 2., 3., 4., 5., 6., 7.]);
        let none = f32s(&[0], &[]);
        let y = run("Resize", 19, vec![("mode", s("linear"))], &[x, none.clone(), none, i64s(&[2], &[3, 5])]).unwrap();
        let want = [0., 0.7, 1.5, 2.3, 3., 2., 2.7, 3.5, 4.3, 5., 4., 4.7, 5.5, 6.3, 7.];
        close(&y[0], &[3, 5], &want);
    }

    #[test]
    fn linear_three_axes_align_corners() {
        let x = f32s(&[1, 2, 2], &[0., 1., 2., 3.]);
        let attrs = vec![("mode", s("linear")), ("coordinate_transformation_mode", s("align_corners"))];
        let y = run("Resize", 13, attrs, &[x, f32s(&[0], &[]), f32s(&[3], &[1., 2., 2.])]).unwrap();
        let third = 1. / 3.;
        let want: Vec<f64> = (0..16).map(|i| (i / 4) as f64 * 2. * third + (i % 4) as f64 * third).collect();
        close(&y[0], &[1, 4, 4], &want);
    }

    #[test]
    fn integers_round_half_to_even() {
        let x = Tensor::from_vec(&[3], vec![0i8, 1, 3]).unwrap();
        let y = run("Resize", 19, vec![("mode", s("linear"))], &[x, f32s(&[0], &[]), f32s(&[1], &[2.])]).unwrap();
        assert_eq!(y[0], Tensor::from_vec(&[6], vec![0i8, 0, 1, 2, 2, 3]).unwrap());
    }

    #[test]
    fn integer_extrapolation_rounds_half_to_even() {
        let x = Tensor::from_vec(&[2], vec![1i8, 2]).unwrap();
        let attrs = vec![("coordinate_transformation_mode", s("tf_crop_and_resize")), ("extrapolation_value", Attr::Float(-7.5))];
        let y = run("Resize", 19, attrs, &[x, f32s(&[2], &[0.5, 1.5]), f32s(&[1], &[1.5])]).unwrap();
        assert_eq!(y[0], Tensor::from_vec(&[3], vec![1i8, 2, -8]).unwrap());
    }

    #[test]
    fn nearest_copies_any_element_type() {
        let x = Tensor::from_vec(&[2], vec![String::from("a"), String::from("b")]).unwrap();
        let y = run("Resize", 19, vec![], &[x, f32s(&[0], &[]), f32s(&[1], &[2.])]).unwrap();
        let want: Vec<String> = ["a", "a", "b", "b"].iter().map(|v| v.to_string()).collect();
        assert_eq!(y[0], Tensor::from_vec(&[4], want).unwrap());
        let b = Tensor::from_vec(&[1], vec![true]).unwrap();
        assert!(run("Resize", 19, vec![("mode", s("linear"))], &[b, f32s(&[0], &[]), f32s(&[1], &[2.])]).is_err());
    }

    #[test]
    fn legacy_opsets_use_asymmetric_coordinates() {
        // Resize-10 downsampling rounds up: x = 0, 1/0.6 -> 0, 2.
        let x = f32s(&[4], &[1., 2., 3., 4.]);
        let y = run("Resize", 10, vec![], &[x.clone(), f32s(&[1], &[0.6])]).unwrap();
        close(&y[0], &[2], &[1., 3.]);
        let y = run("Upsample", 7, vec![("scales", Attr::Floats(vec![2.0])), ("mode", s("linear"))], std::slice::from_ref(&x)).unwrap();
        close(&y[0], &[8], &[1., 1.5, 2., 2.5, 3., 3.5, 4., 4.]);
        assert!(run("Upsample", 9, vec![], &[x.clone(), f32s(&[1], &[0.5])]).is_err());
        assert!(run("Resize", 10, vec![("mode", s("cubic"))], &[x, f32s(&[1], &[2.])]).is_err());
    }

    #[test]
    fn bad_scales_sizes_and_roi_are_errors() {
        let x = f32s(&[2, 2], &[0.; 4]);
        let none = f32s(&[0], &[]);
        let run_with = |attrs, roi: Tensor, scales: Tensor, sizes: Option<Tensor>| {
            let mut inputs = vec![x.clone(), roi, scales];
            inputs.extend(sizes);
            run("Resize", 19, attrs, &inputs)
        };
        assert!(run_with(vec![], none.clone(), f32s(&[2], &[1., 0.]), None).is_err());
        assert!(run_with(vec![], none.clone(), f32s(&[1], &[2.]), None).is_err());
        assert!(run_with(vec![], none.clone(), f32s(&[2], &[1., 2.]), Some(i64s(&[2], &[2, 2]))).is_err());
        assert!(run_with(vec![], none.clone(), none.clone(), Some(i64s(&[2], &[2, -1]))).is_err());
        assert!(run_with(vec![], none.clone(), none.clone(), None).is_err());
        let tf = vec![("coordinate_transformation_mode", s("tf_crop_and_resize"))];
        assert!(run_with(tf, f32s(&[2], &[0., 1.]), f32s(&[2], &[1., 2.]), None).is_err());
        let empty = f32s(&[0, 2], &[]);
        assert!(run("Resize", 19, vec![], &[empty, none.clone(), none, i64s(&[2], &[1, 2])]).is_err());
    }

    #[test]
    fn infer_is_exact_for_constant_scales_and_sizes() {
        let x = f32s(&[1, 3, 10, 10], &[0.; 300]);
        let none = f32s(&[0], &[]);
        let scales = f32s(&[4], &[1., 1., 0.7, 2.]);
        let t = infer_with_constants("Resize", 19, vec![], &[x.clone(), none.clone(), scales.clone()], &[false, false, true]).unwrap();
        // float32 0.7 is just below 0.7: floor(10 * 0.7f32) = 6, as ONNX's
        // shape inference and reference implementation compute it.
        assert_eq!(t[0].shape, Shape::fixed(&[1, 3, 6, 20]));
        let t = infer_with_constants("Resize", 19, vec![], &[x.clone(), none.clone(), scales], &[false, false, false]).unwrap();
        assert_eq!(t[0].shape, Shape::of_rank(4));
        let attrs = vec![("axes", Attr::Ints(vec![2, 3])), ("keep_aspect_ratio_policy", s("not_larger"))];
        let sizes = i64s(&[2], &[5, 8]);
        let inputs = [x.clone(), none.clone(), none.clone(), sizes];
        let t = infer_with_constants("Resize", 19, attrs.clone(), &inputs, &[false, false, false, true]).unwrap();
        assert_eq!(t[0].shape, Shape::fixed(&[1, 3, 5, 5]));
        let t = infer_with_constants("Resize", 19, attrs, &inputs, &[false, false, false, false]).unwrap();
        assert_eq!(t[0].shape, Shape::from_dims(vec![Some(1), Some(3), None, None]));
    }
}
