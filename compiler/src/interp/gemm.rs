//! Matrix products for the interpreter: float32 and float64 run on the
//! blocked, SIMD GEMM of the `matrixmultiply` crate (through ndarray, any
//! strides); float16 and bfloat16 go through float32; integers use an exact
//! loop with wrapping arithmetic.

use crate::tensor::Num;
use crate::{bail, Result};
use half::{bf16, f16};
use ndarray::linalg::general_mat_mul;
use ndarray::{Array2, ArrayView2, ArrayViewMut2, Zip};

/// Element types with a matrix product.
pub trait Dot: Num {
    /// `a · b` for `a` of shape [m, k] and `b` of shape [k, n].
    fn dot(a: ArrayView2<Self>, b: ArrayView2<Self>) -> Array2<Self>;

    /// `c ← alpha·a·b + beta·c` in place, for `a` [m, k], `b` [k, n] and a
    /// (possibly strided) `c` [m, n]. With `beta` zero, `c`'s previous
    /// contents are ignored (NaN included). The caller guarantees the shapes;
    /// [`gemm`] is the checked entry point.
    fn gemm_unchecked(alpha: Self, a: ArrayView2<Self>, b: ArrayView2<Self>, beta: Self, c: ArrayViewMut2<Self>);
}

/// `c ← alpha·a·b + beta·c`, with the shapes checked.
pub fn gemm<T: Dot>(alpha: T, a: ArrayView2<T>, b: ArrayView2<T>, beta: T, c: ArrayViewMut2<T>) -> Result<()> {
    let ((m, k), (k2, n), (m2, n2)) = (a.dim(), b.dim(), c.dim());
    if k != k2 || m != m2 || n != n2 {
        bail!("matrix product of shapes [{m}, {k}] x [{k2}, {n}] into [{m2}, {n2}]");
    }
    T::gemm_unchecked(alpha, a, b, beta, c);
    Ok(())
}

impl Dot for f32 {
    fn dot(a: ArrayView2<f32>, b: ArrayView2<f32>) -> Array2<f32> {
        a.dot(&b)
    }

    fn gemm_unchecked(alpha: f32, a: ArrayView2<f32>, b: ArrayView2<f32>, beta: f32, mut c: ArrayViewMut2<f32>) {
        general_mat_mul(alpha, &a, &b, beta, &mut c);
    }
}

impl Dot for f64 {
    fn dot(a: ArrayView2<f64>, b: ArrayView2<f64>) -> Array2<f64> {
        a.dot(&b)
    }

    fn gemm_unchecked(alpha: f64, a: ArrayView2<f64>, b: ArrayView2<f64>, beta: f64, mut c: ArrayViewMut2<f64>) {
        general_mat_mul(alpha, &a, &b, beta, &mut c);
    }
}

macro_rules! via_f32 {
    ($($t:ty),*) => {$(
        impl Dot for $t {
            fn dot(a: ArrayView2<$t>, b: ArrayView2<$t>) -> Array2<$t> {
                let c = a.mapv(|v| v.to_f32()).dot(&b.mapv(|v| v.to_f32()));
                c.mapv(<$t>::from_f32)
            }

            fn gemm_unchecked(alpha: $t, a: ArrayView2<$t>, b: ArrayView2<$t>, beta: $t, mut c: ArrayViewMut2<$t>) {
                let mut c32 = if beta == <$t>::ZERO { Array2::zeros(c.dim()) } else { c.mapv(|v| v.to_f32()) };
                let (a32, b32) = (a.mapv(|v| v.to_f32()), b.mapv(|v| v.to_f32()));
                general_mat_mul(alpha.to_f32(), &a32, &b32, beta.to_f32(), &mut c32);
                Zip::from(&mut c).and(&c32).for_each(|d, &s| *d = <$t>::from_f32(s));
            }
        }
    )*};
}
via_f32!(f16, bf16);

macro_rules! exact {
    ($($t:ty),*) => {$(
        impl Dot for $t {
            fn dot(a: ArrayView2<$t>, b: ArrayView2<$t>) -> Array2<$t> {
                let mut c = Array2::zeros((a.dim().0, b.dim().1));
                int_gemm(1, a, b, 0, c.view_mut());
                c
            }

            fn gemm_unchecked(alpha: $t, a: ArrayView2<$t>, b: ArrayView2<$t>, beta: $t, c: ArrayViewMut2<$t>) {
                int_gemm(alpha, a, b, beta, c);
            }
        }
    )*};
}
exact!(u8, i8, u16, i16, u32, i32, u64, i64);

/// Exact wrapping product in i-k-j order: the inner loop runs along a row of
/// `b` and `c`, on slices when both rows are contiguous (it vectorises).
fn int_gemm<T: Num>(alpha: T, a: ArrayView2<T>, b: ArrayView2<T>, beta: T, mut c: ArrayViewMut2<T>) {
    let zero = T::zero();
    for (arow, mut crow) in a.rows().into_iter().zip(c.rows_mut()) {
        if beta == zero {
            crow.fill(zero);
        } else if beta != T::one() {
            crow.mapv_inplace(|v| v.mul(beta));
        }
        for (&x, brow) in arow.iter().zip(b.rows()) {
            let x = x.mul(alpha);
            if x == zero {
                continue;
            }
            match (crow.as_slice_mut(), brow.as_slice()) {
                (Some(cs), Some(bs)) => {
                    for (cv, &bv) in cs.iter_mut().zip(bs) {
                        *cv = cv.add(x.mul(bv));
                    }
                }
                _ => Zip::from(&mut crow).and(&brow).for_each(|cv, &bv| *cv = cv.add(x.mul(bv))),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn float_and_int_products_agree() {
        let a = array![[1.0f32, 2.0, 3.0], [4.0, 5.0, 6.0]];
        let b = array![[1.0f32, 0.0], [0.0, 1.0], [1.0, 1.0]];
        assert_eq!(f32::dot(a.view(), b.view()), array![[4.0, 5.0], [10.0, 11.0]]);
        let ai = a.mapv(|v| v as i32);
        let bi = b.mapv(|v| v as i32);
        assert_eq!(i32::dot(ai.view(), bi.view()), array![[4, 5], [10, 11]]);
    }

    #[test]
    fn gemm_accumulates_into_strided_views() {
        let a = array![[1.0f64, 2.0], [3.0, 4.0]];
        let b = array![[1.0f64, 0.0], [0.0, 1.0]];
        let mut c = Array2::from_elem((2, 4), 1.0f64);
        gemm(2.0, a.view(), b.view(), 1.0, c.slice_mut(ndarray::s![.., ..;2])).unwrap();
        assert_eq!(c, array![[3.0, 1.0, 5.0, 1.0], [7.0, 1.0, 9.0, 1.0]]);
        let mut ci = Array2::from_elem((2, 2), 5i32);
        gemm(1, a.mapv(|v| v as i32).view(), b.mapv(|v| v as i32).view(), 0, ci.view_mut()).unwrap();
        assert_eq!(ci, array![[1, 2], [3, 4]]);
        assert!(gemm(1.0, a.view(), b.t(), 0.0, Array2::zeros((3, 2)).view_mut()).is_err());
    }

    #[test]
    fn int_products_wrap() {
        let a = array![[100i8, 100]];
        let b = array![[2i8], [1]];
        // 300 wraps to 44 in int8.
        assert_eq!(i8::dot(a.view(), b.view()), array![[44i8]]);
    }
}
