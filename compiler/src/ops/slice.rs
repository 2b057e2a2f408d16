//! Slice: takes `start:end:step` along chosen axes, numpy style: negative
//! positions count from the end, out-of-range positions clamp, negative
//! steps walk backwards. Any element type.
//! <https://onnx.ai/onnx/operators/onnx__Slice.html>
//!
//! `starts`, `ends` and `axes` are attributes before opset 10 and inputs
//! from opset 10 (with the optional `steps` input).

use super::{util, Arg, OpDef, Slots};
use crate::front::onnx::OnnxNode;
use crate::ir::{Dim, Shape, TensorType};
use crate::tensor::Tensor;
use crate::{bail, map_array, Result};
use ndarray::{ArrayD, Slice as Range};

#[derive(Debug, Clone)]
pub struct Slice {
    /// `starts`, `ends`, `axes` attributes (opset < 10).
    attrs: Option<Params>,
}

/// The slicing parameters of one call, before they meet the input shape.
#[derive(Debug, Clone)]
struct Params {
    starts: Vec<i64>,
    ends: Vec<i64>,
    axes: Option<Vec<i64>>,
    steps: Option<Vec<i64>>,
}

/// One axis of the result: the first index taken, how many, and the step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct AxisSlice {
    start: usize,
    count: usize,
    step: i64,
}

impl OpDef for Slice {
    /// Pure data movement (see `back::movement`).
    fn lower(&self, cx: &mut super::LowerCx) -> Result<()> {
        crate::back::movement::lower(cx, &[0], |inputs| self.eval(inputs))
    }

    fn from_onnx(node: &OnnxNode) -> Result<Self> {
        let attrs = if node.opset < 10 {
            let starts =
                node.ints_opt("starts")?.ok_or_else(|| crate::Error::Op("attribute 'starts' is missing".into()))?;
            let ends = node.ints_opt("ends")?.ok_or_else(|| crate::Error::Op("attribute 'ends' is missing".into()))?;
            Some(Params { starts, ends, axes: node.ints_opt("axes")?, steps: None })
        } else {
            None
        };
        Ok(Slice { attrs })
    }

    fn infer(&self, inputs: &[Option<Arg>]) -> Result<Vec<TensorType>> {
        let x = inputs.req(0)?.ty;
        let Some(dims) = x.shape.dims() else { return Ok(vec![TensorType::new(x.dtype, Shape::unknown())]) };
        let rank = dims.len();
        let constant = |i: usize| util::const_ints(inputs, i);
        let params = match &self.attrs {
            Some(p) => p.clone(),
            None => {
                let (starts, ends) = (constant(1)?, constant(2)?);
                let axes = if inputs.opt(3).is_some() { constant(3)?.map(Some) } else { Some(None) };
                let steps = if inputs.opt(4).is_some() { constant(4)?.map(Some) } else { Some(None) };
                match (starts, ends, axes, steps) {
                    (Some(starts), Some(ends), Some(axes), Some(steps)) => Params { starts, ends, axes, steps },
                    (starts, _, axes, _) => {
                        // Not all constant: only the sliced axes become unknown.
                        let sliced: Vec<usize> = match axes {
                            Some(Some(a)) => util::axes(&a, rank)?,
                            Some(None) => {
                                match starts.map(|s| s.len()).or_else(|| inputs.opt(1).and_then(|a| len_1d(a.ty))) {
                                    Some(n) if n <= rank => (0..n).collect(),
                                    _ => (0..rank).collect(),
                                }
                            }
                            None => (0..rank).collect(),
                        };
                        let mut out = dims.to_vec();
                        for a in sliced {
                            out[a] = None;
                        }
                        return Ok(vec![TensorType::new(x.dtype, Shape::from_dims(out))]);
                    }
                }
            }
        };
        let plan = params.resolve(dims)?;
        let out: Vec<Dim> = plan.iter().zip(dims).map(|(p, d)| p.map(|p| p.count).or(*d)).collect();
        Ok(vec![TensorType::new(x.dtype, Shape::from_dims(out))])
    }

    fn eval(&self, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
        let x = inputs.req(0)?;
        let params = match &self.attrs {
            Some(p) => p.clone(),
            None => Params {
                starts: inputs.req(1)?.to_i64_vec()?,
                ends: inputs.req(2)?.to_i64_vec()?,
                axes: inputs.opt(3).map(|t| t.to_i64_vec()).transpose()?,
                steps: inputs.opt(4).map(|t| t.to_i64_vec()).transpose()?,
            },
        };
        let dims: Vec<Dim> = x.shape().iter().map(|&d| Some(d)).collect();
        let plan = params.resolve(&dims)?;
        let ranges: Vec<Range> = plan
            .iter()
            .zip(x.shape())
            .map(|(p, &d)| match p {
                Some(p) => to_range(*p),
                None => Range::from(0..d),
            })
            .collect();
        Ok(vec![map_array!(x, a => take(a, &ranges))])
    }

    /// int8: data movement on codes; the output keeps the input's parameters.
    fn quantize(&self, rule: super::Rule) -> Result<super::Plan> {
        rule.on_codes(super::int8_rule::Needs::Inputs, |cx| cx.passthrough())
    }
}

/// Length of a 1-D input whose shape is known.
fn len_1d(ty: &TensorType) -> Option<usize> {
    match ty.shape.as_fixed().as_deref() {
        Some([n]) => Some(*n),
        _ => None,
    }
}

impl Params {
    /// Per input axis: `None` when the axis is not sliced or its dimension
    /// is unknown, else its slice.
    fn resolve(&self, dims: &[Dim]) -> Result<Vec<Option<AxisSlice>>> {
        let n = self.starts.len();
        if self.ends.len() != n {
            bail!("starts has {n} values but ends has {}", self.ends.len());
        }
        let axes = match &self.axes {
            Some(a) if a.len() != n => bail!("starts has {n} values but axes has {}", a.len()),
            Some(a) => util::axes(a, dims.len())?,
            None if n > dims.len() => bail!("{n} starts for a rank-{} input", dims.len()),
            None => (0..n).collect(),
        };
        let steps = match &self.steps {
            Some(s) if s.len() != n => bail!("starts has {n} values but steps has {}", s.len()),
            Some(s) => s.clone(),
            None => vec![1; n],
        };
        let mut plan = vec![None; dims.len()];
        for (i, &axis) in axes.iter().enumerate() {
            if steps[i] == 0 {
                bail!("step 0 on axis {axis}");
            }
            if let Some(d) = dims[axis] {
                plan[axis] = Some(axis_slice(d, self.starts[i], self.ends[i], steps[i]));
            }
        }
        Ok(plan)
    }
}

/// Clamps `start:end:step` (step non-zero) to a dimension of `d`.
fn axis_slice(d: usize, start: i64, end: i64, step: i64) -> AxisSlice {
    let d = d as i128;
    let norm = |v: i64| if v < 0 { v as i128 + d } else { v as i128 };
    let (s, e, st) = (norm(start), norm(end), step as i128);
    let (s, count) = if d == 0 {
        (0, 0)
    } else if st > 0 {
        let (s, e) = (s.clamp(0, d), e.clamp(0, d));
        (s, if e > s { (e - s + st - 1) / st } else { 0 })
    } else {
        let (s, e) = (s.clamp(0, d - 1), e.clamp(-1, d - 1));
        (s, if s > e { (s - e - st - 1) / -st } else { 0 })
    };
    // `count <= d` and `0 <= s < d` when count > 0, so both fit in usize.
    AxisSlice { start: s.max(0) as usize, count: count as usize, step }
}

/// The ndarray slice taking `count` elements from `start` by `step`.
fn to_range(p: AxisSlice) -> Range {
    if p.count == 0 {
        return Range::from(0..0);
    }
    let (s, n, step) = (p.start as isize, p.count as isize, p.step as isize);
    if step > 0 {
        // The last index is s + (n - 1) * step < d, so this cannot overflow.
        Range::new(s, Some(s + (n - 1) * step + 1), step)
    } else {
        // ndarray walks [lower, s] backwards from s with a negative step.
        Range::new(s + (n - 1) * step, Some(s + 1), step)
    }
}

fn take<T: Clone>(a: &ArrayD<T>, ranges: &[Range]) -> ArrayD<T> {
    let v = a.slice_each_axis(|ax| ranges[ax.axis.index()]);
    v.as_standard_layout().into_owned()
}

#[cfg(test)]
mod tests {
    use super::{axis_slice, AxisSlice};
    use crate::front::onnx::Attr;
    use crate::ops::testing::{i64s, run};

    #[test]
    fn clamping_and_negative_steps() {
        assert_eq!(axis_slice(5, -100, 100, 1), AxisSlice { start: 0, count: 5, step: 1 });
        assert_eq!(axis_slice(5, 100, 200, 1).count, 0);
        assert_eq!(axis_slice(5, i64::MAX, i64::MIN, -1), AxisSlice { start: 4, count: 5, step: -1 });
        assert_eq!(axis_slice(5, -1, -4, -2), AxisSlice { start: 4, count: 2, step: -2 });
        assert_eq!(axis_slice(0, 0, 10, -1).count, 0);
        assert_eq!(axis_slice(10, 1, 8, 3), AxisSlice { start: 1, count: 3, step: 3 });
    }

    #[test]
    fn reverse_and_stride() {
        let x = i64s(&[2, 4], &[0, 1, 2, 3, 4, 5, 6, 7]);
        let out = run(
            "Slice",
            13,
            vec![],
            &[x.clone(), i64s(&[2], &[-1, 3]), i64s(&[2], &[i64::MIN, -5]), i64s(&[2], &[0, 1]), i64s(&[2], &[-1, -2])],
        )
        .unwrap();
        assert_eq!(out[0], i64s(&[2, 2], &[7, 5, 3, 1]));
    }

    #[test]
    fn attribute_form_and_out_of_range_starts() {
        let x = i64s(&[4], &[0, 1, 2, 3]);
        let attrs = vec![("starts", Attr::Ints(vec![10])), ("ends", Attr::Ints(vec![20]))];
        assert_eq!(run("Slice", 1, attrs, std::slice::from_ref(&x)).unwrap()[0], i64s(&[0], &[]));
        let attrs =
            vec![("starts", Attr::Ints(vec![1])), ("ends", Attr::Ints(vec![-1])), ("axes", Attr::Ints(vec![-1]))];
        assert_eq!(run("Slice", 1, attrs, &[x]).unwrap()[0], i64s(&[2], &[1, 2]));
    }

    #[test]
    fn bad_parameters_are_errors() {
        let x = i64s(&[4], &[0, 1, 2, 3]);
        let one = |v: i64| i64s(&[1], &[v]);
        assert!(run("Slice", 13, vec![], &[x.clone(), one(0), one(4), one(0), one(0)]).is_err());
        assert!(run("Slice", 13, vec![], &[x.clone(), one(0), i64s(&[2], &[1, 2])]).is_err());
        assert!(run("Slice", 13, vec![], &[x.clone(), one(0), one(4), one(1)]).is_err());
        assert!(run("Slice", 13, vec![], &[x, i64s(&[2], &[0, 0]), i64s(&[2], &[1, 1])]).is_err());
    }

    #[test]
    fn infers_exact_dims_from_constants_only() {
        use crate::ir::{Shape, TensorType};
        use crate::ops::testing::{infer_node, node};
        use crate::tensor::DType;
        let x = TensorType::new(DType::F32, Shape::from_dims(vec![Some(4), None, Some(6)]));
        let idx = |n: usize| TensorType::fixed(DType::I64, &[n]);
        let c = |v: &[i64]| Some((idx(v.len()), Some(i64s(&[v.len()], v))));
        let n = node("Slice", 13, vec![], 4, 1);
        let out = infer_node(&n, &[Some((x.clone(), None)), c(&[1]), c(&[-1]), c(&[0])]).unwrap();
        assert_eq!(out[0].shape, Shape::from_dims(vec![Some(2), None, Some(6)]));
        let out = infer_node(&n, &[Some((x.clone(), None)), Some((idx(1), None)), c(&[3]), c(&[-1])]).unwrap();
        assert_eq!(out[0].shape, Shape::from_dims(vec![Some(4), None, None]));
        let n = node("Slice", 13, vec![], 3, 1);
        let out = infer_node(&n, &[Some((x, None)), Some((idx(1), None)), Some((idx(1), None))]).unwrap();
        assert_eq!(out[0].shape, Shape::from_dims(vec![None, None, Some(6)]));
    }
}
