//! StringConcat and StringSplit (opset 20).
//! <https://onnx.ai/onnx/operators/onnx__StringConcat.html>
//! <https://onnx.ai/onnx/operators/onnx__StringSplit.html>
//!
//! Full operators. StringConcat joins two string tensors elementwise with
//! numpy broadcasting. StringSplit splits each element on `delimiter`
//! (consecutive delimiters delimit empty strings) or, when the delimiter is
//! unset or empty, on runs of whitespace (Unicode `White_Space`) with
//! leading and trailing whitespace dropped; `maxsplit` (non-negative) caps
//! the number of splits, the rest of the string being the last substring.
//! Its outputs are the substrings, padded with empty strings to the longest
//! count (shape `input + [max count]`), and the counts (int64, the input's
//! shape).

use super::{util, Arg, OpDef, Slots};
use crate::front::onnx::OnnxNode;
use crate::ir::{Shape, TensorType};
use crate::tensor::{DType, Tensor};
use crate::{bail, Result};

#[derive(Debug, Clone)]
pub struct StringConcat;

impl OpDef for StringConcat {
    fn from_onnx(_node: &OnnxNode) -> Result<Self> {
        Ok(StringConcat)
    }

    fn infer(&self, inputs: &[Option<Arg>]) -> Result<Vec<TensorType>> {
        let (x, y) = (inputs.req(0)?.ty, inputs.req(1)?.ty);
        if x.dtype != DType::Str || y.dtype != DType::Str {
            bail!("StringConcat needs two string tensors, got {} and {}", x.dtype, y.dtype);
        }
        Ok(vec![util::broadcast_type(&inputs[..2], DType::Str)?])
    }

    fn eval(&self, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
        let (x, y) = (inputs.req(0)?, inputs.req(1)?);
        let (Tensor::Str(a), Tensor::Str(b)) = (x, y) else {
            bail!("StringConcat needs two string tensors, got {} and {}", x.dtype(), y.dtype());
        };
        Ok(vec![Tensor::Str(util::zip2(a, b, |p, q| p + &q)?)])
    }

    /// int8: float only.
    fn quantize(&self, rule: super::Rule) -> Result<super::Plan> {
        Ok(rule.float_only(super::NO_INTEGER_KERNEL))
    }
}

#[derive(Debug, Clone)]
pub struct StringSplit {
    /// `None` splits on whitespace.
    delimiter: Option<String>,
    maxsplit: Option<usize>,
}

impl OpDef for StringSplit {
    fn from_onnx(node: &OnnxNode) -> Result<Self> {
        let delimiter = node.string_opt("delimiter")?.filter(|d| !d.is_empty());
        let maxsplit = match node.int_opt("maxsplit")? {
            Some(m) => match usize::try_from(m) {
                Ok(m) => Some(m),
                Err(_) => bail!("maxsplit must be non-negative, got {m}"),
            },
            None => None,
        };
        Ok(StringSplit { delimiter, maxsplit })
    }

    fn infer(&self, inputs: &[Option<Arg>]) -> Result<Vec<TensorType>> {
        let x = inputs.req(0)?;
        if x.ty.dtype != DType::Str {
            bail!("StringSplit needs a string tensor, got {}", x.ty.dtype);
        }
        if let Some(value) = x.value {
            return Ok(self.eval(&[Some(value)])?.iter().map(TensorType::of).collect());
        }
        let parts = match x.ty.shape.dims() {
            Some(d) => Shape::from_dims(d.iter().copied().chain([None]).collect()),
            None => Shape::unknown(),
        };
        Ok(vec![TensorType::new(DType::Str, parts), TensorType::new(DType::I64, x.ty.shape.clone())])
    }

    fn eval(&self, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
        let x = inputs.req(0)?;
        let Tensor::Str(a) = x else { bail!("StringSplit needs a string tensor, got {}", x.dtype()) };
        let parts: Vec<Vec<&str>> = a.iter().map(|s| self.split(s)).collect();
        let longest = parts.iter().map(Vec::len).max().unwrap_or(0);
        let mut shape = a.shape().to_vec();
        shape.push(longest);
        let total = crate::tensor::checked_numel(&shape)?;
        let mut flat = Vec::with_capacity(total);
        for p in &parts {
            flat.extend(p.iter().map(|s| s.to_string()));
            flat.extend(std::iter::repeat_n(String::new(), longest - p.len()));
        }
        let counts: Vec<i64> = parts.iter().map(|p| p.len() as i64).collect();
        Ok(vec![Tensor::from_vec(&shape, flat)?, Tensor::from_vec(a.shape(), counts)?])
    }

    /// int8: float only.
    fn quantize(&self, rule: super::Rule) -> Result<super::Plan> {
        Ok(rule.float_only(super::NO_INTEGER_KERNEL))
    }
}

impl StringSplit {
    fn split<'a>(&self, s: &'a str) -> Vec<&'a str> {
        let limit = self.maxsplit.map_or(usize::MAX, |m| m.saturating_add(1));
        match &self.delimiter {
            Some(d) => s.splitn(limit, d.as_str()).collect(),
            None => {
                let mut parts = Vec::new();
                let mut rest = s.trim_start();
                while !rest.is_empty() {
                    if parts.len() + 1 == limit {
                        parts.push(rest);
                        break;
                    }
                    match rest.find(char::is_whitespace) {
                        Some(i) => {
                            parts.push(&rest[..i]);
                            rest = rest[i..].trim_start();
                        }
                        None => {
                            parts.push(rest);
                            break;
                        }
                    }
                }
                parts
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::front::onnx::Attr;
    use crate::ops::testing::{i64s, infer, run, strs};
    use crate::tensor::DType;

    #[test]
    fn concat_broadcasts() {
        let y = run("StringConcat", 20, vec![], &[strs(&[2], &["a", "é"]), strs(&[], &["!"])]).unwrap();
        assert_eq!(y[0], strs(&[2], &["a!", "é!"]));
        assert!(run("StringConcat", 20, vec![], &[strs(&[2], &["a", "b"]), strs(&[3], &["", "", ""])]).is_err());
        assert!(run("StringConcat", 20, vec![], &[strs(&[1], &["a"]), i64s(&[1], &[1])]).is_err());
    }

    #[test]
    fn splits_on_a_delimiter_with_empty_pieces_and_a_cap() {
        let d = |s: &str| ("delimiter", Attr::String(s.into()));
        let y = run("StringSplit", 20, vec![d("-")], &[strs(&[2], &["a--b", ""])]).unwrap();
        assert_eq!(y[0], strs(&[2, 3], &["a", "", "b", "", "", ""]));
        assert_eq!(y[1], i64s(&[2], &[3, 1]));
        let y = run("StringSplit", 20, vec![d("::"), ("maxsplit", Attr::Int(1))], &[strs(&[1], &["a::b::c"])]).unwrap();
        assert_eq!(y[0], strs(&[1, 2], &["a", "b::c"]));
    }

    #[test]
    fn splits_on_whitespace_like_python() {
        let x = strs(&[3], &["  a \t b  c ", "   ", "x"]);
        let y = run("StringSplit", 20, vec![], std::slice::from_ref(&x)).unwrap();
        assert_eq!(y[0], strs(&[3, 3], &["a", "b", "c", "", "", "", "x", "", ""]));
        assert_eq!(y[1], i64s(&[3], &[3, 0, 1]));
        let y = run("StringSplit", 20, vec![("maxsplit", Attr::Int(1))], std::slice::from_ref(&x)).unwrap();
        assert_eq!(y[0], strs(&[3, 2], &["a", "b  c ", "", "", "x", ""]));
        let y = run("StringSplit", 20, vec![("maxsplit", Attr::Int(0))], &[x]).unwrap();
        assert_eq!(y[0], strs(&[3, 1], &["a \t b  c ", "", "x"]));
    }

    #[test]
    fn empty_input_negative_maxsplit_and_constant_inference() {
        let y = run("StringSplit", 20, vec![], &[strs(&[0], &[])]).unwrap();
        assert_eq!(y[0].shape(), &[0, 0]);
        assert!(run("StringSplit", 20, vec![("maxsplit", Attr::Int(-1))], &[strs(&[1], &["a"])]).is_err());
        assert!(run("StringSplit", 20, vec![], &[i64s(&[1], &[1])]).is_err());
        let x = strs(&[2], &["a b", "c"]);
        let ty = infer("StringSplit", 20, vec![], std::slice::from_ref(&x), &[0]).unwrap();
        assert_eq!(ty[0], crate::ir::TensorType::fixed(DType::Str, &[2, 2]));
        let ty = infer("StringSplit", 20, vec![], &[x], &[]).unwrap();
        assert_eq!(ty[0].shape.to_string(), "[2, ?]");
    }
}
