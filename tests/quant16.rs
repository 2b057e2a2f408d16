//! 16x8 kernels bit for bit: small graphs of integer operators on int16
//! codes (and int8/uint8 ones at precision boundaries), built through the
//! library with random shapes, weights and scales, run on the integer
//! oracle (the interpreter) and as generated Rust and C, whose outputs must
//! equal the oracle's exactly, in both rounding modes.
//!
//! The cases need no quantizer: each builds its operators directly, as the
//! quantizer will (NUMERICS.md, "16x8"). Data movement and max pooling on
//! int16 codes come from small ONNX models with int16 inputs.

use qcc::back::{self, Emit, Options};
use qcc::interp::Interpreter;
use qcc::ir::{Graph, Node, TensorType, Value, ValueId};
use qcc::ops::qint::{self, BinaryKind, IntAvgPool, IntBinary, IntConv, IntConvert, IntLayerNorm, IntLut, IntMatMul, IntReduceMean, IntRescale, IntResize, IntSoftmax, Stage};
use qcc::ops::spatial::Axis;
use qcc::ops::Op;
use qcc::quant::fixed_point::{quantize_multiplier, Multiplier, Rounding};
use qcc::target::Target;
use qcc::tensor::{npy, DType, Tensor};
use qcc_tests::batch::{build_c, build_rust_crate, Emitted};
use qcc_tests::cli::TempDir;
use qcc_tests::float_users;
use qcc_tests::model::{self, attr_ints, f32_info, node, with};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

/// Samples of random inputs per case.
const SAMPLES: usize = 3;

/// A small deterministic generator (xorshift*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// An integer in `lo..=hi`.
    fn int(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next() % (hi - lo + 1) as u64) as i64
    }

    /// A real in `[lo, hi)`.
    fn real(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn codes(&mut self, dtype: DType, shape: &[usize]) -> Tensor {
        let n: usize = shape.iter().product();
        let (lo, hi) = qint::code_range(dtype).unwrap();
        let v: Vec<i32> = (0..n).map(|_| self.int(lo as i64, hi as i64) as i32).collect();
        qint::codes(dtype, shape, v).unwrap()
    }

    fn weights(&mut self, n: usize) -> Vec<i8> {
        (0..n).map(|_| self.int(-127, 127) as i8).collect()
    }

    /// A multiplier `2^lo..2^hi` (log-uniform).
    fn multiplier(&mut self, lo: f64, hi: f64) -> Multiplier {
        quantize_multiplier(2f64.powf(self.real(lo, hi))).unwrap()
    }
}

/// A graph under construction.
struct Builder {
    g: Graph,
    count: usize,
}

impl Builder {
    fn new(name: &str) -> Builder {
        Builder { g: Graph::new(name), count: 0 }
    }

    fn input(&mut self, dtype: DType, shape: &[usize]) -> ValueId {
        let name = format!("in{}", self.g.inputs.len());
        let v = self.g.add_value(Value { name, ty: Some(TensorType::fixed(dtype, shape)), constant: None });
        self.g.inputs.push(v);
        v
    }

    fn constant(&mut self, t: Tensor) -> ValueId {
        self.count += 1;
        let ty = TensorType::fixed(t.dtype(), t.shape());
        self.g.add_value(Value { name: format!("c{}", self.count), ty: Some(ty), constant: Some(Arc::new(t)) })
    }

    fn op(&mut self, op: Op, inputs: &[ValueId]) -> ValueId {
        self.count += 1;
        let y = self.g.add_value(Value { name: format!("v{}", self.count), ty: None, constant: None });
        let ins: Vec<Option<ValueId>> = inputs.iter().map(|&v| Some(v)).collect();
        let node = Node { name: format!("n{}", self.count), op_type: "qint".into(), opset: 17, op };
        self.g.add_node(node, &ins, &[Some(y)]).unwrap();
        y
    }

    fn output(mut self, v: ValueId) -> Graph {
        self.g.outputs.push(v);
        self.g
    }
}

/// The full output stage of int16 codes.
fn stage16(rounding: Rounding) -> Stage {
    Stage { zero: 0, min: -32767, max: 32767, rounding }
}

/// An axis of `input` with the given kernel, stride, dilation and pads.
fn axis(input: usize, kernel: usize, stride: usize, dilation: usize, pads: (usize, usize)) -> Axis {
    let span = (kernel - 1) * dilation + 1;
    let output = (input + pads.0 + pads.1 - span) / stride + 1;
    Axis { input, kernel, stride, dilation, pad_begin: pads.0, pad_end: pads.1, output }
}

/// An IntConv of `x` [.., c_in, ..] into `c_out` channels over `axes`,
/// weights random, int64 biases and multipliers from real scales, so the
/// outputs use the int16 range.
fn conv(b: &mut Builder, r: &mut Rng, x: ValueId, (c_in, c_out, group): (usize, usize, usize), axes: Vec<Axis>, rounding: Rounding) -> ValueId {
    let kvol: usize = axes.iter().map(|a| a.kernel).product();
    let per = c_in / group * kvol;
    let qw = r.weights(c_out * per);
    let sw: Vec<f32> = (0..c_out).map(|_| r.real(0.002, 0.02) as f32).collect();
    let bias: Vec<f64> = (0..c_out).map(|_| r.real(-0.5, 0.5)).collect();
    // Input codes span ±1 real; outputs about ±(√per · 127 · s_w): the scale keeps most in range.
    let s_out = (per as f64).sqrt() * 127.0 * 0.01 / 32767.0 * 2.0;
    let k = qint::conv_constants((1.0 / 32767.0, 0, DType::I16), &qw, &sw, &bias, s_out, qint::ZeroPoint::Folded).unwrap();
    let mut wshape = vec![c_out, c_in / group];
    wshape.extend(axes.iter().map(|a| a.kernel));
    if axes.is_empty() {
        wshape = vec![c_out, c_in];
    }
    let w = b.constant(Tensor::from_vec(&wshape, qw).unwrap());
    let bias = b.constant(k.bias);
    let m = b.constant(Tensor::from_vec(&[c_out], k.mult).unwrap());
    let e = b.constant(Tensor::from_vec(&[c_out], k.exp).unwrap());
    let op = IntConv { axes, group, x_zero: 0, stage: stage16(rounding) };
    b.op(Op::IntConv(op), &[x, w, bias, m, e])
}

/// A case: the graph and its input samples.
struct Case {
    name: String,
    graph: Graph,
    samples: Vec<Vec<Tensor>>,
}

/// Random samples for the graph's inputs.
fn samples(g: &Graph, r: &mut Rng) -> Vec<Vec<Tensor>> {
    (0..SAMPLES)
        .map(|_| {
            g.inputs
                .iter()
                .map(|&v| {
                    let ty = g.value(v).ty.clone().unwrap();
                    let shape = ty.shape.as_fixed().unwrap();
                    if ty.dtype == DType::F32 {
                        let n: usize = shape.iter().product();
                        Tensor::from_vec(&shape, (0..n).map(|_| r.real(-1.2, 1.2) as f32).collect()).unwrap()
                    } else {
                        r.codes(ty.dtype, &shape)
                    }
                })
                .collect()
        })
        .collect()
}

fn case(name: &str, graph: Graph, r: &mut Rng) -> Case {
    let samples = samples(&graph, r);
    Case { name: name.to_string(), graph, samples }
}

/// Every 16-bit operator (and the boundaries), in one rounding mode.
fn cases(rounding: Rounding, r: &mut Rng) -> Vec<Case> {
    let tag = if rounding == Rounding::Single { "single" } else { "double" };
    let mut out = Vec::new();
    let mut add = |name: &str, f: &mut dyn FnMut(&mut Rng) -> Graph, r: &mut Rng| {
        let g = f(r);
        out.push(case(&format!("{name}_{tag}"), g, r));
    };
    // Convolutions: KxK padded, strided and dilated; depthwise; grouped 1x1; 1-D.
    add("conv3x3", &mut |r| {
        let mut b = Builder::new("conv3x3");
        let (h, w) = (r.int(5, 9) as usize, r.int(5, 11) as usize);
        let x = b.input(DType::I16, &[2, 3, h, w]);
        let y = conv(&mut b, r, x, (3, 6, 1), vec![axis(h, 3, 1, 1, (1, 1)), axis(w, 3, 2, 1, (1, 0))], rounding);
        b.output(y)
    }, r);
    add("conv_dilated", &mut |r| {
        let mut b = Builder::new("conv_dilated");
        let x = b.input(DType::I16, &[1, 4, 9, 9]);
        let y = conv(&mut b, r, x, (4, 4, 2), vec![axis(9, 3, 1, 2, (2, 2)), axis(9, 2, 1, 2, (0, 1))], rounding);
        b.output(y)
    }, r);
    add("conv_depthwise", &mut |r| {
        let mut b = Builder::new("conv_depthwise");
        let x = b.input(DType::I16, &[1, 8, 10, 7]);
        let y = conv(&mut b, r, x, (8, 8, 8), vec![axis(10, 3, 2, 1, (1, 1)), axis(7, 5, 1, 1, (2, 2))], rounding);
        b.output(y)
    }, r);
    add("conv_pointwise", &mut |r| {
        let mut b = Builder::new("conv_pointwise");
        let x = b.input(DType::I16, &[1, 12, 4, 5]);
        let y = conv(&mut b, r, x, (12, 9, 3), vec![axis(4, 1, 1, 1, (0, 0)), axis(5, 1, 1, 1, (0, 0))], rounding);
        b.output(y)
    }, r);
    add("conv_1d", &mut |r| {
        let mut b = Builder::new("conv_1d");
        let x = b.input(DType::I16, &[1, 5, 23]);
        let y = conv(&mut b, r, x, (5, 7, 1), vec![axis(23, 4, 3, 1, (1, 2))], rounding);
        b.output(y)
    }, r);
    // Multipliers above 1 (positive exponents) on int64 accumulators: codes
    // scaled down first, then a convolution with small weights and gains 4..40.
    add("conv_gain", &mut |r| {
        let mut b = Builder::new("conv_gain");
        let x = b.input(DType::I16, &[1, 3, 6, 5]);
        let shrink = IntRescale { z_in: 0, m: quantize_multiplier(1.0 / 256.0).unwrap(), stage: stage16(rounding) };
        let x = b.op(Op::IntRescale(shrink), &[x]);
        let w = b.constant(Tensor::from_vec(&[4, 3, 3, 3], (0..108).map(|_| r.int(-3, 3) as i8).collect::<Vec<_>>()).unwrap());
        let bias = b.constant(Tensor::from_vec(&[4], (0..4).map(|_| r.int(-3000, 3000)).collect::<Vec<i64>>()).unwrap());
        let muls: Vec<Multiplier> = (0..4).map(|_| r.multiplier(2.0, 5.3)).collect();
        let m = b.constant(Tensor::from_vec(&[4], muls.iter().map(|m| m.m).collect::<Vec<_>>()).unwrap());
        let e = b.constant(Tensor::from_vec(&[4], muls.iter().map(|m| m.exponent).collect::<Vec<_>>()).unwrap());
        let op = IntConv { axes: vec![axis(6, 3, 1, 1, (1, 1)), axis(5, 3, 1, 1, (1, 1))], group: 1, x_zero: 0, stage: stage16(rounding) };
        let y = b.op(Op::IntConv(op), &[x, w, bias, m, e]);
        b.output(y)
    }, r);
    // Gemm/MatMul with constant weights: rows of K codes, long K (int64 sums).
    add("gemm", &mut |r| {
        let mut b = Builder::new("gemm");
        let k = r.int(300, 700) as usize;
        let x = b.input(DType::I16, &[2, 3, k]);
        let y = conv(&mut b, r, x, (k, 10, 1), vec![], rounding);
        b.output(y)
    }, r);
    // Add, Sub and Mul with broadcasting.
    add("binary", &mut |r| {
        let mut b = Builder::new("binary");
        let x = b.input(DType::I16, &[2, 3, 4]);
        let z = b.input(DType::I16, &[3, 1]);
        let mut v = x;
        for kind in [BinaryKind::Add, BinaryKind::Sub, BinaryKind::Mul] {
            let (sa, sb) = (r.real(0.5, 2.0) / 32767.0, r.real(0.5, 2.0) / 32767.0);
            let so = if kind == BinaryKind::Mul { sa * sb * 32767.0 * r.real(0.5, 2.0) } else { r.real(1.0, 4.0) / 32767.0 };
            let op = IntBinary::for_scales(kind, DType::I16, (sa, 0), (sb, 0), so, stage16(rounding)).unwrap().unwrap();
            v = b.op(Op::IntBinary(op), &[v, z]);
        }
        b.output(v)
    }, r);
    // Rescale within int16 (Mul by a constant), with a fused Relu's clamp.
    add("rescale", &mut |r| {
        let mut b = Builder::new("rescale");
        let x = b.input(DType::I16, &[3, 17]);
        let op = IntRescale { z_in: 0, m: r.multiplier(-3.0, 3.0), stage: Stage { min: 0, ..stage16(rounding) } };
        let y = b.op(Op::IntRescale(op), &[x]);
        b.output(y)
    }, r);
    // Precision boundaries: int8 → int16 → uint8 → int16 → int8.
    add("convert", &mut |r| {
        let mut b = Builder::new("convert");
        let x = b.input(DType::I8, &[4, 9]);
        let s8 = 2.0 / 255.0;
        let (s16, su8) = (r.real(0.8, 1.2) / 32767.0, 2.0 / 255.0);
        let steps = [
            (DType::I16, (DType::I8, s8, -3), (s16, 0), (-32767, 32767)),
            (DType::U8, (DType::I16, s16, 0), (su8, 120), (0, 255)),
            (DType::I16, (DType::U8, su8, 120), (s16, 0), (-32767, 32767)),
            (DType::I8, (DType::I16, s16, 0), (s8, 5), (-128, 127)),
        ];
        let mut v = x;
        for (to, from, into, clamp) in steps {
            let op = IntConvert::for_scales(to, from, into, clamp, rounding).unwrap().unwrap();
            v = b.op(Op::IntConvert(op), &[v]);
        }
        b.output(v)
    }, r);
    // Average pooling: padded windows with and without the padding counted,
    // requantized, and the global average.
    add("avg_pool", &mut |r| {
        let mut b = Builder::new("avg_pool");
        let x = b.input(DType::I16, &[1, 3, 7, 8]);
        let axes = vec![axis(7, 3, 2, 1, (1, 1)), axis(8, 2, 1, 1, (1, 0))];
        let y = b.op(Op::IntAvgPool(IntAvgPool { axes: axes.clone(), include_pad: false, x_zero: 0, requant: None }), &[x]);
        let y = b.op(Op::IntAvgPool(IntAvgPool { axes: vec![axis(4, 2, 1, 1, (0, 0)), axis(8, 3, 1, 1, (1, 1))], include_pad: true, x_zero: 0, requant: None }), &[y]);
        let global = vec![axis(3, 3, 1, 1, (0, 0)), axis(8, 8, 1, 1, (0, 0))];
        let m = quantize_multiplier(r.real(0.5, 2.0) / 24.0).unwrap();
        let y = b.op(Op::IntAvgPool(IntAvgPool { axes: global, include_pad: false, x_zero: 0, requant: Some((m, stage16(rounding))) }), &[y]);
        b.output(y)
    }, r);
    // Product of two activations with broadcast batches.
    add("matmul", &mut |r| {
        let mut b = Builder::new("matmul");
        let k = r.int(3, 40) as usize;
        let a = b.input(DType::I16, &[2, 3, 4, k]);
        let c = b.input(DType::I16, &[3, k, 5]);
        let s = 1.0 / 32767.0;
        let op = IntMatMul::for_scales(DType::I16, (s, 0), (s, 0), k, s * (k as f64).sqrt() * r.real(0.2, 0.6), stage16(rounding)).unwrap().unwrap();
        let y = b.op(Op::IntMatMul(op), &[a, c]);
        b.output(y)
    }, r);
    // Softmax along the middle axis.
    add("softmax", &mut |r| {
        let mut b = Builder::new("softmax");
        let x = b.input(DType::I16, &[2, 11, 3]);
        let table = b.constant(Tensor::from_vec(&[512], qint::softmax_table(DType::I16, r.real(2.0, 20.0) / 32767.0).unwrap()).unwrap());
        let (_, recip, y_zero) = qint::softmax_output(DType::I16).unwrap();
        let y = b.op(Op::IntSoftmax(IntSoftmax { rows: [2, 11, 3], y_zero, recip }), &[x, table]);
        b.output(y)
    }, r);
    // Layer normalization over the last axis.
    add("layer_norm", &mut |r| {
        let mut b = Builder::new("layer_norm");
        let n = r.int(8, 40) as usize;
        let x = b.input(DType::I16, &[3, n]);
        let s_out = 4.0 / 32767.0;
        // γ / s_out and β / s_out in Q15 (NUMERICS.md, "LayerNormalization").
        let gain: Vec<i32> = (0..n).map(|_| (r.real(0.5, 1.5) / s_out * 32768.0).round() as i32).collect();
        let bias: Vec<i32> = (0..n).map(|_| (r.real(-0.3, 0.3) / s_out * 32768.0).round() as i32).collect();
        let (max_row, span) = qint::layer_norm_limits(DType::I16).unwrap();
        assert!(n <= max_row);
        let (eps, eps_shift) = qint::epsilon_term(n, 1e-5, 3.0 / 32767.0, span).unwrap();
        let g = b.constant(Tensor::from_vec(&[n], gain).unwrap());
        let bc = b.constant(Tensor::from_vec(&[n], bias).unwrap());
        let op = IntLayerNorm { rows: [3, n], eps, eps_shift, y_zero: 0, min: -32767, max: 32767 };
        let y = b.op(Op::IntLayerNorm(op), &[x, g, bc]);
        b.output(y)
    }, r);
    // ReduceMean over the first and last axes.
    add("reduce_mean", &mut |r| {
        let mut b = Builder::new("reduce_mean");
        let x = b.input(DType::I16, &[3, 4, 5]);
        let (kept, reduced) = qint::reduce_groups(&[3, 4, 5], &[0, 2]);
        let m = quantize_multiplier(r.real(0.5, 2.0) / 15.0).unwrap();
        let op = IntReduceMean { kept, reduced, out_shape: vec![4], x_zero: 0, m, stage: stage16(rounding) };
        let y = b.op(Op::IntReduceMean(op), &[x]);
        b.output(y)
    }, r);
    // Bilinear resize (Q11 taps) and nearest.
    add("resize", &mut |r| {
        let mut b = Builder::new("resize");
        let x = b.input(DType::I16, &[1, 2, 3, 4]);
        let taps = |n_in: usize, n_out: usize, r: &mut Rng| -> Vec<[(usize, f64); 2]> {
            (0..n_out).map(|_| {
                let lo = r.int(0, n_in as i64 - 1) as usize;
                let w = r.real(0.0, 1.0);
                [(lo, 1.0 - w), ((lo + 1).min(n_in - 1), w)]
            }).collect()
        };
        let (th, tw) = (qint::q11_taps(&taps(3, 5, r)).unwrap(), qint::q11_taps(&taps(4, 7, r)).unwrap());
        let th = b.constant(Tensor::from_vec(&[th.len()], th).unwrap());
        let tw = b.constant(Tensor::from_vec(&[tw.len()], tw).unwrap());
        let y = b.op(Op::IntResize(IntResize::Bilinear), &[x, th, tw]);
        let y = b.op(Op::IntResize(IntResize::Nearest(vec![vec![0], vec![1], vec![4, 0, 2], vec![6, 6, 1, 0]])), &[y]);
        b.output(y)
    }, r);
    // Lookup tables: sigmoid, then tanh of a rescaled value.
    add("lut", &mut |r| {
        let mut b = Builder::new("lut");
        let x = b.input(DType::I16, &[5, 13]);
        let s_in = r.real(4.0, 10.0) / 32767.0;
        let sigmoid = qint::lut16_table(|v| 1.0 / (1.0 + (-v).exp()), (s_in, 0), (1.0 / 32767.0, 0), (-32767, 32767));
        let t = b.constant(Tensor::from_vec(&[qint::LUT16_LEN], sigmoid).unwrap());
        let y = b.op(Op::IntLut(IntLut), &[x, t]);
        let tanh = qint::lut16_table(|v| (3.0 * v - 1.5).tanh(), (1.0 / 32767.0, 0), (1.0 / 32767.0, 0), (-32767, 32767));
        let t = b.constant(Tensor::from_vec(&[qint::LUT16_LEN], tanh).unwrap());
        let y = b.op(Op::IntLut(IntLut), &[y, t]);
        b.output(y)
    }, r);
    // A mixed network: int8 convolution, up to int16 for a convolution and a
    // table, back to int8.
    add("mixed", &mut |r| {
        let mut b = Builder::new("mixed");
        let x = b.input(DType::I8, &[1, 3, 6, 6]);
        let qw = r.weights(4 * 3 * 9);
        let sw: Vec<f32> = (0..4).map(|_| 0.01).collect();
        let k8 = qint::conv_constants((2.0 / 255.0, 0, DType::I8), &qw, &sw, &[0.1, -0.2, 0.0, 0.3], 0.3, qint::ZeroPoint::Folded).unwrap();
        let w = b.constant(Tensor::from_vec(&[4, 3, 3, 3], qw).unwrap());
        let (bias, m, e) = (b.constant(k8.bias), b.constant(Tensor::from_vec(&[4], k8.mult).unwrap()), b.constant(Tensor::from_vec(&[4], k8.exp).unwrap()));
        let stage8 = Stage { zero: -10, min: -128, max: 127, rounding };
        let axes = vec![axis(6, 3, 1, 1, (1, 1)), axis(6, 3, 1, 1, (1, 1))];
        let y8 = b.op(Op::IntConv(IntConv { axes: axes.clone(), group: 1, x_zero: 0, stage: stage8 }), &[x, w, bias, m, e]);
        let up = IntConvert::for_scales(DType::I16, (DType::I8, 0.3, -10), (1.0 / 32767.0 * 40.0, 0), (-32767, 32767), rounding).unwrap().unwrap();
        let y16 = b.op(Op::IntConvert(up), &[y8]);
        let y16 = conv(&mut b, r, y16, (4, 5, 1), axes, rounding);
        let t = qint::lut16_table(f64::tanh, (0.002, 0), (1.0 / 32767.0, 0), (-32767, 32767));
        let t = b.constant(Tensor::from_vec(&[qint::LUT16_LEN], t).unwrap());
        let y16 = b.op(Op::IntLut(IntLut), &[y16, t]);
        let down = IntConvert::for_scales(DType::I8, (DType::I16, 1.0 / 32767.0, 0), (2.0 / 255.0, 0), (-128, 127), rounding).unwrap().unwrap();
        let y = b.op(Op::IntConvert(down), &[y16]);
        b.output(y)
    }, r);
    out
}

/// ONNX models on int16 codes: float input quantized to int16 and
/// dequantized back (the float boundaries), max pooling, and data movement.
fn onnx_cases(r: &mut Rng) -> Vec<Case> {
    let scale = model::tensor_f32("s", &[], &[1.0 / 16384.0]);
    let mut zero = model::TensorProto::new();
    zero.name = "z".into();
    zero.data_type = 5; // INT16
    zero.int32_data = vec![0];
    let nodes = vec![
        node("QuantizeLinear", "q", &["x", "s", "z"], &["c"]),
        with_all(node("MaxPool", "pool", &["c"], &["p"]), vec![attr_ints("kernel_shape", &[3, 2]), attr_ints("strides", &[2, 1]), attr_ints("pads", &[1, 0, 1, 1])]),
        with(node("Transpose", "t", &["p"], &["tp"]), attr_ints("perm", &[0, 3, 1, 2])),
        with(node("Concat", "cat", &["tp", "tp"], &["cc"]), model::attr_int("axis", 2)),
        node("GlobalMaxPool", "gmp", &["cc"], &["g"]),
        node("DequantizeLinear", "dq", &["g", "s", "z"], &["y"]),
    ];
    let m = model::model(nodes, vec![f32_info("x", &[1, 2, 5, 6])], vec![f32_info("y", &[1, 6, 1, 1])], vec![scale, zero]);
    let g = qcc::front::onnx::import(&model::bytes(&m), None).unwrap();
    vec![case("int16_boundaries_pool_movement", g, r)]
}

fn with_all(n: model::NodeProto, attrs: Vec<model::AttributeProto>) -> model::NodeProto {
    attrs.into_iter().fold(n, with)
}

/// Generates Rust and C for every case, runs them on every sample and
/// compares with the oracle.
fn check(cases: Vec<Case>, dir: &Path) -> usize {
    let mut prepared = Vec::new();
    let mut expected = Vec::new();
    for mut c in cases {
        qcc::passes::pipeline::prepare(&mut c.graph, &[]).unwrap_or_else(|e| panic!("{}: {e}", c.name));
        let oracle = Interpreter::new(&c.graph).unwrap();
        let mut sets = Vec::new();
        for (s, inputs) in c.samples.iter().enumerate() {
            let want = oracle.run(inputs.clone()).unwrap_or_else(|e| panic!("{}: {e}", c.name));
            let mut paths = Vec::new();
            for (i, t) in inputs.iter().enumerate() {
                let path = dir.join(&c.name).join(format!("in_{s}_{i}.npy"));
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                npy::save_npy(&path, t).unwrap();
                paths.push(path);
            }
            sets.push((paths, want));
        }
        for emit in [Emit::Rust, Emit::C] {
            let lang = if emit == Emit::C { "c" } else { "rust" };
            let out = dir.join(&c.name).join(lang);
            let ident = back::check_name(&c.name).unwrap();
            let opts = Options { emit, name: ident.clone(), target: Target::host().unwrap(), harness: true, source: "quant16".into() };
            let generated = back::generate(&c.graph, &opts).unwrap_or_else(|e| panic!("{}: {e}", c.name));
            back::write(&out, &generated.files).unwrap();
            prepared.push((emit, Emitted { case: c.name.clone(), ident, dir: out }));
        }
        expected.push((c.name.clone(), sets));
    }
    let rust: Vec<&Emitted> = prepared.iter().filter(|(e, _)| *e == Emit::Rust).map(|(_, g)| g).collect();
    let c: Vec<&Emitted> = prepared.iter().filter(|(e, _)| *e == Emit::C).map(|(_, g)| g).collect();
    let rust_bin = build_rust_crate(&dir.join("rust_batch"), &rust).unwrap_or_else(|e| panic!("{e}"));
    let c_bins = build_c(&dir.join("c_batch"), &c);
    let mut compared = 0;
    for (name, sets) in &expected {
        let c_bin = c_bins[name].as_ref().unwrap_or_else(|e| panic!("{name}: {e}"));
        for (lang, bin) in [("Rust", &rust_bin), ("C", c_bin)] {
            for (s, (paths, want)) in sets.iter().enumerate() {
                let out = dir.join(name).join(format!("out_{lang}_{s}"));
                let run = Command::new(bin).arg(name).args(paths).arg("-o").arg(&out).output().unwrap();
                assert!(run.status.success(), "{name} ({lang}): {}", String::from_utf8_lossy(&run.stderr));
                for (k, w) in want.iter().enumerate() {
                    let got = npy::load_npy(&out.join(format!("output_{k}.npy"))).unwrap();
                    let got = got.reshape(w.shape()).unwrap();
                    assert_eq!(&got, w, "{name}: {lang} output {k} differs from the oracle on sample {s}");
                    compared += 1;
                }
            }
        }
    }
    compared
}

#[test]
fn every_16x8_operator_matches_the_oracle_bit_for_bit_in_rust_and_c() {
    let mut r = Rng(0x16_08_16_08);
    let mut all = cases(Rounding::Double, &mut r);
    all.extend(cases(Rounding::Single, &mut r));
    all.extend(onnx_cases(&mut r));
    let count = all.len();
    let tmp = TempDir::new("quant16");
    let compared = check(all, tmp.path());
    eprintln!("{count} 16x8 cases, {compared} outputs bit-exact in Rust and C");
    assert!(count >= 37, "only {count} cases");
}

/// Cases whose every kernel differs: the float-free checks build these.
const DISTINCT: [&str; 11] = ["conv3x3", "binary", "convert", "avg_pool", "matmul", "softmax", "layer_norm", "reduce_mean", "resize", "lut", "mixed"];

#[test]
fn int16_graphs_compile_to_code_without_floating_point() {
    let mut r = Rng(0x16_08_16_08);
    let tmp = TempDir::new("quant16_nofloat");
    let mut built = 0;
    for mut c in cases(Rounding::Double, &mut r) {
        qcc::passes::pipeline::prepare(&mut c.graph, &[]).unwrap();
        let ident = back::check_name(&c.name).unwrap();
        // gcc refuses any float or vector register use under -mgeneral-regs-only.
        let dir = tmp.path().join(&c.name);
        let opts = Options { emit: Emit::C, name: ident.clone(), target: Target::host().unwrap(), harness: false, source: "quant16".into() };
        back::write(&dir.join("c"), &back::generate(&c.graph, &opts).unwrap().files).unwrap();
        let cc = Command::new("cc").args(["-O2", "-std=c99", "-mgeneral-regs-only", "-c", &format!("{ident}.c"), "-o", "model.o"]).current_dir(dir.join("c")).output().unwrap();
        assert!(cc.status.success(), "{}: {}", c.name, String::from_utf8_lossy(&cc.stderr));
        // The Rust for a core without FPU: no float type or instruction reachable from Model::run.
        if !DISTINCT.iter().any(|d| c.name == format!("{d}_double")) {
            continue;
        }
        let opts = Options { emit: Emit::Rust, name: ident, target: Target::named("cortex-m0plus").unwrap(), harness: false, source: "quant16".into() };
        back::write(&dir.join("rust"), &back::generate(&c.graph, &opts).unwrap().files).unwrap();
        let target = tmp.path().join("target");
        let out = Command::new("cargo")
            .args(["rustc", "--release", "--quiet", "--lib", "--target", "thumbv6m-none-eabi", "--", "--emit=llvm-ir"])
            .current_dir(dir.join("rust"))
            .env("CARGO_TARGET_DIR", &target)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}: {}", c.name, String::from_utf8_lossy(&out.stderr));
        let deps = target.join("thumbv6m-none-eabi/release/deps");
        let ll = std::fs::read_dir(&deps)
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .find(|p| p.extension().is_some_and(|x| x == "ll") && p.to_string_lossy().contains(&c.name))
            .unwrap_or_else(|| panic!("{}: no LLVM IR in {}", c.name, deps.display()));
        let (reached, users) = float_users(&std::fs::read_to_string(&ll).unwrap(), "5Model3run");
        eprintln!("{}: {reached} functions reachable from Model::run, {} touch floats", c.name, users.len());
        assert!(users.is_empty(), "{}: float in {users:?}", c.name);
        built += 1;
    }
    assert_eq!(built, DISTINCT.len());
}
