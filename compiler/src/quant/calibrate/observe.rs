//! The observation pass: the float model runs once over the calibration
//! samples (in parallel) and every float value it computes is counted into
//! its [`ValueStats`]: extremes, exact zeros and a streaming histogram.
//! The same pass collects the per-channel means bias correction needs, the
//! statistics of the values cross-layer equalization would rescale (the
//! observed tensor divided per channel, so the equalized model needs no
//! pass of its own), and the float outputs of the first samples, against
//! which candidate quantizations are scored, with the per-channel moments
//! of the layer outputs `quant::correct` matches on those samples. Every merge is exact, so the
//! result does not depend on the order the samples finish in.

use super::histogram::{Histogram, BINS};
use super::moments::Moments;
use super::roles::{self, MASKED};
use crate::dataset::Dataset;
use crate::interp::Interpreter;
use crate::ir::{Graph, NodeId, ValueId};
use crate::quant::gptq::{Gatherer, Gram};
use crate::tensor::Tensor;
use crate::{progress, Error, Result};
use rayon::prelude::*;
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Tensors with fewer elements are counted straight into the shared
/// histogram; larger ones are binned apart first, without holding the lock.
const DIRECT: usize = 2048;

/// What one value looked like over the calibration samples.
#[derive(Debug, Clone)]
pub struct ValueStats {
    /// The smallest and largest finite element (∞ and −∞ before any).
    pub lo: f64,
    pub hi: f64,
    /// Elements exactly 0, and the other finite ones.
    pub zeros: u64,
    pub nonzero: u64,
    /// Tensors observed (one per sample).
    pub tensors: u64,
    /// The finite non-zero elements.
    pub hist: Histogram,
    /// Masked elements of an additive attention mask, set apart (counted
    /// in none of the above; see `roles::mask_context`).
    pub masked: u64,
}

impl Default for ValueStats {
    fn default() -> ValueStats {
        ValueStats { lo: f64::INFINITY, hi: f64::NEG_INFINITY, zeros: 0, nonzero: 0, tensors: 0, hist: Histogram::default(), masked: 0 }
    }
}

impl ValueStats {
    /// Whether any finite element was seen.
    pub fn seen(&self) -> bool {
        self.lo <= self.hi
    }

    /// Finite elements per observed tensor.
    pub fn per_sample(&self) -> f64 {
        (self.zeros + self.nonzero) as f64 / self.tensors.max(1) as f64
    }

    /// Counts one tensor's elements on the way of a mask: those at or
    /// below [`MASKED`] in `masked`, the others as `observe` does.
    fn observe_unmasked(shared: &Mutex<ValueStats>, values: &[f32]) {
        let kept: Vec<f32> = values.iter().copied().filter(|&x| !(f64::from(x) <= MASKED)).collect();
        let masked = (values.len() - kept.len()) as u64;
        ValueStats::observe(shared, if masked == 0 { values } else { &kept });
        lock(shared).masked += masked;
    }

    /// Counts one tensor's elements.
    fn observe(shared: &Mutex<ValueStats>, values: &[f32]) {
        let scan = Scan::of(values);
        let mut s = lock(shared);
        s.tensors += 1;
        if scan.finite == 0 {
            return;
        }
        s.lo = s.lo.min(scan.min as f64);
        s.hi = s.hi.max(scan.max as f64);
        s.zeros += scan.zeros;
        s.nonzero += scan.finite - scan.zeros;
        if scan.finite == scan.zeros {
            return;
        }
        let own = Histogram::own_exp((scan.min as f64).min(0.0), (scan.max as f64).max(0.0));
        let (lo, hi) = (s.lo.min(0.0), s.hi.max(0.0));
        let (exp, first) = s.hist.cover(lo, hi, own);
        if values.len() < DIRECT {
            s.hist.count(values);
            return;
        }
        drop(s);
        let mut counts = vec![0u32; BINS];
        Histogram::bin(values, exp, first, &mut counts, scan.zeros, scan.finite == values.len() as u64);
        // The window may have moved on meanwhile, only ever to a coarser
        // grid that still holds these elements.
        lock(shared).hist.add(&counts, exp, first);
    }
}

/// One tensor's extremes and counts of finite and zero elements.
struct Scan {
    min: f32,
    max: f32,
    zeros: u64,
    finite: u64,
}

crate::ops::host_simd::host_simd_fn! {
    /// One branch-free sweep: the extremes (skipping NaN), the zeros and
    /// the NaNs, compiled for the host's vector unit (`ops::host_simd`).
    fn sweep(values: &[f32]) -> (f32, f32, u64, u64) = sweep_lanes
}

#[inline(always)]
fn sweep_lanes(values: &[f32]) -> (f32, f32, u64, u64) {
    // Eight lanes of extremes and counts (`x < min` is false for NaN, so
    // NaN is skipped); counts join u64 every 2^20 elements per lane.
    const LANES: usize = 8;
    let (mut min, mut max, mut zeros, mut nans) = ([f32::INFINITY; LANES], [f32::NEG_INFINITY; LANES], 0u64, 0u64);
    let block = values.chunks(LANES << 20);
    for part in block {
        let (mut z, mut n) = ([0u32; LANES], [0u32; LANES]);
        let chunks = part.chunks_exact(LANES);
        for (l, &x) in chunks.remainder().iter().enumerate() {
            min[l] = if x < min[l] { x } else { min[l] };
            max[l] = if x > max[l] { x } else { max[l] };
            z[l] += u32::from(x == 0.0);
            n[l] += u32::from(x.is_nan());
        }
        for c in chunks {
            for l in 0..LANES {
                let x = c[l];
                min[l] = if x < min[l] { x } else { min[l] };
                max[l] = if x > max[l] { x } else { max[l] };
                z[l] += u32::from(x == 0.0);
                n[l] += u32::from(x.is_nan());
            }
        }
        zeros += z.iter().map(|&v| u64::from(v)).sum::<u64>();
        nans += n.iter().map(|&v| u64::from(v)).sum::<u64>();
    }
    (min.iter().copied().fold(f32::INFINITY, f32::min), max.iter().copied().fold(f32::NEG_INFINITY, f32::max), zeros, nans)
}

impl Scan {
    fn of(values: &[f32]) -> Scan {
        // A tensor with an infinity or NaN is counted again, element by element.
        let (min, max, zeros, nans) = sweep(values);
        if nans == 0 && min.is_finite() && max.is_finite() {
            return Scan { min, max, zeros, finite: values.len() as u64 };
        }
        let finite = values.iter().filter(|x| x.is_finite());
        let (min, max) = finite.clone().fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &x| (a.min(x), b.max(x)));
        Scan { min, max, zeros, finite: finite.count() as u64 }
    }
}

#[cfg(test)]
impl ValueStats {
    /// The statistics of the given tensors.
    pub fn of(tensors: &[&[f32]]) -> ValueStats {
        let shared = Mutex::new(ValueStats::default());
        tensors.iter().for_each(|t| ValueStats::observe(&shared, t));
        shared.into_inner().unwrap()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// What the pass collects besides every value's statistics.
#[derive(Debug, Default)]
pub struct Wanted<'a> {
    /// Values whose per-channel means are wanted, with their channel axis.
    pub channel_axes: HashMap<ValueId, usize>,
    /// Values cross-layer equalization divides by a factor per channel
    /// (axis 1), with the factors.
    pub rescaled: Option<&'a HashMap<ValueId, Vec<f64>>>,
    /// How many of the first samples' float outputs to keep.
    pub references: usize,
    /// Values whose per-channel moments are wanted on each of the first
    /// `references` samples, with whether their channels are the last
    /// axis (else axis 1).
    pub moments: HashMap<ValueId, bool>,
    /// Whether to gather the input Gram matrices of the weighted layers
    /// (`quant::gptq`).
    pub grams: bool,
}

/// The result of the pass.
#[derive(Debug, Default)]
pub struct Observed {
    pub samples: usize,
    pub values: HashMap<ValueId, ValueStats>,
    /// The statistics of the rescaled values of the equalized model.
    pub rescaled: HashMap<ValueId, ValueStats>,
    /// Per-channel means of the values in `Wanted::channel_axes`.
    pub channel_means: HashMap<ValueId, Vec<f64>>,
    /// The float outputs of the first samples, in graph-output order.
    pub references: Vec<Vec<Tensor>>,
    /// The moments of the values in `Wanted::moments` on each of the first
    /// samples (as many as `references`), and of the rescaled ones among
    /// them in the equalized model.
    pub moments: HashMap<ValueId, SampleMoments>,
    pub rescaled_moments: HashMap<ValueId, SampleMoments>,
    /// The input Gram matrices of the weighted layers, by node, when
    /// wanted.
    pub grams: Arc<HashMap<NodeId, Gram>>,
}

/// One value's moments on each sample (None where its shape has no
/// channel axis).
pub type SampleMoments = Vec<Option<Moments>>;

/// Per-channel sums of each sample (kept apart, added in sample order at
/// the end), and the elements each sample adds to one channel.
type ChannelSums = Mutex<(Vec<Option<Vec<f64>>>, u64)>;

/// Runs `graph` over every sample of `data` and collects what `wanted` asks.
pub fn observe(graph: &Graph, data: &Dataset, wanted: &Wanted) -> Result<Observed> {
    let interp = Interpreter::new(graph)?;
    let floats: Vec<ValueId> = graph
        .values()
        .into_iter()
        .filter(|&v| graph.value(v).constant.is_none() && graph.value(v).ty.as_ref().is_some_and(|t| t.dtype.is_float()))
        .collect();
    let values: HashMap<ValueId, Mutex<ValueStats>> = floats.iter().map(|&v| (v, Mutex::default())).collect();
    let mask_context = roles::mask_context(graph);
    let rescaled: HashMap<ValueId, Mutex<ValueStats>> =
        wanted.rescaled.map(|r| r.keys().map(|&v| (v, Mutex::default())).collect()).unwrap_or_default();
    let sums: HashMap<ValueId, ChannelSums> = wanted.channel_axes.keys().map(|&v| (v, Mutex::new((vec![None; data.len()], 0)))).collect();
    let kept = wanted.references.min(data.len());
    let references: Mutex<Vec<Option<Vec<Tensor>>>> = Mutex::new(vec![None; kept]);
    let per_sample = |values: &mut dyn Iterator<Item = ValueId>| -> HashMap<ValueId, Mutex<SampleMoments>> { values.map(|v| (v, Mutex::new(vec![None; kept]))).collect() };
    let moments = per_sample(&mut wanted.moments.keys().copied());
    let rescaled_moments = per_sample(&mut wanted.moments.keys().copied().filter(|v| wanted.rescaled.is_some_and(|r| r.contains_key(v))));
    let gatherer = wanted.grams.then(|| Gatherer::new(graph, data.len()));
    let bar = progress::bar(data.len() as u64, "calibrating");
    (0..data.len()).into_par_iter().try_for_each(|i| {
        let inputs = data.sample(i)?;
        let outputs = interp
            .run_observed(inputs, &mut |v, t| {
                let Some(shared) = values.get(&v) else { return };
                let Some(values) = as_f32(t) else { return };
                let count = if mask_context.contains(&v) { ValueStats::observe_unmasked } else { ValueStats::observe };
                count(shared, &values);
                if let Some(g) = &gatherer {
                    g.observe(v, &values, t.shape());
                }
                let of_layer = wanted.moments.get(&v).filter(|_| i < kept);
                if let Some(&rows) = of_layer {
                    lock(&moments[&v])[i] = Moments::of(&values, t.shape(), rows);
                }
                if let (Some(factors), Some(shared)) = (wanted.rescaled.and_then(|r| r.get(&v)), rescaled.get(&v)) {
                    let divided = divided(&values, t.shape(), factors);
                    count(shared, &divided);
                    if let Some(&rows) = of_layer {
                        lock(&rescaled_moments[&v])[i] = Moments::of(&divided, t.shape(), rows);
                    }
                }
                if let (Some(&axis), Some(s)) = (wanted.channel_axes.get(&v), sums.get(&v)) {
                    if let Some((channel, count)) = channel_sums(&values, t.shape(), axis) {
                        let mut s = lock(s);
                        s.0[i] = Some(channel);
                        s.1 = count;
                    }
                }
            })
            .map_err(|e| Error::Usage(format!("calibration sample {i}: {e}")))?;
        if let Some(slot) = lock(&references).get_mut(i) {
            *slot = Some(outputs);
        }
        bar.inc(1);
        Ok::<(), Error>(())
    })?;
    bar.finish_and_clear();
    let channel_means = sums
        .into_iter()
        .filter_map(|(v, s)| {
            let (per_sample, count) = s.into_inner().unwrap_or_else(|p| p.into_inner());
            let mut total: Option<Vec<f64>> = None;
            let mut n = 0u64;
            for s in per_sample.into_iter().flatten() {
                n += count;
                match &mut total {
                    Some(t) if t.len() == s.len() => t.iter_mut().zip(&s).for_each(|(a, b)| *a += b),
                    Some(_) => {}
                    None => total = Some(s),
                }
            }
            total.map(|t| (v, t.into_iter().map(|x| x / n.max(1) as f64).collect()))
        })
        .collect();
    let references = references.into_inner().unwrap_or_else(|p| p.into_inner()).into_iter().flatten().collect();
    Ok(Observed {
        samples: data.len(),
        values: unlocked(values),
        rescaled: unlocked(rescaled),
        channel_means,
        references,
        moments: unlocked(moments),
        rescaled_moments: unlocked(rescaled_moments),
        grams: Arc::new(gatherer.map(Gatherer::finish).unwrap_or_default()),
    })
}

/// Each value's statistics, out of their locks.
fn unlocked<T>(m: HashMap<ValueId, Mutex<T>>) -> HashMap<ValueId, T> {
    m.into_iter().map(|(v, s)| (v, s.into_inner().unwrap_or_else(|p| p.into_inner()))).collect()
}

/// A float tensor's elements as float32 (borrowed when they are already).
fn as_f32(t: &Tensor) -> Option<Cow<'_, [f32]>> {
    t.dtype().is_float().then(|| t.to_f32().ok()).flatten()
}

/// `values` of `shape` with channel `c` (axis 1) divided by `factors[c]`.
fn divided(values: &[f32], shape: &[usize], factors: &[f64]) -> Vec<f32> {
    let inner: usize = shape.get(2..).map_or(1, |s| s.iter().product());
    let channels = shape.get(1).copied().unwrap_or(1);
    if channels != factors.len() {
        return values.to_vec();
    }
    values.iter().enumerate().map(|(i, &x)| (x as f64 / factors[(i / inner.max(1)) % channels]) as f32).collect()
}

/// The sum of each channel (along `axis`) and the elements per channel.
fn channel_sums(values: &[f32], shape: &[usize], axis: usize) -> Option<(Vec<f64>, u64)> {
    let channels = *shape.get(axis)?;
    let inner: usize = shape[axis + 1..].iter().product();
    let mut sums = vec![0f64; channels];
    for (k, chunk) in values.chunks(inner.max(1)).enumerate() {
        sums[k % channels.max(1)] += chunk.iter().map(|&x| x as f64).sum::<f64>();
    }
    Some((sums, (values.len() / channels.max(1)) as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statistics_do_not_depend_on_the_order_of_the_tensors() {
        let parts: Vec<Vec<f32>> = vec![vec![0.0, 0.5, -2.0, f32::NAN], vec![3.0; 5000], vec![0.0, 0.0, 1e-4]];
        let of = |order: &[usize]| ValueStats::of(&order.iter().map(|&k| parts[k].as_slice()).collect::<Vec<_>>());
        let (a, b) = (of(&[0, 1, 2]), of(&[2, 1, 0]));
        for s in [&a, &b] {
            assert_eq!((s.lo, s.hi, s.zeros, s.nonzero, s.tensors), (-2.0, 3.0, 3, 5003, 3));
        }
        assert_eq!(a.hist.resample(-2.0, 3.0, 5, false), b.hist.resample(-2.0, 3.0, 5, false));
        assert!((a.hist.resample(-2.0, 3.0, 5, false)[4] - 5000.0).abs() < 1e-9);
    }

    #[test]
    fn channel_sums_add_every_axis_but_the_channel_axis() {
        // [1, 2, 2]: channel 0 holds 1, 3; channel 1 holds 2, 6.
        assert_eq!(channel_sums(&[1.0, 3.0, 2.0, 6.0], &[1, 2, 2], 1), Some((vec![4.0, 8.0], 2)));
        assert_eq!(divided(&[1.0, 3.0, 2.0, 6.0], &[1, 2, 2], &[1.0, 2.0]), vec![1.0, 3.0, 1.0, 3.0]);
    }
}
