//! Pad: grows (or, with negative pads, crops) each axis of a tensor.
//! <https://onnx.ai/onnx/operators/onnx__Pad.html>
//!
//! Opsets 2-10 take `pads` and `value` as attributes; from 11 `pads` and
//! `constant_value` are inputs, and from 18 an `axes` input selects the
//! padded axes. Modes: `constant`, `reflect`, `edge` and (from 19) `wrap`,
//! for every element type. Negative pads crop first; the padding modes then
//! read from the cropped tensor. `reflect` and `wrap` repeat periodically
//! when a pad is longer than the axis.

use super::take::{self, FILL};
use super::int8_rule::{Needs, Plan, Rule};
use super::qint::codes;
use super::{util, Arg, Op, OpDef, Slots};
use crate::front::onnx::OnnxNode;
use crate::ir::{Dim, Shape, TensorType};
use crate::tensor::{checked_numel, DType, Tensor, MAX_ELEMENTS};
use crate::{bail, unsupported, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Constant,
    Reflect,
    Edge,
    Wrap,
}

#[derive(Debug, Clone)]
pub struct Pad {
    mode: Mode,
    /// Opsets before 11: the pads and fill value come from attributes.
    attr_pads: Option<Vec<i64>>,
    attr_value: f64,
}

impl OpDef for Pad {
    /// Pure data movement (see `back::movement`).
    fn lower(&self, cx: &mut super::LowerCx) -> Result<()> {
        crate::back::movement::lower(cx, &[0], |inputs| self.eval(inputs))
    }

    fn from_onnx(node: &OnnxNode) -> Result<Self> {
        if node.opset < 2 {
            unsupported!("Pad before opset 2 (the 'paddings' attribute)");
        }
        let mode = match node.string("mode", "constant")?.as_str() {
            "constant" => Mode::Constant,
            "reflect" => Mode::Reflect,
            "edge" => Mode::Edge,
            "wrap" if node.opset >= 19 => Mode::Wrap,
            "wrap" => bail!("Pad mode 'wrap' needs opset 19 or later (the model uses {})", node.opset),
            other => bail!("Pad mode '{other}' is not constant, reflect, edge or wrap"),
        };
        let (attr_pads, attr_value) = if node.opset < 11 {
            let Some(pads) = node.ints_opt("pads")? else { bail!("required attribute 'pads' is missing") };
            (Some(pads), node.float("value", 0.0)? as f64)
        } else {
            (None, 0.0)
        };
        Ok(Pad { mode, attr_pads, attr_value })
    }

    fn infer(&self, inputs: &[Option<Arg>]) -> Result<Vec<TensorType>> {
        let x = inputs.req(0)?.ty;
        self.check_value_type(x.dtype, inputs.opt(2).map(|a| a.ty.dtype))?;
        let Some(dims) = x.shape.dims() else { return Ok(vec![TensorType::new(x.dtype, Shape::unknown())]) };
        let rank = dims.len();
        let axes = match inputs.opt(3) {
            Some(_) => util::const_ints(inputs, 3)?,
            None => Some((0..rank as i64).collect()),
        };
        let pads = match &self.attr_pads {
            Some(p) => Some(p.clone()),
            None => {
                inputs.req(1)?;
                util::const_ints(inputs, 1)?
            }
        };
        let out: Vec<Dim> = match (pads, axes) {
            (Some(pads), Some(axes)) => {
                let per_axis = per_axis_pads(rank, &pads, &axes)?;
                dims.iter().zip(&per_axis).map(|(d, &(b, e))| d.map(|d| out_len(d, b, e)).transpose()).collect::<Result<_>>()?
            }
            // Pads unknown: the selected axes (all of them if unknown) are unknown.
            (None, Some(axes)) => {
                let axes = util::axes(&axes, rank)?;
                dims.iter().enumerate().map(|(i, d)| if axes.contains(&i) { None } else { *d }).collect()
            }
            (_, None) => vec![None; rank],
        };
        Ok(vec![TensorType::new(x.dtype, Shape::from_dims(out))])
    }

    fn eval(&self, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
        let x = inputs.req(0)?;
        let value = inputs.opt(2);
        self.check_value_type(x.dtype(), value.map(Tensor::dtype))?;
        let rank = x.rank();
        let pads = match &self.attr_pads {
            Some(p) => p.clone(),
            None => inputs.req(1)?.to_i64_vec()?,
        };
        let axes = match inputs.opt(3) {
            Some(a) => a.to_i64_vec()?,
            None => (0..rank as i64).collect(),
        };
        let per_axis = per_axis_pads(rank, &pads, &axes)?;
        let in_shape = x.shape();
        let strides = take::strides(in_shape);
        let out_shape = in_shape.iter().zip(&per_axis).map(|(&d, &(b, e))| out_len(d, b, e)).collect::<Result<Vec<_>>>()?;
        checked_numel(&out_shape)?;
        let mut offsets = Vec::with_capacity(rank);
        for a in 0..rank {
            let (b, e) = per_axis[a];
            let sources = self.axis_sources(in_shape[a], b, e)?;
            offsets.push(sources.into_iter().map(|s| s.map(|s| s * strides[a])).collect());
        }
        let src = take::separable(&out_shape, &offsets)?;
        let out = if src.contains(&FILL) {
            let fill = match value {
                Some(v) if !v.is_empty() => v.clone(),
                Some(_) => Tensor::zeros(x.dtype(), &[])?,
                None if self.attr_pads.is_some() => Tensor::scalar(self.attr_value).cast(x.dtype())?,
                None => Tensor::zeros(x.dtype(), &[])?,
            };
            take::take_or_fill(x, &out_shape, &src, &fill)?
        } else {
            take::take(x, &out_shape, &src)?
        };
        Ok(vec![out])
    }

    /// int8: Pad on codes when the pads and the fill are constants: the
    /// fill becomes the code of the real fill value under the input's
    /// parameters, which the output keeps.
    fn quantize(&self, rule: Rule) -> Result<Plan> {
        rule.on_codes(Needs::Inputs, |cx| {
            let ins = cx.inputs();
            let x = ins.req(0)?;
            if ins.iter().skip(1).flatten().any(|&v| cx.constant(v).is_none()) {
                return Ok(Plan::float("pads or pad value known only at run time"));
            }
            let real = match (self.attr_value(), cx.input_constant(2)) {
                (Some(v), _) => v,
                (None, Some(t)) if !t.is_empty() => t.scalar_f64()?,
                _ => 0.0,
            };
            let fill = cx.code_params(x)?.quantize(real);
            let legacy = self.attr_value().is_some();
            let (xq, px) = cx.as_int(x)?;
            let mut inputs = vec![Some(xq)];
            // From opset 11 the fill is input 2, as a code; before, the attribute.
            let slots = if legacy { ins.len() } else { ins.len().max(3) };
            for i in 1..slots {
                inputs.push(match ins.opt(i) {
                    _ if i == 2 && !legacy => Some(cx.add_constant(format!("{}_fill_q", cx.node_name()), codes(px.dtype, &[], vec![fill])?)),
                    Some(v) => Some(cx.as_float(v)?),
                    None => None,
                });
            }
            let op = if legacy { self.with_attr_value(fill as f64) } else { self.clone() };
            let y = cx.first_output()?;
            let op_type = cx.op_type();
            cx.emit(y, px, &op_type, Op::Pad(op), &inputs)
        })
    }
}

impl Pad {
    /// Whether the mode is `constant` (the only one that reads the fill value).
    pub fn is_constant_mode(&self) -> bool {
        self.mode == Mode::Constant
    }

    /// The fill value of opsets before 11 (an attribute); None from 11 on,
    /// where it is input 2.
    pub fn attr_value(&self) -> Option<f64> {
        self.attr_pads.is_some().then_some(self.attr_value)
    }

    /// This Pad with the attribute fill value `value` (opsets before 11):
    /// the quantizer puts the fill's code there.
    pub fn with_attr_value(&self, value: f64) -> Pad {
        Pad { attr_value: value, ..self.clone() }
    }

    fn check_value_type(&self, data: DType, value: Option<DType>) -> Result<()> {
        match value {
            Some(v) if v != data => bail!("constant_value is {v} but the data is {data}"),
            _ => Ok(()),
        }
    }

    /// For each output position along an axis of length `len` padded by
    /// `begin`/`end`: the input position it copies, or `None` for the fill
    /// value.
    fn axis_sources(&self, len: usize, begin: i64, end: i64) -> Result<Vec<Option<usize>>> {
        let out = out_len(len, begin, end)?;
        let crop_begin = begin.saturating_neg().max(0) as usize;
        let crop_end = end.saturating_neg().max(0) as usize;
        let Some(kept) = len.checked_sub(crop_begin).and_then(|k| k.checked_sub(crop_end)) else {
            bail!("pads ({begin}, {end}) crop more than the whole axis of size {len}");
        };
        let pad_begin = begin.max(0);
        let kept_i = kept as i64;
        let mut sources = Vec::with_capacity(out);
        for o in 0..out as i64 {
            let j = o - pad_begin;
            let within = if (0..kept_i).contains(&j) {
                Some(j)
            } else {
                match self.mode {
                    Mode::Constant => None,
                    _ if kept == 0 => bail!("cannot pad an empty axis in {:?} mode", self.mode),
                    Mode::Edge => Some(j.clamp(0, kept_i - 1)),
                    Mode::Wrap => Some(j.rem_euclid(kept_i)),
                    Mode::Reflect if kept == 1 => Some(0),
                    Mode::Reflect => {
                        let period = 2 * (kept_i - 1);
                        let r = j.rem_euclid(period);
                        Some(if r < kept_i { r } else { period - r })
                    }
                }
            };
            sources.push(within.map(|j| crop_begin + j as usize));
        }
        Ok(sources)
    }
}

/// The (begin, end) pad of every axis from the ONNX `pads` layout
/// `[b_0, b_1, ..., e_0, e_1, ...]` over `axes`.
fn per_axis_pads(rank: usize, pads: &[i64], axes: &[i64]) -> Result<Vec<(i64, i64)>> {
    let axes = util::axes(axes, rank)?;
    if pads.len() != 2 * axes.len() {
        bail!("pads has {} values; {} axes need {}", pads.len(), axes.len(), 2 * axes.len());
    }
    let mut out = vec![(0i64, 0i64); rank];
    for (i, &a) in axes.iter().enumerate() {
        out[a] = (pads[i], pads[axes.len() + i]);
    }
    Ok(out)
}

/// The padded length of an axis; an error if the pads crop below zero.
fn out_len(len: usize, begin: i64, end: i64) -> Result<usize> {
    let total = (len as i64).checked_add(begin).and_then(|v| v.checked_add(end));
    match total {
        Some(t) if t >= 0 && t as u64 <= MAX_ELEMENTS as u64 => Ok(t as usize),
        _ => bail!("pads ({begin}, {end}) on an axis of size {len} give a negative or too large size"),
    }
}

#[cfg(test)]
mod tests {
    use crate::front::onnx::Attr;
    use crate::ops::testing::{f32s, i64s, run};
    use crate::tensor::Tensor;

    fn pad(mode: &str, x: &Tensor, pads: &[i64]) -> crate::Result<Tensor> {
        let attrs = vec![("mode", Attr::String(mode.into()))];
        Ok(run("Pad", 19, attrs, &[x.clone(), i64s(&[pads.len()], pads)])?.remove(0))
    }

    #[test]
    fn negative_pads_crop_then_pad() {
        let x = f32s(&[5], &[1., 2., 3., 4., 5.]);
        assert_eq!(pad("constant", &x, &[-2, 1]).unwrap(), f32s(&[4], &[3., 4., 5., 0.]));
        assert_eq!(pad("edge", &x, &[1, -3]).unwrap(), f32s(&[3], &[1., 1., 2.]));
        assert_eq!(pad("reflect", &x, &[-1, 2]).unwrap(), f32s(&[6], &[2., 3., 4., 5., 4., 3.]));
    }

    #[test]
    fn long_pads_repeat_periodically() {
        let x = f32s(&[3], &[1., 2., 3.]);
        assert_eq!(pad("reflect", &x, &[5, 0]).unwrap(), f32s(&[8], &[2., 1., 2., 3., 2., 1., 2., 3.]));
        assert_eq!(pad("wrap", &x, &[4, 2]).unwrap(), f32s(&[9], &[3., 1., 2., 3., 1., 2., 3., 1., 2.]));
    }

    #[test]
    fn bad_pads_are_errors() {
        let x = f32s(&[2], &[1., 2.]);
        assert!(pad("constant", &x, &[-3, 0]).is_err());
        assert!(pad("constant", &x, &[-3, 5]).is_err());
        assert!(pad("constant", &x, &[1]).is_err());
        assert!(pad("constant", &x, &[i64::MAX, 1]).is_err());
        let empty = f32s(&[0], &[]);
        assert!(pad("edge", &empty, &[1, 0]).is_err());
        assert_eq!(pad("constant", &empty, &[1, 0]).unwrap(), f32s(&[1], &[0.]));
    }

    #[test]
    fn legacy_attributes_and_wrap_opset() {
        let x = f32s(&[2], &[1., 2.]);
        let attrs = vec![("pads", Attr::Ints(vec![1, 1])), ("value", Attr::Float(7.0))];
        assert_eq!(run("Pad", 2, attrs, std::slice::from_ref(&x)).unwrap()[0], f32s(&[4], &[7., 1., 2., 7.]));
        let attrs = vec![("mode", Attr::String("wrap".into()))];
        assert!(run("Pad", 18, attrs, &[x, i64s(&[2], &[1, 1])]).is_err());
    }

    #[test]
    fn constant_value_type_must_match() {
        let x = f32s(&[2], &[1., 2.]);
        assert!(run("Pad", 13, vec![], &[x, i64s(&[2], &[1, 1]), Tensor::scalar(1i64)]).is_err());
    }
}

#[cfg(test)]
mod infer_tests {
    use crate::front::onnx::Attr;
    use crate::ir::Shape;
    use crate::ops::take::infer_with_constants;
    use crate::ops::testing::{f32s, i64s};

    #[test]
    fn constant_pads_give_exact_dims() {
        let x = f32s(&[2, 3], &[0.; 6]);
        let pads = i64s(&[2], &[1, -1]);
        let axes = i64s(&[1], &[-1]);
        let t = infer_with_constants("Pad", 18, vec![], &[x.clone(), pads.clone(), f32s(&[], &[0.]), axes.clone()], &[false, true, false, true]);
        assert_eq!(t.unwrap()[0].shape, Shape::fixed(&[2, 3]));
        let t = infer_with_constants("Pad", 18, vec![], &[x.clone(), pads.clone(), f32s(&[], &[0.]), axes], &[false, false, false, true]);
        assert_eq!(t.unwrap()[0].shape, Shape::from_dims(vec![Some(2), None]));
        let t = infer_with_constants("Pad", 13, vec![], &[x.clone(), i64s(&[4], &[0, 0, 0, 0])], &[false, false]);
        assert_eq!(t.unwrap()[0].shape, Shape::of_rank(2));
        let t = infer_with_constants("Pad", 11, vec![], &[x.clone(), i64s(&[4], &[0, -4, 0, 0])], &[false, true]);
        assert!(t.is_err());
        let attrs = vec![("pads", Attr::Ints(vec![1, 1, 1, 1]))];
        let t = infer_with_constants("Pad", 7, attrs, &[x], &[false]);
        assert_eq!(t.unwrap()[0].shape, Shape::fixed(&[4, 5]));
    }
}
