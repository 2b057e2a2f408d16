//! Error-compensating weight rounding (GPTQ; Frantar et al. 2022): a
//! layer's int8 weight codes are chosen one input column at a time, and
//! each column's rounding error is spread over the columns not yet rounded
//! in proportion to how the layer's inputs correlate, so that what stays
//! close to float is the layer's output on the calibration inputs rather
//! than each weight on its own.
//!
//! The calibration pass gathers each weighted layer's input Gram matrix
//! `XᵀX` ([`Gatherer`]): a row of `X` is what one output position reads
//! (the im2col row of a convolution, per group; a row of a matrix
//! product's input), on a bounded, evenly spread sample of positions. The
//! weight scales stay those of nearest rounding (absmax per output
//! channel); only the codes change, so kernels, the oracle and the
//! accumulator bound are unaffected.
//!
//! Only 16x8 layers are rounded this way (`rewrite/weighted.rs`): with
//! int16 activations the weights' rounding is the larger error, and the
//! compensation raised every PP-OCRv4 recognizer layer's SQNR by 4-12 dB;
//! with int8 activations their rounding noise dominates, and compensating
//! against float inputs lowered held-out output SQNR on four of seven
//! suite models (ARCHITECTURE.md).

use crate::ir::{Graph, NodeId, ValueId};
use crate::ops::quantize::round_half_even;
use crate::ops::spatial::{Axis, Window};
use crate::ops::Op;
use ndarray::linalg::general_mat_mul;
use ndarray::{s, Array2, ArrayView2};
use rayon::prelude::*;
use std::collections::HashMap;
use std::sync::Mutex;

/// Layers whose output channels each read more inputs than this (per
/// group) keep nearest rounding: the Gram matrix grows with the square of
/// that depth and its factorisation with the cube. 576 covers a 3x3
/// convolution over 64 channels; with 1024, `--quantize auto` on ddddocr's
/// OCR and PP-OCRv4's detector took 2.0-2.1x onnxruntime's calibration
/// time (1.8 and 1.7x with this bound).
pub const MAX_DEPTH: usize = 576;
/// Input rows gathered per layer over all samples: twice the depth,
/// within these bounds.
const MIN_ROWS: usize = 512;
const MAX_ROWS: usize = 2048;
/// Added to the Gram matrix's diagonal, relative to the diagonal's mean,
/// so that inputs the samples never vary still give a definite matrix.
const DAMPING: f64 = 0.01;
/// Columns rounded between two updates of the remaining ones.
const BLOCK: usize = 128;
/// Rows one parallel task rounds.
const ROWS_PER_TASK: usize = 64;

/// The Gram matrix of a weighted layer's input rows, per group.
#[derive(Debug, Clone)]
pub struct Gram {
    /// Per group, `depth × depth`: the sum of `x xᵀ` over the gathered
    /// rows `x` (columns ordered as the weights of one output channel).
    blocks: Vec<Array2<f64>>,
    /// Per group, the sum of the rows `x`, and the number of rows.
    sums: Vec<Vec<f64>>,
    rows: f64,
    /// Columns per input channel (the kernel volume; 1 for a matrix
    /// product), when the input's channels are its axis 1, the axis
    /// cross-layer equalization rescales.
    channel_columns: Option<usize>,
}

impl Gram {
    /// Inputs each output channel reads.
    pub fn depth(&self) -> usize {
        self.blocks.first().map_or(0, |b| b.nrows())
    }

    /// The Gram matrix of the same input with channel `c` divided by
    /// `factors[c]` (cross-layer equalization); None when the factors are
    /// not one per input channel.
    pub fn rescaled(&self, factors: &[f64]) -> Option<Gram> {
        let per = self.channel_columns?;
        let depth = self.depth();
        if factors.len() * per != depth * self.blocks.len() {
            return None;
        }
        let factor = |g: usize, col: usize| factors[(g * depth + col) / per];
        let blocks = self
            .blocks
            .iter()
            .enumerate()
            .map(|(g, b)| Array2::from_shape_fn(b.dim(), |(i, j)| b[[i, j]] / (factor(g, i) * factor(g, j))))
            .collect();
        let sums = self.sums.iter().enumerate().map(|(g, s)| s.iter().enumerate().map(|(i, v)| v / factor(g, i)).collect()).collect();
        Some(Gram { blocks, sums, rows: self.rows, channel_columns: self.channel_columns })
    }

    /// Group `g`'s matrix: `Σ x xᵀ`, or with `centered` `Σ (x − m)(x − m)ᵀ`
    /// for `m` the rows' mean (when the mean of the rounding error is
    /// corrected apart, by bias correction, only the rest counts).
    fn block(&self, g: usize, centered: bool) -> Array2<f64> {
        let b = &self.blocks[g];
        if !centered || self.rows == 0.0 {
            return b.clone();
        }
        let s = &self.sums[g];
        Array2::from_shape_fn(b.dim(), |(i, j)| b[[i, j]] - s[i] * s[j] / self.rows)
    }

}

/// How a weighted layer reads its input.
#[derive(Debug, Clone)]
enum Reads {
    /// A convolution's windows (resolved against each sample's shape),
    /// with its kernel shape.
    Windows { window: Window, kernel: Vec<usize> },
    /// A matrix product's rows along the input's last axis.
    Rows,
}

#[derive(Debug)]
struct Layer {
    node: NodeId,
    reads: Reads,
    groups: usize,
    depth: usize,
    /// Rows gathered from each sample.
    rows_per_sample: usize,
    sum: Mutex<Option<Sums>>,
}

/// A layer's running sums while rows are gathered: `Σ x xᵀ` per group
/// and the rows' sums, each sample's (a matrix product in f32) added in
/// fixed point with [`FIXED_ONE`] as one, so that the total does not
/// depend on the order in which the parallel calibration pass delivers the
/// samples (a compile must give the same codes every time); and the rows'
/// number.
#[derive(Debug)]
struct Sums {
    blocks: Vec<Vec<i128>>,
    sums: Vec<Vec<i128>>,
    rows: f64,
    depth: usize,
    channel_columns: Option<usize>,
}

/// One in the fixed point of [`Sums`]: 2⁶⁴, far below any f32 product's
/// resolution that matters, with 2⁶³ of range above one.
const FIXED_ONE: f64 = 18_446_744_073_709_551_616.0;

/// `v` in the fixed point of [`Sums`] (rounded; saturated, though no sum
/// of products of activations comes near the range).
fn fixed(v: f64) -> i128 {
    (v * FIXED_ONE).round() as i128
}

impl Sums {
    fn new(groups: usize, depth: usize, channel_columns: Option<usize>) -> Sums {
        Sums { blocks: vec![vec![0; depth * depth]; groups], sums: vec![vec![0; depth]; groups], rows: 0.0, depth, channel_columns }
    }

    /// Adds `rows`, whose columns are the groups side by side.
    fn add(&mut self, rows: &Array2<f32>) {
        let depth = self.depth;
        let mut h = Array2::<f32>::zeros((depth, depth));
        for (g, (block, sums)) in self.blocks.iter_mut().zip(&mut self.sums).enumerate() {
            let x = rows.slice(s![.., g * depth..(g + 1) * depth]);
            general_mat_mul(1.0, &x.t(), &x, 0.0, &mut h);
            block.iter_mut().zip(h.iter()).for_each(|(a, &v)| *a = a.wrapping_add(fixed(v as f64)));
            sums.iter_mut().zip(x.columns()).for_each(|(a, c)| *a = a.wrapping_add(fixed(c.iter().map(|&v| v as f64).sum::<f64>())));
        }
        self.rows += rows.nrows() as f64;
    }

    fn into_gram(self) -> Gram {
        let real = |v: &i128| *v as f64 / FIXED_ONE;
        let depth = self.depth;
        let blocks = self.blocks.iter().map(|b| Array2::from_shape_fn((depth, depth), |(i, j)| real(&b[i * depth + j]))).collect();
        let sums = self.sums.iter().map(|s| s.iter().map(real).collect()).collect();
        Gram { blocks, sums, rows: self.rows, channel_columns: self.channel_columns }
    }
}

/// Gathers, during the calibration pass, the input Gram matrices of every
/// layer with constant weights that error-compensating rounding covers:
/// Conv, Gemm without transA and MatMul with a constant matrix, each of at
/// most [`MAX_DEPTH`] inputs per output channel and group.
#[derive(Debug, Default)]
pub struct Gatherer {
    layers: HashMap<ValueId, Vec<Layer>>,
}

impl Gatherer {
    /// The layers of `g` to gather for, over `samples` samples.
    pub fn new(g: &Graph, samples: usize) -> Gatherer {
        let mut layers: HashMap<ValueId, Vec<Layer>> = HashMap::new();
        for n in g.nodes() {
            let ins = g.node_inputs(n);
            let (Some(Some(x)), Some(Some(w))) = (ins.first(), ins.get(1)) else { continue };
            let Some(wt) = g.value(*w).constant.as_ref() else { continue };
            let ws = wt.shape();
            let (reads, groups, depth) = match (&g.node(n).op, ws) {
                (Op::Conv(c), [_, cg, kernel @ ..]) => (Reads::Windows { window: c.window.clone(), kernel: kernel.to_vec() }, c.group, cg * kernel.iter().product::<usize>()),
                (Op::Gemm(gm), &[r, c]) if !gm.trans_a => (Reads::Rows, 1, if gm.trans_b { c } else { r }),
                (Op::MatMul(_), &[k, _]) => (Reads::Rows, 1, k),
                _ => continue,
            };
            if depth == 0 || depth > MAX_DEPTH {
                continue;
            }
            let rows_per_sample = (2 * depth).clamp(MIN_ROWS, MAX_ROWS).div_ceil(samples.max(1));
            layers.entry(*x).or_default().push(Layer { node: n, reads, groups, depth, rows_per_sample, sum: Mutex::new(None) });
        }
        Gatherer { layers }
    }

    /// Adds the rows of `values` (of `shape`), one sample of value `v`, to
    /// the Gram matrices of the layers reading it.
    pub fn observe(&self, v: ValueId, values: &[f32], shape: &[usize]) {
        for layer in self.layers.get(&v).into_iter().flatten() {
            let Some(rows) = layer.rows(values, shape) else { continue };
            let mut sum = layer.sum.lock().unwrap_or_else(|p| p.into_inner());
            sum.get_or_insert_with(|| Sums::new(layer.groups, layer.depth, layer.channel_columns(shape.len()))).add(&rows);
        }
    }

    /// Every layer's Gram matrix, by node.
    pub fn finish(self) -> HashMap<NodeId, Gram> {
        let layers = self.layers.into_values().flatten();
        layers.filter_map(|l| Some((l.node, l.sum.into_inner().unwrap_or_else(|p| p.into_inner())?.into_gram()))).collect()
    }
}

impl Layer {
    /// The sampled rows of one sample's input, `[rows, groups · depth]`
    /// (None when its shape does not fit the layer).
    fn rows(&self, values: &[f32], shape: &[usize]) -> Option<Array2<f32>> {
        let width = self.groups * self.depth;
        match &self.reads {
            Reads::Rows => {
                let (&k, _) = shape.split_last()?;
                let all = ArrayView2::from_shape((values.len() / k.max(1), k), values).ok()?;
                (k == width).then(|| all.select(ndarray::Axis(0), &spread(all.nrows(), self.rows_per_sample).collect::<Vec<_>>()))
            }
            Reads::Windows { window, kernel } => {
                let [n, c, spatial @ ..] = shape else { return None };
                let axes = window.resolve(spatial, kernel).ok()?;
                if *c * kernel.iter().product::<usize>() != width {
                    return None;
                }
                let outputs: usize = axes.iter().map(|a| a.output).product();
                let picked: Vec<usize> = spread(n * outputs, self.rows_per_sample).collect();
                let mut rows = Array2::zeros((picked.len(), width));
                for (mut row, &p) in rows.outer_iter_mut().zip(&picked) {
                    patch(values, *c, spatial, &axes, p / outputs.max(1), p % outputs.max(1), row.as_slice_mut()?);
                }
                Some(rows)
            }
        }
    }

    /// Columns per input channel of an input of `rank` axes, when its
    /// channels are axis 1.
    fn channel_columns(&self, rank: usize) -> Option<usize> {
        match &self.reads {
            Reads::Windows { kernel, .. } => Some(kernel.iter().product()),
            Reads::Rows => (rank == 2).then_some(1),
        }
    }
}

/// `count` indices spread evenly over `0..total` (all of them when there
/// are fewer).
fn spread(total: usize, count: usize) -> impl Iterator<Item = usize> {
    let count = count.min(total);
    (0..count).map(move |j| j * total / count)
}

/// Writes into `out` the inputs that output position `pos` (flat over the
/// output's spatial axes) of image `image` reads, ordered by channel then
/// kernel offset; padding reads zero.
fn patch(values: &[f32], channels: usize, spatial: &[usize], axes: &[Axis], image: usize, pos: usize, out: &mut [f32]) {
    let rank = axes.len();
    let mut o = vec![0usize; rank];
    let mut rest = pos;
    for d in (0..rank).rev() {
        o[d] = rest % axes[d].output.max(1);
        rest /= axes[d].output.max(1);
    }
    let plane: usize = spatial.iter().product();
    let kvol: usize = axes.iter().map(|a| a.kernel).product();
    let inner: Vec<usize> = (0..rank).map(|d| spatial[d + 1..].iter().product()).collect();
    for k in 0..kvol {
        let mut rest = k;
        let mut offset = Some(0usize);
        for d in (0..rank).rev() {
            let a = &axes[d];
            let kd = rest % a.kernel;
            rest /= a.kernel;
            let at = (o[d] * a.stride + kd * a.dilation) as i64 - a.pad_begin as i64;
            offset = offset.filter(|_| (0..spatial[d] as i64).contains(&at)).map(|off| off + at as usize * inner[d]);
        }
        for c in 0..channels {
            out[c * kvol + k] = offset.map_or(0.0, |off| values[(image * channels + c) * plane + off]);
        }
    }
}

/// int8 codes of the weights `w`, one row per output channel with its
/// scale in `scales` (codes in `[lowest, 127]`), each group's rows rounded
/// against its block of `gram` (`centered`: see [`Gram::block`]). None when the shapes do not agree or a
/// block is not positive definite even after damping (a layer whose
/// input was zero on every sample): nearest rounding is then the answer.
pub fn round(w: &[f32], scales: &[f32], gram: &Gram, centered: bool, lowest: f64) -> Option<Vec<i8>> {
    let (groups, depth) = (gram.blocks.len(), gram.depth());
    let rows = scales.len();
    if groups == 0 || rows % groups != 0 || w.len() != rows * depth {
        return None;
    }
    let per_group = rows / groups;
    let coded: Vec<Option<Vec<i8>>> = (0..groups)
        .into_par_iter()
        .map(|g| {
            let span = g * per_group * depth..(g + 1) * per_group * depth;
            let weights = Array2::from_shape_vec((per_group, depth), w[span].to_vec()).ok()?;
            round_group(weights, &scales[g * per_group..(g + 1) * per_group], &gram.block(g, centered), lowest)
        })
        .collect();
    coded.into_iter().collect::<Option<Vec<_>>>().map(|v| v.concat())
}

/// GPTQ on one group: `w` is `[rows, depth]`, `h` its input Gram matrix.
/// Rows are independent (an error moves along its own row only), so they
/// are rounded in parallel, [`ROWS_PER_TASK`] at a time.
fn round_group(w: Array2<f32>, scales: &[f32], h: &Array2<f64>, lowest: f64) -> Option<Vec<i8>> {
    let rows = w.nrows();
    let u = inverse_factor(h)?.mapv(|v| v as f32);
    let factor = u.as_slice()?;
    let starts: Vec<usize> = (0..rows).step_by(ROWS_PER_TASK).collect();
    let coded: Vec<Vec<i8>> = starts
        .into_par_iter()
        .map(|r0| {
            let r1 = (r0 + ROWS_PER_TASK).min(rows);
            round_rows(w.slice(s![r0..r1, ..]).to_owned(), &scales[r0..r1], &u, factor, lowest)
        })
        .collect();
    Some(coded.concat())
}

/// GPTQ on rows `w` with the factor `u` ([`inverse_factor`], `factor`
/// its elements in row-major order): columns in
/// blocks of [`BLOCK`], each column's error moved onto the rest of its
/// block at once and onto the later blocks in one matrix product. The
/// factor is computed in f64; the weights' updates, whose errors stay far
/// below a code step, in f32.
fn round_rows(mut w: Array2<f32>, scales: &[f32], u: &Array2<f32>, factor: &[f32], lowest: f64) -> Vec<i8> {
    let (rows, depth) = w.dim();
    let mut codes = vec![0i8; rows * depth];
    let code = |v: f32, s: f32| round_half_even(v as f64 / s as f64).clamp(lowest, 127.0);
    for start in (0..depth).step_by(BLOCK) {
        let end = (start + BLOCK).min(depth);
        let mut errors = Array2::<f32>::zeros((rows, end - start));
        for (r, (mut row, &s)) in w.rows_mut().into_iter().zip(scales).enumerate() {
            let Some(row) = row.as_slice_mut() else { continue };
            for i in start..end {
                let q = code(row[i], s);
                codes[r * depth + i] = q as i8;
                let e = (row[i] - q as f32 * s) / u[[i, i]];
                errors[[r, i - start]] = e;
                let later = &factor[i * depth + i + 1..i * depth + end];
                row[i + 1..end].iter_mut().zip(later).for_each(|(x, &f)| *x -= e * f);
            }
        }
        if end < depth {
            let mut rest = w.slice_mut(s![.., end..]);
            general_mat_mul(-1.0, &errors, &u.slice(s![start..end, end..]), 1.0, &mut rest);
        }
    }
    codes
}

/// The upper triangular `U` with `UᵀU = (H + λI)⁻¹`, λ the damping; None
/// when that matrix is not positive definite. With `J` the reversal of
/// rows and columns, `J(H + λI)J = LLᵀ` gives `H + λI = VVᵀ` with
/// `V = JLJ` upper triangular, so `U = V⁻¹ = J L⁻¹ J`.
fn inverse_factor(h: &Array2<f64>) -> Option<Array2<f64>> {
    let n = h.nrows();
    let mean = (0..n).map(|i| h[[i, i]]).sum::<f64>() / n.max(1) as f64;
    let damping = DAMPING * mean;
    if !(damping > 0.0 && damping.is_finite()) {
        return None;
    }
    let reversed = Array2::from_shape_fn((n, n), |(i, j)| h[[n - 1 - i, n - 1 - j]] + if i == j { damping } else { 0.0 });
    let l = cholesky(reversed)?;
    let m = lower_inverse(&l);
    Some(Array2::from_shape_fn((n, n), |(i, j)| m[[n - 1 - i, n - 1 - j]]))
}

/// The lower triangular `L` with `LLᵀ = a` (None when `a` is not positive
/// definite), computed in place in `a`'s lower triangle.
fn cholesky(mut a: Array2<f64>) -> Option<Array2<f64>> {
    let n = a.nrows();
    for j in 0..n {
        let d = a[[j, j]] - dot(a.slice(s![j, ..j]).as_slice()?, a.slice(s![j, ..j]).as_slice()?);
        if !(d > 0.0) {
            return None;
        }
        let d = d.sqrt();
        a[[j, j]] = d;
        let lj = a.slice(s![j, ..j]).to_vec();
        for i in j + 1..n {
            let v = (a[[i, j]] - dot(a.slice(s![i, ..j]).as_slice()?, &lj)) / d;
            a[[i, j]] = v;
        }
    }
    for i in 0..n {
        a.slice_mut(s![i, i + 1..]).fill(0.0);
    }
    Some(a)
}

/// `l⁻¹` for a lower triangular `l` with a positive diagonal, row by row:
/// row `i` of `M = L⁻¹` is `(eᵢ − Σ_{k<i} L[i,k] M[k]) / L[i,i]`, where row
/// `k` of `M` ends at column `k`.
fn lower_inverse(l: &Array2<f64>) -> Array2<f64> {
    let n = l.nrows();
    let mut m = vec![0.0f64; n * n];
    let mut row = vec![0.0f64; n];
    for i in 0..n {
        row[..=i].fill(0.0);
        row[i] = 1.0;
        for k in 0..i {
            let f = l[[i, k]];
            if f != 0.0 {
                let done = &m[k * n..k * n + k + 1];
                row[..=k].iter_mut().zip(done).for_each(|(r, &v)| *r -= f * v);
            }
        }
        let d = l[[i, i]];
        m[i * n..i * n + i + 1].iter_mut().zip(&row[..=i]).for_each(|(x, &r)| *x = r / d);
    }
    Array2::from_shape_vec((n, n), m).unwrap_or_else(|_| Array2::zeros((n, n)))
}

/// `a · b`, with independent partial sums so that it vectorizes.
fn dot(a: &[f64], b: &[f64]) -> f64 {
    let mut lanes = [0.0f64; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f64 = ca.remainder().iter().zip(cb.remainder()).map(|(x, y)| x * y).sum();
    for (x, y) in ca.zip(cb) {
        for l in 0..8 {
            lanes[l] += x[l] * y[l];
        }
    }
    lanes.iter().sum::<f64>() + tail
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::front::onnx::Attr;
    use crate::ir::{TensorType, Value};
    use crate::ops::testing::{add_constant, add_op, run, Rng};
    use crate::tensor::Tensor;

    /// Uniform in [−1, 1).
    fn uniform(r: &mut Rng) -> f32 {
        (r.next() >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    }

    fn values(r: &mut Rng, n: usize) -> Vec<f32> {
        (0..n).map(|_| uniform(r)).collect()
    }

    /// A graph of one Conv of `x` ([1, 4, 7, 6]) with weights `w` of
    /// `w_shape` and `attrs`, its Gram matrices gathered over every
    /// position of `x`; and the Conv's output.
    fn conv_gram(x: &Tensor, w_shape: &[usize], w: &[f32], attrs: Vec<(&str, Attr)>) -> (Gram, Tensor) {
        let mut g = Graph::new("conv");
        let xv = g.add_value(Value { name: "x".into(), ty: Some(TensorType::of(x)), constant: None });
        g.inputs.push(xv);
        let wv = add_constant(&mut g, "w", w_shape, w.to_vec());
        let y = add_op(&mut g, "Conv", attrs.clone(), &[xv, wv]);
        g.outputs.push(y);
        let gatherer = Gatherer::new(&g, 1);
        gatherer.observe(xv, &x.to_f32().unwrap(), x.shape());
        let grams = gatherer.finish();
        let w = Tensor::from_vec(w_shape, w.to_vec()).unwrap();
        let out = run("Conv", 17, attrs, &[x.clone(), w]).unwrap().remove(0);
        assert_eq!(grams.len(), 1);
        let gram = grams.into_values().next().unwrap();
        (gram, out)
    }

    /// With every position gathered, `wᵀ H w` is the sum of squares of the
    /// output channel with weights `w`, and `w · sums` its sum: the rows are
    /// exactly what the convolution reads (strides, padding, dilation and
    /// groups included).
    #[test]
    fn gathered_rows_are_what_the_convolution_reads() {
        let mut r = Rng(7);
        let x = Tensor::from_vec(&[1, 4, 7, 6], values(&mut r, 4 * 7 * 6)).unwrap();
        let cases: Vec<(Vec<usize>, Vec<(&str, Attr)>)> = vec![
            (vec![3, 4, 3, 3], vec![("pads", Attr::Ints(vec![1, 1, 1, 1]))]),
            (vec![2, 4, 2, 3], vec![("strides", Attr::Ints(vec![2, 1])), ("pads", Attr::Ints(vec![0, 1, 1, 0])), ("dilations", Attr::Ints(vec![2, 1]))]),
            (vec![4, 2, 3, 3], vec![("group", Attr::Int(2)), ("pads", Attr::Ints(vec![1, 1, 1, 1])), ("strides", Attr::Ints(vec![2, 2]))]),
        ];
        for (w_shape, attrs) in cases {
            let w = values(&mut r, w_shape.iter().product());
            let (gram, y) = conv_gram(&x, &w_shape, &w, attrs);
            let depth = gram.depth();
            let per_group = w_shape[0] / gram.blocks.len();
            let y = y.to_f32().unwrap();
            let plane = y.len() / w_shape[0];
            for (c, row) in w.chunks(depth).enumerate() {
                let g = c / per_group;
                let row = ndarray::Array1::from_iter(row.iter().map(|&v| v as f64));
                let energy = row.dot(&gram.blocks[g].dot(&row));
                let sum: f64 = row.iter().zip(&gram.sums[g]).map(|(a, b)| a * b).sum();
                let out = &y[c * plane..(c + 1) * plane];
                let expected: f64 = out.iter().map(|&v| (v as f64).powi(2)).sum();
                assert!((energy - expected).abs() < 1e-4 * expected.max(1.0), "channel {c}: {energy} vs {expected}");
                let expected: f64 = out.iter().map(|&v| v as f64).sum();
                assert!((sum - expected).abs() < 1e-4 * expected.abs().max(1.0), "channel {c}: {sum} vs {expected}");
            }
        }
    }

    /// `U` is upper triangular and `UᵀU (H + λI) = I`.
    #[test]
    fn the_factor_is_the_upper_cholesky_factor_of_the_inverse() {
        let mut r = Rng(3);
        let x = Array2::from_shape_vec((40, 12), values(&mut r, 480).into_iter().map(f64::from).collect()).unwrap();
        let h = x.t().dot(&x);
        let u = inverse_factor(&h).unwrap();
        let damping = DAMPING * (0..12).map(|i| h[[i, i]]).sum::<f64>() / 12.0;
        let product = u.t().dot(&u).dot(&(&h + &(Array2::<f64>::eye(12) * damping)));
        for ((i, j), &v) in product.indexed_iter() {
            assert!((v - if i == j { 1.0 } else { 0.0 }).abs() < 1e-9, "[{i}, {j}] = {v}");
            if i > j {
                assert_eq!(u[[i, j]], 0.0);
            }
        }
    }

    /// On inputs whose columns correlate, the codes leave a smaller output
    /// error than nearest rounding, on rows the Gram matrix was not
    /// gathered from; the scales, and so the codes' range, are unchanged.
    #[test]
    fn compensated_codes_beat_nearest_on_held_out_inputs() {
        let mut r = Rng(11);
        let (depth, rows_out) = (48, 16);
        let mix = Array2::from_shape_vec((8, depth), values(&mut r, 8 * depth)).unwrap();
        let mut inputs = |n: usize| {
            let z = Array2::from_shape_vec((n, 8), values(&mut r, n * 8)).unwrap();
            let noise = Array2::from_shape_vec((n, depth), values(&mut r, n * depth)).unwrap() * 0.05;
            z.dot(&mix) + noise
        };
        let fit = inputs(400);
        let test = inputs(400);
        let w = values(&mut r, rows_out * depth);
        let (nearest, scales) = crate::quant::params::quantize_weights(&w, rows_out, false);
        let gram = Gram { blocks: vec![fit.t().dot(&fit).mapv(f64::from)], sums: vec![vec![0.0; depth]], rows: 400.0, channel_columns: Some(1) };
        let compensated = round(&w, &scales, &gram, false, -127.0).unwrap();
        let error = |codes: &[i8]| {
            let dq = Array2::from_shape_fn((rows_out, depth), |(o, k)| (w[o * depth + k] - codes[o * depth + k] as f32 * scales[o]) as f64);
            test.mapv(f64::from).dot(&dq.t()).mapv(|v| v * v).sum()
        };
        let (e_nearest, e_compensated) = (error(&nearest), error(&compensated));
        assert!(e_compensated < 0.5 * e_nearest, "{e_compensated} vs {e_nearest}");
        assert!(compensated.iter().all(|&q| (-127..=127).contains(&q)));
        assert_ne!(compensated, nearest);
    }

    /// The Gram matrix of `rows` (one group).
    fn gram_of(rows: &Array2<f32>, channel_columns: Option<usize>) -> Gram {
        let mut sums = Sums::new(1, rows.ncols(), channel_columns);
        sums.add(rows);
        sums.into_gram()
    }

    /// Rescaling the input's channels rescales the matrix and the sums
    /// alike; centering subtracts the mean's outer product.
    #[test]
    fn rescaled_and_centered_matrices() {
        let x = Array2::from_shape_vec((3, 4), vec![1.0f32, 2.0, 0.0, -1.0, 3.0, 1.0, 2.0, 0.5, -2.0, 0.0, 1.0, 1.0]).unwrap();
        let gram = gram_of(&x, Some(1));
        let factors = [2.0, 0.5, 1.0, 4.0];
        let divided = x.clone() / Array2::from_shape_fn((3, 4), |(_, j)| factors[j] as f32);
        let expected = gram_of(&divided, Some(1));
        let rescaled = gram.rescaled(&factors).unwrap();
        assert!((&rescaled.blocks[0] - &expected.blocks[0]).iter().all(|d| d.abs() < 1e-9));
        assert!(rescaled.sums[0].iter().zip(&expected.sums[0]).all(|(a, b)| (a - b).abs() < 1e-9));
        let x64 = x.mapv(f64::from);
        let centered = &x64 - &x64.mean_axis(ndarray::Axis(0)).unwrap();
        assert!((&gram.block(0, true) - &centered.t().dot(&centered)).iter().all(|d| d.abs() < 1e-9));
        // A matrix product over a rank-3 input has no channel axis 1.
        assert!(gram_of(&x, None).rescaled(&factors).is_none());
    }

    /// An input that is zero on every sample leaves nothing to compensate
    /// against: nearest rounding is the answer.
    #[test]
    fn a_dead_input_falls_back_to_nearest() {
        let gram = Gram { blocks: vec![Array2::zeros((4, 4))], sums: vec![vec![0.0; 4]], rows: 10.0, channel_columns: Some(1) };
        assert_eq!(round(&[0.5, -0.25, 1.0, 0.0], &[1.0 / 127.0], &gram, false, -127.0), None);
    }
}
