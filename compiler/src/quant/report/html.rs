//! The quantization report as one self-contained HTML page: the totals,
//! bar charts (inline SVG, no script) of each layer's SQNR against float
//! and of where the weight bytes and the multiply-accumulates go, the
//! per-layer table and the operators left in float.

use super::{Layer, Report};
use std::fmt::Write;

/// SQNR below this is drawn red, below `GOOD_DB` amber, else green.
const POOR_DB: f64 = 20.0;
const GOOD_DB: f64 = 30.0;
/// Geometry of the bar charts, in pixels.
const LABEL_WIDTH: usize = 260;
const BAR_WIDTH: usize = 420;
const ROW_HEIGHT: usize = 18;

impl Report {
    /// The report as an HTML page.
    pub fn html(&self) -> String {
        let mut s = String::from(
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Quantization report</title>\n<style>\
             body{font-family:sans-serif;margin:2em;color:#222}table{border-collapse:collapse;font-size:13px}\
             td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}td:nth-child(2),td:nth-child(3){text-align:left}\
             svg text{font-size:12px;font-family:sans-serif}</style></head><body>\n<h1>Quantization report</h1>\n<ul>\n",
        );
        for line in self.totals() {
            let _ = writeln!(s, "<li>{}</li>", escape(&line));
        }
        s.push_str("</ul>\n");
        let sqnr: Vec<(&Layer, f64)> = self.layers.iter().filter_map(|l| l.sqnr_db.filter(|d| d.is_finite()).map(|d| (l, d))).collect();
        if !sqnr.is_empty() {
            let _ = writeln!(s, "<h2>SQNR against float (dB)</h2>\n<p>Red below {POOR_DB} dB, amber below {GOOD_DB} dB.</p>");
            let top = sqnr.iter().map(|&(_, d)| d).fold(GOOD_DB * 2.0, f64::max);
            let bars: Vec<Bar> = sqnr.iter().map(|&(l, d)| Bar { label: label(l), value: d.max(0.0), text: format!("{d:.1}"), colour: colour(d) }).collect();
            s.push_str(&chart(&bars, top));
        }
        let measures: [(&str, fn(&Layer) -> f64); 2] = [("Weight bytes", |l| l.weight_bytes as f64), ("Multiply-accumulates", |l| l.macs as f64)];
        for (title, value) in measures {
            let bars: Vec<Bar> = self
                .layers
                .iter()
                .filter(|l| value(l) > 0.0)
                .map(|l| Bar { label: label(l), value: value(l), text: format!("{}", value(l)), colour: "#4878a8" })
                .collect();
            if !bars.is_empty() {
                let _ = writeln!(s, "<h2>{title}</h2>");
                let top = bars.iter().map(|b| b.value).fold(0.0, f64::max);
                s.push_str(&chart(&bars, top));
            }
        }
        s.push_str("<h2>Layers</h2>\n<table><tr><th>#</th><th>node</th><th>op</th><th>output</th><th>MACs</th><th>weight bytes</th><th>scale</th><th>zero point</th><th>SQNR dB</th></tr>\n");
        for (k, row) in self.rows().into_iter().enumerate() {
            let cells: String = row.iter().map(|c| format!("<td>{}</td>", escape(c))).collect();
            let _ = writeln!(s, "<tr><td>{k}</td>{cells}</tr>");
        }
        s.push_str("</table>\n");
        for (title, nodes) in [("In 16x8 (int16 activations, int8 weights)", &self.wide_nodes), ("Left in float", &self.float_nodes)] {
            if !nodes.is_empty() {
                let _ = writeln!(s, "<h2>{title}</h2>\n<ul>");
                for (name, op, why) in nodes {
                    let _ = writeln!(s, "<li><code>{}</code> ({}): {}</li>", escape(name), escape(op), escape(why));
                }
                s.push_str("</ul>\n");
            }
        }
        s.push_str("</body></html>\n");
        s
    }
}

struct Bar {
    label: String,
    value: f64,
    text: String,
    colour: &'static str,
}

fn label(l: &Layer) -> String {
    let name: String = l.name.chars().take(30).collect();
    format!("{name} ({})", l.op)
}

fn colour(db: f64) -> &'static str {
    if db < POOR_DB {
        "#c0392b"
    } else if db < GOOD_DB {
        "#d4a017"
    } else {
        "#2e8b57"
    }
}

/// Horizontal bars, one row each, scaled so `top` fills the width.
fn chart(bars: &[Bar], top: f64) -> String {
    let (width, height) = (LABEL_WIDTH + BAR_WIDTH + 80, bars.len() * ROW_HEIGHT + 4);
    let mut s = format!("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\">\n");
    for (k, b) in bars.iter().enumerate() {
        let y = k * ROW_HEIGHT + 2;
        let w = if top > 0.0 { (b.value / top * BAR_WIDTH as f64).round() as usize } else { 0 };
        let _ = writeln!(
            s,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text><rect x=\"{LABEL_WIDTH}\" y=\"{y}\" width=\"{w}\" height=\"{}\" fill=\"{}\"/><text x=\"{}\" y=\"{}\">{}</text>",
            LABEL_WIDTH - 6,
            y + ROW_HEIGHT - 5,
            escape(&b.label),
            ROW_HEIGHT - 3,
            b.colour,
            LABEL_WIDTH + w + 4,
            y + ROW_HEIGHT - 5,
            escape(&b.text)
        );
    }
    s.push_str("</svg>\n");
    s
}

/// `s` with the characters HTML gives a meaning escaped.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor::DType;

    #[test]
    fn the_page_has_a_bar_per_measured_layer_and_escapes_names() {
        let layer = |name: &str, sqnr: Option<f64>, weight_bytes: usize| Layer {
            name: name.into(),
            op: "IntConv".into(),
            shape: vec![1, 8],
            dtype: DType::I8,
            macs: 64,
            weight_bytes,
            params: None,
            sqnr_db: sqnr,
        };
        let r = Report {
            layers: vec![layer("conv<1>", Some(35.0), 72), layer("conv2", Some(12.0), 0), layer("reshape", None, 0)],
            float_nodes: vec![("ln".into(), "LayerNormalization".into(), "no kernel".into())],
            wide_nodes: Vec::new(),
            flash: 72,
            arena: Some(128),
            samples: 10,
            equalization: None,
            depthwise_equalized: 0,
        };
        let html = r.html();
        assert!(html.contains("conv&lt;1&gt; (IntConv)") && !html.contains("conv<1>"), "{html}");
        // Two SQNR bars (green, red), one weight bar, three MAC bars.
        assert_eq!(html.matches("<rect").count(), 2 + 1 + 3, "{html}");
        assert!(html.contains("fill=\"#2e8b57\"") && html.contains("fill=\"#c0392b\""), "{html}");
        assert!(html.contains("<h2>Left in float</h2>") && html.contains("RAM (arena): 128 bytes"), "{html}");
    }
}
