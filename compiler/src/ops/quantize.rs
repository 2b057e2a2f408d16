//! QuantizeLinear, DequantizeLinear and DynamicQuantizeLinear.
//! <https://onnx.ai/onnx/operators/onnx__QuantizeLinear.html>,
//! <https://onnx.ai/onnx/operators/onnx__DequantizeLinear.html>,
//! <https://onnx.ai/onnx/operators/onnx__DynamicQuantizeLinear.html>
//!
//! Opsets 10 to 28. The scale and zero point are per tensor (a scalar or a
//! one-element vector), per axis (a vector along `axis`) or blocked (the
//! input's rank, `ceil(d / block_size)` along `axis`). Quantized types:
//! uint8, int8, uint16, int16, uint4, int4, uint2, int2, the float8 types
//! and float4e2m1 (float6 types cannot be held by qcc); int32 is also
//! accepted by DequantizeLinear. The quantized type is the zero point's, else
//! `output_dtype`, else uint8.
//!
//! Quantization divides in the `precision` type (default: the scale's float
//! type; float32 for int32 and float8e8m0 scales), rounds half to even, adds
//! the zero point and saturates. The float conversion saturates to the
//! integer range: a zero scale sends positive values to the maximum and
//! negative ones to the minimum, and NaN quotients become the zero point.
//! Float8 outputs honour `saturate`. Dequantization computes
//! `(x - zero_point) * scale` in f64 and rounds once to the output type
//! (`output_dtype`, else the scale's type). DynamicQuantizeLinear follows
//! the ONNX float32 formula step by step.

use super::{util, Arg, LowerCx, OpDef, Slots};
use crate::back::program::Lit;
use crate::front::onnx::OnnxNode;
use crate::ir::{Shape, TensorType};
use crate::tensor::{small, DType, Tensor};
use crate::{bail, Result};
use half::{bf16, f16};
use ndarray::{ArrayD, IxDyn};

/// How the scale and zero point spread over the input.
#[derive(Debug, Clone, Copy)]
struct Granularity {
    axis: i64,
    block_size: usize,
}

#[derive(Debug, Clone)]
pub struct QuantizeLinear {
    layout: Granularity,
    saturate: bool,
    output_dtype: Option<DType>,
    precision: Option<DType>,
}

#[derive(Debug, Clone)]
pub struct DequantizeLinear {
    layout: Granularity,
    output_dtype: Option<DType>,
}

#[derive(Debug, Clone)]
pub struct DynamicQuantizeLinear;

fn granularity(node: &OnnxNode) -> Result<Granularity> {
    let block = node.int("block_size", 0)?;
    let Ok(block_size) = usize::try_from(block) else { bail!("block_size {block} must not be negative") };
    Ok(Granularity { axis: node.int("axis", 1)?, block_size })
}

/// A non-zero optional dtype attribute (0 means "not given").
fn dtype_attr(node: &OnnxNode, name: &str) -> Result<Option<DType>> {
    match node.int_opt(name)? {
        None | Some(0) => Ok(None),
        Some(_) => node.dtype_opt(name),
    }
}

fn is_quantized(d: DType) -> bool {
    matches!(d, DType::U8 | DType::I8 | DType::U16 | DType::I16) || d.is_small()
}

/// Integer range of an integer quantized type.
fn int_range(d: DType) -> Option<(f64, f64)> {
    let (lo, hi) = match d {
        DType::U8 => (0, 255),
        DType::I8 => (-128, 127),
        DType::U16 => (0, 65535),
        DType::I16 => (-32768, 32767),
        d => small::int_range(d)?,
    };
    Some((lo as f64, hi as f64))
}

/// `v.round_ties_even()` without the libm call: below 2^52 in magnitude,
/// adding and removing 2^52 rounds to an integer half to even (the FPU's
/// default mode); from 2^52 on every f64 is an integer.
#[inline]
pub(crate) fn round_half_even(v: f64) -> f64 {
    const TWO_52: f64 = 4_503_599_627_370_496.0;
    if v.abs() < TWO_52 {
        ((v.abs() + TWO_52) - TWO_52).copysign(v)
    } else {
        v
    }
}

/// Rounds an f64 to the nearest value of the float type `d`.
fn round_to(d: DType, v: f64) -> f64 {
    match d {
        DType::F32 => v as f32 as f64,
        DType::F16 => f16::from_f64(v).to_f64(),
        DType::BF16 => bf16::from_f64(v).to_f64(),
        _ => v,
    }
}

impl OpDef for QuantizeLinear {
    fn from_onnx(node: &OnnxNode) -> Result<Self> {
        let output_dtype = dtype_attr(node, "output_dtype")?;
        if let Some(d) = output_dtype {
            if !is_quantized(d) {
                bail!("output_dtype {d} is not a quantized type");
            }
        }
        let precision = dtype_attr(node, "precision")?;
        if let Some(p) = precision {
            if !p.is_float() {
                bail!("precision {p} is not a float type");
            }
        }
        Ok(QuantizeLinear { layout: granularity(node)?, saturate: node.int("saturate", 1)? != 0, output_dtype, precision })
    }

    fn infer(&self, inputs: &[Option<Arg>]) -> Result<Vec<TensorType>> {
        let (x, scale) = (inputs.req(0)?.ty, inputs.req(1)?.ty);
        let zp = inputs.opt(2).map(|a| a.ty);
        if !(x.dtype.is_float() || x.dtype == DType::I32) {
            bail!("QuantizeLinear does not accept {} inputs", x.dtype);
        }
        check_scale_dtype(scale.dtype)?;
        let out = self.out_dtype(zp.map(|z| z.dtype))?;
        check_layout(&x.shape, &scale.shape, zp.map(|z| &z.shape), self.layout)?;
        Ok(vec![TensorType::new(out, x.shape.clone())])
    }

    fn eval(&self, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
        let (x, scale) = (inputs.req(0)?, inputs.req(1)?);
        let zp = inputs.opt(2);
        let out = self.out_dtype(zp.map(|z| z.dtype()))?;
        check_scale_dtype(scale.dtype())?;
        check_layout(&Shape::fixed(x.shape()), &Shape::fixed(scale.shape()), zp.map(|z| Shape::fixed(z.shape())).as_ref(), self.layout)?;
        let precision = self.precision.unwrap_or(if scale.dtype().is_float() { scale.dtype() } else { DType::F32 });
        let range = int_range(out);
        if let (Some(sz), Some((lo, hi)), Tensor::F32(xa)) = (per_tensor(scale, zp)?, range, x) {
            // The quantizer's boundaries: one pass over the float32 input.
            if matches!(out, DType::I8 | DType::U8 | DType::I16) {
                let (s, z) = (round_to(precision, sz.0), sz.1);
                let q = |v: f32| {
                    let q = round_to(precision, round_to(precision, v as f64) / s);
                    let r = if q.is_nan() { 0.0 } else { round_half_even(q) };
                    (r + z).clamp(lo, hi) as i32
                };
                return Ok(vec![super::qint::codes(out, x.shape(), super::dense::row_major(xa).iter().map(|&v| q(v)).collect())?]);
            }
        }
        let xs = x.cast(DType::F64)?.into_array::<f64>()?;
        let (scales, zps) = (spread(Some(scale), x.shape(), self.layout)?, spread(zp, x.shape(), self.layout)?);
        let mut values = xs;
        ndarray::Zip::from(&mut values).and(&view(&scales, x.shape())?).and(&view(&zps, x.shape())?).for_each(|v, &s, &z| {
            let q = round_to(precision, round_to(precision, *v) / round_to(precision, s));
            *v = match range {
                Some((lo, hi)) => {
                    // Saturating conversion: NaN -> 0, infinities -> the bounds.
                    let r = if q.is_nan() { 0.0 } else { round_half_even(q) };
                    (r + z).clamp(lo, hi)
                }
                None => q + z,
            };
        });
        Ok(vec![Tensor::F64(values).cast_with(out, self.saturate)?])
    }

    /// Generated code covers the boundary the quantizer inserts: float32 to
    /// int8, uint8 or int16 with a constant per-tensor scale and zero point.
    fn lower(&self, cx: &mut LowerCx) -> Result<()> {
        let (scale, zero) = boundary_params(cx)?;
        let (x, out) = (cx.input(0)?.clone(), cx.output_type(0)?.0);
        if x.dtype != DType::F32 || !matches!(out, DType::I8 | DType::U8 | DType::I16) {
            crate::unsupported!("code generation of QuantizeLinear from {} to {out}", x.dtype);
        }
        let y = cx.output(0)?;
        let mut f = crate::back::program::ScalarFn::new("quantize_linear", vec![DType::F32], out);
        f.suffix = vec![out];
        cx.map(f.with_params(vec![Lit::Float(scale, DType::F32), Lit::Int(zero)]), &[&x], &y)
    }

    /// int8: float only.
    fn quantize(&self, rule: super::Rule) -> Result<super::Plan> {
        Ok(rule.float_only(super::NO_INTEGER_KERNEL))
    }
}

/// The constant per-tensor scale and zero point (inputs 1 and 2) of a
/// QuantizeLinear or DequantizeLinear that generated code supports.
fn boundary_params(cx: &LowerCx) -> Result<(f64, i64)> {
    let scale = cx.input(1)?.constant.as_ref().filter(|s| s.len() == 1 && s.dtype() == DType::F32);
    let zero = cx.opt_input(2).and_then(|z| z.constant.as_ref()).filter(|z| z.len() == 1);
    match (scale, zero) {
        (Some(s), Some(z)) => Ok((s.scalar_f64()?, z.scalar_i64()?)),
        _ => crate::unsupported!("code generation of (De)QuantizeLinear needs a constant float32 scale and zero point per tensor"),
    }
}

impl QuantizeLinear {
    /// Per-tensor quantization with saturation (the zero point's type is
    /// the output type), as the quantizer inserts at float boundaries.
    pub fn per_tensor() -> QuantizeLinear {
        QuantizeLinear { layout: Granularity { axis: 1, block_size: 0 }, saturate: true, output_dtype: None, precision: None }
    }

    fn out_dtype(&self, zp: Option<DType>) -> Result<DType> {
        let out = match (zp, self.output_dtype) {
            (Some(z), Some(o)) if z != o => bail!("output_dtype {o} differs from the zero point's type {z}"),
            (Some(z), _) => z,
            (None, Some(o)) => o,
            (None, None) => DType::U8,
        };
        if !is_quantized(out) {
            bail!("{out} is not a quantized type");
        }
        Ok(out)
    }
}

fn check_scale_dtype(d: DType) -> Result<()> {
    if !(d.is_float() || d == DType::I32 || d == DType::F8E8M0) {
        bail!("the scale must be a float, int32 or float8e8m0 tensor, got {d}");
    }
    Ok(())
}

impl OpDef for DequantizeLinear {
    fn from_onnx(node: &OnnxNode) -> Result<Self> {
        let output_dtype = dtype_attr(node, "output_dtype")?;
        if let Some(d) = output_dtype {
            if !d.is_float() {
                bail!("output_dtype {d} is not a float type");
            }
        }
        Ok(DequantizeLinear { layout: granularity(node)?, output_dtype })
    }

    fn infer(&self, inputs: &[Option<Arg>]) -> Result<Vec<TensorType>> {
        let (x, scale) = (inputs.req(0)?.ty, inputs.req(1)?.ty);
        let zp = inputs.opt(2).map(|a| a.ty);
        self.check_dtypes(x.dtype, zp.map(|z| z.dtype))?;
        let out = self.out_dtype(scale.dtype)?;
        check_layout(&x.shape, &scale.shape, zp.map(|z| &z.shape), self.layout)?;
        Ok(vec![TensorType::new(out, x.shape.clone())])
    }

    fn eval(&self, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
        let (x, scale) = (inputs.req(0)?, inputs.req(1)?);
        let zp = inputs.opt(2);
        self.check_dtypes(x.dtype(), zp.map(|z| z.dtype()))?;
        let out = self.out_dtype(scale.dtype())?;
        check_layout(&Shape::fixed(x.shape()), &Shape::fixed(scale.shape()), zp.map(|z| Shape::fixed(z.shape())).as_ref(), self.layout)?;
        if let (Some((s, z)), DType::F32) = (per_tensor(scale, zp)?, out) {
            // The quantizer's boundaries: codes to float32 in one pass.
            if matches!(x.dtype(), DType::I8 | DType::U8 | DType::I16) {
                let v = super::quant::ints(x)?.into_iter().map(|q| ((q as f64 - z) * s) as f32).collect();
                return Ok(vec![Tensor::from_vec(x.shape(), v)?]);
            }
        }
        let mut values = x.cast(DType::F64)?.into_array::<f64>()?;
        let (scales, zps) = (spread(Some(scale), x.shape(), self.layout)?, spread(zp, x.shape(), self.layout)?);
        ndarray::Zip::from(&mut values).and(&view(&scales, x.shape())?).and(&view(&zps, x.shape())?).for_each(|v, &s, &z| *v = (*v - z) * s);
        Ok(vec![Tensor::F64(values).cast(out)?])
    }

    /// Generated code covers int8, uint8 or int16 to float32 with a constant
    /// per-tensor scale and zero point.
    fn lower(&self, cx: &mut LowerCx) -> Result<()> {
        let (scale, zero) = boundary_params(cx)?;
        let (x, out) = (cx.input(0)?.clone(), cx.output_type(0)?.0);
        if !matches!(x.dtype, DType::I8 | DType::U8 | DType::I16) || out != DType::F32 {
            crate::unsupported!("code generation of DequantizeLinear from {} to {out}", x.dtype);
        }
        cx.elementwise_of("dequantize_linear", vec![Lit::Float(scale, DType::F32), Lit::Int(zero)], &[x])
    }

    /// int8: float only.
    fn quantize(&self, rule: super::Rule) -> Result<super::Plan> {
        Ok(rule.float_only(super::NO_INTEGER_KERNEL))
    }
}

impl DequantizeLinear {
    /// The axis of per-axis parameters for an input of `rank` (None when blocked).
    pub fn axis(&self, rank: usize) -> Option<usize> {
        let a = self.layout.axis;
        let a = if a < 0 { a + rank as i64 } else { a };
        (self.layout.block_size == 0 && (0..rank as i64).contains(&a)).then_some(a as usize)
    }

    /// Per-tensor dequantization to the scale's float type.
    pub fn per_tensor() -> DequantizeLinear {
        DequantizeLinear { layout: Granularity { axis: 1, block_size: 0 }, output_dtype: None }
    }

    fn check_dtypes(&self, x: DType, zp: Option<DType>) -> Result<()> {
        if !(is_quantized(x) || x == DType::I32) {
            bail!("DequantizeLinear does not accept {x} inputs");
        }
        if let Some(z) = zp {
            if z != x {
                bail!("the zero point is {z} but the input is {x}");
            }
        }
        Ok(())
    }

    fn out_dtype(&self, scale: DType) -> Result<DType> {
        check_scale_dtype(scale)?;
        let out = self.output_dtype.unwrap_or(scale);
        if !out.is_float() {
            bail!("the output type {out} is not a float type (set output_dtype)");
        }
        Ok(out)
    }
}

/// Checks the scale and zero-point shapes against the input's, as far as
/// they are known.
fn check_layout(x: &Shape, scale: &Shape, zp: Option<&Shape>, g: Granularity) -> Result<()> {
    if let Some(z) = zp {
        if let (Some(a), Some(b)) = (scale.as_fixed(), z.as_fixed()) {
            // A scalar and a one-element vector are both per-tensor.
            let per_tensor = |d: &[usize]| d.len() <= 1 && d.iter().product::<usize>() == 1;
            if a != b && !(per_tensor(&a) && per_tensor(&b)) {
                bail!("the zero point's shape {z} differs from the scale's {scale}");
            }
        }
    }
    if let (Some(x), Some(s)) = (x.as_fixed(), scale.as_fixed()) {
        layout_kind(&x, &s, g)?;
    }
    Ok(())
}

/// How a parameter of shape `p` applies to an input of shape `x`.
enum Layout {
    PerTensor,
    PerAxis(usize),
    Blocked(usize, usize),
}

fn layout_kind(x: &[usize], p: &[usize], g: Granularity) -> Result<Layout> {
    if p.len() <= 1 && p.iter().product::<usize>() == 1 {
        return Ok(Layout::PerTensor);
    }
    let axis = util::axis(g.axis, x.len())?;
    if g.block_size == 0 {
        if p.len() != 1 || p[0] != x[axis] {
            bail!("a per-axis scale must be a vector of {} (axis {axis} of {x:?}), got shape {p:?}", x[axis]);
        }
        return Ok(Layout::PerAxis(axis));
    }
    let blocks = x[axis].div_ceil(g.block_size);
    let ok = p.len() == x.len() && p.iter().zip(x).enumerate().all(|(i, (&pd, &xd))| if i == axis { pd == blocks } else { pd == xd });
    if !ok {
        bail!("a blocked scale for {x:?} with block size {} along axis {axis} must have {blocks} there and match elsewhere, got {p:?}", g.block_size);
    }
    Ok(Layout::Blocked(axis, g.block_size))
}

/// The parameter (scale or zero point; an absent zero point is 0) as f64,
/// one value per input element, or one value of shape [1, ...] for a
/// per-tensor parameter (see [`view`]).
fn spread(p: Option<&Tensor>, x: &[usize], g: Granularity) -> Result<ArrayD<f64>> {
    let Some(p) = p else { return Ok(ArrayD::zeros(IxDyn(&vec![1; x.len()]))) };
    let values = p.cast(DType::F64)?.into_array::<f64>()?;
    Ok(match layout_kind(x, p.shape(), g)? {
        Layout::PerTensor => {
            let v = values.iter().next().copied().unwrap_or(f64::NAN);
            ArrayD::from_elem(IxDyn(&vec![1; x.len()]), v)
        }
        Layout::PerAxis(axis) => ArrayD::from_shape_fn(IxDyn(x), |idx| values.get(idx[axis]).copied().unwrap_or(f64::NAN)),
        Layout::Blocked(axis, block) => ArrayD::from_shape_fn(IxDyn(x), |idx| {
            let mut at = idx.clone();
            at[axis] /= block;
            values.get(at).copied().unwrap_or(f64::NAN)
        }),
    })
}

/// The scale and zero point (0 when absent) as f64 when both have one
/// element (per-tensor parameters).
fn per_tensor(scale: &Tensor, zp: Option<&Tensor>) -> Result<Option<(f64, f64)>> {
    if scale.len() != 1 || zp.is_some_and(|z| z.len() != 1) {
        return Ok(None);
    }
    Ok(Some((scale.scalar_f64()?, zp.map(|z| z.scalar_f64()).transpose()?.unwrap_or(0.0))))
}

/// A spread parameter viewed at the input's shape (a per-tensor one
/// broadcast, with no copy).
fn view<'a>(p: &'a ArrayD<f64>, x: &[usize]) -> Result<ndarray::ArrayViewD<'a, f64>> {
    p.broadcast(IxDyn(x)).ok_or_else(|| crate::Error::Op(format!("a parameter of shape {:?} does not spread over {x:?}", p.shape())))
}

impl OpDef for DynamicQuantizeLinear {
    fn from_onnx(_node: &OnnxNode) -> Result<Self> {
        Ok(DynamicQuantizeLinear)
    }

    fn infer(&self, inputs: &[Option<Arg>]) -> Result<Vec<TensorType>> {
        let x = inputs.req(0)?.ty;
        if x.dtype != DType::F32 {
            bail!("DynamicQuantizeLinear needs a float32 input, got {}", x.dtype);
        }
        if x.shape.numel() == Some(0) {
            bail!("DynamicQuantizeLinear needs a non-empty input");
        }
        Ok(vec![
            TensorType::new(DType::U8, x.shape.clone()),
            TensorType::fixed(DType::F32, &[]),
            TensorType::fixed(DType::U8, &[]),
        ])
    }

    fn eval(&self, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
        let x = inputs.req(0)?.array::<f32>()?;
        if x.is_empty() {
            bail!("DynamicQuantizeLinear needs a non-empty input");
        }
        let (codes, scale, zero_point) = dynamic_quantize(x.iter().copied());
        let y = ndarray::ArrayD::from_shape_vec(x.raw_dim(), codes).or_else(|e| bail!("internal: {e}"))?;
        Ok(vec![Tensor::U8(y), Tensor::scalar(scale), Tensor::scalar(zero_point)])
    }

    /// The runtime's `dynamic_quantize` kernel, with [`dynamic_quantize`]'s
    /// arithmetic in float32.
    fn lower(&self, cx: &mut LowerCx) -> Result<()> {
        let x = cx.input(0)?.clone();
        let (y, scale, zero) = (cx.output(0)?, cx.output(1)?, cx.output(2)?);
        let n = x.len();
        let args = vec![x.arg_in(), y.arg_out(), scale.arg_out(), zero.arg_out(), crate::back::program::Arg::Dims(vec![n])];
        cx.call("dynamic_quant", "dynamic_quantize", vec![DType::U8], args);
        Ok(())
    }

    /// int8: float only.
    fn quantize(&self, rule: super::Rule) -> Result<super::Plan> {
        Ok(rule.float_only(super::NO_INTEGER_KERNEL))
    }
}

/// DynamicQuantizeLinear's arithmetic in float32 (also onnxruntime's
/// dynamic quantization of activations): the range `[min(0, min x),
/// max(0, max x)]` over 0..=255, `scale = (max − min) / 255` (1/255 for an
/// empty range), `zero = round(−min / scale)` and each code `round(x /
/// scale) + zero`, rounding half to even and saturating (NaN as 0).
pub fn dynamic_quantize(x: impl Iterator<Item = f32> + Clone) -> (Vec<u8>, f32, u8) {
    // The range always includes 0 so that 0 is exactly representable.
    let max = x.clone().fold(0.0f32, f32::max);
    let min = x.clone().fold(0.0f32, f32::min);
    let scale = if max == min { 1.0f32 } else { max - min } / 255.0f32;
    let zero_point = (0.0f32 - min / scale).clamp(0.0, 255.0).round_ties_even();
    let codes = x
        .map(|v| {
            let q = v / scale;
            let q = if q.is_nan() { 0.0 } else { q.round_ties_even() };
            (q + zero_point).clamp(0.0, 255.0) as u8
        })
        .collect();
    (codes, scale, zero_point as u8)
}

#[cfg(test)]
mod tests {
    use crate::front::onnx::Attr;
    use crate::ops::testing::{f32s, run, u8s};
    use crate::tensor::{DType, Tensor};

    #[test]
    fn int16_codes_quantize_and_dequantize() {
        let x = f32s(&[4], &[0.5, -1.25, 40000.0, -40000.0]);
        let zero = Tensor::from_vec(&[], vec![0i16]).unwrap();
        let q = run("QuantizeLinear", 21, vec![], &[x, f32s(&[], &[0.5]), zero.clone()]).unwrap();
        assert_eq!(q[0], Tensor::from_vec(&[4], vec![1i16, -2, 32767, -32768]).unwrap());
        let r = run("DequantizeLinear", 21, vec![], &[q[0].clone(), f32s(&[], &[0.5]), zero]).unwrap();
        assert_eq!(r[0], f32s(&[4], &[0.5, -1.0, 16383.5, -16384.0]));
    }

    #[test]
    fn rounds_half_to_even_and_saturates() {
        let x = f32s(&[6], &[0.5, 1.5, 2.5, -1.0, 300.0, -300.0]);
        let out = run("QuantizeLinear", 21, vec![], &[x.clone(), f32s(&[], &[1.0]), u8s(&[], &[10])]).unwrap();
        assert_eq!(out[0], u8s(&[6], &[10, 12, 12, 9, 255, 0]));
        let i8out = run("QuantizeLinear", 21, vec![("output_dtype", Attr::Int(3))], &[x, f32s(&[], &[1.0])]).unwrap();
        assert_eq!(i8out[0], Tensor::from_vec(&[6], vec![0i8, 2, 2, -1, 127, -128]).unwrap());
    }

    #[test]
    fn the_inline_rounding_is_round_ties_even() {
        let mut rng = crate::ops::testing::Rng(5);
        for _ in 0..100_000 {
            let v = f64::from_bits(rng.next()) / 2f64.powi((rng.next() % 900) as i32);
            assert_eq!(super::round_half_even(v).to_bits(), v.round_ties_even().to_bits(), "{v}");
        }
        for v in [0.5, 1.5, 2.5, -0.5, -2.5, -0.4, 4503599627370495.5, -4503599627370497.0, f64::INFINITY, f64::MAX, f64::MIN_POSITIVE] {
            assert_eq!(super::round_half_even(v).to_bits(), v.round_ties_even().to_bits(), "{v}");
        }
    }

    #[test]
    fn zero_and_nan_scales_saturate() {
        let x = f32s(&[3], &[2.0, -2.0, 0.0]);
        let zero = run("QuantizeLinear", 21, vec![], &[x.clone(), f32s(&[], &[0.0]), u8s(&[], &[7])]).unwrap();
        assert_eq!(zero[0], u8s(&[3], &[255, 0, 7]));
        let nan = run("QuantizeLinear", 21, vec![], &[x, f32s(&[], &[f32::NAN]), u8s(&[], &[7])]).unwrap();
        assert_eq!(nan[0], u8s(&[3], &[7, 7, 7]));
    }

    #[test]
    fn per_axis_and_blocked_layouts() {
        let x = f32s(&[2, 4], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]);
        let per_axis = run("QuantizeLinear", 21, vec![("axis", Attr::Int(0))], &[x.clone(), f32s(&[2], &[1.0, 2.0])]).unwrap();
        assert_eq!(per_axis[0], u8s(&[2, 4], &[1, 2, 3, 4, 2, 3, 4, 4]));
        let blocked = run(
            "QuantizeLinear",
            21,
            vec![("axis", Attr::Int(1)), ("block_size", Attr::Int(3))],
            &[x.clone(), f32s(&[2, 2], &[1.0, 0.5, 1.0, 0.5])],
        )
        .unwrap();
        assert_eq!(blocked[0], u8s(&[2, 4], &[1, 2, 3, 8, 5, 6, 7, 16]));
        let bad = run("QuantizeLinear", 21, vec![("axis", Attr::Int(1)), ("block_size", Attr::Int(2))], &[x, f32s(&[2, 3], &[1.0; 6])]);
        assert!(bad.is_err());
    }

    #[test]
    fn dequantize_int4_and_float8() {
        let x = Tensor::F32(ndarray::ArrayD::from_shape_vec(ndarray::IxDyn(&[3]), vec![-8.0f32, 0.0, 7.0]).unwrap())
            .cast(DType::I4)
            .unwrap();
        let zp = Tensor::F32(ndarray::ArrayD::from_elem(ndarray::IxDyn(&[]), 1.0f32)).cast(DType::I4).unwrap();
        let out = run("DequantizeLinear", 21, vec![], &[x, f32s(&[], &[0.5]), zp]).unwrap();
        assert_eq!(out[0], f32s(&[3], &[-4.5, -0.5, 3.0]));
        let f8 = f32s(&[2], &[1000.0, -0.3]);
        let q = run("QuantizeLinear", 21, vec![("output_dtype", Attr::Int(17))], &[f8.clone(), f32s(&[], &[1.0])]).unwrap();
        let back = run("DequantizeLinear", 21, vec![], &[q[0].clone(), f32s(&[], &[1.0])]).unwrap();
        assert_eq!(back[0], f32s(&[2], &[448.0, -0.3125]));
    }

    #[test]
    fn mismatched_types_are_errors() {
        let x = f32s(&[1], &[1.0]);
        let zp = Tensor::from_vec(&[], vec![0i8]).unwrap();
        assert!(run("QuantizeLinear", 21, vec![("output_dtype", Attr::Int(2))], &[x.clone(), f32s(&[], &[1.0]), zp.clone()]).is_err());
        assert!(run("DequantizeLinear", 21, vec![], &[u8s(&[1], &[1]), f32s(&[], &[1.0]), zp]).is_err());
        assert!(run("DynamicQuantizeLinear", 11, vec![], &[f32s(&[0], &[])]).is_err());
        let x = f32s(&[2], &[1.0, 2.0]);
        let per_axis_zp = Tensor::from_vec(&[2], vec![0u8, 0]).unwrap();
        assert!(run("QuantizeLinear", 21, vec![("axis", Attr::Int(0))], &[x.clone(), f32s(&[], &[1.0]), per_axis_zp]).is_err());
        let one = Tensor::from_vec(&[1], vec![3u8]).unwrap();
        assert_eq!(run("QuantizeLinear", 21, vec![], &[x, f32s(&[], &[1.0]), one]).unwrap()[0], u8s(&[2], &[4, 5]));
    }

    #[test]
    fn dynamic_quantization_matches_the_formula() {
        let out = run("DynamicQuantizeLinear", 11, vec![], &[f32s(&[4], &[0.0, 2.0, -3.0, 1000.0])]).unwrap();
        assert_eq!(out[0], u8s(&[4], &[1, 2, 0, 255]));
        assert_eq!(out[2], Tensor::scalar(1u8));
    }
}
