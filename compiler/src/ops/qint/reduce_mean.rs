//! IntReduceMean: the mean of codes over any set of axes (NUMERICS.md,
//! "ReduceMean"): `Σ (q − z_x)` over the reduced elements in the code's
//! accumulator (int32, bounded by `255 · count`; int64 for int16 codes),
//! requantized to the output's parameters with the multiplier `s_x /
//! (count · s_y)`.

use super::super::{Arg, LowerCx, OpDef, Slots};
use super::{codes, int_values, is_wide, Stage, Wide};
use crate::back::program::Arg as KArg;
use crate::front::onnx::OnnxNode;
use crate::ir::TensorType;
use crate::quant::fixed_point::Multiplier;
use crate::tensor::Tensor;
use crate::{bail, Result};

/// Input: codes `X`. The element at kept index `o` and reduced index `r`
/// (each row-major over its own groups) is `X[offset(o, kept) +
/// offset(r, reduced)]`, where `offset(i, groups)` splits `i` over the
/// groups' extents (last fastest) and adds each digit times its stride.
#[derive(Debug, Clone)]
pub struct IntReduceMean {
    /// (extent, stride) of the kept axes, adjacent ones merged.
    pub kept: Groups,
    /// (extent, stride) of the reduced axes, adjacent ones merged.
    pub reduced: Groups,
    /// The output shape (with or without the kept unit axes).
    pub out_shape: Vec<usize>,
    pub x_zero: i32,
    /// `s_x / (count · s_y)`.
    pub m: Multiplier,
    pub stage: Stage,
}

/// (extent, stride) pairs of merged axes.
pub type Groups = Vec<(usize, usize)>;

/// The (extent, stride) groups of the kept and reduced axes of `shape`:
/// runs of adjacent axes of one kind are merged into one group.
pub fn reduce_groups(shape: &[usize], reduced: &[usize]) -> (Groups, Groups) {
    let (mut kept, mut red): (Groups, Groups) = (Vec::new(), Vec::new());
    let mut stride = 1;
    let mut last: Option<bool> = None;
    for a in (0..shape.len()).rev() {
        let r = reduced.contains(&a);
        let groups = if r { &mut red } else { &mut kept };
        match groups.last_mut() {
            Some(g) if last == Some(r) => g.0 *= shape[a],
            _ => groups.push((shape[a], stride)),
        }
        stride *= shape[a];
        last = Some(r);
    }
    kept.reverse();
    red.reverse();
    (kept, red)
}

/// `offset(i, groups)` as described on [`IntReduceMean`].
fn offset(mut i: usize, groups: &[(usize, usize)]) -> usize {
    let mut off = 0;
    for &(extent, stride) in groups.iter().rev() {
        off += (i % extent.max(1)) * stride;
        i /= extent.max(1);
    }
    off
}

impl IntReduceMean {
    /// The output codes, summing in `A`.
    fn means<A: Wide>(&self, xs: &[i32], outs: usize, count: usize) -> Vec<i32> {
        (0..outs)
            .map(|o| {
                let base = offset(o, &self.kept);
                let sum = (0..count).fold(A::ZERO, |s, r| s.add(A::of(xs[base + offset(r, &self.reduced)].wrapping_sub(self.x_zero))));
                sum.staged(&self.stage, self.m)
            })
            .collect()
    }
}

fn flatten(groups: &[(usize, usize)]) -> Vec<usize> {
    groups.iter().flat_map(|&(e, s)| [e, s]).collect()
}

impl OpDef for IntReduceMean {
    fn from_onnx(_: &OnnxNode) -> Result<Self> {
        bail!("IntReduceMean is internal to qcc")
    }

    fn infer(&self, inputs: &[Option<Arg>]) -> Result<Vec<TensorType>> {
        let x = inputs.req(0)?.ty;
        Ok(vec![TensorType::fixed(x.dtype, &self.out_shape)])
    }

    fn eval(&self, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
        let x = inputs.req(0)?;
        let xs = int_values(x)?;
        let outs: usize = self.kept.iter().map(|g| g.0).product();
        let count: usize = self.reduced.iter().map(|g| g.0).product();
        if outs * count != xs.len() || self.out_shape.iter().product::<usize>() != outs {
            bail!("IntReduceMean: input {:?} does not match the reduction", x.shape());
        }
        let y = if is_wide(x.dtype())? { self.means::<i64>(&xs, outs, count) } else { self.means::<i32>(&xs, outs, count) };
        Ok(vec![codes(x.dtype(), &self.out_shape, y)?])
    }

    fn lower(&self, cx: &mut LowerCx) -> Result<()> {
        let x = cx.input(0)?.clone();
        let y = cx.output(0)?;
        let (m, s) = (self.m, self.stage);
        let (n_kept, n_reduced) = (self.kept.len() as i64, self.reduced.len() as i64);
        let params = vec![self.x_zero as i64, m.m as i64, m.exponent as i64, s.zero as i64, s.min as i64, s.max as i64, s.single() as i64, n_kept, n_reduced];
        let args = vec![x.arg_in(), y.arg_out(), KArg::Dims(flatten(&self.kept)), KArg::Dims(flatten(&self.reduced)), KArg::Ints(params)];
        cx.call("qint", "reduce_mean", vec![x.dtype], args);
        Ok(())
    }

    /// int8: an integer operator rules produce; copied as it is.
    fn quantize(&self, rule: crate::ops::Rule) -> Result<crate::ops::Plan> {
        Ok(rule.as_is())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quant::fixed_point::{quantize_multiplier, Rounding};

    #[test]
    fn adjacent_axes_merge_into_groups() {
        // [2, 3, 4, 5] over axes 1 and 2: kept (2, stride 60) and (5, 1), reduced (12, 5).
        assert_eq!(reduce_groups(&[2, 3, 4, 5], &[1, 2]), (vec![(2, 60), (5, 1)], vec![(12, 5)]));
        assert_eq!(reduce_groups(&[2, 3], &[0, 1]), (vec![], vec![(6, 1)]));
        assert_eq!(offset(7, &[(2, 60), (5, 1)]), 60 + 2);
    }

    #[test]
    fn mean_of_centred_codes_is_requantized() {
        // Codes 1..=4 with zero point 1 over the last axis: sums 0+1 and 2+3,
        // times 1/2 (one scale for input and output), plus the zero point 1.
        let m = quantize_multiplier(0.5).unwrap();
        let stage = Stage { zero: 1, min: -128, max: 127, rounding: Rounding::Double };
        let op = IntReduceMean { kept: vec![(2, 2)], reduced: vec![(2, 1)], out_shape: vec![2], x_zero: 1, m, stage };
        let x = Tensor::from_vec(&[2, 2], vec![1i8, 2, 3, 4]).unwrap();
        let y = op.eval(&[Some(&x)]).unwrap();
        assert_eq!(y[0], Tensor::from_vec(&[2], vec![2i8, 4]).unwrap());
    }
}
