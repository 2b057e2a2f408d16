//! BatchNormalization in inference form: a per-channel affine map
//! `y = x·mul[c] + add[c]` over [outer, channels, inner] data, with the
//! coefficients precomputed (constant statistics) or computed here in
//! float64 from the running statistics, as the interpreter does.

use super::super::math;
use super::super::scalar::Num;

/// `y = x·mul[c] + add[c]`; `dims` = [outer, channels, inner].
pub fn channel_affine<T: Num>(x: &[T], mul: &[T], add: &[T], y: &mut [T], dims: &[usize]) {
    let &[outer, channels, inner] = dims else { return };
    for o in 0..outer {
        for (c, (&m, &a)) in mul.iter().zip(add).enumerate().take(channels) {
            let start = (o * channels + c) * inner;
            let (Some(src), Some(dst)) = (x.get(start..start + inner), y.get_mut(start..start + inner)) else { return };
            for (d, &v) in dst.iter_mut().zip(src) {
                *d = v.mul(m).add(a);
            }
        }
    }
}

/// `y = (x − mean)/sqrt(var + epsilon)·scale + b` per channel, the
/// coefficients computed in float64 and rounded to T once each.
#[allow(clippy::too_many_arguments)]
pub fn batch_norm<T: Num>(x: &[T], scale: &[T], b: &[T], mean: &[T], var: &[T], y: &mut [T], dims: &[usize], epsilon: f64) {
    let &[outer, channels, inner] = dims else { return };
    for c in 0..channels {
        let (Some(s), Some(bv), Some(m), Some(v)) = (scale.get(c), b.get(c), mean.get(c), var.get(c)) else { return };
        let mul = s.to_f64() / math::sqrt(v.to_f64() + epsilon);
        let add = bv.to_f64() - m.to_f64() * mul;
        let (mul, add) = (T::from_f64(mul), T::from_f64(add));
        for o in 0..outer {
            let start = (o * channels + c) * inner;
            let (Some(src), Some(dst)) = (x.get(start..start + inner), y.get_mut(start..start + inner)) else { return };
            for (d, &v) in dst.iter_mut().zip(src) {
                *d = v.mul(mul).add(add);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_per_channel() {
        let x = [1.0f32, 2.0, 3.0, 4.0];
        let mut y = [0.0f32; 4];
        batch_norm(&x, &[1.0, 2.0], &[0.0, 1.0], &[1.0, 3.0], &[1.0, 4.0], &mut y, &[1, 2, 2], 0.0);
        assert_eq!(y, [0.0, 1.0, 1.0, 2.0]);
        channel_affine(&x, &[2.0, 1.0], &[0.0, -1.0], &mut y, &[1, 2, 2]);
        assert_eq!(y, [2.0, 4.0, 2.0, 3.0]);
    }
}
