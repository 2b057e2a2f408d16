//! `qcc MODEL --target T -o DIR`: generate Rust or C for a model and print
//! its memory figures.

use super::{parse_input_shape, Language};
use super::quant::QuantArgs;
use clap::Args;
use qcc::back::Emit;
use qcc::{Builder, Result};
use std::path::PathBuf;

#[derive(Args)]
pub struct CompileArgs {
    /// The ONNX model to compile.
    #[arg(required = true)]
    model: Option<PathBuf>,
    #[command(flatten)]
    target: super::TargetArgs,
    /// Output directory (created if missing).
    #[arg(short = 'o', long = "output", value_name = "DIR", required = true)]
    out: Option<PathBuf>,
    /// The language of the generated code.
    #[arg(long, value_enum, default_value = "rust")]
    emit: Language,
    /// Base of generated names (crate, functions, C symbols); default: the model's file stem.
    #[arg(long)]
    name: Option<String>,
    /// Fix a dynamic input shape, e.g. --input-shape input=1,3,224,224 (repeatable).
    #[arg(long = "input-shape", value_name = "NAME=DIMS", value_parser = parse_input_shape)]
    input_shapes: Vec<(String, Vec<usize>)>,
    /// Also generate a program that runs the model on .npy files (hosted targets).
    #[arg(long)]
    harness: bool,
    #[command(flatten)]
    quant: QuantArgs,
}


pub fn compile(args: CompileArgs) -> Result<()> {
    let (Some(model), Some(out)) = (&args.model, &args.out) else {
        return Err(qcc::Error::Usage("give the model and -o DIR".into()));
    };
    let mut b = Builder::new(model).out_dir(out).harness(args.harness);
    b = b.emit(match args.emit {
        Language::Rust => Emit::Rust,
        Language::C => Emit::C,
    });
    b = args.target.apply(b);
    if let Some(n) = &args.name {
        b = b.name(n);
    }
    for (name, dims) in &args.input_shapes {
        b = b.input_shape(name, dims);
    }
    if let Some(q) = args.quant.request()? {
        b = b.quantize(q);
    }
    let target = b.resolve_target()?;
    let (stats, quantized) = b.compile_quantized()?;
    println!("wrote {}", out.display());
    println!("  target                   {}", super::describe(&target));
    println!("  flash (weights, tables)  {:>12} bytes", group(stats.flash));
    println!("  arena                    {:>12} bytes", group(stats.arena));
    println!("  arena lower bound        {:>12} bytes", group(stats.arena_lower_bound));
    println!("  inputs and outputs       {:>12} bytes", group(stats.io));
    if let Some(q) = &quantized {
        super::quant::summary(q, &mut std::io::stdout());
    }
    Ok(())
}

/// `1234567` as `1,234,567`.
fn group(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (k, c) in digits.chars().enumerate() {
        if k > 0 && (digits.len() - k) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}
