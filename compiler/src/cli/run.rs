//! `qcc run`: evaluate a model with the reference interpreter, on one set of
//! input files or on a whole `.npz` dataset.

use super::{create_dir, parse_input_shape};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use qcc::interp::Interpreter;
use qcc::ir::Graph;
use qcc::tensor::{npy, Tensor};
use qcc::{front, passes, Error, Result};
use rayon::prelude::*;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

#[derive(Args)]
pub struct RunArgs {
    /// The ONNX model.
    model: PathBuf,
    /// An input, in graph-input order: a .npy file or an ONNX TensorProto .pb
    /// file. A model without inputs needs none.
    #[arg(short = 'i', long = "input", value_name = "FILE")]
    inputs: Vec<PathBuf>,
    /// A .npz with one array per input name, samples along the first axis.
    #[arg(long, value_name = "FILE.npz", conflicts_with = "inputs")]
    dataset: Option<PathBuf>,
    /// Output directory: output_<k>.npy per output, or outputs.npz with --dataset.
    #[arg(short = 'o', long = "output", value_name = "DIR")]
    out: PathBuf,
    /// Fix a dynamic input shape, e.g. --input-shape input=1,3,224,224 (repeatable).
    #[arg(long = "input-shape", value_name = "NAME=DIMS", value_parser = parse_input_shape)]
    input_shapes: Vec<(String, Vec<usize>)>,
}

pub fn run(args: RunArgs) -> Result<()> {
    let mut graph = front::onnx::load(&args.model)?;
    match &args.dataset {
        Some(dataset) => run_dataset(&mut graph, &args, dataset),
        None => run_files(&mut graph, &args),
    }
}

fn run_files(graph: &mut Graph, args: &RunArgs) -> Result<()> {
    let inputs = args.inputs.iter().map(|p| read_input(p)).collect::<Result<Vec<_>>>()?;
    let shapes = shapes_from_data(graph, &args.input_shapes, &inputs.iter().collect::<Vec<_>>()).map_err(|e| e.in_file(&args.model))?;
    passes::pipeline::prepare(graph, &shapes).map_err(|e| e.in_file(&args.model))?;
    let outputs = Interpreter::new(graph)
        .and_then(|interp| interp.run(inputs))
        .map_err(|e| e.in_file(&args.model))?;
    create_dir(&args.out)?;
    for (k, t) in outputs.iter().enumerate() {
        npy::save_npy(&args.out.join(format!("output_{k}.npy")), t)?;
    }
    Ok(())
}

fn run_dataset(graph: &mut Graph, args: &RunArgs, dataset: &Path) -> Result<()> {
    let arrays = npy::load_npz(dataset)?;
    let mut columns = Vec::new();
    for &id in &graph.inputs {
        let name = &graph.value(id).name;
        let Some((_, t)) = arrays.iter().find(|(n, _)| n == name) else {
            let have: Vec<&str> = arrays.iter().map(|(n, _)| n.as_str()).collect();
            return Err(Error::Usage(format!("the dataset has no array named '{name}' (it has {})", have.join(", "))).in_file(dataset));
        };
        columns.push(t);
    }
    let mut samples = None;
    for (t, &id) in columns.iter().zip(&graph.inputs) {
        let name = &graph.value(id).name;
        let Some(&n) = t.shape().first() else {
            return Err(Error::Usage(format!("array '{name}' is a scalar; dataset arrays hold samples along their first axis")).in_file(dataset));
        };
        match samples {
            None => samples = Some(n),
            Some(s) if s != n => {
                return Err(Error::Usage(format!("array '{name}' has {n} samples, but the first array has {s}")).in_file(dataset));
            }
            Some(_) => {}
        }
    }
    let samples = match samples {
        None => return Err(Error::Usage("the model has no inputs; run it without --dataset".into()).in_file(&args.model)),
        Some(0) => return Err(Error::Usage("the dataset has no samples (its arrays have length 0)".into()).in_file(dataset)),
        Some(n) => n,
    };
    let batch_rows = rows_are_batches(graph, &columns);
    let first: Vec<Tensor> = columns.iter().map(|t| sample(t, 0, batch_rows)).collect::<Result<_>>()?;
    let shapes = shapes_from_data(graph, &args.input_shapes, &first.iter().collect::<Vec<_>>()).map_err(|e| e.in_file(&args.model))?;
    passes::pipeline::prepare(graph, &shapes).map_err(|e| e.in_file(&args.model))?;
    let interp = Interpreter::new(graph).map_err(|e| e.in_file(&args.model))?;
    let bar = progress(samples as u64);
    let results: Vec<Vec<Tensor>> = (0..samples)
        .into_par_iter()
        .map(|i| {
            let inputs = columns.iter().map(|t| sample(t, i, batch_rows)).collect::<Result<Vec<_>>>()?;
            let out = interp.run(inputs).map_err(|e| Error::Usage(format!("sample {i}: {e}")));
            bar.inc(1);
            out
        })
        .collect::<Result<_>>()
        .map_err(|e| e.in_file(&args.model))?;
    bar.finish_and_clear();
    let mut named = Vec::new();
    for (k, &o) in graph.outputs.iter().enumerate() {
        let per_sample: Vec<&Tensor> = results.iter().map(|r| &r[k]).collect();
        let mut merged = stack(&per_sample)?;
        // One row per sample in, one row per sample out: [samples, 1, ...] -> [samples, ...].
        if batch_rows && merged.shape().get(1) == Some(&1) {
            let mut shape = merged.shape().to_vec();
            shape.remove(1);
            merged = merged.reshape(&shape)?;
        }
        named.push((graph.value(o).name.clone(), merged));
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

/// Whether the dataset's arrays have the rank of the model's inputs, whose
/// first dimension is dynamic or 1: then each row is one sample with batch
/// size 1 (e.g. images [N, 1, 8, 8] for an input [batch, 1, 8, 8]),
/// instead of the general layout [samples, *input shape].
fn rows_are_batches(graph: &Graph, columns: &[&Tensor]) -> bool {
    graph.inputs.iter().zip(columns).all(|(&id, t)| {
        let Some(dims) = graph.value(id).ty.as_ref().and_then(|ty| ty.shape.dims().map(<[_]>::to_vec)) else { return false };
        dims.len() == t.rank() && matches!(dims.first(), Some(None | Some(1)))
    })
}

/// Sample `i` of an array with a leading sample axis; `keep_axis` keeps it
/// as a batch axis of size 1.
fn sample(t: &Tensor, i: usize, keep_axis: bool) -> Result<Tensor> {
    if t.shape().first().is_none_or(|&n| i >= n) {
        return Err(Error::Usage(format!("no sample {i} in an array of shape {:?}", t.shape())));
    }
    Ok(if keep_axis {
        qcc::map_array!(t, a => a.slice_axis(ndarray::Axis(0), ndarray::Slice::from(i..i + 1)).to_owned())
    } else {
        qcc::map_array!(t, a => a.index_axis(ndarray::Axis(0), i).to_owned())
    })
}

/// Stacks same-shaped tensors along a new leading axis.
fn stack(parts: &[&Tensor]) -> Result<Tensor> {
    Tensor::stack(parts).map_err(|e| Error::Usage(format!("cannot stack the outputs of all samples: {e}")))
}

fn progress(len: u64) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    bar.set_style(ProgressStyle::with_template("{bar:40} {pos}/{len} samples, {eta} left").expect("static template"));
    bar
}
