//! Reshape: the same elements under a new shape given as an int64 tensor;
//! 0 copies the input dimension (unless `allowzero`), -1 is inferred.
//! <https://onnx.ai/onnx/operators/onnx__Reshape.html>

use super::{util, Arg, OpDef, Slots};
use crate::front::onnx::OnnxNode;
use crate::ir::{Dim, Shape, TensorType};
use crate::tensor::{checked_numel, Tensor};
use crate::{bail, Result};

#[derive(Debug, Clone)]
pub struct Reshape {
    allow_zero: bool,
}

impl OpDef for Reshape {
    /// Pure data movement (see `back::movement`).
    fn lower(&self, cx: &mut super::LowerCx) -> Result<()> {
        crate::back::movement::alias(cx)
    }

    fn from_onnx(node: &OnnxNode) -> Result<Self> {
        if node.has("shape") {
            bail!("Reshape with a 'shape' attribute (opset < 5) is not supported");
        }
        Ok(Reshape { allow_zero: node.int("allowzero", 0)? != 0 })
    }

    fn infer(&self, inputs: &[Option<Arg>]) -> Result<Vec<TensorType>> {
        let x = inputs.req(0)?.ty;
        let spec = inputs.req(1)?;
        let shape = match util::const_ints(inputs, 1)? {
            Some(target) => self.resolve(x.shape.dims(), &target)?,
            None => match spec.ty.shape.as_fixed().as_deref() {
                Some([n]) => Shape::of_rank(*n),
                _ => Shape::unknown(),
            },
        };
        Ok(vec![TensorType::new(x.dtype, shape)])
    }

    fn eval(&self, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
        let x = inputs.req(0)?;
        let target = inputs.req(1)?.to_i64_vec()?;
        let dims: Vec<Dim> = x.shape().iter().map(|&d| Some(d)).collect();
        let shape = self.resolve(Some(&dims), &target)?;
        let Some(shape) = shape.as_fixed() else { bail!("cannot resolve shape {target:?}") };
        Ok(vec![x.reshape(&shape)?])
    }

    /// int8: data movement on codes; the output keeps the input's parameters.
    fn quantize(&self, rule: super::Rule) -> Result<super::Plan> {
        rule.on_codes(super::int8_rule::Needs::Inputs, |cx| cx.passthrough())
    }
}

impl Reshape {
    /// Applies the 0 and -1 rules to `target` given the (partly) known input dims.
    fn resolve(&self, input: Option<&[Dim]>, target: &[i64]) -> Result<Shape> {
        let mut dims: Vec<Dim> = Vec::with_capacity(target.len());
        let mut infer_at = None;
        for (i, &t) in target.iter().enumerate() {
            dims.push(match t {
                -1 => {
                    if infer_at.replace(i).is_some() {
                        bail!("shape {target:?} has more than one -1");
                    }
                    None
                }
                0 if !self.allow_zero => match input {
                    Some(d) if i < d.len() => d[i],
                    Some(_) => bail!("shape {target:?} copies dimension {i} with 0, but the input has fewer dimensions"),
                    None => None,
                },
                t if t < 0 => bail!("invalid dimension {t} in shape {target:?}"),
                t => Some(t as usize),
            });
        }
        let total = input.and_then(|d| d.iter().copied().collect::<Option<Vec<usize>>>()).map(|d| checked_numel(&d)).transpose()?;
        if let (Some(i), Some(total)) = (infer_at, total) {
            let known: Option<Vec<usize>> = dims.iter().enumerate().filter(|(j, _)| *j != i).map(|(_, d)| *d).collect();
            if let Some(known) = known {
                let rest = checked_numel(&known)?;
                if rest == 0 || total % rest != 0 {
                    bail!("cannot reshape {total} elements to {target:?}");
                }
                dims[i] = Some(total / rest);
            }
        }
        let shape = Shape::from_dims(dims);
        if let (Some(fixed), Some(total)) = (shape.as_fixed(), total) {
            if checked_numel(&fixed)? != total {
                bail!("cannot reshape {total} elements to {fixed:?}");
            }
        }
        Ok(shape)
    }
}
