//! Quantization parameters (NUMERICS.md, "Quantized values" and "16x8"):
//! activation scales and zero points from calibrated ranges (asymmetric
//! int8, symmetric int16), symmetric int8 weights per output channel (or
//! per tensor), int32 biases.

use super::calibrate::Range;
use crate::ops::quantize::round_half_even;
use crate::tensor::DType;

/// `r = scale · (q − zero)` for the codes of `dtype` (int8, uint8 or int16).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QParams {
    pub scale: f32,
    pub zero: i32,
    pub dtype: DType,
}

/// The smallest scale qcc gives an activation (a constant tensor still
/// gets a usable range).
const MIN_SCALE: f32 = 1e-8;

impl QParams {
    /// Asymmetric int8 parameters covering `range` widened to include 0,
    /// with 0 exactly representable.
    pub fn for_range(range: Range) -> QParams {
        let (lo, hi) = (range.lo.min(0.0) as f64, range.hi.max(0.0) as f64);
        let scale = (((hi - lo) / 255.0) as f32).max(MIN_SCALE);
        let zero = ((-lo / scale as f64).round_ties_even() - 128.0).clamp(-128.0, 127.0) as i32;
        QParams { scale, zero, dtype: DType::I8 }
    }

    /// Symmetric int16 parameters covering `range` (16x8): zero point 0
    /// and scale `max(|lo|, |hi|) / 32767`, so the codes [−32767, 32767]
    /// are symmetric around the real 0.
    pub fn for_range_16(range: Range) -> QParams {
        let top = (range.lo.abs().max(range.hi.abs()) as f64 / 32767.0) as f32;
        QParams { scale: top.max(MIN_SCALE), zero: 0, dtype: DType::I16 }
    }

    /// The lowest and highest code an integer operator produces: int16
    /// codes stop at −32767 (NUMERICS.md, "16x8").
    pub fn code_range(&self) -> (i32, i32) {
        match self.dtype {
            DType::U8 => (0, 255),
            DType::I16 => (-32767, 32767),
            _ => (-128, 127),
        }
    }

    /// The code of real `r` (rounded half to even, saturated).
    pub fn quantize(&self, r: f64) -> i32 {
        let (lo, hi) = self.code_range();
        let q = round_half_even(r / self.scale as f64) + self.zero as f64;
        if q.is_nan() {
            self.zero
        } else {
            q.clamp(lo as f64, hi as f64) as i32
        }
    }

    /// The real value of code `q`.
    pub fn real(&self, q: i32) -> f64 {
        self.scale as f64 * (q - self.zero) as f64
    }
}

/// Symmetric int8 weights: codes in [−127, 127] and one scale per output
/// channel (`rows` of `w`), or a single scale for all when `per_tensor`.
pub fn quantize_weights(w: &[f32], rows: usize, per_tensor: bool) -> (Vec<i8>, Vec<f32>) {
    let scales = weight_scales(w, rows, per_tensor);
    (symmetric_codes(w, &scales), scales)
}

/// The scales of [`quantize_weights`]: `max |w| / 127` per row (`rows` of
/// `w`), or over all of `w` when `per_tensor`.
pub fn weight_scales(w: &[f32], rows: usize, per_tensor: bool) -> Vec<f32> {
    let per_row = w.len() / rows.max(1);
    let absmax = |s: &[f32]| s.iter().fold(0f32, |m, v| m.max(v.abs()));
    if per_tensor {
        vec![(absmax(w) / 127.0).max(MIN_SCALE); rows]
    } else {
        w.chunks(per_row.max(1)).map(|c| (absmax(c) / 127.0).max(MIN_SCALE)).collect()
    }
}

/// Codes of `w` in [−127, 127] on the row scales `scales`, rounded to
/// nearest (half to even).
pub fn symmetric_codes(w: &[f32], scales: &[f32]) -> Vec<i8> {
    weight_codes(w, scales, -127.0)
}

/// int8 weight codes for given scales (one per row, or one for all):
/// `w / s` rounded half to even, saturated to [−128, 127].
pub fn quantize_weights_with(w: &[f32], rows: usize, scales: &[f32]) -> (Vec<i8>, Vec<f32>) {
    let scales: Vec<f32> = (0..rows).map(|r| scales[if scales.len() == 1 { 0 } else { r }]).collect();
    (weight_codes(w, &scales, -128.0), scales)
}

/// `w / scale` of each row (one scale per row) rounded half to even and
/// clamped to `[lowest, 127]`.
fn weight_codes(w: &[f32], scales: &[f32], lowest: f64) -> Vec<i8> {
    let per_row = (w.len() / scales.len().max(1)).max(1);
    let mut codes = Vec::with_capacity(w.len());
    for (row, &s) in w.chunks(per_row).zip(scales) {
        codes.extend(row.iter().map(|&v| round_half_even((v as f64 / s as f64).clamp(lowest, 127.0)) as i8));
    }
    codes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_is_exact_and_ranges_cover() {
        let p = QParams::for_range(Range { lo: -1.0, hi: 3.0 });
        assert_eq!(p.real(p.quantize(0.0)), 0.0);
        assert_eq!(p.quantize(3.0), 127);
        assert_eq!(p.quantize(-1.0), -128);
        // A range above zero still includes it.
        let p = QParams::for_range(Range { lo: 2.0, hi: 6.0 });
        assert_eq!(p.zero, -128);
        // int16: symmetric, zero point 0, both ends inside [−32767, 32767].
        let p = QParams::for_range_16(Range { lo: -1.0, hi: 3.0 });
        assert_eq!((p.zero, p.quantize(3.0), p.quantize(-3.0), p.quantize(0.0)), (0, 32767, -32767, 0));
        assert_eq!(p.quantize(-1e9), -32767);
    }

    #[test]
    fn weights_per_channel_use_the_full_range() {
        let (q, s) = quantize_weights(&[1.0, -0.5, 0.25, 0.125], 2, false);
        assert_eq!(q, vec![127, -64, 127, 64]);
        assert_eq!(s, vec![1.0 / 127.0, 0.25 / 127.0]);
        let (q, _) = quantize_weights(&[1.0, -0.5, 0.25, 0.125], 2, true);
        assert_eq!(q, vec![127, -64, 32, 16]);
    }
}
