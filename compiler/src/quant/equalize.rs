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
//! First layers: Conv (any group) and Gemm with a constant B and a constant
//! per-channel (or absent) C. Second layers: Conv (any group), Gemm without
//! transA and MatMul with a constant 2-D B, reached directly or through a
//! Flatten of a value whose spatial size is 1. Every value between the two
//! must feed nothing else and not be a graph output, and each weight and
//! bias must feed only its layer; anything else is left as it is.

use crate::ir::{Graph, NodeId, ValueId};
use crate::ops::unary::Kind as UnaryKind;
use crate::ops::Op;
use crate::tensor::Tensor;
use crate::Result;
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

/// Equalizes every eligible pair of layers.
pub fn run(g: &mut Graph) -> Result<Equalized> {
    let pairs = pairs(g)?;
    let mut factors: Vec<Vec<f64>> = vec![Vec::new(); pairs.len()];
    for _ in 0..MAX_SWEEPS {
        let mut largest = 0f64;
        for (p, total) in pairs.iter().zip(&mut factors) {
            let s = equalize(g, p)?;
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
/// divided by (none when the layers' channels do not match).
fn equalize(g: &mut Graph, p: &Pair) -> Result<Vec<f64>> {
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
    let mut factors = vec![1.0; channels];
    for c in 0..channels {
        let (i1, i2) = (channel_indices(t1.shape(), p.first, c, channels), channel_indices(t2.shape(), p.second, c, channels));
        let range = |w: &[f64], idx: &[usize]| idx.iter().fold(0f64, |m, &i| m.max(w[i].abs()));
        let (r1, r2) = (range(&w1, &i1), range(&w2, &i2));
        if r1 == 0.0 || r2 == 0.0 || !r1.is_finite() || !r2.is_finite() {
            continue;
        }
        let s = (r1 / r2).sqrt();
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
        let eq = run(&mut g).unwrap();
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
        assert_eq!(run(&mut g).unwrap().pairs, 0);
    }
}
