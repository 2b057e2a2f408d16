//! `qcc run`: evaluate a model with the reference interpreter, on one set of
//! input files or on a whole `.npz` dataset; with `--target`, generate code
//! for that target, build it with the target's toolchain and run it
//! (natively or under its emulator) on the same inputs, writing the same
//! output files.

use super::{create_dir, parse_input_shape, Language, TargetArgs};
use super::quant::QuantArgs;
use clap::Args;
use qcc::back::Emit;
use qcc::target::Target;
use qcc::{toolchain, Builder};
use std::time::Duration;
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
    /// Run generated code for this target instead of the interpreter (see
    /// --target); the code is built in --build-dir.
    #[command(flatten)]
    target: TargetArgs,
    /// With --target: the language of the generated code.
    #[arg(long, value_enum, default_value = "rust", requires = "target")]
    emit: Language,
    /// With --target: where the generated code is written and built
    /// (default: OUT/build; kept, so a rerun builds incrementally).
    #[arg(long, value_name = "DIR", requires = "target")]
    build_dir: Option<PathBuf>,
    /// With --target: stop a run of the generated program after this many
    /// seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 600, requires = "target")]
    timeout: u64,
}

pub fn run(args: RunArgs) -> Result<()> {
    let mut graph = front::onnx::load(&args.model)?;
    match &args.dataset {
        Some(dataset) => run_dataset(&mut graph, &args, dataset),
        None => run_files(&mut graph, &args),
    }
}

/// The generated code's harness program for one target, built.
struct Generated {
    target: Target,
    program: PathBuf,
    work: PathBuf,
    limit: Duration,
    /// What ran where, said once the runs succeeded.
    ran: String,
}

impl Generated {
    /// Generates the code for `shapes` in the build directory and builds it.
    fn build(args: &RunArgs, shapes: &[(String, Vec<usize>)]) -> Result<Generated> {
        let work = args.build_dir.clone().unwrap_or_else(|| args.out.join("build"));
        let emit = match args.emit {
            Language::Rust => Emit::Rust,
            Language::C => Emit::C,
        };
        let code = work.join(match emit {
            Emit::C => "c",
            _ => "rust",
        });
        let mut b = args.target.apply(Builder::new(&args.model).out_dir(&code).harness(true).emit(emit));
        for (name, dims) in shapes {
            b = b.input_shape(name, dims);
        }
        if let Some(q) = args.quant.request()? {
            b = b.quantize(q);
        }
        let target = b.resolve_target()?;
        toolchain::check(&target, emit)?;
        let (_, quantized) = b.compile_quantized()?;
        if let Some(q) = &quantized {
            super::quant::summary(q, &mut std::io::stderr());
        }
        let program = toolchain::build(&code, &target, emit, Some(&work.join("cargo-target")))?;
        let language = if emit == Emit::C { "C" } else { "Rust" };
        let ran = format!("ran the generated {language} for {}{}", super::describe(&target), target.runner.first().map(|r| format!(" under {r}")).unwrap_or_default());
        Ok(Generated { target, program, work, limit: Duration::from_secs(args.timeout), ran })
    }

    /// Runs the program on the input files, writing its outputs as
    /// `output_<k>.npy` into `out`.
    fn run_files(&self, inputs: &[PathBuf], out: &Path) -> Result<Vec<Tensor>> {
        create_dir(out)?;
        let mut args: Vec<String> = inputs.iter().map(|p| p.to_string_lossy().into_owned()).collect();
        args.extend(["-o".to_string(), out.to_string_lossy().into_owned()]);
        toolchain::run(&self.target, &self.program, &args, self.limit)?;
        (0..).map(|k| out.join(format!("output_{k}.npy"))).take_while(|p| p.exists()).map(|p| npy::load_npy(&p)).collect()
    }

    /// Runs the program on `inputs`, written as .npy files under the
    /// build directory's `inputs/<tag>/` first.
    fn run(&self, inputs: &[Tensor], tag: &str, out: &Path) -> Result<Vec<Tensor>> {
        let dir = self.work.join("inputs").join(tag);
        create_dir(&dir)?;
        let mut files = Vec::new();
        for (k, t) in inputs.iter().enumerate() {
            let path = dir.join(format!("input_{k}.npy"));
            npy::save_npy(&path, t)?;
            files.push(path);
        }
        self.run_files(&files, out)
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
    if args.target.given() {
        let generated = Generated::build(args, &shapes)?;
        for k in 0.. {
            let stale = args.out.join(format!("output_{k}.npy"));
            if !stale.exists() {
                break;
            }
            std::fs::remove_file(&stale).map_err(|e| Error::io(&stale, e))?;
        }
        // .npy inputs go to the program as they are (its errors name them).
        if args.inputs.iter().all(|p| p.extension().is_some_and(|e| e == "npy")) {
            generated.run_files(&args.inputs, &args.out)?;
        } else {
            generated.run(&inputs, "files", &args.out)?;
        }
        eprintln!("{}", generated.ran);
        return Ok(());
    }
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
    let names: Vec<String> = graph.outputs.iter().map(|&o| graph.value(o).name.clone()).collect();
    let bar = progress::bar(data.len() as u64, "running");
    let data = &data;
    let (runnable, interp);
    let generated = if args.target.given() { Some(Generated::build(args, &shapes)?) } else { None };
    let run_sample: Box<dyn Fn(usize) -> Result<Vec<Tensor>> + Sync> = if let Some(g) = &generated {
        Box::new(move |i| g.run(&data.sample(i)?, &i.to_string(), &g.work.join("outputs").join(i.to_string())))
    } else {
        runnable = prepare(graph, args, &shapes)?;
        interp = Interpreter::new(&runnable).map_err(|e| e.in_file(&args.model))?;
        let interp = &interp;
        Box::new(move |i| interp.run(data.sample(i)?))
    };
    let results: Vec<Vec<Tensor>> = (0..data.len())
        .into_par_iter()
        .map(|i| {
            let out = run_sample(i).map_err(|e| Error::Usage(format!("sample {i}: {e}")));
            bar.inc(1);
            out
        })
        .collect::<Result<_>>()
        .map_err(|e| e.in_file(&args.model))?;
    bar.finish_and_clear();
    if let Some(g) = &generated {
        eprintln!("{} on {} samples", g.ran, data.len());
    }
    let mut named = Vec::new();
    for (k, name) in names.into_iter().enumerate() {
        let per_sample: Vec<&Tensor> = results.iter().filter_map(|r| r.get(k)).collect();
        if per_sample.len() != results.len() {
            return Err(Error::Usage(format!("output {k} ('{name}') is missing from some samples' results")));
        }
        let mut merged = stack(&per_sample)?;
        // One row per sample in, one row per sample out: [samples, 1, ...] -> [samples, ...].
        if data.batch_rows() && merged.shape().get(1) == Some(&1) {
            let mut shape = merged.shape().to_vec();
            shape.remove(1);
            merged = merged.reshape(&shape)?;
        }
        named.push((name, merged));
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

