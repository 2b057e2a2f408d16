//! Rendering steps and literals as C.

use super::{c_type, const_symbol, pool_ident};
use crate::back::plan::Plan;
use crate::back::program::*;
use crate::back::{collapse, lit_value, type_suffix, LitValue};
use crate::tensor::DType;
use crate::Result;

/// The body of one step (indented for the run function).
pub fn render(p: &Program, plan: &Plan, model: &str, step: &Step) -> Result<String> {
    let names = Names { p, plan, model };
    Ok(match step {
        Step::Map { f, inputs, output, shape } => {
            let mut views = vec![output];
            views.extend(inputs.iter());
            let (shape, views) = collapse(shape, &views);
            let args: Vec<String> = inputs
                .iter()
                .zip(&views[1..])
                .map(|(v, cv)| format!("{}[{}]", names.of(v.operand), index(cv)))
                .chain(f.params.iter().map(lit))
                .collect();
            let fname = format!("qcc_{}_{}", f.name, f.suffix.iter().map(|&d| type_suffix(d)).collect::<Vec<_>>().join("_"));
            let body = format!("{}[{}] = {fname}({});", names.of(output.operand), index(&views[0]), args.join(", "));
            nest(&shape, &body)
        }
        Step::Copy { src, dst, shape, dtype } => {
            let (shape, views) = collapse(shape, &[dst, src]);
            let (d, s) = (names.of(dst.operand), names.of(src.operand));
            match contiguous(&shape, &views) {
                Some(n) => format!(
                    "        memcpy({d} + {}, {s} + {}, {n}u * sizeof({}));\n",
                    views[0].offset,
                    views[1].offset,
                    c_type(*dtype)
                ),
                None => nest(&shape, &format!("{d}[{}] = {s}[{}];", index(&views[0]), index(&views[1]))),
            }
        }
        Step::Fill { dst, shape, value } => {
            let (shape, views) = collapse(shape, &[dst]);
            let v = lit(&Lit::Elem(value.clone()));
            nest(&shape, &format!("{}[{}] = {v};", names.of(dst.operand), index(&views[0])))
        }
        Step::Call(c) => {
            let types: Vec<&str> = c.types.iter().map(|&t| type_suffix(t)).collect();
            let mut args = Vec::new();
            for a in &c.args {
                args.push(match a {
                    Arg::In { operand, offset, .. } | Arg::Out { operand, offset, .. } => format!("{} + {offset}", names.of(*operand)),
                    Arg::Lit(l) => lit(l),
                    Arg::Dims(d) => format!("(const size_t[]){{{}}}", list(d.iter().map(|v| format!("{v}u")))),
                    Arg::Ints(v) => format!("(const int64_t[]){{{}}}", list(v.iter().map(|&x| int(x, DType::I64)))),
                    Arg::Floats(v, d) => format!("(const {}[]){{{}}}", c_type(*d), list(v.iter().map(|&x| float(x, *d)))),
                });
            }
            format!("        qcc_{}_{}({});\n", c.name, types.join("_"), args.join(", "))
        }
    })
}

fn list(items: impl Iterator<Item = String>) -> String {
    let v: Vec<String> = items.collect();
    if v.is_empty() {
        "0".into()
    } else {
        v.join(", ")
    }
}

struct Names<'a> {
    p: &'a Program,
    plan: &'a Plan,
    model: &'a str,
}

impl Names<'_> {
    /// A pointer expression for an operand's first element.
    fn of(&self, op: Operand) -> String {
        match op {
            Operand::Input(k) => self.p.inputs[k].ident.clone(),
            Operand::Output(k) => self.p.outputs[k].ident.clone(),
            Operand::Const(k) => const_symbol(self.model, &self.p.constants[k].ident),
            Operand::Buf(b) => {
                let buf = &self.p.buffers[b];
                format!("({} + {})", pool_ident(buf.dtype), self.plan.offsets[b])
            }
        }
    }
}

fn contiguous(shape: &[usize], views: &[View]) -> Option<usize> {
    match shape {
        [] => Some(1),
        [n] if views.iter().all(|v| v.strides == [1]) => Some(*n),
        _ => None,
    }
}

/// `offset + Σ i_k * stride_k`, positive terms first (size_t never wraps).
fn index(v: &View) -> String {
    let mut s = format!("{}u", v.offset);
    for (k, &st) in v.strides.iter().enumerate() {
        if st > 0 {
            s.push_str(&if st == 1 { format!(" + i{k}") } else { format!(" + i{k} * {st}u") });
        }
    }
    for (k, &st) in v.strides.iter().enumerate() {
        if st < 0 {
            let m = st.unsigned_abs();
            s.push_str(&if m == 1 { format!(" - i{k}") } else { format!(" - i{k} * {m}u") });
        }
    }
    s
}

/// `body` inside one loop per dimension (never empty: see `Builder::push`).
fn nest(shape: &[usize], body: &str) -> String {
    let mut out = String::new();
    let depth = shape.len();
    for (k, n) in shape.iter().enumerate() {
        out.push_str(&format!("{}for (size_t i{k} = 0; i{k} < {n}u; i{k}++) {{\n", "    ".repeat(k + 2)));
    }
    out.push_str(&format!("{}{body}\n", "    ".repeat(depth + 2)));
    for k in (0..depth).rev() {
        out.push_str(&format!("{}}}\n", "    ".repeat(k + 2)));
    }
    out
}

/// Whether a scalar function needs `<math.h>`.
pub fn uses_math(name: &str) -> bool {
    !matches!(
        name,
        "add" | "sub" | "mul" | "div" | "neg" | "abs" | "sign" | "relu" | "leaky_relu" | "prelu" | "min" | "max" | "clip" | "equal"
            | "less" | "less_equal" | "greater" | "greater_equal" | "select" | "and" | "or" | "xor" | "not" | "cast"
    )
}

/// A C literal.
pub fn lit(l: &Lit) -> String {
    match lit_value(l) {
        LitValue::Bool(b) => (if b { "true" } else { "false" }).into(),
        LitValue::Int(v, d) => int(v, d),
        LitValue::Float(v, d) => float(v, d),
    }
}

fn int(v: i64, d: DType) -> String {
    match d {
        DType::I64 => {
            if v == i64::MIN {
                "INT64_MIN".into()
            } else {
                format!("INT64_C({v})")
            }
        }
        DType::U64 => format!("UINT64_C({})", v as u64),
        DType::I32 if v == i32::MIN as i64 => "INT32_MIN".into(),
        d => format!("({}){v}", c_type(d)),
    }
}

/// An exact float literal (hex for finite values).
fn float(v: f64, d: DType) -> String {
    match d {
        DType::F64 => hex_double(v),
        DType::F16 => format!("(qcc_f16)0x{:04x}u", half::f16::from_f64(v).to_bits()),
        DType::BF16 => format!("(qcc_bf16)0x{:04x}u", half::bf16::from_f64(v).to_bits()),
        _ => hex_float(v as f32),
    }
}

fn hex_float(v: f32) -> String {
    if v.is_nan() {
        return "qcc_f32_from_bits(0x7fc00000u)".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "qcc_f32_from_bits(0x7f800000u)".into() } else { "qcc_f32_from_bits(0xff800000u)".into() };
    }
    format!("{}f", hex_of(v as f64))
}

fn hex_double(v: f64) -> String {
    if v.is_nan() {
        return "(0.0 / 0.0)".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "(1.0 / 0.0)".into() } else { "(-1.0 / 0.0)".into() };
    }
    hex_of(v)
}

/// C99 hexadecimal form of a finite double: `0x1.8p+1`.
fn hex_of(v: f64) -> String {
    if v == 0.0 {
        return if v.is_sign_negative() { "-0x0p+0".into() } else { "0x0p+0".into() };
    }
    let bits = v.to_bits();
    let sign = if bits >> 63 == 1 { "-" } else { "" };
    let exp = ((bits >> 52) & 0x7ff) as i64;
    let man = bits & ((1u64 << 52) - 1);
    let (lead, e) = if exp == 0 { (0, -1022) } else { (1, exp - 1023) };
    let mut frac = format!("{man:013x}");
    while frac.ends_with('0') {
        frac.pop();
    }
    if frac.is_empty() {
        format!("{sign}0x{lead}p{e:+}")
    } else {
        format!("{sign}0x{lead}.{frac}p{e:+}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_literals_are_exact() {
        assert_eq!(hex_of(3.0), "0x1.8p+1");
        assert_eq!(hex_of(-0.1), "-0x1.999999999999ap-4");
        assert_eq!(hex_of(1.0), "0x1p+0");
        assert_eq!(hex_float(0.1f32), "0x1.99999ap-4f");
        assert_eq!(hex_of(f64::MIN_POSITIVE / 4.0), "0x0.4p-1022");
    }
}
