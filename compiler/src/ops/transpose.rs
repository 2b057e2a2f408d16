//! Transpose: permutes the axes by `perm` (reversed by default). Any
//! element type.
//! <https://onnx.ai/onnx/operators/onnx__Transpose.html>

use super::{Arg, OpDef, Slots};
use crate::front::onnx::OnnxNode;
use crate::ir::{Shape, TensorType};
use crate::tensor::Tensor;
use crate::{bail, map_array, Result};
use ndarray::{ArrayD, IxDyn};

#[derive(Debug, Clone)]
pub struct Transpose {
    perm: Option<Vec<i64>>,
}

impl OpDef for Transpose {
    /// Pure data movement (see `back::movement`).
    fn lower(&self, cx: &mut super::LowerCx) -> Result<()> {
        crate::back::movement::lower(cx, &[0], |inputs| self.eval(inputs))
    }

    fn from_onnx(node: &OnnxNode) -> Result<Self> {
        Ok(Transpose { perm: node.ints_opt("perm")? })
    }

    fn infer(&self, inputs: &[Option<Arg>]) -> Result<Vec<TensorType>> {
        let x = inputs.req(0)?.ty;
        let shape = match x.shape.dims() {
            Some(dims) => {
                let perm = self.perm(dims.len())?;
                Shape::from_dims(perm.iter().map(|&p| dims[p]).collect())
            }
            None => match &self.perm {
                Some(p) => Shape::of_rank(p.len()),
                None => Shape::unknown(),
            },
        };
        Ok(vec![TensorType::new(x.dtype, shape)])
    }

    fn eval(&self, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
        let x = inputs.req(0)?;
        let perm = self.perm(x.rank())?;
        Ok(vec![map_array!(x, a => permute(a, &perm))])
    }

    /// int8: data movement on codes; the output keeps the input's parameters.
    fn quantize(&self, rule: super::Rule) -> Result<super::Plan> {
        rule.on_codes(super::int8_rule::Needs::Inputs, |cx| cx.passthrough())
    }
}

impl Transpose {
    /// The permutation for a rank-`rank` input, validated.
    fn perm(&self, rank: usize) -> Result<Vec<usize>> {
        let Some(p) = &self.perm else { return Ok((0..rank).rev().collect()) };
        if p.len() != rank {
            bail!("perm {p:?} has {} entries for a rank-{rank} input", p.len());
        }
        let mut seen = vec![false; rank];
        let mut out = Vec::with_capacity(rank);
        for &v in p {
            match usize::try_from(v).ok().filter(|&v| v < rank) {
                Some(v) if !seen[v] => {
                    seen[v] = true;
                    out.push(v);
                }
                _ => bail!("perm {p:?} is not a permutation of 0..{rank}"),
            }
        }
        Ok(out)
    }
}

fn permute<T: Clone>(a: &ArrayD<T>, perm: &[usize]) -> ArrayD<T> {
    a.view().permuted_axes(IxDyn(perm)).as_standard_layout().into_owned()
}

#[cfg(test)]
mod tests {
    use crate::front::onnx::Attr;
    use crate::ops::testing::{i64s, run};

    #[test]
    fn default_reverses_axes() {
        let x = i64s(&[2, 3], &[1, 2, 3, 4, 5, 6]);
        assert_eq!(run("Transpose", 13, vec![], &[x]).unwrap()[0], i64s(&[3, 2], &[1, 4, 2, 5, 3, 6]));
    }

    #[test]
    fn invalid_perms_are_errors() {
        let x = i64s(&[2, 3], &[1, 2, 3, 4, 5, 6]);
        for p in [vec![0], vec![0, 0], vec![0, 2], vec![-1, 0]] {
            assert!(run("Transpose", 13, vec![("perm", Attr::Ints(p))], std::slice::from_ref(&x)).is_err());
        }
    }
}
