//! The quantization report (`--report FILE`): for every operator of the
//! quantized model its type, output shape and element type, MACs, weight
//! bytes, output scale and zero point, and the SQNR of its output against
//! the float model over the calibration samples; the totals; and the
//! operators left in float with the reason. Written as Markdown (FILE),
//! JSON (FILE with the extension `.json`) and an HTML page with charts
//! (`.html`, from `html.rs`).

mod html;

use super::params::QParams;
use super::{Equalization, Quantized};
use crate::dataset::Dataset;
use crate::interp::Interpreter;
use crate::ir::{Graph, ValueId};
use crate::tensor::{DType, Tensor};
use crate::{Error, Result};
use rayon::prelude::*;
use std::collections::{HashMap, HashSet};
use std::fmt::Write;
use std::path::Path;

/// One operator of the quantized model.
#[derive(Debug, Clone)]
pub struct Layer {
    pub name: String,
    pub op: String,
    pub shape: Vec<usize>,
    pub dtype: DType,
    pub macs: u64,
    pub weight_bytes: usize,
    pub params: Option<QParams>,
    /// 10 · log10(Σ r² / Σ (r − r̂)²) of the output over the samples.
    pub sqnr_db: Option<f64>,
}

#[derive(Debug, Clone)]
pub struct Report {
    pub layers: Vec<Layer>,
    pub float_nodes: Vec<(String, String, String)>,
    /// Nodes computed in 16x8 by `--quantize auto`: (node, op, reason).
    pub wide_nodes: Vec<(String, String, String)>,
    /// Bytes of constants (weights, biases, multipliers, tables).
    pub flash: usize,
    /// The arena of generated code, when compiled.
    pub arena: Option<usize>,
    /// Calibration samples the SQNR was measured on (0: not measured).
    pub samples: usize,
    pub equalization: Option<Equalization>,
    /// Pairs of layers into a depthwise one equalized by activation ranges.
    pub depthwise_equalized: usize,
}

/// The report of `q`, with SQNR against `q.float` over `data` when given.
pub fn build(q: &Quantized, data: Option<&Dataset>) -> Result<Report> {
    let sqnr = match data {
        Some(d) => value_sqnr(&q.float, q, d, d.len())?,
        None => HashMap::new(),
    };
    let g = &q.graph;
    let params: HashMap<ValueId, QParams> = q.int_values.iter().map(|&(_, d, p)| (d, p)).collect();
    let mut layers = Vec::new();
    let mut flash = 0;
    for v in g.values() {
        if let Some(c) = &g.value(v).constant {
            if !g.consumers(v).is_empty() {
                flash += c.byte_size();
            }
        }
    }
    for n in g.topo_order()? {
        let node = g.node(n);
        let Some(Some(out)) = g.node_outputs(n).first().copied() else { continue };
        let ty = g.ty(out)?;
        let weight_bytes = g.node_inputs(n).iter().flatten().filter_map(|&v| g.value(v).constant.as_ref()).map(|c| c.byte_size()).sum();
        layers.push(Layer {
            name: node.name.clone(),
            op: node.op_type.clone(),
            shape: ty.shape.as_fixed().unwrap_or_default(),
            dtype: ty.dtype,
            macs: g.node_macs(n),
            weight_bytes,
            params: params.get(&out).copied(),
            sqnr_db: sqnr.get(&out).copied(),
        });
    }
    let samples = data.map_or(0, Dataset::len);
    Ok(Report { layers, float_nodes: q.float_nodes.clone(), wide_nodes: q.wide_nodes.clone(), flash, arena: None, samples, equalization: q.equalization, depthwise_equalized: q.depthwise_equalized })
}

/// SQNR per quantized value of `q.graph` against its float value in `src`
/// over the first `samples` samples of `data` (see [`measure`]).
pub fn value_sqnr(src: &Graph, q: &Quantized, data: &Dataset, samples: usize) -> Result<HashMap<ValueId, f64>> {
    Ok(measure(src, q, data, samples, None)?.values)
}

/// What [`measure`] finds: the SQNR of each quantized value and of the
/// outputs.
pub struct Measured {
    pub values: HashMap<ValueId, f64>,
    pub output_db: f64,
}

/// The float model's outputs on one sample, and the values it computed
/// that a quantized model replaces by codes.
pub struct FloatRun {
    outputs: Vec<Tensor>,
    values: HashMap<ValueId, Tensor>,
}

/// The computed float values of `src` that `q` quantizes (constants are
/// compared where they are quantized, not here).
fn quantized_sources(src: &Graph, q: &Quantized) -> HashSet<ValueId> {
    q.int_values.iter().map(|&(s, _, _)| s).filter(|&s| src.value(s).constant.is_none()).collect()
}

/// One run of the float `src` on `inputs`, keeping the values of `wanted`.
fn float_run(run: &Interpreter, inputs: Vec<Tensor>, wanted: &HashSet<ValueId>) -> Result<FloatRun> {
    let mut values = HashMap::new();
    let outputs = run.run_observed(inputs, &mut |v, t| {
        if wanted.contains(&v) {
            values.insert(v, t.clone());
        }
    })?;
    Ok(FloatRun { outputs, values })
}

/// Runs the float `src` and the quantized `q.graph` on the first `samples`
/// samples of `data`, and measures every quantized value against its float
/// value and the outputs against the float outputs ([`output_sqnr`]) in
/// that one pass. With a `cache` (for a search that measures many
/// quantizations of `src` on the same samples), sample `i`'s float run is
/// taken from `cache[i]` when that holds every value `q` quantizes, and
/// runs made afresh are kept there, with the values it held. On the way
/// of an additive attention mask into a Softmax, the masked elements (at
/// or below `calibrate::MASKED` in float) are left out of the values'
/// figures: their codes saturate by design, and what that costs shows
/// after the Softmax.
pub fn measure(src: &Graph, q: &Quantized, data: &Dataset, samples: usize, mut cache: Option<&mut Vec<FloatRun>>) -> Result<Measured> {
    let mask_context = super::calibrate::mask_context(src);
    let wanted = quantized_sources(src, q);
    let by_dst: HashMap<ValueId, (ValueId, QParams)> = q.int_values.iter().map(|&(s, d, p)| (d, (s, p))).collect();
    let (float_interp, int_run) = (Interpreter::new(src)?, Interpreter::new(&q.graph)?);
    let cached: &[FloatRun] = cache.as_deref().map_or(&[], |c| c.as_slice());
    // Per-sample sums, added in sample order: the same figures on every run.
    let per_sample = (0..samples.min(data.len()))
        .into_par_iter()
        .map(|i| {
            let mut acc: HashMap<ValueId, Energy> = HashMap::new();
            let inputs = data.sample(i)?;
            let fresh = match cached.get(i) {
                Some(c) if wanted.iter().all(|v| c.values.contains_key(v)) => None,
                _ => Some(float_run(&float_interp, inputs.clone(), &wanted)?),
            };
            let floats = fresh.as_ref().map_or_else(|| &cached[i], |f| f);
            let coded = io_codes(q, inputs)?;
            let got = int_run.run_observed(coded, &mut |v, t| {
                let Some((s, p)) = by_dst.get(&v) else { return };
                if let Some(f) = floats.values.get(s) {
                    let masked = if mask_context.contains(s) { super::calibrate::MASKED } else { f64::NEG_INFINITY };
                    acc.entry(v).or_default().add_above(f, t, Some(p), masked);
                }
            })?;
            let outputs = output_energy(q, &floats.outputs, &got);
            Ok::<_, Error>((acc, outputs, fresh))
        })
        .collect::<Result<Vec<_>>>()?;
    let (mut sums, mut outputs) = (HashMap::<ValueId, Energy>::new(), Energy::default());
    for (i, (sample, out, fresh)) in per_sample.into_iter().enumerate() {
        for (v, e) in sample {
            sums.entry(v).or_default().merge(e);
        }
        outputs.merge(out);
        if let (Some(cache), Some(mut fresh)) = (cache.as_deref_mut(), fresh) {
            match cache.get_mut(i) {
                Some(old) => {
                    fresh.values.extend(std::mem::take(&mut old.values));
                    *old = fresh;
                }
                None => cache.push(fresh),
            }
        }
    }
    let values = sums.into_iter().map(|(v, e)| (v, e.db())).collect();
    Ok(Measured { values, output_db: outputs.db() })
}

/// Signal and noise energy of an approximation.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Energy {
    signal: f64,
    noise: f64,
}

impl Energy {
    /// Adds `reference` against `got`: codes under `p`, else reals.
    fn add(&mut self, reference: &Tensor, got: &Tensor, p: Option<&QParams>) {
        self.add_above(reference, got, p, f64::NEG_INFINITY);
    }

    /// [`Energy::add`] of the elements whose reference is above `floor`.
    fn add_above(&mut self, reference: &Tensor, got: &Tensor, p: Option<&QParams>, floor: f64) {
        let Ok(r) = reference.to_f32() else { return };
        let p = p.map(|p| (p.scale as f64, p.zero as f64));
        // Codes and f32 read in place; anything else converted once.
        match got {
            Tensor::I8(a) => self.add_values(&r, a.iter().map(|&c| f64::from(c)), p, floor),
            Tensor::U8(a) => self.add_values(&r, a.iter().map(|&c| f64::from(c)), p, floor),
            Tensor::I16(a) => self.add_values(&r, a.iter().map(|&c| f64::from(c)), p, floor),
            Tensor::F32(a) => self.add_values(&r, a.iter().map(|&c| f64::from(c)), p, floor),
            t => {
                if let Ok(v) = t.to_f64_vec() {
                    self.add_values(&r, v.into_iter(), p, floor)
                }
            }
        }
    }

    /// Adds `reference` against `got` (codes under `(scale, zero point)`
    /// `p`, else reals), element by element where the reference is above
    /// `floor`.
    fn add_values(&mut self, reference: &[f32], got: impl Iterator<Item = f64>, p: Option<(f64, f64)>, floor: f64) {
        for (&a, c) in reference.iter().zip(got).filter(|(&a, _)| !(a as f64 <= floor)) {
            let (a, b) = (a as f64, p.map_or(c, |(scale, zero)| scale * (c - zero)));
            self.signal += a * a;
            self.noise += (a - b) * (a - b);
        }
    }

    fn merge(&mut self, other: Energy) {
        self.signal += other.signal;
        self.noise += other.noise;
    }

    /// The SQNR (dB) of all of `energies` together.
    pub(super) fn total_db<'a>(energies: impl IntoIterator<Item = &'a Energy>) -> f64 {
        let mut total = Energy::default();
        energies.into_iter().for_each(|e| total.merge(*e));
        total.db()
    }

    /// Signal over noise in dB: +∞ without noise, −∞ when the ratio is
    /// undefined (an infinite reference the codes cannot follow), never NaN,
    /// so that rankings by it stay ordered.
    fn db(&self) -> f64 {
        let ratio = self.signal / self.noise;
        if self.noise == 0.0 {
            f64::INFINITY
        } else if ratio.is_nan() {
            f64::NEG_INFINITY
        } else {
            10.0 * ratio.log10()
        }
    }
}

/// SQNR (dB) of the graph outputs of `q` against the float `references`
/// (the outputs of the first samples of `data`, in graph-output order):
/// all outputs' signal energy over all their error energy.
pub fn output_sqnr(q: &Quantized, references: &[Vec<Tensor>], data: &Dataset) -> Result<f64> {
    let all: Vec<usize> = (0..references.len()).collect();
    Ok(Energy::total_db(&output_energies(q, references, data, &all)?))
}

/// The output error energy of each of the samples `samples` of `data`
/// (indices into `references` too), as [`output_sqnr`] sums them.
pub(super) fn output_energies(q: &Quantized, references: &[Vec<Tensor>], data: &Dataset, samples: &[usize]) -> Result<Vec<Energy>> {
    let int_run = Interpreter::new(&q.graph)?;
    samples.par_iter().map(|&i| Ok(output_energy(q, &references[i], &int_run.run(io_codes(q, data.sample(i)?)?)?))).collect()
}

/// The error energy of the outputs `got` of `q.graph` (codes where the
/// model's outputs are quantized) against the float `reference`.
pub(super) fn output_energy(q: &Quantized, reference: &[Tensor], got: &[Tensor]) -> Energy {
    let mut e = Energy::default();
    for ((r, t), v) in reference.iter().zip(got).zip(&q.graph.outputs) {
        let p = q.graph.io_quant.get(v).map(|&(scale, zero)| QParams { scale, zero, dtype: t.dtype() });
        e.add(r, t, p.as_ref());
    }
    e
}

/// Float inputs quantized for a model with int8 inputs (`--io int8`).
pub(super) fn io_codes(q: &Quantized, inputs: Vec<Tensor>) -> Result<Vec<Tensor>> {
    let g = &q.graph;
    g.inputs
        .iter()
        .zip(inputs)
        .map(|(&v, t)| match g.io_quant.get(&v) {
            Some(&(scale, zero)) if t.dtype().is_float() => {
                let dtype = g.ty(v)?.dtype;
                let p = QParams { scale, zero, dtype };
                let codes = t.to_f64_vec()?.into_iter().map(|x| p.quantize(x)).collect();
                crate::ops::qint::codes(dtype, t.shape(), codes)
            }
            _ => Ok(t),
        })
        .collect()
}

/// The summary line of the depthwise pairs equalized by activation ranges.
pub fn depthwise_line(pairs: usize) -> String {
    format!("{pairs} {} of layers into a depthwise one equalized by activation ranges (per-channel weight scales absorb the factors)", if pairs == 1 { "pair" } else { "pairs" })
}

impl Report {
    /// The summary lines: operator count, MACs, flash, arena, what the
    /// SQNR was measured on, and the outcome of cross-layer equalization.
    fn totals(&self) -> Vec<String> {
        let macs: u64 = self.layers.iter().map(|l| l.macs).sum();
        let mut lines = vec![
            format!("operators: {} ({} in 16x8, {} left in float)", self.layers.len(), self.wide_nodes.len(), self.float_nodes.len()),
            format!("multiply-accumulates: {macs}"),
            format!("flash (weights, biases, multipliers, tables): {} bytes", self.flash),
        ];
        if let Some(a) = self.arena {
            lines.push(format!("RAM (arena): {a} bytes"));
        }
        if self.samples > 0 {
            lines.push(format!("SQNR against the float model over {} calibration samples", self.samples));
        }
        if let Some(e) = self.equalization {
            lines.push(e.to_string());
        }
        if self.depthwise_equalized > 0 {
            lines.push(depthwise_line(self.depthwise_equalized));
        }
        lines
    }

    /// One row of cells per layer: node, op, output, MACs, weight bytes,
    /// scale, zero point, SQNR.
    fn rows(&self) -> Vec<[String; 8]> {
        self.layers
            .iter()
            .map(|l| {
                let (scale, zero) = l.params.map_or((String::new(), String::new()), |p| (format!("{:.6e}", p.scale), p.zero.to_string()));
                let sqnr = l.sqnr_db.map_or(String::new(), |d| format!("{d:.1}"));
                [l.name.clone(), l.op.clone(), format!("{}{:?}", l.dtype, l.shape), l.macs.to_string(), l.weight_bytes.to_string(), scale, zero, sqnr]
            })
            .collect()
    }

    /// The report as Markdown.
    pub fn markdown(&self) -> String {
        let mut s = String::from("# Quantization report\n\n");
        for line in self.totals() {
            let _ = writeln!(s, "- {line}");
        }
        s.push_str("\n| # | node | op | output | MACs | weight bytes | scale | zero point | SQNR dB |\n|---|---|---|---|---|---|---|---|---|\n");
        for (k, row) in self.rows().iter().enumerate() {
            let _ = writeln!(s, "| {k} | {} |", row.iter().map(|c| c.replace('|', "\\|")).collect::<Vec<_>>().join(" | "));
        }
        for (title, nodes) in [("In 16x8 (int16 activations, int8 weights)", &self.wide_nodes), ("Left in float", &self.float_nodes)] {
            if !nodes.is_empty() {
                let _ = write!(s, "\n## {title}\n\n");
                for (name, op, why) in nodes {
                    let _ = writeln!(s, "- `{name}` ({op}): {why}");
                }
            }
        }
        s
    }

    /// The report as JSON.
    pub fn json(&self) -> String {
        let num = |v: Option<f64>| v.filter(|x| x.is_finite()).map_or("null".to_string(), |x| format!("{x}"));
        let layers: Vec<String> = self
            .layers
            .iter()
            .map(|l| {
                format!(
                    "{{\"name\":{},\"op\":{},\"dtype\":{},\"shape\":{:?},\"macs\":{},\"weight_bytes\":{},\"scale\":{},\"zero_point\":{},\"sqnr_db\":{}}}",
                    quoted(&l.name),
                    quoted(&l.op),
                    quoted(l.dtype.name()),
                    l.shape,
                    l.macs,
                    l.weight_bytes,
                    num(l.params.map(|p| p.scale as f64)),
                    l.params.map_or("null".to_string(), |p| p.zero.to_string()),
                    num(l.sqnr_db),
                )
            })
            .collect();
        let listed = |nodes: &[(String, String, String)]| -> String {
            nodes.iter().map(|(n, o, w)| format!("{{\"name\":{},\"op\":{},\"reason\":{}}}", quoted(n), quoted(o), quoted(w))).collect::<Vec<_>>().join(",")
        };
        let equalization = self.equalization.map_or("null".to_string(), |e| {
            format!("{{\"pairs\":{},\"applied\":{},\"sqnr_with_db\":{},\"sqnr_without_db\":{}}}", e.pairs, e.kept, num(Some(e.sqnr_with)), num(Some(e.sqnr_without)))
        });
        format!(
            "{{\"flash_bytes\":{},\"arena_bytes\":{},\"samples\":{},\"equalization\":{equalization},\"layers\":[{}],\"wide_nodes\":[{}],\"float_nodes\":[{}]}}\n",
            self.flash,
            self.arena.map_or("null".to_string(), |a| a.to_string()),
            self.samples,
            layers.join(","),
            listed(&self.wide_nodes),
            listed(&self.float_nodes)
        )
    }

    /// Writes the Markdown to `path` and the JSON and HTML next to it
    /// (extensions `.json`, `.html`), creating the directory; for a `path`
    /// ending in `.html`, the HTML goes there and the Markdown to the `.md`
    /// beside it.
    pub fn write(&self, path: &Path) -> Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
        let html_asked = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("html"));
        let md = if html_asked { path.with_extension("md") } else { path.to_path_buf() };
        for (file, text) in [(md, self.markdown()), (path.with_extension("json"), self.json()), (path.with_extension("html"), self.html())] {
            std::fs::write(&file, text).map_err(|e| Error::io(&file, e))?;
        }
        Ok(())
    }
}

/// A JSON string literal.
fn quoted(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn energy_in_db_is_never_nan_and_masked_elements_can_be_left_out() {
        assert_eq!(Energy { signal: f64::INFINITY, noise: f64::INFINITY }.db(), f64::NEG_INFINITY);
        assert_eq!(Energy { signal: 1.0, noise: 0.0 }.db(), f64::INFINITY);
        let reference = Tensor::from_vec(&[3], vec![1.0f32, -3.4e38, 2.0]).unwrap();
        let got = Tensor::from_vec(&[3], vec![1.0f32, -20.0, 1.0]).unwrap();
        let mut e = Energy::default();
        e.add_above(&reference, &got, None, -1e4);
        assert_eq!((e.signal, e.noise), (5.0, 1.0));
    }
}
