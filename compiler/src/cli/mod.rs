//! Command-line interface: argument parsing (clap) and the subcommands.
//! Every failure prints one `error: ...` line and exits with status 1.

mod inspect;
mod run;

use clap::{Parser, Subcommand};
use qcc::{Error, Result};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "qcc",
    version,
    about = "Ahead-of-time compiler from ONNX to dependency-free, quantized Rust and C",
    long_about = "qcc reads an ONNX model, optimises it and evaluates or compiles it.\n\n\
                  Run a model on .npy inputs with the reference interpreter:\n    \
                  qcc run model.onnx -i x.npy -o out/\n\
                  Summarise a model (shapes, operators, parameters, MACs):\n    \
                  qcc inspect model.onnx",
    arg_required_else_help = true
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a model with the reference interpreter.
    Run(run::RunArgs),
    /// Print a model's inputs, outputs, operators, parameters and MACs.
    Inspect(inspect::InspectArgs),
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => run::run(args),
        Command::Inspect(args) => inspect::inspect(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Parses `NAME=d0,d1,...` as given to `--input-shape`.
pub fn parse_input_shape(s: &str) -> std::result::Result<(String, Vec<usize>), String> {
    let (name, dims) = s.rsplit_once('=').ok_or_else(|| format!("'{s}' is not NAME=d0,d1,... (e.g. input=1,3,224,224)"))?;
    if name.is_empty() {
        return Err(format!("'{s}' has no input name before '='"));
    }
    let dims = dims
        .split(',')
        .map(|d| d.trim().parse::<usize>().map_err(|_| format!("'{d}' in '{s}' is not a dimension (a non-negative integer)")))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    Ok((name.to_string(), dims))
}

/// Creates the output directory.
fn create_dir(dir: &std::path::Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))
}
