//! The interpreter's hot loops compiled for the host's vector unit: the
//! release build targets baseline x86-64 (SSE2), so a hot loop gets a twin
//! compiled with AVX2 (`#[target_feature]` around the same
//! `#[inline(always)]` body), taken when the CPU has it. (An AVX-512 twin
//! measured no faster on the calibration of the suite's models.) Results
//! do not change: the loops fix their own order of summation (lanes joined
//! in a fixed order), and no floating multiply and add is fused.

/// Whether the host has AVX2 (the detection is cached by std).
#[inline(always)]
pub fn avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    return std::arch::is_x86_feature_detected!("avx2");
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// Defines `fn $name<$T>($args) -> $ret` (the type parameter optional)
/// that runs `$body` (an `#[inline(always)]` function of the same
/// signature), compiled with AVX2 when the host has it.
macro_rules! host_simd_fn {
    ($(#[$doc:meta])* $vis:vis fn $name:ident $(<$T:ident: $bound:path>)? ($($arg:ident: $ty:ty),*) -> $ret:ty = $body:path) => {
        $(#[$doc])*
        #[inline]
        $vis fn $name $(<$T: $bound>)? ($($arg: $ty),*) -> $ret {
            #[cfg(target_arch = "x86_64")]
            if $crate::ops::host_simd::avx2() {
                #[target_feature(enable = "avx2")]
                fn avx2 $(<$T: $bound>)? ($($arg: $ty),*) -> $ret {
                    $body($($arg),*)
                }
                // SAFETY: the CPU has AVX2.
                return unsafe { avx2($($arg),*) };
            }
            $body($($arg),*)
        }
    };
}
pub(crate) use host_simd_fn;
