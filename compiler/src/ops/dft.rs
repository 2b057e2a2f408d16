//! DFT (opsets 17, 20): discrete Fourier transform along one axis of a
//! real (`[..., 1]`) or complex (`[..., 2]`) signal.
//! <https://onnx.ai/onnx/operators/onnx__DFT.html>
//!
//! Supported: forward and `inverse` (scaled by 1/n), `onesided` forward
//! (RFFT: the first n/2 + 1 bins) and inverse (IRFFT: a real signal from a
//! one-sided spectrum), `dft_length` (zero-padding or truncating the
//! signal), `axis` as an attribute (opset 17) or input (opset 20). Float
//! types, computed in `f64`: radix-2 FFT for powers of two, a direct sum
//! otherwise.

use super::{util, Arg, OpDef, Slots};
use crate::front::onnx::OnnxNode;
use crate::ir::{Dim, Shape, TensorType};
use crate::tensor::{checked_numel, DType, Tensor, MAX_ELEMENTS};
use crate::{bail, Result};
use std::f64::consts::PI;

/// A complex number as (real, imaginary).
pub type Complex = (f64, f64);

#[derive(Debug, Clone)]
pub struct Dft {
    inverse: bool,
    onesided: bool,
    /// The axis attribute of opsets below 20; from opset 20 it is input 2.
    axis_attr: Option<i64>,
}

impl OpDef for Dft {
    fn from_onnx(node: &OnnxNode) -> Result<Self> {
        let flag = |name: &str| -> Result<bool> {
            match node.int(name, 0)? {
                0 => Ok(false),
                1 => Ok(true),
                v => bail!("{name} must be 0 or 1, got {v}"),
            }
        };
        let axis_attr = if node.opset < 20 { Some(node.int("axis", 1)?) } else { None };
        Ok(Dft { inverse: flag("inverse")?, onesided: flag("onesided")?, axis_attr })
    }

    fn infer(&self, inputs: &[Option<Arg>]) -> Result<Vec<TensorType>> {
        let x = inputs.req(0)?.ty;
        check_float(x.dtype)?;
        let length = match inputs.opt(1) {
            None => Some(None),
            Some(_) => util::const_ints(inputs, 1)?.map(|v| one(&v, "dft_length")).transpose()?.map(Some),
        };
        let axis = match (self.axis_attr, inputs.opt(2)) {
            (Some(a), _) => Some(a),
            (None, None) => Some(-2),
            (None, Some(_)) => util::const_ints(inputs, 2)?.map(|v| one(&v, "axis")).transpose()?,
        };
        let Some(dims) = x.shape.dims() else { return Ok(vec![TensorType::new(x.dtype, Shape::unknown())]) };
        let rank = dims.len();
        let out_last = Some(if self.inverse && self.onesided { 1 } else { 2 });
        let (Some(axis), Some(length)) = (axis, length) else {
            let mut out = vec![None; rank];
            if let Some(last) = out.last_mut() {
                *last = out_last;
            }
            return Ok(vec![TensorType::new(x.dtype, Shape::from_dims(out))]);
        };
        let axis = signal_axis(axis, rank)?;
        if let Some(Some(c)) = dims.last() {
            check_components(*c)?;
        }
        let mut out: Vec<Dim> = dims.to_vec();
        out[axis] = match (dims[axis], length) {
            (_, Some(n)) => Some(self.out_len(self.check_len(n)?)),
            (Some(d), None) => Some(self.out_len(self.default_len(d)?)),
            (None, None) => None,
        };
        out[rank - 1] = out_last;
        Ok(vec![TensorType::new(x.dtype, Shape::from_dims(out))])
    }

    fn eval(&self, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
        let x = inputs.req(0)?;
        check_float(x.dtype())?;
        let shape = x.shape();
        let rank = shape.len();
        let axis = match (self.axis_attr, inputs.opt(2)) {
            (Some(a), _) => a,
            (None, Some(t)) => one(&t.to_i64_vec()?, "axis")?,
            (None, None) => -2,
        };
        let axis = signal_axis(axis, rank)?;
        let components = shape[rank - 1];
        check_components(components)?;
        let n = match inputs.opt(1) {
            Some(t) => self.check_len(one(&t.to_i64_vec()?, "dft_length")?)?,
            None => self.default_len(shape[axis])?,
        };
        let out_len = self.out_len(n);
        let out_components = if self.inverse && self.onesided { 1 } else { 2 };
        let mut out_shape = shape.to_vec();
        out_shape[axis] = out_len;
        out_shape[rank - 1] = out_components;
        checked_numel(&out_shape)?;
        let plan = Plan::new(n, self.inverse)?;
        let values = x.to_f64_vec()?;
        let out = map_lines(&values, &shape[..rank - 1], axis, components, out_len, out_components, |line| {
            if self.inverse && self.onesided {
                irfft(line, &plan)
            } else {
                let mut spectrum = plan.run(line);
                spectrum.truncate(out_len);
                spectrum
            }
        });
        Ok(vec![Tensor::from_vec(&out_shape, out)?.cast(x.dtype())?])
    }

    /// int8: float only.
    fn quantize(&self, rule: super::Rule) -> Result<super::Plan> {
        Ok(rule.float_only(super::NO_INTEGER_KERNEL))
    }
}

impl Dft {
    fn check_len(&self, n: i64) -> Result<usize> {
        match usize::try_from(n) {
            Ok(n) if n > 0 && n <= MAX_ELEMENTS => Ok(n),
            _ => bail!("dft_length must be positive, got {n}"),
        }
    }

    /// dft_length when the input does not give it.
    fn default_len(&self, axis_len: usize) -> Result<usize> {
        let n = if self.inverse && self.onesided { 2 * axis_len.saturating_sub(1) } else { axis_len };
        if n == 0 {
            bail!("the signal axis is too short for a transform");
        }
        Ok(n)
    }

    /// Length of the transformed axis for a transform of length `n`.
    fn out_len(&self, n: usize) -> usize {
        if self.onesided && !self.inverse {
            n / 2 + 1
        } else {
            n
        }
    }
}

fn check_float(d: DType) -> Result<()> {
    if !d.is_float() || d.is_small_float() {
        bail!("the signal must be a float tensor, got {d}");
    }
    Ok(())
}

fn check_components(c: usize) -> Result<()> {
    if c != 1 && c != 2 {
        bail!("the last dimension must be 1 (real) or 2 (complex), got {c}");
    }
    Ok(())
}

/// The single value of a scalar input.
fn one(v: &[i64], name: &str) -> Result<i64> {
    match v {
        [x] => Ok(*x),
        _ => bail!("{name} must be a scalar, got {} values", v.len()),
    }
}

/// Normalizes a signal axis: any axis but the last (complex) one.
fn signal_axis(axis: i64, rank: usize) -> Result<usize> {
    let a = util::axis(axis, rank)?;
    if a + 1 == rank {
        bail!("axis {axis} is the complex dimension, not a signal axis");
    }
    Ok(a)
}

/// Applies `f` to every line along `axis` of a `[signal..., components]`
/// array and lays the results out as `[signal'..., out_components]`, where
/// the axis has `out_len` entries.
pub fn map_lines(
    values: &[f64],
    signal: &[usize],
    axis: usize,
    components: usize,
    out_len: usize,
    out_components: usize,
    f: impl Fn(&[Complex]) -> Vec<Complex>,
) -> Vec<f64> {
    let len = signal[axis];
    let outer: usize = signal[..axis].iter().product();
    let inner: usize = signal[axis + 1..].iter().product();
    let mut out = vec![0.0; outer * out_len * inner * out_components];
    let mut line = vec![(0.0, 0.0); len];
    for o in 0..outer {
        for i in 0..inner {
            for (k, slot) in line.iter_mut().enumerate() {
                let at = ((o * len + k) * inner + i) * components;
                *slot = (values[at], if components == 2 { values[at + 1] } else { 0.0 });
            }
            for (k, v) in f(&line).into_iter().enumerate().take(out_len) {
                let at = ((o * out_len + k) * inner + i) * out_components;
                out[at] = v.0;
                if out_components == 2 {
                    out[at + 1] = v.1;
                }
            }
        }
    }
    out
}

/// Lengths up to this are summed directly; longer ones that are not powers
/// of two go through Bluestein's algorithm.
const DIRECT_MAX: usize = 64;

/// A transform of one length and direction, with its twiddle factors.
pub struct Plan {
    n: usize,
    inverse: bool,
    /// `e^(-2 pi i t / n)` (conjugated for the inverse) for t in 0..n.
    twiddles: Vec<Complex>,
    bluestein: Option<Box<Bluestein>>,
}

/// Bluestein's algorithm: a length-n transform as a circular convolution of
/// power-of-two length m >= 2n - 1.
struct Bluestein {
    /// `e^(-pi i t^2 / n)` (conjugated for the inverse) for t in 0..n.
    chirp: Vec<Complex>,
    /// The forward transform of the conjugated chirp, wrapped to length m.
    kernel: Vec<Complex>,
    forward: Plan,
    backward: Plan,
}

impl Plan {
    pub fn new(n: usize, inverse: bool) -> Result<Plan> {
        if n == 0 || n > MAX_ELEMENTS {
            bail!("transform length {n} is out of range");
        }
        let sign = if inverse { 1.0 } else { -1.0 };
        let twiddles = (0..n).map(|t| (2.0 * PI * t as f64 / n as f64).sin_cos()).map(|(s, c)| (c, sign * s)).collect();
        let bluestein = if n > DIRECT_MAX && !n.is_power_of_two() { Some(Box::new(Bluestein::new(n, sign)?)) } else { None };
        Ok(Plan { n, inverse, twiddles, bluestein })
    }

    /// The transform of `signal`, zero-padded or truncated to length n;
    /// the inverse is scaled by 1/n.
    pub fn run(&self, signal: &[Complex]) -> Vec<Complex> {
        let n = self.n;
        let mut x: Vec<Complex> = signal.iter().copied().take(n).collect();
        x.resize(n, (0.0, 0.0));
        let mut y = match &self.bluestein {
            Some(b) => b.run(&x),
            None if n.is_power_of_two() => self.radix2(x),
            None => self.direct(&x),
        };
        if self.inverse {
            for v in &mut y {
                *v = (v.0 / n as f64, v.1 / n as f64);
            }
        }
        y
    }

    fn direct(&self, x: &[Complex]) -> Vec<Complex> {
        let n = self.n;
        (0..n)
            .map(|k| {
                x.iter().enumerate().fold((0.0, 0.0), |acc, (j, &v)| {
                    let w = self.twiddles[(j * k) % n];
                    let p = mul(v, w);
                    (acc.0 + p.0, acc.1 + p.1)
                })
            })
            .collect()
    }

    /// Iterative Cooley-Tukey for power-of-two lengths.
    fn radix2(&self, mut x: Vec<Complex>) -> Vec<Complex> {
        let n = self.n;
        let bits = n.trailing_zeros();
        if bits > 0 {
            for i in 0..n {
                let j = i.reverse_bits() >> (usize::BITS - bits);
                if i < j {
                    x.swap(i, j);
                }
            }
        }
        let mut size = 2;
        while size <= n {
            let step = n / size;
            for start in (0..n).step_by(size) {
                for k in 0..size / 2 {
                    let w = self.twiddles[k * step];
                    let (a, b) = (x[start + k], mul(x[start + k + size / 2], w));
                    x[start + k] = (a.0 + b.0, a.1 + b.1);
                    x[start + k + size / 2] = (a.0 - b.0, a.1 - b.1);
                }
            }
            size *= 2;
        }
        x
    }
}

impl Bluestein {
    fn new(n: usize, sign: f64) -> Result<Bluestein> {
        let m = (2 * n - 1).next_power_of_two();
        // t^2 mod 2n keeps the angle exact for large t.
        let chirp: Vec<Complex> = (0..n)
            .map(|t| {
                let t2 = (t as u128 * t as u128 % (2 * n as u128)) as f64;
                let (s, c) = (PI * t2 / n as f64).sin_cos();
                (c, sign * s)
            })
            .collect();
        let mut b = vec![(0.0, 0.0); m];
        for (t, &c) in chirp.iter().enumerate() {
            let conj = (c.0, -c.1);
            b[t] = conj;
            if t > 0 {
                b[m - t] = conj;
            }
        }
        let forward = Plan::new(m, false)?;
        let backward = Plan::new(m, true)?;
        let kernel = forward.run(&b);
        Ok(Bluestein { chirp, kernel, forward, backward })
    }

    fn run(&self, x: &[Complex]) -> Vec<Complex> {
        let a: Vec<Complex> = x.iter().zip(&self.chirp).map(|(&v, &c)| mul(v, c)).collect();
        let fa = self.forward.run(&a);
        let product: Vec<Complex> = fa.iter().zip(&self.kernel).map(|(&p, &q)| mul(p, q)).collect();
        let conv = self.backward.run(&product);
        conv.iter().zip(&self.chirp).map(|(&v, &c)| mul(v, c)).collect()
    }
}

fn mul(a: Complex, b: Complex) -> Complex {
    (a.0 * b.0 - a.1 * b.1, a.0 * b.1 + a.1 * b.0)
}

/// The real signal of length n whose one-sided spectrum is `half` (its first
/// n/2 + 1 bins are used; the imaginary parts of the DC and Nyquist bins are
/// ignored). `plan` is an inverse plan of length n.
fn irfft(half: &[Complex], plan: &Plan) -> Vec<Complex> {
    let n = plan.n;
    let mut full = vec![(0.0, 0.0); n];
    for (j, &v) in half.iter().enumerate().take(n / 2 + 1) {
        if j == 0 || 2 * j == n {
            full[j] = (v.0, 0.0);
        } else {
            full[j] = v;
            full[n - j] = (v.0, -v.1);
        }
    }
    plan.run(&full).into_iter().map(|v| (v.0, 0.0)).collect()
}

#[cfg(test)]
#[path = "dft_tests.rs"]
mod tests;
