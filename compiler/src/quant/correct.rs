//! Layer-by-layer output correction: after the rewrite, each int8
//! convolution's output channels are matched to float in mean and spread
//! over the calibration samples, in topological order, each layer measured
//! with every layer before it already corrected.
//!
//! Rounding an activation to a per-tensor grid is not free of bias: a
//! channel whose values span a few steps of its tensor's grid loses most of
//! its mean and spread, and the next layer sees a shifted, flattened input
//! (analytic bias correction sees only the weights' rounding). On a deep
//! network these shifts compound. For output channel `c` of a layer, with
//! pre-activation output `y = u + b` (`u` the accumulated products, `b` the
//! float bias), float mean `m_f` and deviation `d_f`, and quantized `m_q`
//! and `d_q`, the gain `g = d_f / d_q` scales the channel's weight scale
//! and the bias becomes `m_f − g · (m_q − b)`: the quantized channel then
//! has float's mean and spread on the calibration samples. This is the statistics matching of
//! Banner et al.'s and AIMET's empirical bias correction, done in one pass
//! of the integer graph with all samples moving through it together
//! (`Interpreter::run_layerwise`), so that each layer is measured after the
//! layers before it were corrected.

use super::rewrite::{Correction, Quantized};
use crate::dataset::Dataset;
use crate::interp::Interpreter;
use crate::ir::{NodeId, ValueId};
use crate::ops::Op;
use crate::tensor::Tensor;
use crate::Result;
use rayon::prelude::*;
use std::collections::HashMap;

/// The gain stays within [1 / GAIN_LIMIT, GAIN_LIMIT]: a channel whose
/// spread quantization changes more than that is not one statistics can
/// mend (a channel dead on the calibration samples, say).
const GAIN_LIMIT: f64 = 2.0;

/// Per-channel first and second moments of a layer's output.
#[derive(Debug, Clone, Default)]
struct Moments {
    sum: Vec<f64>,
    squares: Vec<f64>,
    count: Vec<f64>,
}

impl Moments {
    fn new(channels: usize) -> Moments {
        Moments { sum: vec![0.0; channels], squares: vec![0.0; channels], count: vec![0.0; channels] }
    }

    /// Adds the values of a tensor of shape `shape` ([N, C, spatial...], or
    /// [..., C] for a matrix product when `rows`), each channel's scaled by
    /// `unit[c]`.
    fn add(&mut self, values: impl Iterator<Item = f64>, shape: &[usize], rows: bool, unit: impl Fn(usize) -> f64) {
        let channels = self.sum.len();
        let plane: usize = if rows { 1 } else { shape.iter().skip(2).product() };
        for (i, v) in values.enumerate() {
            let c = (i / plane.max(1)) % channels.max(1);
            let v = v * unit(c);
            self.sum[c] += v;
            self.squares[c] += v * v;
            self.count[c] += 1.0;
        }
    }

    fn merge(&mut self, other: &Moments) {
        for (c, n) in other.count.iter().enumerate() {
            self.sum[c] += other.sum[c];
            self.squares[c] += other.squares[c];
            self.count[c] += n;
        }
    }

    /// Mean and standard deviation of channel `c`.
    fn stats(&self, c: usize) -> (f64, f64) {
        let n = self.count[c].max(1.0);
        let mean = self.sum[c] / n;
        (mean, (self.squares[c] / n - mean * mean).max(0.0).sqrt())
    }
}

/// The corrections of the layers of `q.correctable` (by source node)
/// measured on the first `samples` samples of `data`, and the outputs of
/// `q.graph` under them on those samples (graph output order, codes where
/// the outputs are quantized): what a rewrite of `q.float` with the
/// corrections in its `WeightMemo` computes.
pub fn correct(q: &Quantized, data: &Dataset, samples: usize) -> Result<(HashMap<NodeId, Correction>, Vec<Vec<Tensor>>)> {
    let samples = samples.min(data.len());
    let reference = float_moments(q, data, samples)?;
    let inputs = (0..samples).map(|i| super::report::io_codes(q, data.sample(i)?)).collect::<Result<Vec<_>>>()?;
    let mut corrections = HashMap::new();
    let outputs = Interpreter::new(&q.graph)?.run_layerwise(inputs, &mut |n, seen| {
        let Op::IntConv(conv) = &q.graph.node(n).op else { return Ok(Vec::new()) };
        let Some(Some(bias)) = q.graph.node_inputs(n).get(2).copied() else { return Ok(Vec::new()) };
        let Some((layer, float)) = q.correctable.get(&bias).and_then(|c| Some((c, reference.get(&c.reference)?))) else {
            return Ok(Vec::new());
        };
        let mut measured = Moments::new(layer.unit.len());
        for sample in seen.par_iter().map(|inputs| conv.accumulators(inputs)).collect::<Result<Vec<_>>>()? {
            let (acc, shape) = sample;
            measured.add(acc.into_iter().map(|a| a as f64), &shape, layer.rows, |c| layer.unit[c]);
        }
        let correction = matched(&layer.bias, float, &measured);
        // A correction the accumulator bound refuses is left out: the
        // layer keeps its constants.
        let Ok(k) = layer.constants(&correction) else { return Ok(Vec::new()) };
        corrections.insert(layer.node, correction);
        let c_out = layer.unit.len();
        Ok(vec![(bias, k.bias), (layer.multipliers, Tensor::from_vec(&[c_out], k.mult)?), (layer.exponents, Tensor::from_vec(&[c_out], k.exp)?)])
    })?;
    Ok((corrections, outputs))
}

/// The correction that gives a layer with float bias `biases` the float
/// moments `float` where it measured `measured`.
fn matched(biases: &[f64], float: &Moments, measured: &Moments) -> Correction {
    let (mut gain, mut bias) = (Vec::new(), Vec::new());
    for (c, &b) in biases.iter().enumerate() {
        let ((m_f, d_f), (m_q, d_q)) = (float.stats(c), measured.stats(c));
        let g = if d_q > 0.0 && d_f > 0.0 { (d_f / d_q).clamp(1.0 / GAIN_LIMIT, GAIN_LIMIT) } else { 1.0 };
        gain.push(g);
        bias.push(m_f - g * (m_q - b));
    }
    Correction { gain, bias }
}

/// The moments of every corrected layer's float output, by source value,
/// over the first `samples` samples.
fn float_moments(q: &Quantized, data: &Dataset, samples: usize) -> Result<HashMap<ValueId, Moments>> {
    let wanted: HashMap<ValueId, (usize, bool)> = q.correctable.values().map(|c| (c.reference, (c.unit.len(), c.rows))).collect();
    let run = Interpreter::new(&q.float)?;
    let per_sample = (0..samples)
        .into_par_iter()
        .map(|i| {
            let mut moments: HashMap<ValueId, Moments> = HashMap::new();
            run.run_observed(data.sample(i)?, &mut |v, t| {
                if let (Some(&(channels, rows)), Ok(values)) = (wanted.get(&v), t.to_f64_vec()) {
                    moments.entry(v).or_insert_with(|| Moments::new(channels)).add(values.into_iter(), t.shape(), rows, |_| 1.0);
                }
            })?;
            Ok(moments)
        })
        .collect::<Result<Vec<_>>>()?;
    let mut total: HashMap<ValueId, Moments> = HashMap::new();
    for moments in per_sample {
        for (v, m) in moments {
            total.entry(v).or_insert_with(|| Moments::new(m.sum.len())).merge(&m);
        }
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn moments(values: &[f64], shape: &[usize], rows: bool, channels: usize) -> Moments {
        let mut m = Moments::new(channels);
        m.add(values.iter().copied(), shape, rows, |_| 1.0);
        m
    }

    #[test]
    fn channels_are_planes_of_a_convolution_and_columns_of_a_matrix_product() {
        // [1, 2, 3]: channel 0 holds 1, 2, 3 and channel 1 holds 4, 5, 6.
        let planes = moments(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[1, 2, 3], false, 2);
        assert_eq!((planes.stats(0).0, planes.stats(1).0), (2.0, 5.0));
        // [3, 2] rows: channel 0 holds 1, 3, 5 and channel 1 holds 2, 4, 6.
        let rows = moments(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[3, 2], true, 2);
        assert_eq!((rows.stats(0).0, rows.stats(1).0), (3.0, 4.0));
        let (_, spread) = rows.stats(1);
        assert!((spread - (8.0f64 / 3.0).sqrt()).abs() < 1e-12, "{spread}");
    }

    #[test]
    fn the_correction_gives_each_channel_float_mean_and_spread() {
        // Float outputs u + 1; quantized outputs 0.5 · u + 3 with the layer's
        // bias 3 (u the products): the correction doubles the scale and
        // makes the bias 1, after which the quantized outputs are u + 1.
        let u = [-1.0, 0.5, 2.0, 4.5];
        let float = moments(&u.map(|v| v + 1.0), &[4, 1], true, 1);
        let measured = moments(&u.map(|v| 0.5 * v + 3.0), &[4, 1], true, 1);
        let c = matched(&[3.0], &float, &measured);
        assert!((c.gain[0] - 2.0).abs() < 1e-12 && (c.bias[0] - 1.0).abs() < 1e-12, "{c:?}");
        // A spread ten times too small is not mended beyond GAIN_LIMIT; a
        // channel without spread keeps its scale and gets float's mean.
        let flat = moments(&u.map(|v| 0.1 * v), &[4, 1], true, 1);
        assert_eq!(matched(&[0.0], &float, &flat).gain, [GAIN_LIMIT]);
        let dead = moments(&[3.0; 4], &[4, 1], true, 1);
        let c = matched(&[3.0], &float, &dead);
        assert_eq!(c.gain, [1.0]);
        assert!((c.bias[0] - float.stats(0).0).abs() < 1e-12, "{c:?}");
    }
}
