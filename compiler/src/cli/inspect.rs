//! `qcc inspect`: a model's interface, operators, parameters and MACs, and
//! the nodes qcc cannot handle. Unsupported operators are listed and are
//! not an error; a node whose shape inference fails for another reason (an
//! invalid model) is listed too, and then reported as the error.

use super::parse_input_shape;
use clap::Args;
use qcc::ir::{Graph, TensorType};
use qcc::{front, passes, Error, Result};
use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::PathBuf;

#[derive(Args)]
pub struct InspectArgs {
    /// The ONNX model.
    model: PathBuf,
    /// Fix a dynamic input shape, e.g. --input-shape input=1,3,224,224 (repeatable).
    #[arg(long = "input-shape", value_name = "NAME=DIMS", value_parser = parse_input_shape)]
    input_shapes: Vec<(String, Vec<usize>)>,
}

pub fn inspect(args: InspectArgs) -> Result<()> {
    let mut graph = front::onnx::load(&args.model)?;
    let histogram = op_histogram(&graph);
    let unsupported: Vec<String> = graph
        .unsupported_nodes()
        .into_iter()
        .map(|(n, why)| format!("  {} ({}): {why}", graph.node(n).name, graph.node(n).op_type))
        .collect();
    let mut failures = Vec::new();
    let report = (|| -> Result<String> {
        passes::set_input_shapes::run(&mut graph, &args.input_shapes)?;
        passes::fold_if::run(&mut graph)?;
        failures = passes::infer_shapes::run_lenient(&mut graph)?;
        passes::eliminate_dead_code::run(&mut graph)?;
        let mut s = String::new();
        interface(&mut s, &graph);
        let _ = writeln!(s, "\noperators ({} nodes in the model):", histogram.values().sum::<usize>());
        for (op, count) in &histogram {
            let _ = writeln!(s, "  {op:<24} {count}");
        }
        parameters(&mut s, &graph);
        macs(&mut s, &graph);
        let inference: Vec<String> = failures
            .iter()
            .filter(|(n, _)| graph.node(*n).op.unsupported_reason().is_none())
            .map(|(_, e)| format!("  {e}"))
            .collect();
        if !inference.is_empty() {
            let _ = writeln!(s, "\nshape inference failed at:\n{}", inference.join("\n"));
        }
        Ok(s)
    })()
    .map_err(|e| e.in_file(&args.model))?;
    print!("{report}");
    if unsupported.is_empty() {
        println!("\nunsupported operators: none");
    } else {
        println!("\nunsupported operators ({} nodes):\n{}", unsupported.len(), unsupported.join("\n"));
    }
    // Unsupported features are reported above; an invalid model is an error.
    match failures.into_iter().map(|(_, e)| e).find(|e| !matches!(e.root(), Error::Unsupported(_))) {
        Some(e) => Err(e.in_file(&args.model)),
        None => Ok(()),
    }
}

fn op_histogram(graph: &Graph) -> BTreeMap<String, usize> {
    let mut h = BTreeMap::new();
    for n in graph.nodes() {
        *h.entry(graph.node(n).op_type.clone()).or_insert(0) += 1;
    }
    h
}

fn type_text(ty: Option<&TensorType>) -> String {
    ty.map(|t| t.to_string()).unwrap_or_else(|| "(unknown)".into())
}

fn interface(s: &mut String, graph: &Graph) {
    let _ = writeln!(s, "graph '{}'", graph.name);
    let _ = writeln!(s, "inputs:");
    for &i in &graph.inputs {
        let v = graph.value(i);
        let _ = writeln!(s, "  {:<24} {}", v.name, type_text(v.ty.as_ref()));
    }
    let _ = writeln!(s, "outputs:");
    for &o in &graph.outputs {
        let v = graph.value(o);
        let _ = writeln!(s, "  {:<24} {}", v.name, type_text(v.ty.as_ref()));
    }
}

/// Constants read by the remaining nodes: the weights.
fn parameters(s: &mut String, graph: &Graph) {
    let mut count = 0usize;
    let mut bytes = 0usize;
    for v in graph.values() {
        if let Some(t) = &graph.value(v).constant {
            count += t.len();
            bytes += t.byte_size();
        }
    }
    let _ = writeln!(s, "\nparameters: {} ({})", thousands(count as u64), human_bytes(bytes as u64));
}

fn macs(s: &mut String, graph: &Graph) {
    let Ok(order) = graph.topo_order() else { return };
    let mut rows = Vec::new();
    let mut total = 0u64;
    for n in order {
        let m = graph.node_macs(n);
        if m > 0 {
            total += m;
            let out = graph.node_outputs(n).first().copied().flatten();
            let shape = out.and_then(|v| graph.value(v).ty.as_ref()).map(|t| t.shape.to_string()).unwrap_or_default();
            rows.push((graph.node(n).name.clone(), graph.node(n).op_type.clone(), shape, m));
        }
    }
    let _ = writeln!(s, "\nMACs per layer:");
    let width = rows.iter().map(|r| r.0.len()).max().unwrap_or(4).clamp(4, 48);
    let _ = writeln!(s, "  {:<width$}  {:<14} {:<22} {:>16}", "node", "op", "output shape", "MACs");
    for (name, op, shape, m) in &rows {
        let _ = writeln!(s, "  {name:<width$}  {op:<14} {shape:<22} {:>16}", thousands(*m));
    }
    let _ = writeln!(s, "  total: {} MACs ({:.3} G)", thousands(total), total as f64 / 1e9);
}

fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn human_bytes(b: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut v = b as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{b} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}
