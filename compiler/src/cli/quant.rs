//! The quantization options shared by `qcc MODEL` and `qcc run`.

use clap::{Args, ValueEnum};
use qcc::quant::fixed_point::Rounding;
use qcc::quant::{Method, Options, Quantization, Quantized};
use qcc::{Error, Result};
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct QuantArgs {
    /// Quantize to integers: calibrated on --calibration, or, for a model
    /// quantized in QDQ form (onnxruntime quantize_static, QAT exports),
    /// with the model's own scales when no calibration data is given.
    /// int8: every operator that has an integer kernel; auto: int8, with
    /// the layers whose codes cost most raised to 16x8 (int16 activations)
    /// or float until the outputs' SQNR against float on the calibration
    /// data reaches --min-sqnr.
    #[arg(long, value_enum, value_name = "PRECISION")]
    quantize: Option<Precision>,
    /// The output SQNR (dB) against float that --quantize auto keeps.
    #[arg(long, value_name = "DB")]
    min_sqnr: Option<f64>,
    /// Calibration data: a .npz with one array per input name (samples along
    /// the first axis), a .npy for single-input models, or a directory of them.
    #[arg(long, value_name = "DATA")]
    calibration: Option<PathBuf>,
    /// How activation ranges are chosen: auto (the default: per value, the
    /// candidate range with the least expected error as its readers see
    /// it, checked against minmax at the outputs), minmax, percentile[=P]
    /// (P = 99.99 when not given), mse or entropy. Whatever the method,
    /// outputs of bounded operators (Sigmoid, Tanh, Softmax, Clip, ...)
    /// get their observed range inside the bounds, and graph outputs and
    /// Softmax/ArgMax/TopK inputs keep their maximum.
    #[arg(long, value_name = "METHOD", default_value = "auto")]
    calibrate: Method,
    /// One weight scale per tensor instead of per output channel.
    #[arg(long)]
    per_tensor: bool,
    /// Skip cross-layer equalization. By default the channels between two
    /// weighted layers are rescaled so their weight ranges match (the float
    /// function is unchanged), and the result is kept when its outputs'
    /// SQNR against float on the calibration data is the higher; with
    /// --quantize int8 and per-channel weights, the channels into a
    /// depthwise layer are rescaled so their activation ranges match,
    /// always.
    #[arg(long)]
    no_equalize: bool,
    /// Skip bias correction (folding the mean shift that weight rounding
    /// causes, measured on the calibration data, into the biases).
    #[arg(long)]
    no_bias_correction: bool,
    /// Layer-by-layer output correction: after calibration, each int8
    /// convolution's and matrix product's output channels are matched to
    /// float in mean and spread, layer by layer, on the first 16
    /// calibration samples. Kept when, fitted on half of them, it raises
    /// the output SQNR on the other half. On by default with
    /// --quantize int8; with --quantize auto only when asked for.
    #[arg(long, conflicts_with = "no_correct_layers")]
    correct_layers: bool,
    /// No layer-by-layer output correction with --quantize int8.
    #[arg(long)]
    no_correct_layers: bool,
    /// How the int8 weights of 16x8 layers (--quantize auto) are rounded:
    /// gptq (the default: each layer's codes chosen column by column so
    /// that its output on the calibration inputs stays closest to float,
    /// for layers of up to 576 inputs per output channel and group) or
    /// nearest. int8 layers always round to nearest.
    #[arg(long, value_enum, default_value = "gptq")]
    weight_rounding: WeightRounding,
    /// Requantization rounding (NUMERICS.md): double (gemmlowp, TFLite,
    /// CMSIS-NN) or single (one 64-bit multiply).
    #[arg(long, value_enum, default_value = "double")]
    rounding: RoundingArg,
    /// Model inputs and outputs as float (quantized inside) or as int8 codes.
    #[arg(long, value_enum, default_value = "float")]
    io: Io,
    /// Write a report (per layer: op, shape, MACs, weight bytes, scale, zero
    /// point, SQNR against float on the calibration data) as Markdown to
    /// FILE, and as JSON and an HTML page with charts next to it (for a
    /// FILE ending in .html: the page there, the Markdown beside it).
    #[arg(long, value_name = "FILE")]
    report: Option<std::path::PathBuf>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Precision {
    Int8,
    Auto,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum RoundingArg {
    Double,
    Single,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq)]
enum WeightRounding {
    Gptq,
    Nearest,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq)]
enum Io {
    Float,
    Int8,
}

impl QuantArgs {
    /// The requested quantization, if any; options without `--quantize`
    /// and `--quantize` without data are usage errors.
    pub fn request(&self) -> Result<Option<Quantization>> {
        let Some(precision) = self.quantize else {
            if self.calibration.is_some() || self.per_tensor || self.io == Io::Int8 || self.report.is_some() || self.min_sqnr.is_some() || self.correct_layers || self.no_correct_layers {
                return Err(Error::Usage("--calibration, --per-tensor, --io int8, --report, --min-sqnr and --(no-)correct-layers need --quantize".into()));
            }
            return Ok(None);
        };
        if self.correct_layers && self.calibration.is_none() {
            return Err(Error::Usage("--correct-layers measures the layers against float on calibration data: give --calibration DATA".into()));
        }
        let min_sqnr = match (precision, self.min_sqnr) {
            (Precision::Int8, Some(_)) => return Err(Error::Usage("--min-sqnr applies to --quantize auto".into())),
            (Precision::Int8, None) => None,
            (Precision::Auto, Some(db)) if !db.is_finite() || db <= 0.0 => {
                return Err(Error::Usage(format!("--min-sqnr must be a positive number of dB, got {db}")))
            }
            (Precision::Auto, db) => Some(db.unwrap_or(qcc::quant::mixed::DEFAULT_MIN_SQNR)),
        };
        let calibration = self.calibration.clone();
        let rounding = match self.rounding {
            RoundingArg::Double => Rounding::Double,
            RoundingArg::Single => Rounding::Single,
        };
        let options = Options {
            per_tensor: self.per_tensor,
            rounding,
            int8_io: self.io == Io::Int8,
            equalize: !self.no_equalize,
            bias_correction: !self.no_bias_correction,
            // Measured against float on the calibration data: without it
            // (a QDQ model's own scales) there is nothing to correct to.
            correct_layers: self.calibration.is_some() && match precision {
                Precision::Int8 => !self.no_correct_layers,
                Precision::Auto => self.correct_layers,
            },
            gptq: self.weight_rounding == WeightRounding::Gptq,
        };
        Ok(Some(Quantization { calibration, method: self.calibrate, options, min_sqnr, report: self.report.clone() }))
    }
}

/// Prints what quantization computed in 16x8 or left in float, and the
/// int8 I/O parameters.
pub fn summary(q: &Quantized, out: &mut dyn std::io::Write) {
    let integer = q.graph.nodes().iter().filter(|&&n| q.graph.node(n).op_type.starts_with("Int")).count();
    let _ = writeln!(out, "quantized: {integer} integer operators, {} left in float", q.float_nodes.len());
    if let Some(e) = q.equalization {
        let _ = writeln!(out, "  {e}");
    }
    if q.depthwise_equalized > 0 {
        let _ = writeln!(out, "  {}", qcc::quant::report::depthwise_line(q.depthwise_equalized));
    }
    if let Some(m) = q.mixed {
        let _ = writeln!(out, "  {m}");
    }
    if let Some(c) = q.range_check {
        let _ = writeln!(out, "  {c}");
    }
    if let Some(c) = q.correction {
        let _ = writeln!(out, "  {c}");
    }
    for (precision, nodes) in [("16x8", &q.wide_nodes), ("float", &q.float_nodes)] {
        for (why, named) in by_reason(nodes) {
            match &named[..] {
                [one] => {
                    let _ = writeln!(out, "  {precision}: {one}: {why}");
                }
                _ if named.len() <= SHOWN => {
                    let _ = writeln!(out, "  {precision}: {} nodes, {why}: {}", named.len(), named.join(", "));
                }
                _ => {
                    let _ = writeln!(out, "  {precision}: {} nodes, {why}: {}, and {} more (--report lists them)", named.len(), named[..SHOWN].join(", "), named.len() - SHOWN);
                }
            }
        }
    }
    for (name, p) in &q.io_params {
        let _ = writeln!(out, "  int8 '{name}': scale {:e}, zero point {}", p.scale, p.zero);
    }
}

/// How many nodes of one reason the summary names; `--report` lists all.
const SHOWN: usize = 4;

/// `(name, op type, reason)` triples grouped by reason, in order of first
/// appearance, each node as `'name' (Op)`.
fn by_reason(nodes: &[(String, String, String)]) -> Vec<(&str, Vec<String>)> {
    let mut groups: Vec<(&str, Vec<String>)> = Vec::new();
    for (name, op, why) in nodes {
        let named = format!("'{name}' ({op})");
        match groups.iter_mut().find(|(w, _)| w == why) {
            Some((_, list)) => list.push(named),
            None => groups.push((why, vec![named])),
        }
    }
    groups
}
