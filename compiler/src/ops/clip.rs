//! Clip: limits every element to `[min, max]`, computed as
//! `min(max(x, min), max)` (so `min > max` gives `max`); NaN stays NaN.
//! <https://onnx.ai/onnx/operators/onnx__Clip.html>
//!
//! Before opset 11 the bounds are float attributes; from opset 11 they are
//! optional one-element inputs of the input's type. Integer and float types.

use super::int8_rule::Needs;
use super::{Arg, Loc, LowerCx, OpDef, Plan, Rule, Slots};
use crate::front::onnx::OnnxNode;
use crate::ir::TensorType;
use crate::tensor::{DType, Num, Tensor};
use crate::{bail, map_num, Result};
use ndarray::ArrayD;

#[derive(Debug, Clone)]
pub struct Clip {
    /// Bounds given as attributes (opset < 11); later opsets read inputs.
    pub(crate) attr_bounds: Option<(Option<f64>, Option<f64>)>,
}

impl OpDef for Clip {
    fn from_onnx(node: &OnnxNode) -> Result<Self> {
        let attr_bounds = if node.opset < 11 {
            Some((node.float_opt("min")?.map(f64::from), node.float_opt("max")?.map(f64::from)))
        } else {
            None
        };
        Ok(Clip { attr_bounds })
    }

    fn infer(&self, inputs: &[Option<Arg>]) -> Result<Vec<TensorType>> {
        let x = inputs.req(0)?.ty;
        check_dtype(x.dtype)?;
        if self.attr_bounds.is_none() {
            for i in 1..3 {
                if let Some(b) = inputs.opt(i) {
                    if b.ty.dtype != x.dtype {
                        bail!("bound {i} is {} but the input is {}", b.ty.dtype, x.dtype);
                    }
                    if b.ty.shape.numel().is_some_and(|n| n != 1) {
                        bail!("bound {i} must have one element, its shape is {}", b.ty.shape);
                    }
                }
            }
        }
        Ok(vec![x.clone()])
    }

    fn eval(&self, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
        let x = inputs.req(0)?;
        check_dtype(x.dtype())?;
        let bound = |i: usize| -> Result<Option<&Tensor>> {
            match inputs.opt(i) {
                Some(b) if b.dtype() != x.dtype() => bail!("bound {i} is {} but the input is {}", b.dtype(), x.dtype()),
                Some(b) if b.len() != 1 => bail!("bound {i} must have one element, its shape is {:?}", b.shape()),
                b => Ok(b),
            }
        };
        let out = match self.attr_bounds {
            Some((lo, hi)) => map_num!(x, a => clip(a, lo.map(Num::from_f64), hi.map(Num::from_f64)))?,
            None => {
                let (lo, hi) = (bound(1)?, bound(2)?);
                map_num!(x, a => clip(a, first(lo)?, first(hi)?))?
            }
        };
        Ok(vec![out])
    }

    /// `[min, max]` when both bounds are known at compile time (`min > max`
    /// gives `max` everywhere).
    fn output_bounds(&self, inputs: &[Option<Arg>]) -> Option<(f64, f64)> {
        let (lo, hi) = match self.attr_bounds {
            Some(b) => b,
            None => {
                let bound = |i: usize| inputs.opt(i).and_then(|b| b.value).and_then(|t| t.scalar_f64().ok());
                (bound(1), bound(2))
            }
        };
        let (lo, hi) = (lo?, hi?);
        (lo.is_finite() && hi.is_finite()).then_some((lo.min(hi), hi))
    }

    /// One `clip` map; a missing bound is the type's lowest or highest
    /// value (infinities for floats), attribute bounds are constants.
    fn lower(&self, cx: &mut LowerCx) -> Result<()> {
        let x = cx.input(0)?.clone();
        check_dtype(x.dtype)?;
        let (lo, hi) = match self.attr_bounds {
            Some((lo, hi)) => (lo.map(BoundSrc::Value), hi.map(BoundSrc::Value)),
            None => (cx.opt_input(1).cloned().map(BoundSrc::Input), cx.opt_input(2).cloned().map(BoundSrc::Input)),
        };
        let lo = bound_loc(cx, x.dtype, "min", lo.unwrap_or(BoundSrc::Value(f64::NEG_INFINITY)))?;
        let hi = bound_loc(cx, x.dtype, "max", hi.unwrap_or(BoundSrc::Value(f64::INFINITY)))?;
        cx.elementwise_of("clip", Vec::new(), &[x, lo, hi])
    }

    /// int8: with constant bounds, a 256-entry table over every input code
    /// (or, after an integer operator, its output stage's clamp:
    /// `quant::rewrite` fuses it); bounds known only at run time stay float.
    fn quantize(&self, rule: Rule) -> Result<Plan> {
        rule.on_codes(Needs::Output, |cx| {
            if cx.inputs().iter().skip(1).flatten().any(|&v| cx.constant(v).is_none()) {
                return Ok(Plan::float("min or max known only at run time"));
            }
            cx.table()
        })
    }
}

/// Where a bound of the code-generated Clip comes from.
enum BoundSrc {
    /// A value converted to the input type (as `Num::from_f64`: saturating).
    Value(f64),
    Input(Loc),
}

/// A one-element location holding the bound, as the input's element type.
fn bound_loc(cx: &mut LowerCx, dtype: DType, what: &str, b: BoundSrc) -> Result<Loc> {
    match b {
        BoundSrc::Input(l) => {
            if l.dtype != dtype || l.len() != 1 {
                bail!("Clip bound {what} must be one {dtype} element, got {} {:?}", l.dtype, l.shape);
            }
            // A one-element tensor broadcasts as a scalar.
            Ok(l.reshaped(&[]))
        }
        BoundSrc::Value(v) => {
            let t = Tensor::scalar(v).cast(dtype)?;
            Ok(cx.constant(what, t))
        }
    }
}

fn check_dtype(d: DType) -> Result<()> {
    if !(d.is_int() || d.is_float()) {
        bail!("Clip does not accept {d} inputs");
    }
    Ok(())
}

/// The single element of an optional bound, as the input's element type.
fn first<T: Num>(b: Option<&Tensor>) -> Result<Option<T>> {
    match b {
        None => Ok(None),
        Some(t) => Ok(t.array::<T>()?.iter().next().copied()),
    }
}

fn clip<T: Num>(a: &ArrayD<T>, lo: Option<T>, hi: Option<T>) -> ArrayD<T> {
    a.mapv(|v| {
        let v = match lo {
            Some(lo) if v < lo => lo,
            _ => v,
        };
        match hi {
            Some(hi) if v > hi => hi,
            _ => v,
        }
    })
}

#[cfg(test)]
mod tests {
    use crate::front::onnx::Attr;
    use crate::ops::testing::{f32s, i64s, run};

    #[test]
    fn attribute_bounds_before_opset_11() {
        let x = f32s(&[3], &[-5.0, 0.5, 5.0]);
        let attrs = vec![("min", Attr::Float(-1.0)), ("max", Attr::Float(1.0))];
        assert_eq!(run("Clip", 6, attrs, &[x]).unwrap()[0], f32s(&[3], &[-1.0, 0.5, 1.0]));
    }

    #[test]
    fn input_bounds_and_min_above_max() {
        let x = i64s(&[3], &[-5, 0, 5]);
        let out = run("Clip", 13, vec![], &[x.clone(), i64s(&[], &[2]), i64s(&[], &[1])]).unwrap();
        assert_eq!(out[0], i64s(&[3], &[1, 1, 1]));
        assert_eq!(run("Clip", 13, vec![], &[x.clone(), i64s(&[], &[-1])]).unwrap()[0], i64s(&[3], &[-1, 0, 5]));
    }

    #[test]
    fn bad_bounds_are_errors() {
        let x = i64s(&[3], &[-5, 0, 5]);
        assert!(run("Clip", 13, vec![], &[x.clone(), i64s(&[2], &[0, 1])]).is_err());
        assert!(run("Clip", 13, vec![], &[x, f32s(&[], &[0.0])]).is_err());
    }
}
