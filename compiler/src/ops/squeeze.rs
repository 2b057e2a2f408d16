//! Squeeze and Unsqueeze: remove size-1 dimensions / insert them. The data
//! is unchanged; any element type.
//! <https://onnx.ai/onnx/operators/onnx__Squeeze.html>,
//! <https://onnx.ai/onnx/operators/onnx__Unsqueeze.html>
//!
//! `axes` is an attribute before opset 13 and an input from opset 13.
//! Squeeze without axes removes every dimension of size 1. Unsqueeze axes
//! refer to the output's dimensions.

use super::{util, Arg, OpDef, Slots};
use crate::front::onnx::OnnxNode;
use crate::ir::{Dim, Shape, TensorType};
use crate::tensor::Tensor;
use crate::{bail, Result};

#[derive(Debug, Clone)]
pub struct Squeeze {
    /// Unsqueeze instead of Squeeze.
    insert: bool,
    /// `axes` attribute (opset < 13).
    attr_axes: Option<Vec<i64>>,
}

/// The axes argument as far as it is known.
enum Axes {
    Given(Vec<i64>),
    /// Given by a non-constant input (of `len` axes when its shape is known).
    Unknown {
        len: Option<usize>,
    },
    Absent,
}

impl OpDef for Squeeze {
    /// Pure data movement (see `back::movement`).
    fn lower(&self, cx: &mut super::LowerCx) -> Result<()> {
        crate::back::movement::alias(cx)
    }

    fn from_onnx(node: &OnnxNode) -> Result<Self> {
        let insert = node.op_type == "Unsqueeze";
        let attr_axes = if node.opset < 13 { node.ints_opt("axes")? } else { None };
        if insert && node.opset < 13 && attr_axes.is_none() {
            bail!("attribute 'axes' is missing");
        }
        Ok(Squeeze { insert, attr_axes })
    }

    fn infer(&self, inputs: &[Option<Arg>]) -> Result<Vec<TensorType>> {
        let x = inputs.req(0)?.ty;
        let axes = match &self.attr_axes {
            Some(a) => Axes::Given(a.clone()),
            None => match inputs.opt(1) {
                None => Axes::Absent,
                Some(arg) => match arg.value {
                    Some(v) => Axes::Given(v.to_i64_vec()?),
                    None => Axes::Unknown { len: arg.ty.shape.numel() },
                },
            },
        };
        let shape = match (x.shape.dims(), axes) {
            (Some(dims), Axes::Given(a)) => Shape::from_dims(self.apply(dims, Some(&a))?),
            (_, Axes::Absent) if self.insert => bail!("Unsqueeze needs axes"),
            (Some(dims), Axes::Absent) if dims.iter().all(Option::is_some) => Shape::from_dims(self.apply(dims, None)?),
            (Some(dims), Axes::Unknown { len: Some(k) }) => {
                let rank = if self.insert { dims.len().checked_add(k) } else { dims.len().checked_sub(k) };
                match rank {
                    Some(r) => Shape::of_rank(r),
                    None => bail!("{k} axes for a rank-{} input", dims.len()),
                }
            }
            _ => Shape::unknown(),
        };
        Ok(vec![TensorType::new(x.dtype, shape)])
    }

    fn eval(&self, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
        let x = inputs.req(0)?;
        let axes = match &self.attr_axes {
            Some(a) => Some(a.clone()),
            None => inputs.opt(1).map(|t| t.to_i64_vec()).transpose()?,
        };
        if self.insert && axes.is_none() {
            bail!("Unsqueeze needs axes");
        }
        let dims: Vec<Dim> = x.shape().iter().map(|&d| Some(d)).collect();
        let out = self.apply(&dims, axes.as_deref())?;
        let out: Option<Vec<usize>> = out.into_iter().collect();
        let Some(out) = out else { bail!("internal error: unknown dimension of a concrete tensor") };
        Ok(vec![x.reshape(&out)?])
    }

    /// int8: data movement on codes; the output keeps the input's parameters.
    fn quantize(&self, rule: super::Rule) -> Result<super::Plan> {
        rule.on_codes(super::int8_rule::Needs::Inputs, |cx| cx.passthrough())
    }
}

impl Squeeze {
    /// The output dimensions for known input rank and axes (`None`: Squeeze
    /// of every size-1 dimension, which needs every dimension known).
    fn apply(&self, dims: &[Dim], axes: Option<&[i64]>) -> Result<Vec<Dim>> {
        if self.insert {
            let axes = axes.unwrap_or(&[]);
            let rank = dims.len() + axes.len();
            let at = util::axes(axes, rank)?;
            let mut rest = dims.iter();
            return Ok((0..rank)
                .map(|i| if at.contains(&i) { Some(1) } else { rest.next().copied().flatten() })
                .collect());
        }
        let at = match axes {
            Some(a) => util::axes(a, dims.len())?,
            None => (0..dims.len()).filter(|&i| dims[i] == Some(1)).collect(),
        };
        for &a in &at {
            if let Some(d) = dims[a] {
                if d != 1 {
                    bail!("cannot squeeze axis {a} of size {d}");
                }
            }
        }
        Ok(dims.iter().enumerate().filter(|(i, _)| !at.contains(i)).map(|(_, d)| *d).collect())
    }
}

#[cfg(test)]
mod tests {
    use crate::front::onnx::Attr;
    use crate::ops::testing::{i64s, run};

    #[test]
    fn squeeze_all_ones_and_given_axes() {
        let x = i64s(&[1, 2, 1], &[5, 6]);
        assert_eq!(run("Squeeze", 13, vec![], std::slice::from_ref(&x)).unwrap()[0], i64s(&[2], &[5, 6]));
        assert_eq!(run("Squeeze", 13, vec![], &[x.clone(), i64s(&[1], &[-1])]).unwrap()[0], i64s(&[1, 2], &[5, 6]));
        assert_eq!(run("Squeeze", 11, vec![("axes", Attr::Ints(vec![0]))], &[x]).unwrap()[0], i64s(&[2, 1], &[5, 6]));
    }

    #[test]
    fn unsqueeze_unsorted_axes() {
        let x = i64s(&[2], &[5, 6]);
        let out = run("Unsqueeze", 13, vec![], &[x.clone(), i64s(&[2], &[-1, 0])]).unwrap();
        assert_eq!(out[0], i64s(&[1, 2, 1], &[5, 6]));
        let out = run("Unsqueeze", 11, vec![("axes", Attr::Ints(vec![1]))], &[x]).unwrap();
        assert_eq!(out[0], i64s(&[2, 1], &[5, 6]));
    }

    #[test]
    fn bad_axes_are_errors() {
        let x = i64s(&[1, 2], &[5, 6]);
        assert!(run("Squeeze", 13, vec![], &[x.clone(), i64s(&[1], &[1])]).is_err());
        assert!(run("Squeeze", 13, vec![], &[x.clone(), i64s(&[1], &[2])]).is_err());
        assert!(run("Unsqueeze", 13, vec![], &[x.clone(), i64s(&[2], &[0, 0])]).is_err());
        assert!(run("Unsqueeze", 13, vec![], &[x.clone(), i64s(&[1], &[3])]).is_err());
        assert!(run("Unsqueeze", 13, vec![], std::slice::from_ref(&x)).is_err());
        assert!(run("Unsqueeze", 11, vec![], &[x]).is_err());
    }

    #[test]
    fn infers_with_constant_or_unknown_axes() {
        use crate::ir::{Shape, TensorType};
        use crate::ops::testing::{infer_node, node};
        use crate::tensor::DType;
        let x = TensorType::new(DType::F32, Shape::from_dims(vec![Some(1), None]));
        let axes = TensorType::fixed(DType::I64, &[1]);
        let n = node("Squeeze", 13, vec![], 2, 1);
        let out = infer_node(&n, &[Some((x.clone(), None)), Some((axes.clone(), None))]).unwrap();
        assert_eq!(out[0].shape, Shape::of_rank(1));
        let out = infer_node(&n, &[Some((x.clone(), None)), Some((axes.clone(), Some(i64s(&[1], &[0]))))]).unwrap();
        assert_eq!(out[0].shape, Shape::from_dims(vec![None]));
        let n = node("Unsqueeze", 13, vec![], 2, 1);
        let out = infer_node(&n, &[Some((x, None)), Some((axes, Some(i64s(&[1], &[-1]))))]).unwrap();
        assert_eq!(out[0].shape, Shape::from_dims(vec![Some(1), None, Some(1)]));
    }
}
