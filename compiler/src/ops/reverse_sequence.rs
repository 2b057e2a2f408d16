//! ReverseSequence: for each batch entry `b`, reverses the first
//! `sequence_lens[b]` steps along `time_axis` and keeps the rest; the batch
//! and time axes are 0 and 1 (either order). Lengths outside
//! `0..=time steps` are errors. Every element type.
//! <https://onnx.ai/onnx/operators/onnx__ReverseSequence.html>

use super::take;
use super::{Arg, OpDef, Slots};
use crate::front::onnx::OnnxNode;
use crate::ir::TensorType;
use crate::tensor::Tensor;
use crate::{bail, Result};

#[derive(Debug, Clone)]
pub struct ReverseSequence {
    batch_axis: usize,
    time_axis: usize,
}

impl OpDef for ReverseSequence {
    /// Pure data movement (see `back::movement`).
    fn lower(&self, cx: &mut super::LowerCx) -> Result<()> {
        crate::back::movement::lower(cx, &[0], |inputs| self.eval(inputs))
    }

    fn from_onnx(node: &OnnxNode) -> Result<Self> {
        let (b, t) = (node.int("batch_axis", 1)?, node.int("time_axis", 0)?);
        match (b, t) {
            (0, 1) => Ok(ReverseSequence { batch_axis: 0, time_axis: 1 }),
            (1, 0) => Ok(ReverseSequence { batch_axis: 1, time_axis: 0 }),
            _ => bail!("batch_axis {b} and time_axis {t} must be 0 and 1 in some order"),
        }
    }

    fn infer(&self, inputs: &[Option<Arg>]) -> Result<Vec<TensorType>> {
        let (x, lens) = (inputs.req(0)?.ty, inputs.req(1)?.ty);
        take::check_index_type(lens.dtype, "sequence_lens")?;
        if x.shape.rank().is_some_and(|r| r < 2) {
            bail!("input must have rank 2 or more");
        }
        Ok(vec![x.clone()])
    }

    fn eval(&self, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
        let (x, lens) = (inputs.req(0)?, inputs.req(1)?);
        take::check_index_type(lens.dtype(), "sequence_lens")?;
        let shape = x.shape();
        if shape.len() < 2 {
            bail!("input must have rank 2 or more, got shape {shape:?}");
        }
        let (batch, steps) = (shape[self.batch_axis], shape[self.time_axis]);
        let lens = lens.to_i64_vec()?;
        if lens.len() != batch {
            bail!("sequence_lens has {} entries for a batch of {batch}", lens.len());
        }
        let lens = lens
            .iter()
            .map(|&l| match usize::try_from(l) {
                Ok(l) if l <= steps => Ok(l),
                _ => bail!("sequence length {l} is outside 0..={steps}"),
            })
            .collect::<Result<Vec<usize>>>()?;
        let strides = take::strides(shape);
        let mut src = Vec::with_capacity(x.len());
        take::for_each_index(shape, |p| {
            let (b, t) = (p[self.batch_axis], p[self.time_axis]);
            let len = lens[b];
            let from = if t < len { len - 1 - t } else { t };
            let pos: usize = p.iter().zip(&strides).enumerate().map(|(a, (&i, &s))| if a == self.time_axis { from * s } else { i * s }).sum();
            src.push(pos);
            Ok(())
        })?;
        Ok(vec![take::take(x, shape, &src)?])
    }

    /// int8: float only.
    fn quantize(&self, rule: super::Rule) -> Result<super::Plan> {
        Ok(rule.float_only(super::NO_INTEGER_KERNEL))
    }
}

#[cfg(test)]
mod tests {
    use crate::front::onnx::Attr;
    use crate::ops::testing::{f32s, i64s, run};

    #[test]
    fn reverses_prefixes_and_rejects_bad_lengths() {
        let x = f32s(&[2, 3], &[1., 2., 3., 4., 5., 6.]);
        let attrs = || vec![("batch_axis", Attr::Int(0)), ("time_axis", Attr::Int(1))];
        let y = run("ReverseSequence", 10, attrs(), &[x.clone(), i64s(&[2], &[3, 2])]).unwrap();
        assert_eq!(y[0], f32s(&[2, 3], &[3., 2., 1., 5., 4., 6.]));
        assert!(run("ReverseSequence", 10, attrs(), &[x.clone(), i64s(&[2], &[4, 0])]).is_err());
        assert!(run("ReverseSequence", 10, attrs(), &[x.clone(), i64s(&[2], &[-1, 0])]).is_err());
        assert!(run("ReverseSequence", 10, attrs(), &[x.clone(), i64s(&[1], &[1])]).is_err());
        assert!(run("ReverseSequence", 10, vec![("batch_axis", Attr::Int(1)), ("time_axis", Attr::Int(1))], &[x]).is_err());
    }
}
