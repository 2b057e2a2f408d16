//! Cross-layer equalization (Nagel et al., "Data-Free Quantization", 2019):
//! for two weighted layers in a row, with only channel-wise positively
//! homogeneous operators between them (Relu, LeakyRelu, pooling), channel c
//! of the first layer's output is divided by `s_c` and the second layer's
//! weights reading channel c are multiplied by it. `f(x / s) = f(x) / s` for
//! those operators and `s > 0`, so the float function is unchanged; with
//! `s_c = sqrt(r1_c / r2_c)` (r = the largest |weight| of the channel in each
//! layer) both layers' channel ranges become `sqrt(r1_c · r2_c)`, which is
//! what per-tensor weight quantization and per-tensor activations need on
//! depthwise networks whose channels BatchNormalization folding has spread.
//!
//! Where the second layer is depthwise (each output channel reads one input
//! channel) and weights are quantized per channel, rescaling costs neither
//! layer any weight precision: both layers' per-channel scales absorb `s_c`
//! exactly. What is left to gain is in the activations between them, so
//! [`depthwise_by_activation`] equalizes the channels' activation ranges
//! there instead, measured on calibration data (`s_c = a_c / ā`, `a_c`
//! channel c's largest |x|, `ā` the geometric mean over the channels),
//! and [`run`] then leaves those pairs alone: the
//! per-tensor quantization of that value resolves every channel as finely
//! as per-channel quantization would. A depthwise layer of edge detectors (kernels whose
//! taps nearly cancel, as reparameterized MobileOne blocks have) amplifies
//! the rounding noise of a small-range input channel many times over; on
//! PP-OCRv4's stem, the depthwise layer's output SQNR goes from 22 dB with
//! its input's channels in one range to 43 dB with them equalized.
//!
//! First layers: Conv (any group) and Gemm with a constant B and a constant
//! per-channel (or absent) C. Second layers: Conv (any group), Gemm without
//! transA and MatMul with a constant 2-D B, reached directly or through a
//! Flatten of a value whose spatial size is 1. Every value between the two
//! must feed nothing else and not be a graph output, and each weight and
//! bias must feed only its layer; anything else is left as it is.

use crate::interp::Interpreter;
use crate::ir::{Graph, NodeId, ValueId};
use crate::ops::unary::Kind as UnaryKind;
use crate::ops::Op;
use crate::tensor::Tensor;
use crate::{Error, Result};
use rayon::prelude::*;
use std::collections::HashMap;
use std::sync::Arc;

/// Sweeps over the graph until no scale moves by more than this factor.
const CONVERGED: f64 = 1e-3;
const MAX_SWEEPS: usize = 20;

/// What equalization did: the pairs of layers it rescaled, and for every
/// value between the two layers of a pair (the first's output to the
/// second's input) the factor each of its channels (axis 1) was divided by.
#[derive(Debug, Default)]
pub struct Equalized {
    pub pairs: usize,
    pub rescaled: HashMap<ValueId, Vec<f64>>,
}

/// The largest |x| of each channel (axis 1) of some values, by value.
type Extents = HashMap<ValueId, Vec<f64>>;

/// Equalizes the activation ranges between the layers of every pair whose
/// second layer is depthwise, measured in float on the samples
/// `sample(0..samples)`; returns how many pairs. One step brings each
/// channel to the geometric mean.
pub fn depthwise_by_activation(g: &mut Graph, samples: usize, sample: &(dyn Fn(usize) -> Result<Vec<Tensor>> + Sync)) -> Result<usize> {
    let pairs = depthwise_pairs(g)?;
    let between: Vec<ValueId> = pairs.iter().flat_map(|p| p.between.iter().copied()).collect();
    let extents = channel_extents(g, &between, samples, sample)?;
    let mut done = 0;
    for p in &pairs {
        if let Some(ranges) = p.activation_ranges(&extents) {
            done += usize::from(!equalize(g, p, Some(&ranges))?.is_empty());
        }
    }
    Ok(done)
}

/// Equalizes the weight ranges of every eligible pair of layers, except
/// those with a depthwise second layer unless `depthwise`.
pub fn run(g: &mut Graph, depthwise: bool) -> Result<Equalized> {
    let pairs: Vec<Pair> = pairs(g)?.into_iter().filter(|p| depthwise || !p.depthwise(g)).collect();
    let mut factors: Vec<Vec<f64>> = vec![Vec::new(); pairs.len()];
    for _ in 0..MAX_SWEEPS {
        let mut largest = 0f64;
        for (p, total) in pairs.iter().zip(&mut factors) {
            let s = equalize(g, p, None)?;
            largest = s.iter().fold(largest, |m, s| m.max(s.ln().abs()));
            if total.len() != s.len() {
                *total = vec![1.0; s.len()];
            }
            total.iter_mut().zip(&s).for_each(|(t, s)| *t *= s);
        }
        if largest < CONVERGED {
            break;
        }
    }
    let mut rescaled = HashMap::new();
    for (p, f) in pairs.iter().zip(factors) {
        for &v in &p.between {
            rescaled.insert(v, f.clone());
        }
    }
    Ok(Equalized { pairs: pairs.len(), rescaled })
}

/// Every pair whose second layer is depthwise.
fn depthwise_pairs(g: &Graph) -> Result<Vec<Pair>> {
    Ok(pairs(g)?.into_iter().filter(|p| p.depthwise(g)).collect())
}

/// The largest |x| of each channel (axis 1) of `values`, run in float on
/// the samples `sample(0..samples)` (only the part of `g` they depend on: a
/// network's stem, typically).
fn channel_extents(g: &Graph, values: &[ValueId], samples: usize, sample: &(dyn Fn(usize) -> Result<Vec<Tensor>> + Sync)) -> Result<Extents> {
    if values.is_empty() {
        return Ok(Extents::new());
    }
    let mut head = g.clone();
    head.outputs = values.to_vec();
    crate::passes::eliminate_dead_code::run(&mut head)?;
    let interp = Interpreter::new(&head)?;
    let of_sample = |i: usize| -> Result<Extents> {
        let mut extents = Extents::new();
        let mut seen = |v: ValueId, t: &Tensor| {
            if !values.contains(&v) {
                return;
            }
            let (Some(&channels), Ok(x)) = (t.shape().get(1), t.to_f64_vec()) else { return };
            let per = (x.len() / (t.shape()[0] * channels).max(1)).max(1);
            let e = extents.entry(v).or_insert_with(|| vec![0.0; channels]);
            for (k, chunk) in x.chunks(per).enumerate() {
                e[k % channels] = chunk.iter().fold(e[k % channels], |m, x| m.max(x.abs()));
            }
        };
        interp.run_observed(sample(i)?, &mut seen).map_err(|e| Error::Usage(format!("calibration sample {i}: {e}")))?;
        Ok(extents)
    };
    let per_sample = (0..samples).into_par_iter().map(of_sample).collect::<Result<Vec<_>>>()?;
    let mut extents = Extents::new();
    for (v, e) in per_sample.into_iter().flatten() {
        let total = extents.entry(v).or_insert_with(|| vec![0.0; e.len()]);
        total.iter_mut().zip(&e).for_each(|(t, e)| *t = t.max(*e));
    }
    Ok(extents)
}

/// A weighted layer seen from the channels between the two layers: where
/// its weights for channel c lie.
#[derive(Debug, Clone, Copy)]
enum Layout {
    /// Row c of W: a first Conv's output channel c ([C, ...]), a first
    /// Gemm's with transB ([C, K]), a second Gemm's without transB or a
    /// second MatMul's input channel c ([C, N]).
    Row,
    /// Column c of a matrix: a first Gemm's without transB ([K, C]), a
    /// second Gemm's with transB ([N, C]).
    Column,
    /// Conv as the second layer, W [O, C/group, k...]: input channel c of
    /// its group's output channels.
    ConvInput { group: usize },
}

/// Two layers to equalize: the first's weights (and bias), the second's
/// weights, and where channel c lies in each.
#[derive(Debug)]
struct Pair {
    w1: ValueId,
    b1: Option<ValueId>,
    first: Layout,
    w2: ValueId,
    second: Layout,
    /// The values from the first layer's output to the second's input.
    between: Vec<ValueId>,
}

impl Pair {
    /// Whether each of the second layer's output channels reads one input
    /// channel.
    fn depthwise(&self, g: &Graph) -> bool {
        matches!(self.second, Layout::ConvInput { .. }) && g.value(self.w2).constant.as_ref().is_some_and(|w| w.shape().get(1) == Some(&1))
    }

    /// Per channel, the largest |x| over the values between the layers,
    /// when `extents` has them all.
    fn activation_ranges(&self, extents: &Extents) -> Option<Vec<f64>> {
        let mut ranges: Option<Vec<f64>> = None;
        for v in &self.between {
            let e = extents.get(v)?;
            match &mut ranges {
                Some(r) if r.len() == e.len() => r.iter_mut().zip(e).for_each(|(r, e)| *r = r.max(*e)),
                Some(_) => return None,
                None => ranges = Some(e.clone()),
            }
        }
        ranges
    }
}

fn pairs(g: &Graph) -> Result<Vec<Pair>> {
    let mut out = Vec::new();
    for n in g.topo_order()? {
        let Some(first) = first_layer(g, n) else { continue };
        let Some(y) = g.node_outputs(n).first().copied().flatten() else { continue };
        let Some((next, between)) = through_homogeneous(g, y) else { continue };
        let Some(&x) = between.last() else { continue };
        let Some((w2, second)) = second_layer(g, next, x) else { continue };
        let (w1, b1) = first;
        out.push(Pair { w1: w1.0, b1, first: w1.1, w2, second, between });
    }
    Ok(out)
}

/// A value with a constant that feeds `n` alone.
fn own_constant(g: &Graph, v: Option<ValueId>) -> Option<ValueId> {
    let v = v?;
    (g.value(v).constant.is_some() && g.consumers(v).len() == 1).then_some(v)
}

/// The first layer's weights with their layout, and its bias.
#[allow(clippy::type_complexity)]
fn first_layer(g: &Graph, n: NodeId) -> Option<((ValueId, Layout), Option<ValueId>)> {
    let ins = g.node_inputs(n);
    let w = own_constant(g, ins.get(1).copied().flatten())?;
    let bias = ins.get(2).copied().flatten();
    let b = match bias {
        Some(_) => Some(own_constant(g, bias)?),
        None => None,
    };
    let channels = match &g.node(n).op {
        Op::Conv(_) => g.value(w).constant.as_ref()?.shape()[0],
        Op::Gemm(gm) => {
            let shape = g.value(w).constant.as_ref()?.shape().to_vec();
            if gm.trans_a || shape.len() != 2 {
                return None;
            }
            if gm.trans_b { shape[0] } else { shape[1] }
        }
        _ => return None,
    };
    if let Some(b) = b {
        if g.value(b).constant.as_ref()?.len() != channels {
            return None;
        }
    }
    let layout = match &g.node(n).op {
        Op::Gemm(gm) if !gm.trans_b => Layout::Column,
        _ => Layout::Row,
    };
    Some(((w, layout), b))
}

/// Follows `v` through single-consumer, channel-wise positively homogeneous
/// operators to the node that reads it next, with the values on the way
/// (`v` first, the value that node reads last).
fn through_homogeneous(g: &Graph, mut v: ValueId) -> Option<(NodeId, Vec<ValueId>)> {
    let mut values = vec![v];
    loop {
        if g.outputs.contains(&v) {
            return None;
        }
        let [(c, 0)] = g.consumers(v)[..] else { return None };
        let outs = g.node_outputs(c);
        let homogeneous = match &g.node(c).op {
            Op::Unary(u) => matches!(u.kind, UnaryKind::Relu | UnaryKind::LeakyRelu { .. }),
            Op::Pool(_) => outs.iter().skip(1).all(Option::is_none),
            Op::GlobalPool(_) => true,
            Op::Flatten(_) => {
                let shape = g.ty(v).ok()?.shape.as_fixed()?;
                shape.len() >= 2 && shape[2..].iter().product::<usize>() == 1 && g.ty(outs[0]?).ok()?.shape.as_fixed()?.len() == 2
            }
            _ => false,
        };
        if !homogeneous {
            return Some((c, values));
        }
        v = outs.first().copied().flatten()?;
        values.push(v);
    }
}

/// The second layer's weights and layout, when `n` reads `x` as its input 0.
fn second_layer(g: &Graph, n: NodeId, x: ValueId) -> Option<(ValueId, Layout)> {
    let ins = g.node_inputs(n);
    if ins.first().copied().flatten() != Some(x) {
        return None;
    }
    let w = own_constant(g, ins.get(1).copied().flatten())?;
    let rank = g.value(w).constant.as_ref()?.rank();
    let layout = match &g.node(n).op {
        Op::Conv(c) => Layout::ConvInput { group: c.group },
        Op::Gemm(gm) if !gm.trans_a && rank == 2 => if gm.trans_b { Layout::Column } else { Layout::Row },
        Op::MatMul(_) if rank == 2 && g.ty(x).ok()?.shape.rank()? >= 2 => Layout::Row,
        _ => return None,
    };
    Some((w, layout))
}

/// The flat indices of channel `c`'s weights in a tensor of `shape` laid
/// out as `layout`, among `channels` channels.
fn channel_indices(shape: &[usize], layout: Layout, c: usize, channels: usize) -> Vec<usize> {
    match layout {
        Layout::Row => {
            let per = shape[1..].iter().product::<usize>();
            (c * per..(c + 1) * per).collect()
        }
        Layout::Column => (0..shape[0]).map(|k| k * shape[1] + c).collect(),
        Layout::ConvInput { group } => {
            let (outs, per_group) = (shape[0], channels / group);
            let kvol = shape[2..].iter().product::<usize>();
            let (g, j) = (c / per_group, c % per_group);
            let per_out = outs / group;
            (g * per_out..(g + 1) * per_out).flat_map(|o| (o * shape[1] + j) * kvol..(o * shape[1] + j + 1) * kvol).collect()
        }
    }
}

/// One equalization step of `p`; returns the factor `s_c` each channel was
/// divided by (none when the layers' channels do not match). With
/// `activation`, the channels' largest |x|, channel c is brought to the
/// geometric mean of those; else the weight ranges are balanced.
fn equalize(g: &mut Graph, p: &Pair, activation: Option<&[f64]>) -> Result<Vec<f64>> {
    let (t1, t2) = (constant(g, p.w1), constant(g, p.w2));
    let (mut w1, mut w2) = (t1.to_f64_vec()?, t2.to_f64_vec()?);
    let channels = match p.first {
        Layout::Row => t1.shape()[0],
        _ => t1.shape()[1],
    };
    let mut b1 = match p.b1 {
        Some(b) => Some(constant(g, b).to_f64_vec()?),
        None => None,
    };
    let second_channels = match p.second {
        Layout::ConvInput { group } => t2.shape()[1] * group,
        Layout::Row => t2.shape()[0],
        Layout::Column => t2.shape()[1],
    };
    if second_channels != channels {
        return Ok(Vec::new());
    }
    let activation = activation.filter(|a| a.len() == channels);
    let usable = |a: f64| a > 0.0 && a.is_finite();
    let logs: Vec<f64> = activation.unwrap_or_default().iter().filter(|&&a| usable(a)).map(|a| a.ln()).collect();
    let mean = (logs.iter().sum::<f64>() / logs.len().max(1) as f64).exp();
    let mut factors = vec![1.0; channels];
    for c in 0..channels {
        let (i1, i2) = (channel_indices(t1.shape(), p.first, c, channels), channel_indices(t2.shape(), p.second, c, channels));
        let range = |w: &[f64], idx: &[usize]| idx.iter().fold(0f64, |m, &i| m.max(w[i].abs()));
        let (r1, r2) = (range(&w1, &i1), range(&w2, &i2));
        if r1 == 0.0 || r2 == 0.0 || !r1.is_finite() || !r2.is_finite() {
            continue;
        }
        let s = match activation {
            Some(a) if usable(a[c]) => a[c] / mean,
            Some(_) => continue,
            None => (r1 / r2).sqrt(),
        };
        factors[c] = s;
        i1.iter().for_each(|&i| w1[i] /= s);
        i2.iter().for_each(|&i| w2[i] *= s);
        if let Some(b) = &mut b1 {
            b[c] /= s;
        }
    }
    set(g, p.w1, &t1, w1)?;
    set(g, p.w2, &t2, w2)?;
    if let (Some(v), Some(b)) = (p.b1, b1) {
        let t = constant(g, v);
        set(g, v, &t, b)?;
    }
    Ok(factors)
}

fn constant(g: &Graph, v: ValueId) -> Arc<Tensor> {
    g.value(v).constant.clone().expect("equalized weights are constants")
}

/// Replaces constant `v` (was `old`) by `values` in its own type and shape.
fn set(g: &mut Graph, v: ValueId, old: &Tensor, values: Vec<f64>) -> Result<()> {
    let t = Tensor::from_vec(old.shape(), values)?.cast(old.dtype())?;
    g.value_mut(v).constant = Some(Arc::new(t));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::testing::add_constant as constant;
    use crate::front::onnx::Attr;
    use crate::interp::Interpreter;
    use crate::ir::{TensorType, Value};
    use crate::ops::testing::add_op as op;
    use crate::tensor::DType;


    /// Deterministic weights with channel c scaled by `spread^(c - mid)`.
    fn skewed(n: usize, per: usize, spread: f32) -> Vec<f32> {
        (0..n * per).map(|i| (i as f32 * 0.731).sin() * spread.powf((i / per) as f32 - n as f32 / 2.0)).collect()
    }

    fn max_abs(g: &Graph, v: ValueId, rows: usize) -> Vec<f64> {
        let t = g.value(v).constant.clone().unwrap().to_f64_vec().unwrap();
        t.chunks(t.len() / rows).map(|r| r.iter().fold(0f64, |m, x| m.max(x.abs()))).collect()
    }

    #[test]
    fn equalized_layers_compute_the_same_with_balanced_channel_ranges() {
        let mut g = Graph::new("cle");
        let x = g.add_value(Value { name: "x".into(), ty: Some(TensorType::fixed(DType::F32, &[1, 3, 6, 6])), constant: None });
        let w1 = constant(&mut g, "w1", &[4, 3, 3, 3], skewed(4, 27, 4.0));
        let b1 = constant(&mut g, "b1", &[4], vec![0.5, -0.25, 1.0, 0.125]);
        let dw = constant(&mut g, "dw", &[4, 1, 3, 3], skewed(4, 9, 0.25));
        let fc = constant(&mut g, "fc", &[2, 4], vec![0.3, -0.7, 0.2, 0.9, -0.4, 0.1, 0.8, -0.6]);
        let pads = || ("pads", Attr::Ints(vec![1, 1, 1, 1]));
        let c1 = op(&mut g, "Conv", vec![pads()], &[x, w1, b1]);
        let h = op(&mut g, "Relu", vec![], &[c1]);
        let h = op(&mut g, "MaxPool", vec![("kernel_shape", Attr::Ints(vec![2, 2]))], &[h]);
        let h = op(&mut g, "Conv", vec![pads(), ("group", Attr::Int(4))], &[h, dw]);
        let h = op(&mut g, "LeakyRelu", vec![], &[h]);
        let h = op(&mut g, "GlobalAveragePool", vec![], &[h]);
        let h = op(&mut g, "Flatten", vec![], &[h]);
        let y = op(&mut g, "Gemm", vec![("transB", Attr::Int(1))], &[h, fc]);
        g.inputs.push(x);
        g.outputs.push(y);
        crate::passes::infer_shapes::run(&mut g).unwrap();
        let input = Tensor::from_vec(&[1, 3, 6, 6], (0..108).map(|i| (i as f32 * 0.23).cos()).collect()).unwrap();
        let before = Interpreter::new(&g).unwrap().run(vec![input.clone()]).unwrap()[0].to_f64_vec().unwrap();
        let spread = |r: &[f64]| r.iter().cloned().fold(0f64, f64::max) / r.iter().cloned().fold(f64::INFINITY, f64::min);
        assert!(spread(&max_abs(&g, w1, 4)) > 50.0);

        let r1_before = max_abs(&g, w1, 4);
        let eq = run(&mut g, true).unwrap();
        assert_eq!(eq.pairs, 2);
        // Conv 1's output to the depthwise input, and the depthwise output
        // to the Gemm's input: each channel divided by what its weights were.
        assert_eq!(eq.rescaled.len(), 7);
        let r1_after = max_abs(&g, w1, 4);
        for c in 0..4 {
            // (the weights are float32)
            assert!((eq.rescaled[&c1][c] / (r1_before[c] / r1_after[c]) - 1.0).abs() < 1e-5, "{:?}", eq.rescaled[&c1]);
        }
        let after = Interpreter::new(&g).unwrap().run(vec![input]).unwrap()[0].to_f64_vec().unwrap();
        assert!(before.iter().zip(&after).all(|(p, q)| (p - q).abs() < 1e-4 * p.abs().max(1.0)), "{before:?} vs {after:?}");
        // Each depthwise channel now spans what conv 1's channel and the
        // classifier's column do: the geometric mean of the two, for both.
        let (r1, rd) = (max_abs(&g, w1, 4), max_abs(&g, dw, 4));
        let fc_t = g.value(fc).constant.clone().unwrap().to_f64_vec().unwrap();
        let rf: Vec<f64> = (0..4).map(|c| fc_t[c].abs().max(fc_t[4 + c].abs())).collect();
        for c in 0..4 {
            assert!((r1[c] / rd[c] - 1.0).abs() < 1e-2 && (rd[c] / rf[c] - 1.0).abs() < 1e-2, "channel {c}: {r1:?} {rd:?} {rf:?}");
        }
    }

    /// A first layer whose output channels span very different ranges,
    /// then a depthwise layer of edge detectors (taps that cancel).
    fn into_depthwise() -> (Graph, ValueId, Vec<Vec<Tensor>>) {
        let mut g = Graph::new("stem");
        let x = g.add_value(Value { name: "x".into(), ty: Some(TensorType::fixed(DType::F32, &[1, 2, 5, 5])), constant: None });
        let w1 = constant(&mut g, "w1", &[3, 2, 1, 1], vec![4.0, -2.0, 0.05, 0.02, 0.5, 0.25]);
        let b1 = constant(&mut g, "b1", &[3], vec![0.5, 0.01, -0.1]);
        let dw = constant(&mut g, "dw", &[3, 1, 1, 3], vec![1.0, -2.0, 1.0, 6.0, 0.0, -6.0, 0.3, 0.4, 0.3]);
        let h = op(&mut g, "Conv", vec![], &[x, w1, b1]);
        let y = op(&mut g, "Conv", vec![("pads", Attr::Ints(vec![0, 1, 0, 1])), ("group", Attr::Int(3))], &[h, dw]);
        g.inputs.push(x);
        g.outputs.push(y);
        crate::passes::infer_shapes::run(&mut g).unwrap();
        let samples = (0..3).map(|s| vec![Tensor::from_vec(&[1, 2, 5, 5], (0..50).map(|i| ((i * 7 + s * 13) as f32 * 0.37).sin()).collect()).unwrap()]).collect();
        (g, h, samples)
    }

    #[test]
    fn a_depthwise_pair_is_equalized_by_its_activation_ranges() {
        let (mut g, h, samples) = into_depthwise();
        let sample = |i: usize| -> Result<Vec<Tensor>> { Ok(samples[i].clone()) };
        let between: Vec<ValueId> = depthwise_pairs(&g).unwrap().into_iter().flat_map(|p| p.between).collect();
        assert_eq!(between, vec![h]);
        let before = channel_extents(&g, &between, 3, &sample).unwrap()[&h].clone();
        let spread = |e: &[f64]| e.iter().cloned().fold(0f64, f64::max) / e.iter().cloned().fold(f64::INFINITY, f64::min);
        assert!(spread(&before) > 20.0, "{before:?}");
        let outputs = |g: &Graph| -> Vec<f64> { samples.iter().flat_map(|s| Interpreter::new(g).unwrap().run(s.clone()).unwrap()[0].to_f64_vec().unwrap()).collect() };
        let want = outputs(&g);

        assert_eq!(depthwise_by_activation(&mut g, 3, &sample).unwrap(), 1);
        // Every channel now spans the geometric mean of the three ranges;
        // the function is the same.
        let after = channel_extents(&g, &between, 3, &sample).unwrap()[&h].clone();
        let mean = before.iter().map(|e| e.ln()).sum::<f64>() / 3.0;
        assert!(after.iter().all(|e| (e / mean.exp() - 1.0).abs() < 1e-5), "{after:?} against {}", mean.exp());
        let got = outputs(&g);
        assert!(want.iter().zip(&got).all(|(p, q)| (p - q).abs() < 1e-4 * p.abs().max(1.0)), "{want:?} vs {got:?}");
        // Weight-range equalization leaves that pair alone unless asked.
        assert_eq!(run(&mut g, false).unwrap().pairs, 0);
        assert_eq!(run(&mut g, true).unwrap().pairs, 1);
    }

    #[test]
    fn a_value_read_twice_between_the_layers_is_left_alone() {
        let mut g = Graph::new("fork");
        let x = g.add_value(Value { name: "x".into(), ty: Some(TensorType::fixed(DType::F32, &[1, 2, 4, 4])), constant: None });
        let w1 = constant(&mut g, "w1", &[2, 2, 1, 1], vec![8.0, 1.0, 0.1, 0.2]);
        let w2 = constant(&mut g, "w2", &[2, 2, 1, 1], vec![0.1, 0.2, 3.0, 4.0]);
        let h = op(&mut g, "Conv", vec![], &[x, w1]);
        let r = op(&mut g, "Relu", vec![], &[h]);
        let y = op(&mut g, "Conv", vec![], &[r, w2]);
        g.inputs.push(x);
        g.outputs.extend([y, r]);
        crate::passes::infer_shapes::run(&mut g).unwrap();
        assert_eq!(run(&mut g, true).unwrap().pairs, 0);
    }
}
