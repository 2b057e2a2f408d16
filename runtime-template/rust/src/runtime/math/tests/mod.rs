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

/// Stride of the all-patterns f32 sweep.
pub(super) const STRIDE: u32 = 251;

mod ddref;
mod erf;
mod exp_log;
mod hyper;
mod pow;
mod round_sqrt;
mod trig;
mod trigref;
