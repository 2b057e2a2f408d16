//! Split: cuts a tensor into consecutive parts along `axis`. Any element type.
//! <https://onnx.ai/onnx/operators/onnx__Split.html>
//!
//! Part sizes come from the `split` attribute (opset < 13) or the optional
//! `split` input (opset 13+); without them the axis is cut into as many
//! parts as the node has outputs (or `num_outputs`, opset 18+), each of
//! `ceil(dim / n)` elements except a smaller last one when the dimension
//! does not divide evenly (the ONNX reference's rule, in every opset).

use super::{util, Arg, OpDef, Slots};
use crate::front::onnx::OnnxNode;
use crate::ir::{Dim, Shape, TensorType};
use crate::tensor::Tensor;
use crate::{bail, map_array, Result};
use ndarray::{ArrayD, Axis, Slice};

#[derive(Debug, Clone)]
pub struct Split {
    axis: i64,
    /// Sizes from the `split` attribute (opset < 13).
    attr_split: Option<Vec<i64>>,
    /// Number of outputs.
    parts: usize,
}

impl OpDef for Split {
    /// Pure data movement (see `back::movement`).
    fn lower(&self, cx: &mut super::LowerCx) -> Result<()> {
        crate::back::movement::lower(cx, &[0], |inputs| self.eval(inputs))
    }

    fn from_onnx(node: &OnnxNode) -> Result<Self> {
        let attr_split = if node.opset < 13 { node.ints_opt("split")? } else { None };
        let parts = node.num_outputs();
        if node.opset >= 18 {
            if let Some(n) = node.int_opt("num_outputs")? {
                if usize::try_from(n).ok() != Some(parts) {
                    bail!("num_outputs is {n} but the node has {parts} outputs");
                }
                if node.has_input(1) {
                    bail!("both the 'split' input and 'num_outputs' are given");
                }
            }
        }
        if parts == 0 {
            bail!("Split needs at least one output");
        }
        Ok(Split { axis: node.int("axis", 0)?, attr_split, parts })
    }

    fn infer(&self, inputs: &[Option<Arg>]) -> Result<Vec<TensorType>> {
        let x = inputs.req(0)?.ty;
        let Some(dims) = x.shape.dims() else {
            return Ok(vec![TensorType::new(x.dtype, Shape::unknown()); self.parts]);
        };
        let axis = util::axis(self.axis, dims.len())?;
        let sizes: Vec<Dim> = match (self.explicit_sizes(inputs.opt(1).map(|a| a.value), dims[axis])?, dims[axis]) {
            (Sizes::Given(sizes), _) => sizes.into_iter().map(Some).collect(),
            (Sizes::Even, Some(d)) => self.even_sizes(d)?.into_iter().map(Some).collect(),
            (Sizes::Even, None) | (Sizes::Unknown, _) => vec![None; self.parts],
        };
        Ok(sizes
            .into_iter()
            .map(|s| {
                let mut d = dims.to_vec();
                d[axis] = s;
                TensorType::new(x.dtype, Shape::from_dims(d))
            })
            .collect())
    }

    fn eval(&self, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
        let x = inputs.req(0)?;
        let axis = util::axis(self.axis, x.rank())?;
        let dim = x.shape()[axis];
        let sizes = match self.explicit_sizes(inputs.opt(1).map(Some), Some(dim))? {
            Sizes::Given(s) => s,
            _ => self.even_sizes(dim)?,
        };
        let mut out = Vec::with_capacity(sizes.len());
        let mut start = 0usize;
        for s in sizes {
            out.push(map_array!(x, a => part(a, axis, start, s)));
            start += s;
        }
        Ok(out)
    }

    /// int8: data movement on codes; the output keeps the input's parameters.
    fn quantize(&self, rule: super::Rule) -> Result<super::Plan> {
        rule.on_codes(super::int8_rule::Needs::Inputs, |cx| cx.passthrough())
    }
}

/// Where the part sizes come from.
enum Sizes {
    Given(Vec<usize>),
    /// Given by a non-constant input.
    Unknown,
    /// Not given: even parts.
    Even,
}

impl Split {
    /// Sizes given by the attribute or by the `split` input, checked
    /// against the dimension when it is known. `input` is `None` without a
    /// `split` input and `Some(None)` when it is not constant.
    fn explicit_sizes(&self, input: Option<Option<&Tensor>>, dim: Dim) -> Result<Sizes> {
        let list = match (&self.attr_split, input) {
            (Some(s), _) => s.clone(),
            (None, Some(Some(t))) => t.to_i64_vec()?,
            (None, Some(None)) => return Ok(Sizes::Unknown),
            (None, None) => return Ok(Sizes::Even),
        };
        if list.len() != self.parts {
            bail!("split {list:?} has {} sizes for {} outputs", list.len(), self.parts);
        }
        let mut sizes = Vec::with_capacity(list.len());
        let mut total = 0usize;
        for &s in &list {
            let Ok(s) = usize::try_from(s) else { bail!("negative size in split {list:?}") };
            total = total.saturating_add(s);
            sizes.push(s);
        }
        if let Some(d) = dim {
            if total != d {
                bail!("split {list:?} adds up to {total}, but the dimension is {d}");
            }
        }
        Ok(Sizes::Given(sizes))
    }

    /// `parts` sizes of `ceil(dim / parts)`, the last one taking the rest.
    fn even_sizes(&self, dim: usize) -> Result<Vec<usize>> {
        let n = self.parts;
        let chunk = dim.div_ceil(n);
        let before_last = chunk * (n - 1);
        if before_last > dim {
            bail!("cannot split a dimension of {dim} into {n} parts of at most {chunk}");
        }
        let mut sizes = vec![chunk; n];
        sizes[n - 1] = dim - before_last;
        Ok(sizes)
    }
}

fn part<T: Clone>(a: &ArrayD<T>, axis: usize, start: usize, len: usize) -> ArrayD<T> {
    let v = a.slice_axis(Axis(axis), Slice::from(start..start + len));
    v.as_standard_layout().into_owned()
}

#[cfg(test)]
mod tests {
    use crate::front::onnx::Attr;
    use crate::ops::testing::{i64s, node};
    use crate::ops::Op;
    use crate::tensor::Tensor;

    fn split(opset: i64, attrs: Vec<(&str, Attr)>, inputs: &[Tensor], outputs: usize) -> crate::Result<Vec<Tensor>> {
        let op = Op::from_onnx(&node("Split", opset, attrs, inputs.len(), outputs))?;
        op.eval(&inputs.iter().map(Some).collect::<Vec<_>>())
    }

    #[test]
    fn uneven_last_chunk() {
        let x = i64s(&[7], &[1, 2, 3, 4, 5, 6, 7]);
        let out = split(18, vec![("num_outputs", Attr::Int(3))], &[x], 3).unwrap();
        assert_eq!(out, vec![i64s(&[3], &[1, 2, 3]), i64s(&[3], &[4, 5, 6]), i64s(&[1], &[7])]);
    }

    #[test]
    fn attribute_and_input_sizes() {
        let x = i64s(&[2, 3], &[1, 2, 3, 4, 5, 6]);
        let attr = vec![("axis", Attr::Int(1)), ("split", Attr::Ints(vec![1, 2]))];
        let out = split(11, attr, std::slice::from_ref(&x), 2).unwrap();
        assert_eq!(out, vec![i64s(&[2, 1], &[1, 4]), i64s(&[2, 2], &[2, 3, 5, 6])]);
        let out = split(13, vec![("axis", Attr::Int(-1))], &[x.clone(), i64s(&[2], &[3, 0])], 2).unwrap();
        assert_eq!(out, vec![x.clone(), i64s(&[2, 0], &[])]);
    }

    #[test]
    fn bad_sizes_are_errors() {
        let x = i64s(&[4], &[1, 2, 3, 4]);
        assert!(split(13, vec![], &[x.clone(), i64s(&[2], &[3, 2])], 2).is_err());
        assert!(split(13, vec![], &[x.clone(), i64s(&[2], &[5, -1])], 2).is_err());
        assert!(split(13, vec![], &[x.clone(), i64s(&[3], &[1, 1, 2])], 2).is_err());
        // 4 into 3 parts of 2 leaves nothing for the last part: 2, 2, 0.
        assert_eq!(
            split(18, vec![("num_outputs", Attr::Int(3))], std::slice::from_ref(&x), 3).unwrap()[2],
            i64s(&[0], &[])
        );
        assert!(split(18, vec![("num_outputs", Attr::Int(4))], &[i64s(&[5], &[0; 5])], 4).is_err());
        assert!(split(18, vec![("num_outputs", Attr::Int(2))], &[x], 3).is_err());
    }

    #[test]
    fn infers_part_shapes() {
        use crate::ir::{Shape, TensorType};
        use crate::ops::testing::infer_node;
        use crate::tensor::DType;
        let x = TensorType::new(DType::F32, Shape::from_dims(vec![None, Some(4)]));
        let axis1 = || vec![("axis", Attr::Int(1))];
        let even = infer_node(&node("Split", 13, axis1(), 1, 2), &[Some((x.clone(), None))]).unwrap();
        assert_eq!(even[1].shape, Shape::from_dims(vec![None, Some(2)]));
        let n = node("Split", 13, axis1(), 2, 2);
        let sizes = TensorType::fixed(DType::I64, &[2]);
        let given = infer_node(&n, &[Some((x.clone(), None)), Some((sizes.clone(), Some(i64s(&[2], &[1, 3]))))]);
        assert_eq!(given.unwrap()[1].shape, Shape::from_dims(vec![None, Some(3)]));
        let unknown = infer_node(&n, &[Some((x, None)), Some((sizes, None))]).unwrap();
        assert_eq!(unknown[0].shape, Shape::of_rank(2));
    }
}
