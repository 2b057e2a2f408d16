//! Tile: repeats the input `repeats[i]` times along each axis i. Any element
//! type; `repeats` is a 1-D int64 tensor with one non-negative entry per axis.
//! <https://onnx.ai/onnx/operators/onnx__Tile.html>

use super::{util, Arg, OpDef, Slots};
use crate::front::onnx::OnnxNode;
use crate::ir::{Dim, Shape, TensorType};
use crate::tensor::{checked_numel, Elem, Tensor};
use crate::{bail, map_array, Result};
use ndarray::{ArrayD, Axis, IxDyn};

#[derive(Debug, Clone)]
pub struct Tile;

impl OpDef for Tile {
    /// Pure data movement (see `back::movement`).
    fn lower(&self, cx: &mut super::LowerCx) -> Result<()> {
        crate::back::movement::lower(cx, &[0], |inputs| self.eval(inputs))
    }

    fn from_onnx(node: &OnnxNode) -> Result<Self> {
        if node.opset < 6 {
            bail!("Tile with 'tiles'/'axis' inputs (opset < 6) is not supported");
        }
        Ok(Tile)
    }

    fn infer(&self, inputs: &[Option<Arg>]) -> Result<Vec<TensorType>> {
        let x = inputs.req(0)?.ty;
        inputs.req(1)?;
        let Some(dims) = x.shape.dims() else { return Ok(vec![TensorType::new(x.dtype, Shape::unknown())]) };
        let out: Vec<Dim> = match util::const_ints(inputs, 1)? {
            Some(reps) => {
                let reps = repeats(&reps, dims.len())?;
                let out: Vec<Dim> = dims
                    .iter()
                    .zip(&reps)
                    .map(|(d, &r)| if r == 0 { Some(0) } else { d.and_then(|d| d.checked_mul(r)) })
                    .collect();
                Shape::from_dims(out.clone()).check_size()?;
                out
            }
            // Only empty dimensions stay known.
            None => dims.iter().map(|d| d.filter(|&d| d == 0)).collect(),
        };
        Ok(vec![TensorType::new(x.dtype, Shape::from_dims(out))])
    }

    fn eval(&self, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
        let x = inputs.req(0)?;
        let reps = repeats(&inputs.req(1)?.to_i64_vec()?, x.rank())?;
        let mut shape = Vec::with_capacity(reps.len());
        for (&d, &r) in x.shape().iter().zip(&reps) {
            match d.checked_mul(r) {
                Some(n) => shape.push(n),
                None => bail!("tiling {:?} by {reps:?} overflows", x.shape()),
            }
        }
        checked_numel(&shape)?;
        Ok(vec![map_array!(x, a => tile(a, &reps)?)])
    }

    /// int8: data movement on codes; the output keeps the input's parameters.
    fn quantize(&self, rule: super::Rule) -> Result<super::Plan> {
        rule.on_codes(super::int8_rule::Needs::Inputs, |cx| cx.passthrough())
    }
}

/// The repeats as counts, one per axis.
fn repeats(reps: &[i64], rank: usize) -> Result<Vec<usize>> {
    if reps.len() != rank {
        bail!("repeats {reps:?} has {} entries for a rank-{rank} input", reps.len());
    }
    reps.iter()
        .map(|&r| usize::try_from(r).map_err(|_| crate::Error::Op(format!("negative repeat in {reps:?}"))))
        .collect()
}

/// Repeats along each axis in turn (the caller checked the result size).
fn tile<T: Elem>(a: &ArrayD<T>, reps: &[usize]) -> Result<ArrayD<T>> {
    let mut out = a.clone();
    for (axis, &r) in reps.iter().enumerate() {
        if r == 1 {
            continue;
        }
        let next = if r == 0 {
            let mut shape = out.shape().to_vec();
            shape[axis] = 0;
            ArrayD::from_shape_vec(IxDyn(&shape), Vec::new()).map_err(|e| crate::Error::Op(e.to_string()))?
        } else {
            let views = vec![out.view(); r];
            ndarray::concatenate(Axis(axis), &views).map_err(|e| crate::Error::Op(format!("cannot tile: {e}")))?
        };
        out = next;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use crate::ops::testing::{i64s, run};

    #[test]
    fn repeats_each_axis() {
        let x = i64s(&[2, 1], &[1, 2]);
        let out = run("Tile", 13, vec![], &[x.clone(), i64s(&[2], &[2, 3])]).unwrap();
        assert_eq!(out[0], i64s(&[4, 3], &[1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2]));
        assert_eq!(run("Tile", 13, vec![], &[x, i64s(&[2], &[0, 1])]).unwrap()[0], i64s(&[0, 1], &[]));
    }

    #[test]
    fn bad_repeats_are_errors() {
        let x = i64s(&[2, 1], &[1, 2]);
        assert!(run("Tile", 13, vec![], &[x.clone(), i64s(&[1], &[2])]).is_err());
        assert!(run("Tile", 13, vec![], &[x.clone(), i64s(&[2], &[-1, 1])]).is_err());
        assert!(run("Tile", 13, vec![], &[x, i64s(&[2], &[1 << 40, 1 << 40])]).is_err());
    }

    #[test]
    fn infers_from_constant_repeats_only() {
        use crate::ir::{Shape, TensorType};
        use crate::ops::testing::{infer_node, node};
        use crate::tensor::DType;
        let x = TensorType::new(DType::F32, Shape::from_dims(vec![Some(2), None]));
        let n = node("Tile", 13, vec![], 2, 1);
        let reps = TensorType::fixed(DType::I64, &[2]);
        let out = infer_node(&n, &[Some((x.clone(), None)), Some((reps.clone(), Some(i64s(&[2], &[3, 2]))))]);
        assert_eq!(out.unwrap()[0].shape, Shape::from_dims(vec![Some(6), None]));
        let out = infer_node(&n, &[Some((x, None)), Some((reps, None))]).unwrap();
        assert_eq!(out[0].shape, Shape::of_rank(2));
    }
}
