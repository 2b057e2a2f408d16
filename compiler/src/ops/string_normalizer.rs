//! StringNormalizer (opset 10): drops the elements that are stop words,
//! then changes the case of the others.
//! <https://onnx.ai/onnx/operators/onnx__StringNormalizer.html>
//!
//! Inputs of shape `[C]` or `[1, C]`. An element is dropped when it equals
//! a stop word (compared in lower case when `is_case_sensitive` is 0); when
//! every element is dropped the output is one empty string (`[1]` or
//! `[1, 1]`). Case changes (`LOWER`, `UPPER`, `NONE`) use Unicode's default
//! case mapping, which is every locale's but Turkish, Azeri and
//! Lithuanian; those `locale` values are unsupported.

use super::{Arg, OpDef, Slots};
use crate::front::onnx::OnnxNode;
use crate::ir::{Shape, TensorType};
use crate::tensor::{DType, Tensor};
use crate::{bail, unsupported, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Case {
    Lower,
    Upper,
    Keep,
}

#[derive(Debug, Clone)]
pub struct StringNormalizer {
    case: Case,
    case_sensitive: bool,
    /// Lower-cased when the comparison is case-insensitive.
    stopwords: Vec<String>,
}

impl OpDef for StringNormalizer {
    fn from_onnx(node: &OnnxNode) -> Result<Self> {
        let case = match node.string("case_change_action", "NONE")?.as_str() {
            "LOWER" => Case::Lower,
            "UPPER" => Case::Upper,
            "NONE" => Case::Keep,
            other => bail!("case_change_action must be 'LOWER', 'UPPER' or 'NONE', got '{other}'"),
        };
        if let Some(locale) = node.string_opt("locale")? {
            let language = locale.split(['_', '-', '.', '@']).next().unwrap_or("").to_ascii_lowercase();
            if matches!(language.as_str(), "tr" | "az" | "lt") {
                unsupported!("locale '{locale}': its case mapping differs from Unicode's default");
            }
        }
        let case_sensitive = node.int("is_case_sensitive", 0)? != 0;
        let mut stopwords = node.strings_opt("stopwords")?.unwrap_or_default();
        if !case_sensitive {
            stopwords.iter_mut().for_each(|w| *w = w.to_lowercase());
        }
        Ok(StringNormalizer { case, case_sensitive, stopwords })
    }

    fn infer(&self, inputs: &[Option<Arg>]) -> Result<Vec<TensorType>> {
        let x = inputs.req(0)?;
        if x.ty.dtype != DType::Str {
            bail!("StringNormalizer needs a string tensor, got {}", x.ty.dtype);
        }
        if let Some(value) = x.value {
            return Ok(self.eval(&[Some(value)])?.iter().map(TensorType::of).collect());
        }
        let Some(dims) = x.ty.shape.dims() else { return Ok(vec![TensorType::new(DType::Str, Shape::unknown())]) };
        let (batch, c) = match *dims {
            [c] => (None, c),
            [b, c] => {
                if b.is_some_and(|b| b != 1) {
                    bail!("input must have shape [C] or [1, C], got {}", x.ty.shape);
                }
                (Some(Some(1)), c)
            }
            _ => bail!("input must have shape [C] or [1, C], got {}", x.ty.shape),
        };
        // Without stop words nothing is dropped (an empty input still gives one empty string).
        let out = if self.stopwords.is_empty() { c.map(|c| c.max(1)) } else { None };
        Ok(vec![TensorType::new(DType::Str, Shape::from_dims(batch.into_iter().chain([out]).collect()))])
    }

    fn eval(&self, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
        let x = inputs.req(0)?;
        let Tensor::Str(a) = x else { bail!("StringNormalizer needs a string tensor, got {}", x.dtype()) };
        let two_d = match a.shape() {
            [_] => false,
            [1, _] => true,
            s => bail!("input must have shape [C] or [1, C], got {s:?}"),
        };
        let mut kept: Vec<String> = a.iter().filter(|s| !self.is_stopword(s)).map(|s| self.change_case(s)).collect();
        if kept.is_empty() {
            kept.push(String::new());
        }
        let shape = if two_d { vec![1, kept.len()] } else { vec![kept.len()] };
        Ok(vec![Tensor::from_vec(&shape, kept)?])
    }

    /// int8: float only.
    fn quantize(&self, rule: super::Rule) -> Result<super::Plan> {
        Ok(rule.float_only(super::NO_INTEGER_KERNEL))
    }
}

impl StringNormalizer {
    fn is_stopword(&self, s: &str) -> bool {
        if self.stopwords.is_empty() {
            return false;
        }
        if self.case_sensitive {
            self.stopwords.iter().any(|w| w == s)
        } else {
            let lower = s.to_lowercase();
            self.stopwords.contains(&lower)
        }
    }

    fn change_case(&self, s: &str) -> String {
        match self.case {
            Case::Lower => s.to_lowercase(),
            Case::Upper => s.to_uppercase(),
            Case::Keep => s.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::front::onnx::Attr;
    use crate::ops::testing::{infer, run, strs};
    use crate::tensor::DType;

    fn stop(words: &[&str]) -> (&'static str, Attr) {
        ("stopwords", Attr::Strings(words.iter().map(|s| s.to_string()).collect()))
    }

    #[test]
    fn drops_stopwords_then_changes_case() {
        let x = strs(&[1, 3], &["Monday", "tuesday", "Straße"]);
        let attrs = vec![stop(&["MONDAY"]), ("case_change_action", Attr::String("UPPER".into()))];
        let y = run("StringNormalizer", 10, attrs, std::slice::from_ref(&x)).unwrap();
        assert_eq!(y[0], strs(&[1, 2], &["TUESDAY", "STRASSE"]));
        // Case-sensitive: "Monday" is not "MONDAY".
        let attrs = vec![stop(&["MONDAY"]), ("is_case_sensitive", Attr::Int(1))];
        let y = run("StringNormalizer", 10, attrs, &[x]).unwrap();
        assert_eq!(y[0].shape(), &[1, 3]);
    }

    #[test]
    fn all_dropped_gives_one_empty_string() {
        let y = run("StringNormalizer", 10, vec![stop(&["a"])], &[strs(&[2], &["a", "A"])]).unwrap();
        assert_eq!(y[0], strs(&[1], &[""]));
    }

    #[test]
    fn bad_shapes_actions_and_locales_are_errors() {
        assert!(run("StringNormalizer", 10, vec![], &[strs(&[2, 1], &["a", "b"])]).is_err());
        assert!(run("StringNormalizer", 10, vec![], &[strs(&[1, 1, 1], &["a"])]).is_err());
        let bad = vec![("case_change_action", Attr::String("TITLE".into()))];
        assert!(run("StringNormalizer", 10, bad, &[strs(&[1], &["a"])]).is_err());
        let turkish = vec![("locale", Attr::String("tr_TR.UTF-8".into()))];
        assert!(run("StringNormalizer", 10, turkish, &[strs(&[1], &["a"])]).is_err());
        let english = vec![("locale", Attr::String("en_US".into()))];
        assert!(run("StringNormalizer", 10, english, &[strs(&[1], &["a"])]).is_ok());
    }

    #[test]
    fn infers_exact_shapes_when_nothing_can_be_dropped() {
        let x = strs(&[1, 3], &["a", "b", "c"]);
        let ty = infer("StringNormalizer", 10, vec![], std::slice::from_ref(&x), &[]).unwrap();
        assert_eq!(ty[0], crate::ir::TensorType::fixed(DType::Str, &[1, 3]));
        let ty = infer("StringNormalizer", 10, vec![stop(&["a"])], std::slice::from_ref(&x), &[]).unwrap();
        assert_eq!(ty[0].shape.to_string(), "[1, ?]");
        let ty = infer("StringNormalizer", 10, vec![stop(&["a"])], &[x], &[0]).unwrap();
        assert_eq!(ty[0], crate::ir::TensorType::fixed(DType::Str, &[1, 2]));
    }
}
