//! Shared helpers of the integration tests: locating generated test data,
//! loading ONNX test cases and comparing outputs as ONNX's runner does.

pub mod batch;
pub mod cli;
pub mod harness;
pub mod model;
pub mod pretrained;

use qcc::tensor::Tensor;
use std::path::{Path, PathBuf};

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ is inside the workspace").to_path_buf()
}

/// Where `tests/conformance/generate.py` wrote the ONNX test cases
/// (`QCC_CONFORMANCE_DIR`, default `target/conformance`).
pub fn conformance_dir() -> PathBuf {
    std::env::var_os("QCC_CONFORMANCE_DIR").map(PathBuf::from).unwrap_or_else(|| workspace().join("target/conformance"))
}

/// Reads a serialized TensorProto.
pub fn read_pb(path: &Path) -> Result<Tensor, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    qcc::front::onnx::read_tensor_pb(&bytes).map_err(|e| format!("{}: {e}", path.display()))
}

/// Reads `prefix_0.pb`, `prefix_1.pb`, ... from `dir`, in order.
pub fn read_numbered(dir: &Path, prefix: &str) -> Result<Vec<Tensor>, String> {
    let mut out = Vec::new();
    loop {
        let path = dir.join(format!("{prefix}_{}.pb", out.len()));
        if !path.exists() {
            return Ok(out);
        }
        out.push(read_pb(&path)?);
    }
}

/// Compares an output with its expected value: same element type and
/// shape; floats within `atol + rtol * |expected|` (NaN equals NaN);
/// everything else exactly.
pub fn compare(actual: &Tensor, expected: &Tensor, rtol: f64, atol: f64) -> Result<(), String> {
    if actual.dtype() != expected.dtype() {
        return Err(format!("element type {} but expected {}", actual.dtype(), expected.dtype()));
    }
    if actual.shape() != expected.shape() {
        return Err(format!("shape {:?} but expected {:?}", actual.shape(), expected.shape()));
    }
    let dtype = actual.dtype();
    if dtype.is_float() || dtype.is_small_float() {
        let a = actual.to_f64_vec().map_err(|e| e.to_string())?;
        let e = expected.to_f64_vec().map_err(|e| e.to_string())?;
        let mut worst: Option<(usize, f64, f64)> = None;
        let mut bad = 0usize;
        for (i, (&x, &y)) in a.iter().zip(&e).enumerate() {
            let ok = (x.is_nan() && y.is_nan()) || x == y || (x - y).abs() <= atol + rtol * y.abs();
            if !ok {
                bad += 1;
                if worst.is_none_or(|(_, wx, wy)| (x - y).abs() > (wx - wy).abs() || (wx - wy).is_nan()) {
                    worst = Some((i, x, y));
                }
            }
        }
        return match worst {
            None => Ok(()),
            Some((i, x, y)) => Err(format!("{bad} of {} elements differ; worst at {i}: {x} vs expected {y}", a.len())),
        };
    }
    if actual == expected {
        Ok(())
    } else {
        let differ = actual.to_f64_vec().ok().zip(expected.to_f64_vec().ok()).map(|(a, e)| a.iter().zip(&e).filter(|(x, y)| x != y).count());
        Err(format!("exact values differ ({} of {} elements)", differ.map_or("some".into(), |n| n.to_string()), actual.len()))
    }
}

/// The names in an expected-pass list (one per line; `#` starts a comment).
pub fn read_list(path: &Path) -> std::collections::BTreeSet<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(String::from)
        .collect()
}

/// rtol and atol of an ONNX test case from its data.json (ONNX's defaults
/// 1e-3 and 1e-7 otherwise).
pub fn tolerance(case_dir: &Path) -> (f64, f64) {
    let text = std::fs::read_to_string(case_dir.join("data.json")).unwrap_or_default();
    let field = |key: &str, default: f64| {
        text.split(&format!("\"{key}\""))
            .nth(1)
            .and_then(|rest| rest.trim_start_matches([' ', ':']).split([',', '}']).next())
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(default)
    };
    (field("rtol", 1e-3), field("atol", 1e-7))
}

/// The functions of LLVM IR `ir` reachable from the one whose symbol
/// contains `root`, and which of them touch a floating-point type or
/// instruction.
pub fn float_users(ir: &str, root: &str) -> (usize, Vec<String>) {
    let mut bodies: std::collections::HashMap<String, String> = std::collections::HashMap::new();
    let mut current: Option<(String, String)> = None;
    for line in ir.lines() {
        if let Some(rest) = line.strip_prefix("define ") {
            let name = rest.split('@').nth(1).and_then(|s| s.split('(').next()).unwrap_or_default().to_string();
            current = Some((name, String::new()));
        }
        if let Some((_, body)) = current.as_mut() {
            body.push_str(line);
            body.push('\n');
        }
        if line == "}" {
            if let Some((name, body)) = current.take() {
                bodies.insert(name, body);
            }
        }
    }
    let start: Vec<String> = bodies.keys().filter(|n| n.contains(root)).cloned().collect();
    assert_eq!(start.len(), 1, "one function named like {root} in the IR");
    let (mut seen, mut todo) = (std::collections::HashSet::new(), start);
    while let Some(f) = todo.pop() {
        if !seen.insert(f.clone()) {
            continue;
        }
        for callee in bodies[&f].split('@').skip(1).filter_map(|s| s.split(['(', ',', ' ', ')']).next()) {
            if bodies.contains_key(callee) {
                todo.push(callee.to_string());
            }
        }
    }
    const FLOAT: &[&str] = &[" float", " double", " half", "fadd ", "fsub ", "fmul ", "fdiv ", "fcmp ", "sitofp ", "uitofp ", "fptosi ", "fptoui "];
    let users = seen.iter().filter(|f| FLOAT.iter().any(|w| bodies[*f].contains(w))).cloned().collect();
    (seen.len(), users)
}
