//! Accuracy tests against std (the platform libm). f32 functions are
//! compared with std's f64 function of the widened argument, so the
//! reference is the exact value to within 2^-28 f32 ulp; errors are
//! measured in f32 ulps of that value (fractional). f64 functions are
//! compared with std's f64 result; errors are whole ulp distances.
//!
//! `cargo test --release -p qcc-runtime -- --ignored --nocapture` runs the
//! exhaustive f32 sweeps (every f32) instead of the strided ones.

use super::*;
use std::println;
use std::vec::Vec;

/// splitmix64: a tiny deterministic generator for the f64 sweeps.
pub(super) struct Rng(u64);

impl Rng {
    pub(super) fn new(seed: u64) -> Self {
        Rng(seed)
    }
    pub(super) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in [lo, hi).
    pub(super) fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        let u = (self.next() >> 11) as f64 * (1.0 / (1u64 << 53) as f64);
        lo + (hi - lo) * u
    }
    /// Any bit pattern: log-uniform magnitudes, both signs, specials.
    pub(super) fn bits64(&mut self) -> f64 {
        f64::from_bits(self.next())
    }
}

/// Error of an f32 result `r` against the reference `y`, in f32 ulps of `y`.
pub(super) fn err32(r: f32, y: f64) -> f64 {
    if y.is_nan() {
        return if r.is_nan() { 0.0 } else { f64::INFINITY };
    }
    if r.is_nan() {
        return f64::INFINITY;
    }
    if r.is_infinite() || y.is_infinite() {
        return if (y as f32) == r { 0.0 } else { f64::INFINITY };
    }
    if y == 0.0 {
        if r != 0.0 {
            return (r as f64).abs() / f64::powi(2.0, -149);
        }
        return if r.is_sign_negative() == y.is_sign_negative() { 0.0 } else { f64::INFINITY };
    }
    let e = (y.abs().log2().floor() as i32).max(-126);
    let ulp = f64::powi(2.0, e - 23);
    ((r as f64) - y).abs() / ulp
}

fn ord64(x: f64) -> i128 {
    let b = x.to_bits();
    if b >> 63 == 1 {
        -((b & !(1u64 << 63)) as i128)
    } else {
        b as i128
    }
}

/// Distance in ulps between an f64 result `r` and the reference `z`.
pub(super) fn err64(r: f64, z: f64) -> f64 {
    if z.is_nan() || r.is_nan() {
        return if z.is_nan() && r.is_nan() { 0.0 } else { f64::INFINITY };
    }
    if z == 0.0 && r == 0.0 {
        return if r.is_sign_negative() == z.is_sign_negative() { 0.0 } else { f64::INFINITY };
    }
    (ord64(r) - ord64(z)).abs() as f64
}

/// Worst error seen and where.
#[derive(Clone, Copy)]
pub(super) struct Worst {
    pub err: f64,
    pub x: f64,
    pub y: f64,
    pub n: u64,
}

impl Worst {
    pub(super) fn new() -> Self {
        Worst { err: 0.0, x: 0.0, y: 0.0, n: 0 }
    }
    #[inline]
    pub(super) fn add(&mut self, err: f64, x: f64, y: f64) {
        self.n += 1;
        if err > self.err || err.is_nan() {
            self.err = err;
            self.x = x;
            self.y = y;
        }
    }
    pub(super) fn merge(&mut self, o: Worst) {
        self.n += o.n;
        if o.err > self.err {
            self.err = o.err;
            self.x = o.x;
            self.y = o.y;
        }
    }
    pub(super) fn report(&self, name: &str, bound: f64) {
        println!(
            "{name:>12}: max err {:.3} ulp at x = {:e} (y = {:e}), {} points",
            self.err, self.x, self.y, self.n
        );
        assert!(self.err <= bound, "{name}: {:.3} ulp > {bound} at x = {:e} (y = {:e})", self.err, self.x, self.y);
    }
}

/// Every `stride`-th f32 bit pattern (all signs and magnitudes), plus every
/// f32 in [lo, hi] with the `dense` stride.
pub(super) fn inputs32(stride: u32, lo: f32, hi: f32, dense: u32) -> impl Iterator<Item = f32> {
    let all = (0..=u32::MAX / stride).map(move |i| f32::from_bits(i.wrapping_mul(stride)));
    // Walk [lo, hi] in the order of the floats.
    let key = |x: f32| -> i64 {
        let b = x.to_bits();
        if b >> 31 == 1 {
            -((b & 0x7fff_ffff) as i64)
        } else {
            b as i64
        }
    };
    let unkey = |k: i64| -> f32 {
        if k < 0 {
            f32::from_bits(((-k) as u32) | 0x8000_0000)
        } else {
            f32::from_bits(k as u32)
        }
    };
    let (a, b) = (key(lo), key(hi));
    let range = (a..=b).step_by(dense.max(1) as usize).map(unkey);
    all.chain(range).chain(specials32())
}

pub(super) fn specials32() -> impl Iterator<Item = f32> {
    let v: Vec<f32> = [
        0.0,
        -0.0,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::NAN,
        f32::MIN_POSITIVE,
        f32::MAX,
        f32::EPSILON,
        1.0,
        -1.0,
        0.5,
        -0.5,
        2.0,
        f32::from_bits(1),
        f32::from_bits(0x007f_ffff),
    ]
    .into_iter()
    .flat_map(|x| [x, -x, f32::from_bits(x.to_bits().wrapping_add(1)), f32::from_bits(x.to_bits().wrapping_sub(1))])
    .collect();
    v.into_iter()
}

pub(super) fn specials64() -> Vec<f64> {
    [
        0.0,
        f64::INFINITY,
        f64::NAN,
        f64::MIN_POSITIVE,
        f64::MAX,
        f64::EPSILON,
        1.0,
        0.5,
        2.0,
        f64::from_bits(1),
        f64::from_bits(0x000f_ffff_ffff_ffff),
    ]
    .into_iter()
    .flat_map(|x| [x, -x, f64::from_bits(x.to_bits().wrapping_add(1)), f64::from_bits(x.to_bits().wrapping_sub(1))])
    .collect()
}

/// Runs an f32 check on two threads.
pub(super) fn run32<I>(name: &str, f: fn(f32) -> f32, r: fn(f64) -> f64, inputs: I, bound: f64)
where
    I: Iterator<Item = f32>,
{
    let xs: Vec<f32> = inputs.collect();
    let half = xs.len() / 2;
    let (a, b) = xs.split_at(half);
    let go = |s: &[f32]| {
        let mut w = Worst::new();
        for &x in s {
            let y = r(x as f64);
            w.add(err32(f(x), y), x as f64, y);
        }
        w
    };
    let mut w = std::thread::scope(|sc| {
        let h = sc.spawn(|| go(b));
        let mut w = go(a);
        w.merge(h.join().unwrap_or(Worst { err: f64::INFINITY, x: 0.0, y: 0.0, n: 0 }));
        w
    });
    w.n = xs.len() as u64;
    w.report(name, bound);
}

/// Runs `f` on every f32 (both signs), split across two threads.
pub(super) fn exhaustive32(name: &str, f: fn(f32) -> f32, r: fn(f64) -> f64, bound: f64) {
    let go = |lo: u64, hi: u64| {
        let mut w = Worst::new();
        for b in lo..hi {
            let x = f32::from_bits(b as u32);
            let y = r(x as f64);
            w.add(err32(f(x), y), x as f64, y);
        }
        w
    };
    let mid = 1u64 << 31;
    let w = std::thread::scope(|sc| {
        let h = sc.spawn(|| go(mid, 1u64 << 32));
        let mut w = go(0, mid);
        w.merge(h.join().unwrap_or(Worst { err: f64::INFINITY, x: 0.0, y: 0.0, n: 0 }));
        w
    });
    w.report(name, bound);
}

/// An f64 check over the given inputs.
pub(super) fn run64(name: &str, f: fn(f64) -> f64, r: fn(f64) -> f64, xs: &[f64], bound: f64) {
    let mut w = Worst::new();
    for &x in xs.iter().chain(specials64().iter()) {
        let z = r(x);
        w.add(err64(f(x), z), x, z);
    }
    w.report(name, bound);
}

/// `n` random f64: half uniform in [lo, hi], half arbitrary bit patterns
/// restricted to |x| <= max(|lo|, |hi|) or all patterns if `all_bits`.
pub(super) fn inputs64(seed: u64, n: usize, lo: f64, hi: f64) -> Vec<f64> {
    let mut g = Rng::new(seed);
    let mut v = Vec::with_capacity(n);
    for i in 0..n {
        if i % 2 == 0 {
            v.push(g.uniform(lo, hi));
        } else {
            v.push(g.bits64());
        }
    }
    v
}

const STRIDE: u32 = 251;

mod round_sqrt {
    use super::*;

    fn check_exact32(name: &str, f: fn(f32) -> f32, r: fn(f32) -> f32) {
        // Every f32 with |x| < 2^24 in a stride, and all patterns in another.
        let mut w = Worst::new();
        for i in 0..=(u32::MAX / 97) {
            let x = f32::from_bits(i.wrapping_mul(97));
            let (a, b) = (f(x), r(x));
            let ok = (a.is_nan() && b.is_nan()) || a.to_bits() == b.to_bits();
            w.add(if ok { 0.0 } else { f64::INFINITY }, x as f64, b as f64);
        }
        w.report(name, 0.0);
    }

    fn check_exact64(name: &str, f: fn(f64) -> f64, r: fn(f64) -> f64) {
        let mut g = Rng::new(7);
        let mut w = Worst::new();
        let mut xs = specials64();
        for _ in 0..400_000 {
            xs.push(g.bits64());
            let k = g.next() % 60;
            xs.push(g.uniform(-1.0, 1.0) * f64::powi(2.0, k as i32));
            xs.push(roundeven(g.uniform(-1e6, 1e6)) + 0.5);
        }
        for x in xs {
            let (a, b) = (f(x), r(x));
            let ok = (a.is_nan() && b.is_nan()) || a.to_bits() == b.to_bits();
            w.add(if ok { 0.0 } else { f64::INFINITY }, x, b);
        }
        w.report(name, 0.0);
    }

    #[test]
    fn rounding_f32() {
        check_exact32("floorf", floorf, |x| x.floor());
        check_exact32("ceilf", ceilf, |x| x.ceil());
        check_exact32("truncf", truncf, |x| x.trunc());
        check_exact32("roundf", roundf, |x| x.round());
        check_exact32("roundevenf", roundevenf, |x| x.round_ties_even());
    }

    #[test]
    fn rounding_f64() {
        check_exact64("floor", floor, |x| x.floor());
        check_exact64("ceil", ceil, |x| x.ceil());
        check_exact64("trunc", trunc, |x| x.trunc());
        check_exact64("round", round, |x| x.round());
        check_exact64("roundeven", roundeven, |x| x.round_ties_even());
    }

    #[test]
    fn const_rounding() {
        const A: f32 = floorf(-1.5);
        const B: f64 = roundeven(2.5);
        const C: f64 = fmod(7.5, 2.0);
        assert_eq!((A, B, C), (-2.0, 2.0, 1.5));
    }

    #[test]
    fn fmod_exact() {
        let mut g = Rng::new(11);
        let mut w32 = Worst::new();
        let mut w64 = Worst::new();
        let sp32: Vec<f32> = specials32().collect();
        let sp64 = specials64();
        for &a in &sp32 {
            for &b in &sp32 {
                let (r, z) = (fmodf(a, b), a % b);
                let ok = (r.is_nan() && z.is_nan()) || r.to_bits() == z.to_bits();
                w32.add(if ok { 0.0 } else { f64::INFINITY }, a as f64, b as f64);
            }
        }
        for &a in &sp64 {
            for &b in &sp64 {
                let (r, z) = (fmod(a, b), a % b);
                let ok = (r.is_nan() && z.is_nan()) || r.to_bits() == z.to_bits();
                w64.add(if ok { 0.0 } else { f64::INFINITY }, a, b);
            }
        }
        for _ in 0..1_000_000 {
            let (a, b) = (f32::from_bits(g.next() as u32), f32::from_bits(g.next() as u32));
            let (r, z) = (fmodf(a, b), a % b);
            let ok = (r.is_nan() && z.is_nan()) || r.to_bits() == z.to_bits();
            w32.add(if ok { 0.0 } else { f64::INFINITY }, a as f64, b as f64);
            let (a, b) = (g.uniform(-100.0, 100.0) as f32, g.uniform(-10.0, 10.0) as f32);
            let (r, z) = (fmodf(a, b), a % b);
            let ok = r.to_bits() == z.to_bits();
            w32.add(if ok { 0.0 } else { f64::INFINITY }, a as f64, b as f64);
        }
        for _ in 0..300_000 {
            let (a, b) = (g.bits64(), g.bits64());
            let (r, z) = (fmod(a, b), a % b);
            let ok = (r.is_nan() && z.is_nan()) || r.to_bits() == z.to_bits();
            w64.add(if ok { 0.0 } else { f64::INFINITY }, a, b);
            let (a, b) = (g.uniform(-1e3, 1e3), g.uniform(-10.0, 10.0));
            let (r, z) = (fmod(a, b), a % b);
            let ok = r.to_bits() == z.to_bits();
            w64.add(if ok { 0.0 } else { f64::INFINITY }, a, b);
        }
        w32.report("fmodf", 0.0);
        w64.report("fmod", 0.0);
    }

    #[test]
    fn sqrt_f32() {
        // Correct rounding: compare with the correctly rounded f64 sqrt.
        run32("sqrtf", sqrtf, f64::sqrt, inputs32(61, 1.0, 4.0, 1), 0.5001);
        run32("cbrtf", cbrtf, f64::cbrt, inputs32(STRIDE, 1.0, 8.0, 3), 0.5001);
    }

    #[test]
    fn sqrt_f64() {
        let mut xs = inputs64(5, 400_000, 0.0, 4.0);
        let mut g = Rng::new(3);
        xs.extend((0..100_000).map(|_| f64::from_bits(g.next() >> 12))); // subnormals
        run64("sqrt", sqrt, f64::sqrt, &xs, 0.0);
        run64("cbrt", cbrt, f64::cbrt, &xs, 1.0);
    }

    #[test]
    #[ignore]
    fn exhaustive_sqrt_f32() {
        exhaustive32("sqrtf", sqrtf, f64::sqrt, 0.5001);
        exhaustive32("cbrtf", cbrtf, f64::cbrt, 0.5001);
    }
}

mod exp_log {
    use super::*;

    #[test]
    fn exp_f32() {
        run32("expf", expf, f64::exp, inputs32(STRIDE, -104.0, 89.0, 127), 1.0);
        run32("exp2f", exp2f, f64::exp2, inputs32(STRIDE, -150.0, 128.0, 127), 1.0);
        run32("expm1f", expm1f, f64::exp_m1, inputs32(STRIDE, -18.0, 89.0, 127), 1.0);
    }

    #[test]
    fn exp_f64() {
        let xs = inputs64(1, 200_000, -746.0, 710.0);
        run64("exp", exp, f64::exp, &xs, 1.0);
        let xs = inputs64(2, 200_000, -1076.0, 1024.0);
        run64("exp2", exp2, f64::exp2, &xs, 1.0);
        let mut xs = inputs64(3, 200_000, -40.0, 710.0);
        xs.extend(inputs64(4, 100_000, -0.5, 0.5));
        run64("expm1", expm1, f64::exp_m1, &xs, 1.0);
    }

    #[test]
    #[ignore]
    fn exhaustive_exp_f32() {
        exhaustive32("expf", expf, f64::exp, 1.0);
        exhaustive32("exp2f", exp2f, f64::exp2, 1.0);
        exhaustive32("expm1f", expm1f, f64::exp_m1, 1.0);
    }
}

mod logs {
    use super::*;

    #[test]
    fn log_f32() {
        run32("logf", logf, f64::ln, inputs32(STRIDE, 0.5, 2.0, 3), 1.0);
        run32("log2f", log2f, f64::log2, inputs32(STRIDE, 0.5, 2.0, 3), 1.0);
        run32("log10f", log10f, f64::log10, inputs32(STRIDE, 0.5, 2.0, 3), 1.0);
        run32("log1pf", log1pf, f64::ln_1p, inputs32(STRIDE, -1.0, 1.0, 127), 1.0);
    }

    #[test]
    fn log_f64() {
        let mut xs = inputs64(1, 200_000, 0.0, 4.0);
        xs.extend(inputs64(2, 100_000, 0.7, 1.5));
        run64("log", log, f64::ln, &xs, 1.0);
        run64("log2", log2, f64::log2, &xs, 1.0);
        // glibc's log10 itself is up to 2 ulp off.
        run64("log10", log10, f64::log10, &xs, 2.0);
        let mut xs = inputs64(3, 200_000, -1.0, 4.0);
        xs.extend(inputs64(4, 100_000, -1e-3, 1e-3));
        run64("log1p", log1p, f64::ln_1p, &xs, 1.0);
    }

    #[test]
    #[ignore]
    fn exhaustive_log_f32() {
        exhaustive32("logf", logf, f64::ln, 1.0);
        exhaustive32("log2f", log2f, f64::log2, 1.0);
        exhaustive32("log10f", log10f, f64::log10, 1.0);
        exhaustive32("log1pf", log1pf, f64::ln_1p, 1.0);
    }
}

mod trig {
    use super::*;

    #[test]
    fn trig_f32() {
        run32("sinf", sinf, f64::sin, inputs32(STRIDE, -10.0, 10.0, 61), 1.0);
        run32("cosf", cosf, f64::cos, inputs32(STRIDE, -10.0, 10.0, 61), 1.0);
        run32("tanf", tanf, f64::tan, inputs32(STRIDE, -10.0, 10.0, 61), 1.0);
    }

    #[test]
    fn trig_f64() {
        let mut xs = inputs64(1, 150_000, -10.0, 10.0);
        xs.extend(inputs64(2, 100_000, -1e9, 1e9));
        // Near multiples of pi/2.
        let mut g = Rng::new(9);
        for _ in 0..50_000 {
            let k = (g.next() % 2_000_000) as f64 - 1e6;
            let x = k * core::f64::consts::FRAC_PI_2;
            let d = (g.next() % 64) as i64 - 32;
            xs.push(f64::from_bits((x.to_bits() as i64 + d) as u64));
        }
        run64("sin", sin, f64::sin, &xs, 1.0);
        run64("cos", cos, f64::cos, &xs, 1.0);
        run64("tan", tan, f64::tan, &xs, 1.0);
    }

    #[test]
    #[ignore]
    fn exhaustive_trig_f32() {
        exhaustive32("sinf", sinf, f64::sin, 1.0);
        exhaustive32("cosf", cosf, f64::cos, 1.0);
        exhaustive32("tanf", tanf, f64::tan, 1.0);
    }
}

mod atrig {
    use super::*;

    #[test]
    fn atrig_f32() {
        run32("atanf", atanf, f64::atan, inputs32(STRIDE, -4.0, 4.0, 61), 1.0);
        run32("asinf", asinf, f64::asin, inputs32(STRIDE, -1.0, 1.0, 61), 1.0);
        run32("acosf", acosf, f64::acos, inputs32(STRIDE, -1.0, 1.0, 61), 1.0);
    }

    #[test]
    fn atan2_f32() {
        let mut g = Rng::new(21);
        let mut w = Worst::new();
        let sp: Vec<f32> = specials32().collect();
        for &a in &sp {
            for &b in &sp {
                let z = (a as f64).atan2(b as f64);
                w.add(err32(atan2f(a, b), z), a as f64, b as f64);
            }
        }
        for i in 0..4_000_000u32 {
            let (a, b) = if i % 2 == 0 {
                (f32::from_bits(g.next() as u32), f32::from_bits(g.next() as u32))
            } else {
                (g.uniform(-2.0, 2.0) as f32, g.uniform(-2.0, 2.0) as f32)
            };
            let z = (a as f64).atan2(b as f64);
            w.add(err32(atan2f(a, b), z), a as f64, b as f64);
        }
        w.report("atan2f", 1.0);
    }

    #[test]
    fn atrig_f64() {
        let xs = inputs64(1, 200_000, -4.0, 4.0);
        run64("atan", atan, f64::atan, &xs, 1.0);
        let xs = inputs64(2, 200_000, -1.0, 1.0);
        run64("asin", asin, f64::asin, &xs, 1.0);
        run64("acos", acos, f64::acos, &xs, 1.0);
        let mut g = Rng::new(22);
        let mut w = Worst::new();
        let sp = specials64();
        for &a in &sp {
            for &b in &sp {
                w.add(err64(atan2(a, b), a.atan2(b)), a, b);
            }
        }
        for i in 0..200_000 {
            let (a, b) = if i % 2 == 0 { (g.bits64(), g.bits64()) } else { (g.uniform(-2.0, 2.0), g.uniform(-2.0, 2.0)) };
            w.add(err64(atan2(a, b), a.atan2(b)), a, b);
        }
        w.report("atan2", 1.0);
    }

    #[test]
    #[ignore]
    fn exhaustive_atrig_f32() {
        exhaustive32("atanf", atanf, f64::atan, 1.0);
        exhaustive32("asinf", asinf, f64::asin, 1.0);
        exhaustive32("acosf", acosf, f64::acos, 1.0);
    }
}
