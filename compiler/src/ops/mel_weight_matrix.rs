//! MelWeightMatrix (opset 17): triangular filters that map the
//! `dft_length / 2 + 1` bins of a one-sided spectrum to `num_mel_bins` mel
//! bands. <https://onnx.ai/onnx/operators/onnx__MelWeightMatrix.html>
//!
//! Follows the ONNX reference: band edges are equally spaced on the mel
//! scale (2595 log10(1 + f / 700)) between the two edge frequencies and
//! floored to spectrum bins. Every edge bin must fall inside the spectrum.
//! `output_datatype` may be any numeric type (default float32).

use super::{util, Arg, OpDef, Slots};
use crate::front::onnx::OnnxNode;
use crate::ir::{Shape, TensorType};
use crate::tensor::{checked_numel, DType, Tensor};
use crate::{bail, Result};
use std::f64::consts::LN_10;

#[derive(Debug, Clone)]
pub struct MelWeightMatrix {
    dtype: DType,
}

impl OpDef for MelWeightMatrix {
    fn from_onnx(node: &OnnxNode) -> Result<Self> {
        let dtype = node.dtype_opt("output_datatype")?.unwrap_or(DType::F32);
        if !(dtype.is_int() || dtype.is_float()) || dtype.is_small() {
            bail!("output_datatype {dtype} is not a numeric type");
        }
        Ok(MelWeightMatrix { dtype })
    }

    fn infer(&self, inputs: &[Option<Arg>]) -> Result<Vec<TensorType>> {
        for i in 0..3 {
            let d = inputs.req(i)?.ty.dtype;
            if d != DType::I32 && d != DType::I64 {
                bail!("num_mel_bins, dft_length and sample_rate must be int32 or int64, got {d}");
            }
        }
        for i in 3..5 {
            let d = inputs.req(i)?.ty.dtype;
            if !d.is_float() || d.is_small_float() {
                bail!("the edge frequencies must be floats, got {d}");
            }
        }
        let scalar = |i: usize| -> Result<Option<i64>> { Ok(util::const_ints(inputs, i)?.and_then(|v| v.first().copied())) };
        let (bands, length) = (scalar(0)?, scalar(1)?);
        let bins = length.map(spectrum_bins).transpose()?;
        let bands = bands.map(|b| util::positive(b, "num_mel_bins")).transpose()?;
        Ok(vec![TensorType::new(self.dtype, Shape::from_dims(vec![bins, bands]))])
    }

    fn eval(&self, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
        let int = |i: usize| -> Result<i64> { inputs.req(i)?.scalar_i64() };
        let bands = util::positive(int(0)?, "num_mel_bins")?;
        let dft_length = int(1)?;
        let bins = spectrum_bins(dft_length)?;
        let sample_rate = int(2)?;
        if sample_rate <= 0 {
            bail!("sample_rate must be positive, got {sample_rate}");
        }
        let lower = inputs.req(3)?;
        let upper = inputs.req(4)?;
        let precision = super::precision::Prec::of(lower.dtype())?;
        let edges = band_edges(bands, dft_length, sample_rate, lower.scalar_f64()?, upper.scalar_f64()?, precision)?;
        checked_numel(&[bins, bands])?;
        let mut out = vec![0.0; bins * bands];
        let edge = |k: usize| -> Result<usize> {
            match usize::try_from(edges[k]) {
                Ok(e) if e < bins => Ok(e),
                _ => bail!("mel band edge {} falls outside the {bins} spectrum bins", edges[k]),
            }
        };
        for band in 0..bands {
            let (low, center, high) = (edge(band)?, edge(band + 1)?, edge(band + 2)?);
            if center == low {
                out[center * bands + band] = 1.0;
            } else {
                for j in low..=center {
                    out[j * bands + band] = (j - low) as f64 / (center - low) as f64;
                }
            }
            for j in center..high {
                out[j * bands + band] = (high - j) as f64 / (high - center) as f64;
            }
        }
        Ok(vec![Tensor::from_vec(&[bins, bands], out)?.cast(self.dtype)?])
    }

    /// int8: float only.
    fn quantize(&self, rule: super::Rule) -> Result<super::Plan> {
        Ok(rule.float_only(super::NO_INTEGER_KERNEL))
    }
}

/// Number of bins of a one-sided spectrum of a length-`n` transform.
fn spectrum_bins(n: i64) -> Result<usize> {
    Ok(util::positive(n, "dft_length")? / 2 + 1)
}

/// The `bands + 2` band edges as spectrum bins. The mel values of the edge
/// frequencies are computed in the frequencies' type, as the reference does.
fn band_edges(bands: usize, dft_length: i64, sample_rate: i64, lower: f64, upper: f64, p: super::precision::Prec) -> Result<Vec<i64>> {
    let r = |x: f64| p.round(x);
    let mel = |hz: f64| r(2595.0 * r(r(hz / 700.0).ln_1p())) / LN_10;
    let (low, high) = (mel(lower), mel(upper));
    let points = bands + 2;
    let step = (high - low) / points as f64;
    let scale = (dft_length as f64) + 1.0;
    (0..points)
        .map(|i| {
            let m = i as f64 * step + low;
            let hz = 700.0 * (m / 2595.0 * LN_10).exp_m1();
            let bin = floor_div(scale * hz, sample_rate as f64);
            if !bin.is_finite() || bin.abs() > 1e15 {
                bail!("mel band edge {bin} is out of range");
            }
            Ok(bin as i64)
        })
        .collect()
}

/// Python's float floor division.
fn floor_div(a: f64, b: f64) -> f64 {
    let m = a % b;
    let mut div = (a - m) / b;
    if m != 0.0 && ((b < 0.0) != (m < 0.0)) {
        div -= 1.0;
    }
    let floor = div.floor();
    if div - floor > 0.5 {
        floor + 1.0
    } else {
        floor
    }
}

#[cfg(test)]
mod tests {
    use crate::ops::testing::{f32s, run};
    use crate::tensor::Tensor;

    fn ints(v: i32) -> Tensor {
        Tensor::from_vec(&[], vec![v]).unwrap()
    }

    #[test]
    fn bands_are_triangles_that_fit_the_spectrum() {
        let y = run("MelWeightMatrix", 17, vec![], &[ints(4), ints(16), ints(8000), f32s(&[], &[0.0]), f32s(&[], &[4000.0])]).unwrap();
        assert_eq!(y[0].shape(), &[9, 4]);
        for col in y[0].array::<f32>().unwrap().columns() {
            assert!(col.iter().all(|&v| (0.0..=1.0).contains(&v)));
            assert!(col.iter().any(|&v| v == 1.0));
        }
    }

    #[test]
    fn edges_outside_the_spectrum_are_errors() {
        // An upper edge above the Nyquist frequency maps past the last bin.
        let args = [ints(4), ints(16), ints(8000), f32s(&[], &[0.0]), f32s(&[], &[12000.0])];
        assert!(run("MelWeightMatrix", 17, vec![], &args).is_err());
        let args = [ints(0), ints(16), ints(8000), f32s(&[], &[0.0]), f32s(&[], &[4000.0])];
        assert!(run("MelWeightMatrix", 17, vec![], &args).is_err());
        let args = [ints(4), ints(16), ints(8000), f32s(&[], &[-600.0]), f32s(&[], &[4000.0])];
        assert!(run("MelWeightMatrix", 17, vec![], &args).is_err());
    }
}
