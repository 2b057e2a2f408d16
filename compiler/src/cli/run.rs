//! `qcc run`: evaluate a model with the reference interpreter, on one set of
//! input files or on a whole `.npz` dataset.

use super::{create_dir, parse_input_shape};
use super::quant::QuantArgs;
use clap::Args;
use qcc::dataset::Dataset;
use qcc::interp::Interpreter;
use qcc::ir::Graph;
use qcc::tensor::{npy, Tensor};
use qcc::{front, passes, progress, Error, Result};
use rayon::prelude::*;
use std::path::{Path, PathBuf};

#[derive(Args)]
pub struct RunArgs {
    /// The ONNX model.
    model: PathBuf,
    /// An input, in graph-input order: a .npy file or an ONNX TensorProto .pb
    /// file. A model without inputs needs none.
    #[arg(short = 'i', long = "input", value_name = "FILE")]
    inputs: Vec<PathBuf>,
    /// Inputs to run: a .npz with one array per input name (samples along the
    /// first axis), a .npy for single-input models, or a directory of them.
    #[arg(long, value_name = "DATA", conflicts_with = "inputs")]
    dataset: Option<PathBuf>,
    /// Output directory: output_<k>.npy per output, or outputs.npz with --dataset.
    #[arg(short = 'o', long = "output", value_name = "DIR")]
    out: PathBuf,
    /// Fix a dynamic input shape, e.g. --input-shape input=1,3,224,224 (repeatable).
    #[arg(long = "input-shape", value_name = "NAME=DIMS", value_parser = parse_input_shape)]
    input_shapes: Vec<(String, Vec<usize>)>,
    #[command(flatten)]
    quant: QuantArgs,
}

pub fn run(args: RunArgs) -> Result<()> {
    let mut graph = front::onnx::load(&args.model)?;
    match &args.dataset {
        Some(dataset) => run_dataset(&mut graph, &args, dataset),
        None => run_files(&mut graph, &args),
    }
}

/// Prepares the graph for `shapes` and quantizes it when asked: the graph
/// the interpreter runs.
fn prepare(graph: &mut Graph, args: &RunArgs, shapes: &[(String, Vec<usize>)]) -> Result<Graph> {
    let weights = qcc::quant::qdq::scan_weights(graph);
    passes::pipeline::prepare(graph, shapes).map_err(|e| e.in_file(&args.model))?;
    match args.quant.request()? {
        Some(q) => {
            let quantized = q.apply(graph, &weights).map_err(|e| e.in_file(&args.model))?;
            q.write_report(&quantized, None).map_err(|e| e.in_file(&args.model))?;
            super::quant::summary(&quantized, &mut std::io::stderr());
            Ok(quantized.graph)
        }
        None => Ok(graph.clone()),
    }
}

fn run_files(graph: &mut Graph, args: &RunArgs) -> Result<()> {
    let inputs = args.inputs.iter().map(|p| read_input(p)).collect::<Result<Vec<_>>>()?;
    let shapes = shapes_from_data(graph, &args.input_shapes, &inputs.iter().collect::<Vec<_>>()).map_err(|e| e.in_file(&args.model))?;
    let runnable = prepare(graph, args, &shapes)?;
    let outputs = Interpreter::new(&runnable)
        .and_then(|interp| interp.run(inputs))
        .map_err(|e| e.in_file(&args.model))?;
    create_dir(&args.out)?;
    for (k, t) in outputs.iter().enumerate() {
        npy::save_npy(&args.out.join(format!("output_{k}.npy")), t)?;
    }
    Ok(())
}

fn run_dataset(graph: &mut Graph, args: &RunArgs, path: &Path) -> Result<()> {
    let data = Dataset::load(path, graph)?;
    let first = data.sample(0)?;
    let shapes = shapes_from_data(graph, &args.input_shapes, &first.iter().collect::<Vec<_>>()).map_err(|e| e.in_file(&args.model))?;
    let runnable = prepare(graph, args, &shapes)?;
    let interp = Interpreter::new(&runnable).map_err(|e| e.in_file(&args.model))?;
    let bar = progress::bar(data.len() as u64, "running");
    let results: Vec<Vec<Tensor>> = (0..data.len())
        .into_par_iter()
        .map(|i| {
            let out = interp.run(data.sample(i)?).map_err(|e| Error::Usage(format!("sample {i}: {e}")));
            bar.inc(1);
            out
        })
        .collect::<Result<_>>()
        .map_err(|e| e.in_file(&args.model))?;
    bar.finish_and_clear();
    let mut named = Vec::new();
    for (k, &o) in runnable.outputs.iter().enumerate() {
        let per_sample: Vec<&Tensor> = results.iter().map(|r| &r[k]).collect();
        let mut merged = stack(&per_sample)?;
        // One row per sample in, one row per sample out: [samples, 1, ...] -> [samples, ...].
        if data.batch_rows() && merged.shape().get(1) == Some(&1) {
            let mut shape = merged.shape().to_vec();
            shape.remove(1);
            merged = merged.reshape(&shape)?;
        }
        named.push((runnable.value(o).name.clone(), merged));
    }
    create_dir(&args.out)?;
    npy::save_npz(&args.out.join("outputs.npz"), &named)
}

/// Reads a `.npy` file or an ONNX TensorProto `.pb` file.
fn read_input(path: &Path) -> Result<Tensor> {
    if path.extension().is_some_and(|e| e == "pb") {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        return front::onnx::read_tensor_pb(&bytes).map_err(|e| e.in_file(path));
    }
    npy::load_npy(path)
}

/// The user's `--input-shape` values, plus the data's shape for every input
/// the user did not name.
fn shapes_from_data(graph: &Graph, given: &[(String, Vec<usize>)], data: &[&Tensor]) -> Result<Vec<(String, Vec<usize>)>> {
    if data.len() != graph.inputs.len() {
        let names: Vec<String> = graph.inputs.iter().map(|&i| format!("'{}'", graph.value(i).name)).collect();
        return Err(Error::Usage(format!(
            "the model has {} input(s) ({}), but {} were given",
            graph.inputs.len(),
            names.join(", "),
            data.len()
        )));
    }
    let mut shapes = given.to_vec();
    for (&id, t) in graph.inputs.iter().zip(data) {
        let name = &graph.value(id).name;
        if !shapes.iter().any(|(n, _)| n == name) {
            shapes.push((name.clone(), t.shape().to_vec()));
        }
    }
    Ok(shapes)
}



/// Stacks same-shaped tensors along a new leading axis.
fn stack(parts: &[&Tensor]) -> Result<Tensor> {
    Tensor::stack(parts).map_err(|e| Error::Usage(format!("cannot stack the outputs of all samples: {e}")))
}

