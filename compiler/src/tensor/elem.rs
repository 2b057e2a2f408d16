//! Rust element types behind each [`DType`], and the numeric behaviour the
//! interpreter relies on (wrapping integer arithmetic, IEEE floats, casts).

use super::{DType, Tensor};
use half::{bf16, f16};
use ndarray::ArrayD;
use std::fmt::Debug;

/// A Rust type that stores one ONNX element type.
pub trait Elem: Clone + Default + Debug + PartialEq + Send + Sync + 'static {
    const DTYPE: DType;
    /// Wraps an array into a tensor.
    fn wrap(a: ArrayD<Self>) -> Tensor;
    /// The array inside a tensor of this element type.
    fn unwrap(t: &Tensor) -> Option<&ArrayD<Self>>;
    /// Takes the array out of a tensor of this element type.
    fn into_array(t: Tensor) -> Option<ArrayD<Self>>;
}

/// Integer and float element types: arithmetic as ONNX (numpy) defines it.
///
/// Integer operations wrap on overflow; integer division by zero gives zero
/// (numpy's result) instead of trapping. Conversions from `f64` truncate
/// toward zero and saturate at the type's bounds; NaN converts to zero.
pub trait Num: Elem + Copy + PartialOrd {
    const IS_FLOAT: bool;
    fn zero() -> Self;
    fn one() -> Self;
    fn min_value() -> Self;
    fn max_value() -> Self;
    fn add(self, o: Self) -> Self;
    fn sub(self, o: Self) -> Self;
    fn mul(self, o: Self) -> Self;
    fn div(self, o: Self) -> Self;
    fn to_f64(self) -> f64;
    fn from_f64(v: f64) -> Self;
    /// Exact conversion for integers (wrapping, as numpy's astype).
    fn to_i64(self) -> i64;
    fn from_i64(v: i64) -> Self;
}

macro_rules! elem {
    ($t:ty, $variant:ident) => {
        impl Elem for $t {
            const DTYPE: DType = DType::$variant;
            fn wrap(a: ArrayD<Self>) -> Tensor {
                Tensor::$variant(a)
            }
            fn unwrap(t: &Tensor) -> Option<&ArrayD<Self>> {
                match t {
                    Tensor::$variant(a) => Some(a),
                    _ => None,
                }
            }
            fn into_array(t: Tensor) -> Option<ArrayD<Self>> {
                match t {
                    Tensor::$variant(a) => Some(a),
                    _ => None,
                }
            }
        }
    };
}

elem!(bool, Bool);
elem!(u8, U8);
elem!(i8, I8);
elem!(u16, U16);
elem!(i16, I16);
elem!(u32, U32);
elem!(i32, I32);
elem!(u64, U64);
elem!(i64, I64);
elem!(f16, F16);
elem!(bf16, BF16);
elem!(f32, F32);
elem!(f64, F64);
elem!(String, Str);

macro_rules! int_num {
    ($($t:ty),*) => {$(
        impl Num for $t {
            const IS_FLOAT: bool = false;
            fn zero() -> Self { 0 }
            fn one() -> Self { 1 }
            fn min_value() -> Self { <$t>::MIN }
            fn max_value() -> Self { <$t>::MAX }
            fn add(self, o: Self) -> Self { self.wrapping_add(o) }
            fn sub(self, o: Self) -> Self { self.wrapping_sub(o) }
            fn mul(self, o: Self) -> Self { self.wrapping_mul(o) }
            fn div(self, o: Self) -> Self { if o == 0 { 0 } else { self.wrapping_div(o) } }
            fn to_f64(self) -> f64 { self as f64 }
            fn from_f64(v: f64) -> Self { v as $t }
            fn to_i64(self) -> i64 { self as i64 }
            fn from_i64(v: i64) -> Self { v as $t }
        }
    )*};
}
int_num!(u8, i8, u16, i16, u32, i32, u64, i64);

macro_rules! float_num {
    ($t:ty, $to:expr, $from:expr) => {
        impl Num for $t {
            const IS_FLOAT: bool = true;
            fn zero() -> Self { $from(0.0) }
            fn one() -> Self { $from(1.0) }
            fn min_value() -> Self { $from(f64::NEG_INFINITY) }
            fn max_value() -> Self { $from(f64::INFINITY) }
            fn add(self, o: Self) -> Self { self + o }
            fn sub(self, o: Self) -> Self { self - o }
            fn mul(self, o: Self) -> Self { self * o }
            fn div(self, o: Self) -> Self { self / o }
            fn to_f64(self) -> f64 { $to(self) }
            fn from_f64(v: f64) -> Self { $from(v) }
            fn to_i64(self) -> i64 { $to(self) as i64 }
            fn from_i64(v: i64) -> Self { $from(v as f64) }
        }
    };
}
float_num!(f32, |v: f32| v as f64, |v: f64| v as f32);
float_num!(f64, |v: f64| v, |v: f64| v);
float_num!(f16, |v: f16| v.to_f64(), f16::from_f64);
float_num!(bf16, |v: bf16| v.to_f64(), bf16::from_f64);
