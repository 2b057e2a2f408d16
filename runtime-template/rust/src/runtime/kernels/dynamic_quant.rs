//! ONNX DynamicQuantizeLinear: float32 to uint8 with a scale and zero
//! point computed from the data at run time.

use super::super::fixed_point::Code;

/// `x` quantized into `y` with the range `[min(0, min x), max(0, max x)]`
/// spread over 0..=255: `scale = (max − min) / 255` (1/255 when the range
/// is empty), `zero = round(−min / scale)` clamped to 0..=255, and each
/// `y = round(x / scale) + zero` clamped, rounding half to even, NaN as 0.
/// NaN inputs do not move the range. `dims` is `[len]`.
pub fn dynamic_quantize<T: Code>(x: &[f32], y: &mut [T], scale: &mut [f32], zero: &mut [T], dims: &[usize]) {
    let x = &x[..dims[0]];
    let (mut lo, mut hi) = (0.0f32, 0.0f32);
    for &v in x {
        if v > hi {
            hi = v;
        }
        if v < lo {
            lo = v;
        }
    }
    let s = if hi == lo { 1.0f32 } else { hi - lo } / 255.0f32;
    let z = round_code(0.0f32 - lo / s, 0);
    for (q, &v) in y.iter_mut().zip(x) {
        *q = T::from_i32(round_code(v / s, z));
    }
    scale[0] = s;
    zero[0] = T::from_i32(z);
}

/// `v` rounded half to even, plus `zero`, clamped to 0..=255 (NaN counts as 0).
#[inline(always)]
fn round_code(v: f32, zero: i32) -> i32 {
    const MAGIC: f32 = 12_582_912.0;
    // Clamped first, so adding and removing 1.5 · 2^23 rounds half to even.
    let v = if v > 1024.0 { 1024.0 } else if v < -1024.0 { -1024.0 } else if v != v { 0.0 } else { v };
    let r = ((v + MAGIC) - MAGIC) as i32 + zero;
    r.clamp(0, 255)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_onnx_example() {
        // test_dynamicquantizelinear of the ONNX backend tests.
        let x = [0.0f32, 2.0, -3.0, -2.5, 1.34, 0.5];
        let (mut y, mut s, mut z) = ([0u8; 6], [0f32], [0u8]);
        dynamic_quantize(&x, &mut y, &mut s, &mut z, &[6]);
        assert_eq!(s[0], 0.019_607_844);
        assert_eq!(z[0], 153);
        assert_eq!(y, [153, 255, 0, 26, 221, 179]);
    }
}
