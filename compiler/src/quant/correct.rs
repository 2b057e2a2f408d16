//! Layer-by-layer output correction: after the rewrite, each int8
//! convolution's output channels are matched to float in mean and spread
//! over calibration samples, in topological order, each layer measured
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

use super::calibrate::{Moments, Observed};
use super::rewrite::{Correction, Quantized};
use crate::dataset::Dataset;
use crate::interp::{Adjusted, Interpreter};
use crate::ir::{Graph, NodeId, ValueId};
use crate::ops::Op;
use crate::tensor::Tensor;
use crate::Result;
use rayon::prelude::*;
use std::collections::HashMap;

/// The gain stays within [1 / GAIN_LIMIT, GAIN_LIMIT]: a channel whose
/// spread quantization changes more than that is not one statistics can
/// mend (a channel dead on the calibration samples, say).
const GAIN_LIMIT: f64 = 2.0;

/// The values whose float moments a correction of `graph`'s layers may
/// need (`calibrate::Wanted::moments`), with whether their channels are
/// the last axis: every Conv, Gemm and MatMul output, and the output of an
/// Add that reads a Gemm or MatMul (the rewrite folds a bias Add into its
/// matrix product).
pub fn layer_outputs(graph: &Graph) -> HashMap<ValueId, bool> {
    let mut wanted = HashMap::new();
    for n in graph.nodes() {
        let rows = match graph.node(n).op {
            Op::Conv(_) => false,
            Op::Gemm(_) | Op::MatMul(_) => true,
            _ => continue,
        };
        for y in graph.node_outputs(n).into_iter().flatten().take(1) {
            wanted.insert(y, rows);
            if rows {
                let adds = graph.consumers(y).into_iter().filter(|&(c, _)| graph.node(c).op_type == "Add");
                wanted.extend(adds.filter_map(|(c, _)| graph.node_outputs(c).first().copied().flatten()).map(|a| (a, true)));
            }
        }
    }
    wanted
}

/// The float moments of every layer output `observed` gathered, merged
/// over the samples `fit` (of the equalized model when `equalized`).
pub fn float_moments(observed: &Observed, equalized: bool, fit: &[usize]) -> HashMap<ValueId, Moments> {
    let merged = |per_sample: &Vec<Option<Moments>>| {
        let mut fitted = fit.iter().filter_map(|&i| per_sample.get(i)?.as_ref());
        let mut total = fitted.next()?.clone();
        fitted.for_each(|m| total.merge(m));
        Some(total)
    };
    let rescaled = |v: &ValueId| if equalized { observed.rescaled_moments.get(v) } else { None };
    observed.moments.iter().filter_map(|(v, plain)| Some((*v, merged(rescaled(v).unwrap_or(plain))?))).collect()
}

/// The corrections of the layers of `q.correctable` (by source node)
/// fitted to the float moments `float` on the first `fit` of `samples`
/// (indices into `data`), and the outputs of `q.graph` under them on all
/// of `samples` (graph output order, codes where the outputs are
/// quantized): what a rewrite of `q.float` with the corrections in its
/// `WeightMemo` computes. The samples after the first `fit` move through
/// the corrected layers without being measured: their outputs show the
/// correction on data it was not fitted to.
pub fn correct(q: &Quantized, data: &Dataset, samples: &[usize], fit: usize, float: &HashMap<ValueId, Moments>) -> Result<(HashMap<NodeId, Correction>, Vec<Vec<Tensor>>)> {
    let inputs = samples.iter().map(|&i| super::report::io_codes(q, data.sample(i)?)).collect::<Result<Vec<_>>>()?;
    let mut corrections = HashMap::new();
    let outputs = Interpreter::new(&q.graph)?.run_layerwise(inputs, &mut |n, seen| {
        let Op::IntConv(conv) = &q.graph.node(n).op else { return Ok(Adjusted::default()) };
        let Some(Some(bias)) = q.graph.node_inputs(n).get(2).copied() else { return Ok(Adjusted::default()) };
        let Some((layer, float)) = q.correctable.get(&bias).and_then(|c| Some((c, float.get(&c.reference)?))) else {
            return Ok(Adjusted::default());
        };
        if float.channels() != layer.unit.len() || seen.iter().any(|inputs| inputs.len() < 5) {
            return Ok(Adjusted::default());
        }
        let fitted = &seen[..fit.min(seen.len())];
        let sums = fitted.par_iter().map(|inputs| conv.accumulators(inputs)).collect::<Result<Vec<_>>>()?;
        let mut measured = Moments::new(layer.unit.len());
        for (acc, shape) in &sums {
            measured.add(acc.iter().map(|&a| a as f64), shape, layer.rows, |c| layer.unit[c]);
        }
        let correction = matched(&layer.bias, float, &measured);
        // A correction the accumulator bound refuses is left out: the
        // layer keeps its constants.
        let Ok(k) = layer.constants(&correction) else { return Ok(Adjusted::default()) };
        corrections.insert(layer.node, correction);
        let c_out = layer.unit.len();
        let constants = vec![(bias, k.bias), (layer.multipliers, Tensor::from_vec(&[c_out], k.mult)?), (layer.exponents, Tensor::from_vec(&[c_out], k.exp)?)];
        // The measured samples' outputs follow from their sums, not run again.
        let old = q.graph.value(bias).constant.as_ref().map(|b| b.to_i64_vec()).transpose()?.unwrap_or_default();
        let [b, m, e] = [&constants[0].1, &constants[1].1, &constants[2].1];
        let outputs = fitted
            .par_iter()
            .zip(&sums)
            .map(|(inputs, (acc, shape))| {
                let mut now = inputs.clone();
                (now[2], now[3], now[4]) = (Some(b), Some(m), Some(e));
                Ok(vec![conv.output_from(&now, acc, &old, shape)?])
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Adjusted { constants, outputs })
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

#[cfg(test)]
mod tests {
    use super::*;

    fn moments(values: &[f64], shape: &[usize], rows: bool, channels: usize) -> Moments {
        let mut m = Moments::new(channels);
        m.add(values.iter().copied(), shape, rows, |_| 1.0);
        m
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
