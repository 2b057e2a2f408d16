//! Matrix products for the interpreter: float32 and float64 run on the
//! blocked, SIMD GEMM of the `matrixmultiply` crate (through ndarray);
//! float16 and bfloat16 go through float32; integers use an exact loop
//! with wrapping arithmetic.

use crate::tensor::Num;
use half::{bf16, f16};
use ndarray::{Array2, ArrayView2};

/// Element types with a matrix product.
pub trait Dot: Num {
    /// `a · b` for `a` of shape [m, k] and `b` of shape [k, n].
    fn dot(a: ArrayView2<Self>, b: ArrayView2<Self>) -> Array2<Self>;
}

impl Dot for f32 {
    fn dot(a: ArrayView2<f32>, b: ArrayView2<f32>) -> Array2<f32> {
        a.dot(&b)
    }
}

impl Dot for f64 {
    fn dot(a: ArrayView2<f64>, b: ArrayView2<f64>) -> Array2<f64> {
        a.dot(&b)
    }
}

macro_rules! via_f32 {
    ($($t:ty),*) => {$(
        impl Dot for $t {
            fn dot(a: ArrayView2<$t>, b: ArrayView2<$t>) -> Array2<$t> {
                let c = a.mapv(|v| v.to_f32()).dot(&b.mapv(|v| v.to_f32()));
                c.mapv(<$t>::from_f32)
            }
        }
    )*};
}
via_f32!(f16, bf16);

macro_rules! exact {
    ($($t:ty),*) => {$(
        impl Dot for $t {
            fn dot(a: ArrayView2<$t>, b: ArrayView2<$t>) -> Array2<$t> {
                int_dot(a, b)
            }
        }
    )*};
}
exact!(u8, i8, u16, i16, u32, i32, u64, i64);

/// Exact product in i-k-j order (row-contiguous inner loop).
fn int_dot<T: Num>(a: ArrayView2<T>, b: ArrayView2<T>) -> Array2<T> {
    let (m, k) = a.dim();
    let n = b.dim().1;
    let mut c = Array2::from_elem((m, n), T::zero());
    for i in 0..m {
        for p in 0..k {
            let x = a[[i, p]];
            if x == T::zero() {
                continue;
            }
            let brow = b.row(p);
            let mut crow = c.row_mut(i);
            for (cv, &bv) in crow.iter_mut().zip(brow.iter()) {
                *cv = cv.add(x.mul(bv));
            }
        }
    }
    c
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
    fn int_products_wrap() {
        let a = array![[100i8, 100]];
        let b = array![[2i8], [1]];
        // 300 wraps to 44 in int8.
        assert_eq!(i8::dot(a.view(), b.view()), array![[44i8]]);
    }
}
