//! Command-line interface: argument parsing (clap) and the subcommands.
//! Every failure prints one `error: ...` line and exits with status 1 (2 for
//! a malformed command line).

mod compile;
mod inspect;
mod quant;
mod run;
mod targets;

use clap::{Parser, Subcommand};
use qcc::{Error, Result};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "qcc",
    version,
    about = "Ahead-of-time compiler from ONNX to dependency-free, quantized Rust and C",
    long_about = "qcc reads an ONNX model, optimises it and evaluates or compiles it.\n\n\
                  Compile a model to a no_std Rust crate (or C with --emit c):\n    \
                  qcc model.onnx --target cortex-m4 -o out/\n\
                  Run a model on .npy inputs with the reference interpreter:\n    \
                  qcc run model.onnx -i x.npy -o out/\n\
                  Summarise a model (shapes, operators, parameters, MACs):\n    \
                  qcc inspect model.onnx\n\
                  List the targets, their features and CPUs:\n    \
                  qcc targets",
    arg_required_else_help = true,
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    compile: compile::CompileArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Run a model with the reference interpreter.
    Run(run::RunArgs),
    /// Print a model's inputs, outputs, operators, parameters and MACs.
    Inspect(inspect::InspectArgs),
    /// List the targets: their features, CPUs, toolchains and runners.
    Targets,
}

pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return command_line_error(e),
    };
    let result = match cli.command {
        Some(Command::Run(args)) => run::run(args),
        Some(Command::Inspect(args)) => inspect::inspect(args),
        Some(Command::Targets) => targets::list(),
        None => compile::compile(cli.compile),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", one_line(&e.to_string()));
            ExitCode::FAILURE
        }
    }
}

/// Help and version go to stdout as clap prints them; a malformed command
/// line becomes one `error: ` line (clap's message without its usage
/// block) and exit status 2.
fn command_line_error(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand) {
        let _ = e.print();
        return ExitCode::from(e.exit_code().clamp(0, 255) as u8);
    }
    let message = match unknown_first_word() {
        Some(word) => format!("'{word}' is neither a subcommand (run, inspect) nor an existing model file"),
        None => {
            let text = e.render().to_string();
            let first = text.split("\n\n").next().unwrap_or_default();
            one_line(first.strip_prefix("error: ").unwrap_or(first))
        }
    };
    eprintln!("error: {message} (see qcc --help)");
    ExitCode::from(2)
}

/// The first command-line word when it is neither a flag, a subcommand nor
/// an existing file: `qcc frobnicate model.onnx` is a mistyped subcommand,
/// which clap would otherwise report as a conflict with `<MODEL>`.
fn unknown_first_word() -> Option<String> {
    let word = std::env::args_os().nth(1)?.to_string_lossy().into_owned();
    let known = ["run", "inspect", "targets", "help"].contains(&word.as_str());
    (!word.starts_with('-') && !known && !std::path::Path::new(&word).exists()).then_some(word)
}

/// The language of the generated code.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum Language {
    Rust,
    C,
}

/// The target and its ISA features, as given to code generation.
#[derive(clap::Args)]
pub struct TargetArgs {
    /// The target: a name (x86_64, aarch64, riscv64, cortex-m4, cortex-m55,
    /// cortex-m0plus, riscv32imac) or a Rust triple; `qcc targets` lists
    /// them (default: the host, with its detected features).
    #[arg(long, value_name = "TARGET")]
    target: Option<String>,
    /// The CPU whose features the code may use, as rustc's -C target-cpu
    /// (x86-64-v3, cortex-a76, native; `qcc targets` lists them).
    #[arg(long, value_name = "NAME")]
    cpu: Option<String>,
    /// Features added or removed after the CPU's, as rustc's
    /// -C target-feature (e.g. +dotprod,-fp16).
    #[arg(long, value_name = "+A,-B", allow_hyphen_values = true)]
    features: Vec<String>,
}

impl TargetArgs {
    /// `b` with the target, CPU and features given.
    pub fn apply(&self, mut b: qcc::Builder) -> qcc::Builder {
        if let Some(t) = &self.target {
            b = b.target(t);
        }
        if let Some(c) = &self.cpu {
            b = b.cpu(c);
        }
        for f in &self.features {
            b = b.features(f);
        }
        b
    }

    /// Whether a target was named.
    pub fn given(&self) -> bool {
        self.target.is_some()
    }
}

/// `aarch64 (cpu cortex-a76: dotprod, fp16, neon)`.
pub fn describe(t: &qcc::target::Target) -> String {
    let features = if t.features.is_empty() { "no optional features".to_string() } else { t.features.iter().cloned().collect::<Vec<_>>().join(", ") };
    format!("{} (cpu {}: {features})", t.name, t.cpu)
}

/// Joins a message's lines, trimmed, with single spaces.
fn one_line(text: &str) -> String {
    text.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" ")
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
