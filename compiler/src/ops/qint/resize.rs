//! IntResize: Resize on codes, keeping the input's scale and zero point
//! (NUMERICS.md, "Resize"). Nearest mode copies codes over any number of
//! axes (data movement); bilinear mode interpolates the last two axes with
//! Q11 weights fixed at compile time and rounds once.

use super::super::take;
use super::super::resize_lower::Tables;
use super::super::{Arg, LowerCx, OpDef, Slots};
use super::{codes, int_values, is_wide, Wide};
use crate::back::program::Arg as KArg;
use crate::front::onnx::OnnxNode;
use crate::ir::TensorType;
use crate::tensor::{DType, Tensor};
use crate::{bail, Result};

/// Fraction bits of one axis's interpolation weights: the two weights of an
/// output position are `2^11 − w` and `w`, so the four products of a
/// bilinear output sum to exactly `2^22`.
pub const RESIZE_SHIFT: u32 = 11;

/// A Resize as the integer path sees it (from `Resize::code_sampling`).
#[derive(Debug, Clone)]
pub enum Sampling {
    /// Per axis: the input position each output position copies.
    Nearest(Vec<Vec<usize>>),
    /// Per axis: the two (input position, weight) taps of each output position.
    Linear(Vec<Vec<[(usize, f64); 2]>>),
    /// Not computable on codes, for this reason.
    Float(String),
}

/// The int32 table `[lo, hi, w]` per output position of a linear axis: the
/// output is `(2^11 − w) · x[lo] + w · x[hi]`, `w` the second tap's weight
/// rounded half to even to Q11.
pub fn q11_taps(taps: &[[(usize, f64); 2]]) -> Result<Vec<i32>> {
    let one = (1i64 << RESIZE_SHIFT) as f64;
    let mut t = Vec::with_capacity(3 * taps.len());
    for &[(lo, _), (hi, w)] in taps {
        if lo > i32::MAX as usize || hi > i32::MAX as usize {
            bail!("a resized axis is too long for the integer kernel");
        }
        t.extend([lo as i32, hi as i32, (w * one).round_ties_even().clamp(0.0, one) as i32]);
    }
    Ok(t)
}

#[derive(Debug, Clone)]
pub enum IntResize {
    /// Per axis: the input position each output position copies. Input: `X`.
    Nearest(Vec<Vec<usize>>),
    /// The last two axes `[H, W]` interpolated (leading axes unchanged).
    /// Inputs: codes `X`, the int32 tables of H and W (`q11_taps`).
    Bilinear,
}

impl IntResize {
    fn out_shape(&self, x: &[usize], taps: Option<(usize, usize)>) -> Result<Vec<usize>> {
        match (self, taps) {
            (IntResize::Nearest(picks), _) if picks.len() == x.len() => Ok(picks.iter().map(Vec::len).collect()),
            (IntResize::Bilinear, Some((h, w))) if x.len() >= 2 && h % 3 == 0 && w % 3 == 0 => {
                Ok([&x[..x.len() - 2], &[h / 3, w / 3]].concat())
            }
            _ => bail!("IntResize: input {x:?} does not match the resampling"),
        }
    }

    fn nearest(picks: &[Vec<usize>], x: &Tensor) -> Result<Tensor> {
        let strides = take::strides(x.shape());
        let offsets: Vec<Vec<Option<usize>>> = picks.iter().zip(&strides).map(|(p, &s)| p.iter().map(|&i| Some(i * s)).collect()).collect();
        let out: Vec<usize> = picks.iter().map(Vec::len).collect();
        let src = take::separable(&out, &offsets)?;
        take::take(x, &out, &src)
    }
}

/// Bilinear interpolation of `planes` planes of codes `xs` with the Q11
/// taps `th`, `tw`: each row's pair in int32, the four products summed in
/// `A` (int64 for int16 codes) and rounded once.
fn bilinear<A: Wide>(xs: &[i32], th: &[i32], tw: &[i32], planes: usize, [in_h, in_w]: [usize; 2]) -> Vec<i32> {
    let one = 1i32 << RESIZE_SHIFT;
    let mut y = Vec::with_capacity(planes * th.len() / 3 * tw.len() / 3);
    for p in 0..planes {
        let plane = &xs[p * in_h * in_w..][..in_h * in_w];
        for h in th.chunks(3) {
            let (r0, r1) = (&plane[h[0] as usize * in_w..][..in_w], &plane[h[1] as usize * in_w..][..in_w]);
            for w in tw.chunks(3) {
                let (c0, c1) = (w[0] as usize, w[1] as usize);
                let top = (one - w[2]) * r0[c0] + w[2] * r0[c1];
                let bottom = (one - w[2]) * r1[c0] + w[2] * r1[c1];
                let acc = A::of(one - h[2]).mul(A::of(top)).add(A::of(h[2]).mul(A::of(bottom)));
                y.push(acc.div_pow2(2 * RESIZE_SHIFT));
            }
        }
    }
    y
}

impl OpDef for IntResize {
    fn from_onnx(_: &OnnxNode) -> Result<Self> {
        bail!("IntResize is internal to qcc")
    }

    fn infer(&self, inputs: &[Option<Arg>]) -> Result<Vec<TensorType>> {
        let x = inputs.req(0)?.ty;
        let Some(xs) = x.shape.as_fixed() else { bail!("IntResize needs a fixed shape") };
        let taps = match self {
            IntResize::Nearest(_) => None,
            IntResize::Bilinear => Some((inputs.req(1)?.ty.shape.numel().unwrap_or(1), inputs.req(2)?.ty.shape.numel().unwrap_or(1))),
        };
        Ok(vec![TensorType::fixed(x.dtype, &self.out_shape(&xs, taps)?)])
    }

    /// Nearest works on any element type (code generation runs it on
    /// element indices); bilinear on int8, uint8 or int16 codes.
    fn eval(&self, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
        let x = inputs.req(0)?;
        if let IntResize::Nearest(picks) = self {
            self.out_shape(x.shape(), None)?;
            return Ok(vec![Self::nearest(picks, x)?]);
        }
        let (th, tw) = (int_values(inputs.req(1)?)?, int_values(inputs.req(2)?)?);
        let out = self.out_shape(x.shape(), Some((th.len(), tw.len())))?;
        let (in_h, in_w) = (x.shape()[x.rank() - 2], x.shape()[x.rank() - 1]);
        let xs = int_values(x)?;
        let planes: usize = out[..out.len() - 2].iter().product();
        let y = if is_wide(x.dtype())? { bilinear::<i64>(&xs, &th, &tw, planes, [in_h, in_w]) } else { bilinear::<i32>(&xs, &th, &tw, planes, [in_h, in_w]) };
        Ok(vec![codes(x.dtype(), &out, y)?])
    }

    fn lower(&self, cx: &mut LowerCx) -> Result<()> {
        if let IntResize::Nearest(picks) = self {
            // The float Resize's nearest kernel: it copies elements of any type.
            let tables = || Tables::Nearest(picks.iter().map(|axis| axis.iter().map(|&p| Some(p)).collect()).collect());
            return super::super::resize_lower::lower(cx, |_, _| Ok(tables()), 0.0);
        }
        let (x, th, tw) = (cx.input(0)?.clone(), cx.input(1)?.clone(), cx.input(2)?.clone());
        let y = cx.output(0)?;
        if th.dtype != DType::I32 || tw.dtype != DType::I32 {
            bail!("IntResize tables must be int32");
        }
        let (in_h, in_w) = (x.shape[x.shape.len() - 2], x.shape[x.shape.len() - 1]);
        let dims = vec![x.len() / (in_h * in_w).max(1), in_h, in_w, th.len() / 3, tw.len() / 3];
        cx.call("qint", "resize_bilinear", vec![x.dtype], vec![x.arg_in(), th.arg_in(), tw.arg_in(), y.arg_out(), KArg::Dims(dims)]);
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

    #[test]
    fn bilinear_weights_are_q11_and_the_result_rounds_once() {
        assert_eq!(q11_taps(&[[(0, 0.75), (1, 0.25)], [(2, 1.0), (2, 0.0)]]).unwrap(), vec![0, 1, 512, 2, 2, 0]);
        // One row [0, 3] halfway between its columns: 1.5 rounds away from zero to 2; -1.5 to -2.
        let th = Tensor::from_vec(&[1, 3], vec![0i32, 0, 0]).unwrap();
        let tw = Tensor::from_vec(&[1, 3], vec![0i32, 1, 1024]).unwrap();
        for (row, want) in [(vec![0i8, 3], 2i8), (vec![0, -3], -2)] {
            let x = Tensor::from_vec(&[1, 2], row).unwrap();
            let y = IntResize::Bilinear.eval(&[Some(&x), Some(&th), Some(&tw)]).unwrap();
            assert_eq!(y[0], Tensor::from_vec(&[1, 1], vec![want]).unwrap());
        }
    }

    #[test]
    fn nearest_copies_codes() {
        let x = Tensor::from_vec(&[2, 2], vec![1i8, 2, 3, 4]).unwrap();
        let y = IntResize::Nearest(vec![vec![1], vec![0, 0, 1]]).eval(&[Some(&x)]).unwrap();
        assert_eq!(y[0], Tensor::from_vec(&[1, 3], vec![3i8, 3, 4]).unwrap());
    }
}
