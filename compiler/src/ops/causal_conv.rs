//! CausalConvWithState (opset 27): depthwise causal 1-D convolution whose
//! left padding is a carried state, with an optional fused SiLU.
//! <https://onnx.ai/onnx/operators/onnx__CausalConvWithState.html>
//!
//! Full operator: input `[B, C, L]`, weight `[C, 1, K]` (K >= 1), optional
//! bias `[C]` and past state `[B, C, K-1]` (zeros when absent), activation
//! `none`, `silu` or its alias `swish`. Outputs `[B, C, L]` and the new
//! state `[B, C, K-1]`: the last K-1 positions of the past state followed
//! by the input. Float16, bfloat16 and float32; sums in `f64`, the
//! convolution rounded to the input type before the activation, as the
//! reference does.

use super::precision::Prec;
use super::{util, Arg, OpDef, Slots};
use crate::front::onnx::OnnxNode;
use crate::ir::{Dim, Shape, TensorType};
use crate::tensor::{checked_numel, DType, Tensor};
use crate::{bail, Result};

#[derive(Debug, Clone)]
pub struct CausalConvWithState {
    silu: bool,
}

impl OpDef for CausalConvWithState {
    fn from_onnx(node: &OnnxNode) -> Result<Self> {
        let silu = match node.string("activation", "none")?.as_str() {
            "none" => false,
            "silu" | "swish" => true,
            other => bail!("activation must be 'none', 'silu' or 'swish', got '{other}'"),
        };
        Ok(CausalConvWithState { silu })
    }

    fn infer(&self, inputs: &[Option<Arg>]) -> Result<Vec<TensorType>> {
        let (x, w) = (inputs.req(0)?.ty, inputs.req(1)?.ty);
        check_dtype(x.dtype)?;
        util::same_dtype(x, w, "input and weight")?;
        let xd = util::dims_of_rank(&x.shape, 3, "input")?;
        let wd = util::dims_of_rank(&w.shape, 3, "weight")?;
        let (mut b, mut c, l) = (xd[0], xd[1], xd[2]);
        c = util::unify_dim(c, wd[0], "input channels and weight channels")?;
        util::unify_dim(wd[1], Some(1), "weight's second dimension and 1")?;
        let mut k_minus_1: Dim = match wd[2] {
            Some(0) => bail!("the kernel size must be 1 or more, got 0"),
            Some(k) => Some(k - 1),
            None => None,
        };
        if let Some(bias) = inputs.opt(2) {
            util::same_dtype(x, bias.ty, "input and bias")?;
            let bd = util::dims_of_rank(&bias.ty.shape, 1, "bias")?;
            c = util::unify_dim(c, bd[0], "input channels and bias length")?;
        }
        if let Some(past) = inputs.opt(3) {
            util::same_dtype(x, past.ty, "input and past_state")?;
            let pd = util::dims_of_rank(&past.ty.shape, 3, "past_state")?;
            b = util::unify_dim(b, pd[0], "input and past_state batch sizes")?;
            c = util::unify_dim(c, pd[1], "input and past_state channels")?;
            k_minus_1 = util::unify_dim(k_minus_1, pd[2], "past_state length and kernel size - 1")?;
        }
        Ok(vec![
            TensorType::new(x.dtype, Shape::from_dims(vec![b, c, l])),
            TensorType::new(x.dtype, Shape::from_dims(vec![b, c, k_minus_1])),
        ])
    }

    fn eval(&self, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
        let (x, w) = (inputs.req(0)?, inputs.req(1)?);
        let dtype = x.dtype();
        check_dtype(dtype)?;
        let prec = Prec::of(dtype)?;
        let [b, c, l] = *x.shape() else { bail!("input must have shape [B, C, L], got {:?}", x.shape()) };
        let k = match *w.shape() {
            [wc, 1, k] if wc == c && k >= 1 => k,
            _ => bail!("weight must have shape [{c}, 1, K] with K >= 1, got {:?}", w.shape()),
        };
        let same = |t: &Tensor, shape: &[usize], what: &str| -> Result<Vec<f64>> {
            if t.dtype() != dtype || t.shape() != shape {
                bail!("{what} must be {dtype}{shape:?}, got {}{:?}", t.dtype(), t.shape());
            }
            t.to_f64_vec()
        };
        let wv = same(w, &[c, 1, k], "weight")?;
        let bias = inputs.opt(2).map(|t| same(t, &[c], "bias")).transpose()?;
        let past = inputs.opt(3).map(|t| same(t, &[b, c, k - 1], "past_state")).transpose()?;
        let xv = x.to_f64_vec()?;

        let rows = checked_numel(&[b, c])?;
        let padded_len = l.checked_add(k - 1).ok_or_else(|| crate::Error::Op("sequence too long".into()))?;
        let mut out = Vec::with_capacity(checked_numel(&[rows, l])?);
        let mut state = Vec::with_capacity(checked_numel(&[rows, k - 1])?);
        let mut padded = Vec::with_capacity(padded_len);
        for row in 0..rows {
            let ch = row % c;
            // The row's past positions then its input: [K-1 + L].
            padded.clear();
            match &past {
                Some(p) => padded.extend_from_slice(slice(p, row * (k - 1), k - 1)?),
                None => padded.resize(k - 1, 0.0),
            }
            padded.extend_from_slice(slice(&xv, row * l, l)?);
            let kernel = slice(&wv, ch * k, k)?;
            let shift = bias.as_ref().and_then(|v| v.get(ch).copied()).unwrap_or(0.0);
            for window in padded.windows(k) {
                let acc: f64 = window.iter().zip(kernel).map(|(a, b)| a * b).sum();
                let y = prec.round(acc + shift);
                out.push(if self.silu { prec.round(y / (1.0 + (-y).exp())) } else { y });
            }
            state.extend_from_slice(slice(&padded, l, k - 1)?);
        }
        Ok(vec![
            Tensor::from_vec(&[b, c, l], out)?.cast(dtype)?,
            Tensor::from_vec(&[b, c, k - 1], state)?.cast(dtype)?,
        ])
    }

    fn macs(&self, _inputs: &[Option<&TensorType>], outputs: &[&TensorType]) -> u64 {
        // K multiply-adds per output element; K is the state length + 1.
        let (Some(out), Some(state)) = (outputs.first(), outputs.get(1)) else { return 0 };
        let (Some(n), Some(k)) = (out.shape.numel(), state.shape.dims().and_then(|d| d.get(2).copied().flatten())) else {
            return 0;
        };
        (n as u64).saturating_mul(k as u64 + 1)
    }

    /// int8: float only.
    fn quantize(&self, rule: super::Rule) -> Result<super::Plan> {
        Ok(rule.float_only(super::NO_INTEGER_KERNEL))
    }
}

fn check_dtype(d: DType) -> Result<()> {
    if !matches!(d, DType::F16 | DType::BF16 | DType::F32) {
        bail!("CausalConvWithState needs float16, bfloat16 or float32, got {d}");
    }
    Ok(())
}

/// `v[start..start + len]`, checked.
fn slice(v: &[f64], start: usize, len: usize) -> Result<&[f64]> {
    start
        .checked_add(len)
        .and_then(|end| v.get(start..end))
        .ok_or_else(|| crate::Error::Op(format!("internal: range {start}+{len} outside {} values", v.len())))
}

#[cfg(test)]
mod tests {
    use crate::front::onnx::Attr;
    use crate::ops::testing::{f32s, infer, run};
    use crate::tensor::DType;

    #[test]
    fn convolves_causally_and_carries_the_state() {
        // B=1, C=2, L=3, K=2.
        let x = f32s(&[1, 2, 3], &[1.0, 2.0, 3.0, 10.0, 20.0, 30.0]);
        let w = f32s(&[2, 1, 2], &[1.0, 1.0, 0.5, 2.0]);
        let past = f32s(&[1, 2, 1], &[100.0, -4.0]);
        let y = run("CausalConvWithState", 27, vec![], &[x.clone(), w.clone()]).unwrap();
        assert_eq!(y[0], f32s(&[1, 2, 3], &[1.0, 3.0, 5.0, 20.0, 45.0, 70.0]));
        assert_eq!(y[1], f32s(&[1, 2, 1], &[3.0, 30.0]));
        let bias = f32s(&[2], &[0.0, 1.0]);
        let y = run("CausalConvWithState", 27, vec![], &[x, w, bias, past]).unwrap();
        assert_eq!(y[0], f32s(&[1, 2, 3], &[101.0, 3.0, 5.0, 19.0, 46.0, 71.0]));
    }

    #[test]
    fn silu_is_applied_after_the_convolution() {
        let x = f32s(&[1, 1, 2], &[1.0, -2.0]);
        let w = f32s(&[1, 1, 1], &[1.0]);
        let y = run("CausalConvWithState", 27, vec![("activation", Attr::String("swish".into()))], &[x, w]).unwrap();
        let silu = |v: f64| v / (1.0 + (-v).exp());
        let got = y[0].to_f64_vec().unwrap();
        assert!((got[0] - silu(1.0)).abs() < 1e-6 && (got[1] - silu(-2.0)).abs() < 1e-6);
        assert_eq!(y[1].shape(), &[1, 1, 0]);
    }

    #[test]
    fn mismatched_shapes_and_bad_attributes_are_errors() {
        let x = f32s(&[1, 2, 3], &[0.0; 6]);
        let w = f32s(&[2, 1, 2], &[0.0; 4]);
        let op = "CausalConvWithState";
        assert!(run(op, 27, vec![], &[x.clone(), f32s(&[3, 1, 2], &[0.0; 6])]).is_err());
        assert!(run(op, 27, vec![], &[x.clone(), f32s(&[2, 2, 1], &[0.0; 4])]).is_err());
        assert!(run(op, 27, vec![], &[x.clone(), f32s(&[2, 1, 0], &[])]).is_err());
        assert!(run(op, 27, vec![], &[x.clone(), w.clone(), f32s(&[3], &[0.0; 3])]).is_err());
        assert!(run(op, 27, vec![], &[x.clone(), w.clone(), f32s(&[2], &[0.0; 2]), f32s(&[1, 2, 2], &[0.0; 4])]).is_err());
        assert!(run(op, 27, vec![("activation", Attr::String("relu".into()))], &[x.clone(), w.clone()]).is_err());
        let ints = crate::ops::testing::i64s(&[1, 2, 3], &[0; 6]);
        assert!(run(op, 27, vec![], &[ints, w.clone()]).is_err());
        let ty = infer(op, 27, vec![], &[x, w], &[]).unwrap();
        assert_eq!(ty[1], crate::ir::TensorType::fixed(DType::F32, &[1, 2, 1]));
    }
}
