//! STFT (opset 17): short-time Fourier transform of a batch of real
//! (`[batch, length, 1]`) or complex (`[batch, length, 2]`) signals.
//! <https://onnx.ai/onnx/operators/onnx__STFT.html>
//!
//! Supported: `frame_step`, optional `window` and `frame_length` (either
//! gives the frame length; both must agree; neither: the whole signal),
//! `onesided` (default 1: the first frame_length / 2 + 1 bins). Float
//! types, computed in `f64` with the transforms of [`super::dft`].

use super::dft::{Complex, Plan};
use super::util::positive;
use super::{Arg, OpDef, Slots};
use crate::front::onnx::OnnxNode;
use crate::ir::{Dim, Shape, TensorType};
use crate::tensor::{checked_numel, Tensor};
use crate::{bail, Result};

#[derive(Debug, Clone)]
pub struct Stft {
    onesided: bool,
}

impl OpDef for Stft {
    fn from_onnx(node: &OnnxNode) -> Result<Self> {
        let onesided = match node.int("onesided", 1)? {
            0 => false,
            1 => true,
            v => bail!("onesided must be 0 or 1, got {v}"),
        };
        Ok(Stft { onesided })
    }

    fn infer(&self, inputs: &[Option<Arg>]) -> Result<Vec<TensorType>> {
        let x = inputs.req(0)?.ty;
        if !x.dtype.is_float() || x.dtype.is_small_float() {
            bail!("the signal must be a float tensor, got {}", x.dtype);
        }
        let dims = match x.shape.dims() {
            Some(d) if d.len() != 3 => bail!("the signal must be 3-D [batch, length, 1 or 2], got {}", x.shape),
            Some(d) => d.to_vec(),
            None => vec![None; 3],
        };
        let scalar = |i: usize| -> Result<Option<i64>> {
            match inputs.opt(i).and_then(|a| a.value) {
                Some(t) => Ok(Some(t.scalar_i64()?)),
                None => Ok(None),
            }
        };
        let step = scalar(1)?;
        let window_len: Dim = inputs.opt(2).and_then(|w| w.ty.shape.dims().and_then(|d| d.first().copied().flatten()));
        let frame_len: Dim = match (inputs.opt(3), scalar(3)?) {
            (Some(_), Some(v)) => Some(positive(v, "frame_length")?),
            (Some(_), None) => window_len,
            (None, _) if inputs.opt(2).is_some() => window_len,
            (None, _) => dims[1],
        };
        let frames = match (dims[1], frame_len, step) {
            (Some(len), Some(f), Some(s)) => Some(frame_count(len, f, positive(s, "frame_step")?)?),
            _ => None,
        };
        let bins = frame_len.map(|f| if self.onesided { f / 2 + 1 } else { f });
        Ok(vec![TensorType::new(x.dtype, Shape::from_dims(vec![dims[0], frames, bins, Some(2)]))])
    }

    fn eval(&self, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
        let x = inputs.req(0)?;
        let &[batch, length, components] = x.shape() else { bail!("the signal must be 3-D, got {:?}", x.shape()) };
        if components != 1 && components != 2 {
            bail!("the signal's last dimension must be 1 or 2, got {components}");
        }
        let step = positive(inputs.req(1)?.scalar_i64()?, "frame_step")?;
        let window = inputs.opt(2).map(Tensor::to_f64_vec).transpose()?;
        if let Some(w) = inputs.opt(2) {
            if w.rank() != 1 || w.dtype() != x.dtype() {
                bail!("window must be 1-D with the signal's element type, got {}{:?}", w.dtype(), w.shape());
            }
        }
        let frame_len = match (inputs.opt(3), &window) {
            (Some(f), w) => {
                let f = positive(f.scalar_i64()?, "frame_length")?;
                if let Some(w) = w {
                    if w.len() != f {
                        bail!("window has {} values, but frame_length is {f}", w.len());
                    }
                }
                f
            }
            (None, Some(w)) => positive(w.len() as i64, "window length")?,
            (None, None) => positive(length as i64, "signal length")?,
        };
        let frames = frame_count(length, frame_len, step)?;
        let bins = if self.onesided { frame_len / 2 + 1 } else { frame_len };
        let out_shape = [batch, frames, bins, 2];
        checked_numel(&out_shape)?;
        let plan = Plan::new(frame_len, false)?;
        let values = x.to_f64_vec()?;
        let mut out = Vec::with_capacity(out_shape.iter().product());
        let mut frame: Vec<Complex> = vec![(0.0, 0.0); frame_len];
        for b in 0..batch {
            for f in 0..frames {
                for (t, slot) in frame.iter_mut().enumerate() {
                    let at = (b * length + f * step + t) * components;
                    let w = window.as_ref().map_or(1.0, |w| w[t]);
                    let (re, im) = (values[at], if components == 2 { values[at + 1] } else { 0.0 });
                    *slot = (re * w, im * w);
                }
                for (re, im) in plan.run(&frame).into_iter().take(bins) {
                    out.extend([re, im]);
                }
            }
        }
        Ok(vec![Tensor::from_vec(&out_shape, out)?.cast(x.dtype())?])
    }

    /// int8: float only.
    fn quantize(&self, rule: super::Rule) -> Result<super::Plan> {
        Ok(rule.float_only(super::NO_INTEGER_KERNEL))
    }
}

/// Number of whole frames of `frame` samples, `step` apart, in `length`.
fn frame_count(length: usize, frame: usize, step: usize) -> Result<usize> {
    if frame > length {
        bail!("frame length {frame} exceeds the signal length {length}");
    }
    Ok((length - frame) / step + 1)
}

#[cfg(test)]
mod tests {
    use crate::ops::testing::{f32s, i64s, run};

    #[test]
    fn frames_a_constant_signal() {
        // A constant signal: each frame's spectrum is only the DC bin.
        let x = f32s(&[1, 8, 1], &[1.0; 8]);
        let y = run("STFT", 17, vec![], &[x, i64s(&[], &[2]), f32s(&[4], &[1.0; 4])]).unwrap();
        assert_eq!(y[0].shape(), &[1, 3, 3, 2]);
        let v: Vec<f32> = y[0].array::<f32>().unwrap().iter().copied().collect();
        for frame in v.chunks(6) {
            assert!((frame[0] - 4.0).abs() < 1e-6 && frame[1..].iter().all(|x| x.abs() < 1e-6), "{frame:?}");
        }
    }

    #[test]
    fn inference_uses_constant_steps_and_the_window_length() {
        use crate::ir::{Shape, TensorType};
        use crate::ops::testing::node;
        use crate::ops::{Arg, Op};
        use crate::tensor::DType;
        let op = Op::from_onnx(&node("STFT", 17, vec![], 3, 1)).unwrap();
        let x = TensorType::fixed(DType::F32, &[1, 128, 1]);
        let (step_ty, window) = (TensorType::fixed(DType::I64, &[]), TensorType::fixed(DType::F32, &[16]));
        let step = i64s(&[], &[8]);
        let args = [Some(Arg { ty: &x, value: None }), Some(Arg { ty: &step_ty, value: Some(&step) }), Some(Arg { ty: &window, value: None })];
        assert_eq!(op.infer(&args).unwrap()[0].shape, Shape::fixed(&[1, 15, 9, 2]));
        let args = [Some(Arg { ty: &x, value: None }), Some(Arg { ty: &step_ty, value: None }), Some(Arg { ty: &window, value: None })];
        assert_eq!(op.infer(&args).unwrap()[0].shape, Shape::from_dims(vec![Some(1), None, Some(9), Some(2)]));
    }

    #[test]
    fn bad_steps_and_lengths_are_errors() {
        let x = f32s(&[1, 4, 1], &[0.0; 4]);
        assert!(run("STFT", 17, vec![], &[x.clone(), i64s(&[], &[0])]).is_err());
        assert!(run("STFT", 17, vec![], &[x.clone(), i64s(&[], &[1]), f32s(&[5], &[1.0; 5])]).is_err());
        assert!(run("STFT", 17, vec![], &[x.clone(), i64s(&[], &[1]), f32s(&[2], &[1.0; 2]), i64s(&[], &[3])]).is_err());
        assert!(run("STFT", 17, vec![], &[f32s(&[1, 4, 3], &[0.0; 12]), i64s(&[], &[1])]).is_err());
    }
}
