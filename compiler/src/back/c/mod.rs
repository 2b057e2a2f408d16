//! The C backend: renders a planned [`Program`] as C99 sources (`<name>.h`,
//! `<name>.c`, `<name>_weights.c`), the runtime headers the model uses, and
//! a Makefile; file skeletons are tera templates, steps are rendered here.

mod step;

use super::plan::Plan;
use super::program::*;
use super::{type_suffix, OutputFile};
use crate::target::Target;
use crate::tensor::DType;
use crate::Result;
use serde::Serialize;
use std::collections::BTreeSet;

/// Renders the C sources.
pub fn emit(p: &Program, plan: &Plan, name: &str, source: &str, harness: bool, target: &crate::target::Target) -> Result<Vec<OutputFile>> {
    let name = name.to_string();
    let upper = name.to_uppercase();
    let blob = super::weights::layout(p);
    let mut ctx = tera::Context::new();
    ctx.insert("name", &name);
    ctx.insert("upper", &upper);
    ctx.insert("version", env!("CARGO_PKG_VERSION"));
    ctx.insert("source", source);
    ctx.insert("graph", &p.name);
    ctx.insert("arena_bytes", &plan.arena_bytes);
    ctx.insert("arena_alloc", &plan.arena_bytes.max(1));
    ctx.insert("weights_bytes", &blob.bytes.len());
    ctx.insert("inputs", &ios(&p.inputs, &upper));
    ctx.insert("outputs", &ios(&p.outputs, &upper));
    ctx.insert("params", &params(p));
    // Inputs no step reads (CastLike's, Shape's) must not warn.
    ctx.insert("io_idents", &p.inputs.iter().chain(&p.outputs).map(|io| io.ident.clone()).collect::<Vec<_>>());
    let (instances, casts, headers, math) = instances(p);
    ctx.insert("instances", &instances);
    ctx.insert("casts", &casts);
    ctx.insert("headers", &headers);
    ctx.insert("constants", &constants(p, &name, &blob));
    ctx.insert("weights_union", &weights_union(&name, blob.bytes.len()));
    ctx.insert("pools", &pools(plan));
    let mut steps = Vec::new();
    for a in &p.steps {
        steps.push(StepText { comment: format!("node '{}'", a.node.replace("*/", "* /")), code: step::render(p, plan, &name, &a.step)? });
    }
    ctx.insert("steps", &steps);
    ctx.insert("harness", &harness);
    ctx.insert("target", &target.name);
    ctx.insert("cc", &target.cc);
    ctx.insert("cflags", &target.c_flags().join(" "));
    ctx.insert("ldlibs", if math { "-lm" } else { "" });
    let board = target.harness.as_ref();
    let board_sources: Vec<String> = board.map(|b| b.c_files.iter().map(|f| format!("board/{f}")).collect()).unwrap_or_default();
    ctx.insert("board_sources", &board_sources.join(" "));
    ctx.insert("harness_cflags", &board.map(|b| b.c_cflags.join(" ")).unwrap_or_default());
    let mut ldflags = board.map(|b| b.c_ldflags.clone()).unwrap_or_default();
    if let Some(b) = board {
        ldflags.extend(["-T".to_string(), format!("board/{}", b.c_linker_script)]);
    }
    ctx.insert("harness_ldflags", &ldflags.join(" "));
    let mut files = vec![
        OutputFile::text(&format!("{name}.h"), render("model.h.tera", &ctx)?),
        OutputFile::text(&format!("{name}.c"), render("model.c.tera", &ctx)?),
        OutputFile::text(&format!("{name}_weights.c"), weights_c(&name, &blob)),
        OutputFile::text("Makefile", render("Makefile.tera", &ctx)?),
    ];
    let mut wanted: BTreeSet<String> = headers.iter().cloned().collect();
    wanted.insert("qcc.h".into());
    for i in &instances {
        wanted.extend(i.headers.iter().cloned());
    }
    if !casts.is_empty() {
        wanted.insert("convert.h".into());
    }
    if harness {
        wanted.insert("npy.h".into());
        files.push(OutputFile::text("harness.c", super::harness::c(p, &name)));
        files.extend(board_files(target)?);
    }
    for (path, text) in crate::target::runtime_files() {
        if let Some(rel) = path.strip_prefix("c/qcc/") {
            if wanted.contains(rel) {
                files.push(OutputFile::text(&format!("qcc/{rel}"), text.to_string()));
            }
        }
    }
    Ok(files)
}

/// The bare-metal harness's startup code and linker script from
/// `targets/<name>/`, under `board/` (none for a hosted target).
fn board_files(target: &Target) -> Result<Vec<OutputFile>> {
    let Some(b) = &target.harness else { return Ok(Vec::new()) };
    b.c_files.iter().chain([&b.c_linker_script]).map(|f| Ok(OutputFile::text(&format!("board/{f}"), super::target_file(target, f)?.to_string()))).collect()
}

fn render(template: &str, ctx: &tera::Context) -> Result<String> {
    super::render(&format!("c/templates/{template}"), ctx)
}

#[derive(Serialize)]
struct StepText {
    comment: String,
    code: String,
}

#[derive(Serialize)]
struct IoText {
    name: String,
    upper: String,
    dtype: String,
    shape_text: String,
    len: usize,
    rank: usize,
    dims: String,
    /// `real = scale · (code − zero_point)`, for quantized codes; empty otherwise.
    scale: String,
    zero_point: String,
}

fn ios(list: &[Io], upper: &str) -> Vec<IoText> {
    list.iter()
        .map(|io| IoText {
            name: io.name.replace("*/", "* /"),
            upper: format!("{upper}_{}", io.ident.to_uppercase()),
            dtype: io.dtype.to_string(),
            shape_text: format!("{:?}", io.shape),
            len: io.shape.iter().product(),
            rank: io.shape.len(),
            dims: io.shape.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(", "),
            scale: io.quant.map(|(s, _)| step::lit(&Lit::Float(s as f64, DType::F32))).unwrap_or_default(),
            zero_point: io.quant.map(|(_, z)| z.to_string()).unwrap_or_default(),
        })
        .collect()
}

fn params(p: &Program) -> String {
    let mut v = Vec::new();
    for io in &p.inputs {
        v.push(format!("const {} {}[{}]", c_type(io.dtype), io.ident, io.shape.iter().product::<usize>().max(1)));
    }
    for io in &p.outputs {
        v.push(format!("{} {}[{}]", c_type(io.dtype), io.ident, io.shape.iter().product::<usize>().max(1)));
    }
    if v.is_empty() {
        "void".into()
    } else {
        v.join(", ")
    }
}

/// The C type holding elements of `d`.
pub fn c_type(d: DType) -> &'static str {
    match d {
        DType::F32 => "float",
        DType::F64 => "double",
        DType::F16 => "qcc_f16",
        DType::BF16 => "qcc_bf16",
        DType::I8 => "int8_t",
        DType::I16 => "int16_t",
        DType::I32 => "int32_t",
        DType::I64 => "int64_t",
        DType::U16 => "uint16_t",
        DType::U32 => "uint32_t",
        DType::U64 => "uint64_t",
        DType::Bool => "bool",
        _ => "uint8_t",
    }
}

/// The scalar functions of quantized models (`ops_quant.h`, on 8-bit codes).
const QUANT_FNS: &[&str] = &["quantize_linear", "dequantize_linear", "centered", "q_rescale", "q_add", "q_mul"];

/// One instantiation of the templated runtime headers for an element type.
#[derive(Serialize)]
struct Instance {
    t: &'static str,
    s: &'static str,
    c: &'static str,
    in_: String,
    out: String,
    u: &'static str,
    kind: &'static str,
    headers: Vec<String>,
}

/// Instantiations per element type, cast definitions, plain headers, and
/// whether libm is needed.
fn instances(p: &Program) -> (Vec<Instance>, Vec<String>, Vec<String>, bool) {
    let mut types: BTreeSet<DType> = BTreeSet::new();
    let mut casts: BTreeSet<(DType, DType)> = BTreeSet::new();
    let mut kernel_types: BTreeSet<(&'static str, Vec<DType>)> = BTreeSet::new();
    let mut math = false;
    for a in &p.steps {
        match &a.step {
            Step::Map { f, .. } => {
                if f.name == "cast" {
                    if let [from, to] = f.suffix[..] {
                        casts.insert((from, to));
                    }
                } else {
                    types.extend(f.suffix.iter().copied());
                    math |= step::uses_math(f.name);
                }
            }
            Step::Call(c) => {
                // Kernels may use the scalar ops of their element types.
                types.extend(c.types.iter().copied());
                kernel_types.insert((c.module, c.types.clone()));
                math |= c.types.iter().any(|t| t.is_float());
            }
            _ => {}
        }
    }
    for (module, ts) in &p.modules {
        types.extend(ts.iter().copied());
        kernel_types.insert((*module, ts.clone()));
        math |= ts.iter().any(|t| t.is_float());
    }
    let mut plain = Vec::new();
    if types.contains(&DType::Bool) {
        plain.push("ops_bool.h".to_string());
    }
    if !casts.is_empty() {
        plain.push("convert.h".to_string());
    }
    let quantized = p.steps.iter().any(|a| match &a.step {
        Step::Map { f, .. } => QUANT_FNS.contains(&f.name),
        Step::Call(c) => c.module == "qint",
        _ => false,
    });
    if quantized {
        plain.push("fixed_point.h".to_string());
    }
    let mut instances = Vec::new();
    let floats_for_math: BTreeSet<DType> = types.iter().copied().filter(|d| d.is_float()).collect();
    for &d in types.iter().filter(|&&d| d != DType::Bool) {
        let mut headers = vec!["ops_num.h".to_string()];
        if math && floats_for_math.contains(&d) {
            headers.push("ops_float.h".to_string());
        }
        if quantized && matches!(d, DType::I8 | DType::U8 | DType::I16) {
            headers.push("ops_quant.h".to_string());
        }
        instances.push(instance(d, headers));
    }
    // Kernel headers instantiated for their element types (first type), in
    // module-name order: a header that uses another module's kernels comes
    // after it by name (rnn_quant.h after dynamic_quant.h and rnn.h).
    for (module, ts) in &kernel_types {
        if let Some(&d) = ts.first() {
            instances.push(instance(d, vec![format!("kernels/{module}.h")]));
        }
    }
    let cast_lines = casts
        .iter()
        .map(|&(f, t)| {
            let via_float = (f.is_float() || t.is_float()) as u8;
            format!("{}, {}, {}, {}, {via_float}", type_suffix(f), c_type(f), type_suffix(t), c_type(t))
        })
        .collect();
    (instances, cast_lines, plain, math)
}

fn instance(d: DType, headers: Vec<String>) -> Instance {
    let (c, in_, out) = match d {
        DType::F16 => ("float", "qcc_f16_to_f32(x)".to_string(), "qcc_f32_to_f16(x)".to_string()),
        DType::BF16 => ("float", "qcc_bf16_to_f32(x)".to_string(), "qcc_f32_to_bf16(x)".to_string()),
        d => (c_type(d), "(x)".to_string(), "(x)".to_string()),
    };
    let kind = if d.is_float() {
        "QCC_FLOAT"
    } else if d.is_signed_int() {
        "QCC_SIGNED"
    } else {
        "QCC_UNSIGNED"
    };
    let u = if matches!(d, DType::I64 | DType::U64) { "uint64_t" } else { "uint32_t" };
    Instance { t: c_type(d), s: type_suffix(d), c, in_, out, u, kind, headers }
}

#[derive(Serialize)]
struct ConstText {
    t: &'static str,
    ident: String,
    offset: usize,
}

/// Each constant as a typed pointer into the weight blob.
fn constants(p: &Program, name: &str, blob: &super::weights::Blob) -> Vec<ConstText> {
    p.constants
        .iter()
        .zip(&blob.offsets)
        .map(|(c, &offset)| ConstText { t: c_type(c.value.dtype()), ident: const_symbol(name, &c.ident), offset })
        .collect()
}

/// The C symbol of a constant.
pub fn const_symbol(model: &str, ident: &str) -> String {
    format!("{model}_{ident}")
}

#[derive(Serialize)]
struct PoolText {
    t: &'static str,
    ident: String,
    offset: usize,
}

fn pools(plan: &Plan) -> Vec<PoolText> {
    plan.pools.iter().map(|pool| PoolText { t: c_type(pool.dtype), ident: pool_ident(pool.dtype), offset: pool.byte_offset }).collect()
}

pub fn pool_ident(d: DType) -> String {
    format!("pool_{}", type_suffix(d))
}

/// `<name>_weights.c`: the weight blob (the bytes the Rust backend embeds)
/// as one string literal. Compilers hold a string literal as bytes, so even
/// a 500 MB model compiles in seconds and bounded memory, where one literal
/// per element costs the compiler about 90 bytes of RAM per byte of weights.
fn weights_c(name: &str, blob: &super::weights::Blob) -> String {
    let mut s = format!(
        "/* {name}_weights.c: generated by qcc. The model's constants, little-endian, in read-only memory. */\n\
         #include \"qcc/qcc.h\"\n\n{}\nconst union {name}_weights {name}_weights = {{\n    \"",
        weights_union(name, blob.bytes.len())
    );
    // Octal escapes always take three digits, so no following character
    // extends them; '?' is escaped against trigraphs.
    let spelling: Vec<String> = (0..=255u8)
        .map(|b| match b {
            b' ' => " ".to_string(),
            b'"' | b'\\' | b'?' => format!("\\{b:03o}"),
            b if b.is_ascii_graphic() => (b as char).to_string(),
            b => format!("\\{b:03o}"),
        })
        .collect();
    s.reserve(blob.bytes.len() * 3);
    let mut line = 0;
    for &b in &blob.bytes {
        let text = &spelling[b as usize];
        s.push_str(text);
        line += text.len();
        if line >= 96 {
            s.push_str("\"\n    \"");
            line = 0;
        }
    }
    s.push_str("\"\n};\n");
    s
}

/// The declaration of the blob's type: bytes aligned for every element type,
/// with room for the string literal's terminating zero.
fn weights_union(name: &str, bytes: usize) -> String {
    format!(
        "union {name}_weights {{\n    unsigned char bytes[{}];\n    double align_double;\n    int64_t align_int64;\n}};\n\
         extern const union {name}_weights {name}_weights;\n",
        bytes + 1
    )
}
