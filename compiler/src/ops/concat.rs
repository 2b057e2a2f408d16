//! Concat: joins tensors of one element type and rank along `axis`; the
//! other dimensions must agree. Any element type; empty inputs are allowed.
//! <https://onnx.ai/onnx/operators/onnx__Concat.html>

use super::int8_rule::{Needs, Plan, QParams, Rule};
use super::qint::IntRescale;
use super::{util, Arg, Op, OpDef};
use crate::front::onnx::OnnxNode;
use crate::ir::{Dim, Shape, TensorType};
use crate::tensor::{checked_numel, Elem, Tensor};
use crate::{bail, map_array, Result};
use ndarray::{ArrayD, Axis};

#[derive(Debug, Clone)]
pub struct Concat {
    axis: i64,
}

impl OpDef for Concat {
    /// Pure data movement (see `back::movement`).
    fn lower(&self, cx: &mut super::LowerCx) -> Result<()> {
        let data: Vec<usize> = (0..cx.num_inputs()).collect();
        crate::back::movement::lower(cx, &data, |inputs| self.eval(inputs))
    }

    fn from_onnx(node: &OnnxNode) -> Result<Self> {
        // Before opset 4 the axis was optional, defaulting to 1.
        let axis = if node.opset < 4 { node.int("axis", 1)? } else { node.int_req("axis")? };
        Ok(Concat { axis })
    }

    fn infer(&self, inputs: &[Option<Arg>]) -> Result<Vec<TensorType>> {
        let types: Vec<&TensorType> = inputs.iter().flatten().map(|a| a.ty).collect();
        let Some(first) = types.first() else { bail!("Concat needs at least one input") };
        if let Some(t) = types.iter().find(|t| t.dtype != first.dtype) {
            bail!("inputs have different element types ({} and {})", first.dtype, t.dtype);
        }
        let known: Vec<&[Dim]> = types.iter().filter_map(|t| t.shape.dims()).collect();
        let Some(rank) = known.first().map(|d| d.len()) else {
            return Ok(vec![TensorType::new(first.dtype, Shape::unknown())]);
        };
        if let Some(d) = known.iter().find(|d| d.len() != rank) {
            bail!("inputs have different ranks ({rank} and {})", d.len());
        }
        let axis = util::axis(self.axis, rank)?;
        let mut dims: Vec<Dim> = vec![None; rank];
        for (i, out) in dims.iter_mut().enumerate() {
            if i == axis {
                // Summed only when every input's rank and extent are known.
                if known.len() == types.len() {
                    let mut total: Option<usize> = Some(0);
                    for d in &known {
                        total = match (total, d[i]) {
                            (Some(t), Some(n)) => {
                                Some(t.checked_add(n).ok_or_else(|| crate::Error::Op("dimension overflow".into()))?)
                            }
                            _ => None,
                        };
                    }
                    *out = total;
                }
                continue;
            }
            for d in &known {
                match (*out, d[i]) {
                    (None, n) => *out = n,
                    (Some(a), Some(b)) if a != b => {
                        bail!("inputs differ in dimension {i} ({a} vs {b}) outside the concatenation axis {axis}")
                    }
                    _ => {}
                }
            }
        }
        Ok(vec![TensorType::new(first.dtype, Shape::from_dims(dims))])
    }

    fn eval(&self, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
        let parts: Vec<&Tensor> = inputs.iter().flatten().copied().collect();
        util::common_dtype("Concat", &parts)?;
        let Some(first) = parts.first() else { bail!("Concat needs at least one input") };
        let rank = first.rank();
        if let Some(p) = parts.iter().find(|p| p.rank() != rank) {
            bail!("inputs have different ranks ({rank} and {})", p.rank());
        }
        let axis = util::axis(self.axis, rank)?;
        let mut shape = first.shape().to_vec();
        shape[axis] = 0;
        for p in &parts {
            for (i, (&a, &b)) in first.shape().iter().zip(p.shape()).enumerate() {
                if i != axis && a != b {
                    bail!("inputs differ in dimension {i} ({a} vs {b}) outside the concatenation axis {axis}");
                }
            }
            shape[axis] = shape[axis].saturating_add(p.shape()[axis]);
        }
        checked_numel(&shape)?;
        Ok(vec![map_array!(*first, a => concat(a, &parts, axis)?)])
    }

    /// int8: Concat on codes with the output's parameters; inputs whose
    /// parameters differ are rescaled first (IntRescale), once every
    /// rescale is known to be possible.
    fn quantize(&self, rule: Rule) -> Result<Plan> {
        rule.on_codes(Needs::Output, |cx| {
            let y = cx.first_output()?;
            let po = cx.params(y)?;
            let (lo, hi) = po.code_range();
            let stage = cx.stage(po, lo, hi);
            let rescale = |p: QParams| IntRescale::for_scales(p.dtype, (p.scale as f64, p.zero), po.scale as f64, stage);
            for v in cx.inputs().into_iter().flatten() {
                let p = cx.code_params(v)?;
                if p != po && rescale(p)?.is_none() {
                    return Ok(Plan::float("scales too far apart"));
                }
            }
            let mut inputs = Vec::new();
            for v in cx.inputs().into_iter().flatten() {
                let (q, p) = cx.as_int(v)?;
                if p == po {
                    inputs.push(Some(q));
                    continue;
                }
                let Some(op) = rescale(p)? else { return Ok(Plan::float("scales too far apart")) };
                let out = cx.fresh(format!("{}_to_{}", cx.name(v), cx.name(y)));
                cx.add(&format!("_rescale_{}", inputs.len()), "IntRescale", Op::IntRescale(op), &[Some(q)], &[Some(out)])?;
                inputs.push(Some(out));
            }
            let op_type = cx.op_type();
            cx.emit(y, po, &op_type, Op::Concat(self.clone()), &inputs)
        })
    }
}

fn concat<T: Elem>(_: &ArrayD<T>, parts: &[&Tensor], axis: usize) -> Result<ArrayD<T>> {
    let views = parts.iter().map(|p| util::elem_array::<T>(p).map(|a| a.view())).collect::<Result<Vec<_>>>()?;
    ndarray::concatenate(Axis(axis), &views).map_err(|e| crate::Error::Op(format!("cannot concatenate: {e}")))
}

#[cfg(test)]
mod tests {
    use crate::front::onnx::Attr;
    use crate::ops::testing::{f32s, i64s, run};

    #[test]
    fn joins_along_negative_axis_with_empty_parts() {
        let out = run(
            "Concat",
            13,
            vec![("axis", Attr::Int(-1))],
            &[i64s(&[2, 1], &[1, 2]), i64s(&[2, 0], &[]), i64s(&[2, 2], &[3, 4, 5, 6])],
        )
        .unwrap();
        assert_eq!(out[0], i64s(&[2, 3], &[1, 3, 4, 2, 5, 6]));
    }

    #[test]
    fn mismatches_are_errors() {
        let axis0 = || vec![("axis", Attr::Int(0))];
        assert!(run("Concat", 13, axis0(), &[i64s(&[2], &[1, 2]), i64s(&[1, 1], &[3])]).is_err());
        assert!(run("Concat", 13, axis0(), &[i64s(&[1, 2], &[1, 2]), i64s(&[1, 1], &[3])]).is_err());
        assert!(run("Concat", 13, axis0(), &[i64s(&[1], &[1]), f32s(&[1], &[1.0])]).is_err());
        assert!(run("Concat", 13, vec![("axis", Attr::Int(1))], &[i64s(&[1], &[1])]).is_err());
        assert!(run("Concat", 13, vec![], &[i64s(&[1], &[1])]).is_err());
    }

    #[test]
    fn infers_with_partly_known_dims() {
        use crate::ir::{Shape, TensorType};
        use crate::ops::testing::{infer_node, node};
        use crate::tensor::DType;
        let ty = |d: Vec<Option<usize>>| Some((TensorType::new(DType::F32, Shape::from_dims(d)), None));
        let n = node("Concat", 13, vec![("axis", Attr::Int(0))], 2, 1);
        let out = infer_node(&n, &[ty(vec![Some(2), None]), ty(vec![Some(3), Some(4)])]).unwrap();
        assert_eq!(out[0].shape, Shape::fixed(&[5, 4]));
        let out = infer_node(&n, &[ty(vec![None, None]), ty(vec![Some(3), Some(4)])]).unwrap();
        assert_eq!(out[0].shape, Shape::from_dims(vec![None, Some(4)]));
        assert!(infer_node(&n, &[ty(vec![Some(1), Some(3)]), ty(vec![Some(3), Some(4)])]).is_err());
        assert!(infer_node(&n, &[ty(vec![Some(1)]), ty(vec![Some(3), Some(4)])]).is_err());
    }
}
