//! Reductions over a set of axes: ReduceSum, ReduceMean, ReduceMax,
//! ReduceMin, ReduceProd, ReduceL1, ReduceL2, ReduceLogSum,
//! ReduceLogSumExp, ReduceSumSquare.
//! <https://onnx.ai/onnx/operators/onnx__ReduceSum.html> (and siblings)
//!
//! Opsets 1 to 28. The axes are an attribute before opset 13 (ReduceSum) or
//! 18 (the others) and an optional int64 input from then on, with
//! `noop_with_empty_axes`. `keepdims` in every opset.
//!
//! Float inputs are reduced in f64 and rounded once to the input type.
//! Integer inputs use the integer arithmetic of numpy (wrapping sums and
//! products; Mean, L2 and LogSum go through f64 and truncate). ReduceMax and
//! ReduceMin also accept bool (any / all). An empty reduction gives the
//! identity of the operation: 0 for the sums and norms, 1 for Prod, the
//! lowest (highest) value of the type for Max (Min), minus infinity for
//! LogSum and LogSumExp, and NaN for the Mean of floats (0 for integers).

use super::int8_rule::{self, quantize_multiplier, Needs, QuantCx, Rule};
use super::qint::{reduce_groups, IntReduceMean};
use super::{util, Arg, Op, OpDef, Slots, NO_INTEGER_KERNEL};
use crate::front::onnx::OnnxNode;
use crate::ir::{Dim, Shape, TensorType, ValueId};
use crate::tensor::{checked_numel, DType, Num, Tensor};
use crate::{bail, map_num, Result};
use ndarray::{ArrayD, IxDyn};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Sum,
    Mean,
    Max,
    Min,
    Prod,
    L1,
    L2,
    LogSum,
    LogSumExp,
    SumSquare,
}

/// Where the reduced axes come from.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Axes {
    /// The `axes` attribute (opsets before the axes became an input); `None`
    /// reduces every axis.
    Attr(Option<Vec<i64>>),
    /// Optional input 1; absent or empty reduces every axis, or nothing when
    /// `noop_with_empty_axes` is set.
    Input { noop_when_empty: bool },
}

#[derive(Debug, Clone)]
pub struct Reduce {
    pub kind: Kind,
    keepdims: bool,
    axes: Axes,
    opset: i64,
}

/// What the axes resolve to for a given input rank.
enum Plan {
    /// The output is the input.
    Identity,
    /// Reduce these (normalised, distinct) axes.
    Axes(Vec<usize>),
}

impl OpDef for Reduce {
    fn from_onnx(node: &OnnxNode) -> Result<Self> {
        let kind = match node.op_type.as_str() {
            "ReduceSum" => Kind::Sum,
            "ReduceMean" => Kind::Mean,
            "ReduceMax" => Kind::Max,
            "ReduceMin" => Kind::Min,
            "ReduceProd" => Kind::Prod,
            "ReduceL1" => Kind::L1,
            "ReduceL2" => Kind::L2,
            "ReduceLogSum" => Kind::LogSum,
            "ReduceLogSumExp" => Kind::LogSumExp,
            "ReduceSumSquare" => Kind::SumSquare,
            other => bail!("'{other}' is not a reduction"),
        };
        let axes_become_input = if kind == Kind::Sum { 13 } else { 18 };
        let axes = if node.opset >= axes_become_input {
            if node.has("axes") {
                bail!("'axes' is an input, not an attribute, from opset {axes_become_input}");
            }
            Axes::Input { noop_when_empty: node.int("noop_with_empty_axes", 0)? != 0 }
        } else {
            if node.has_input(1) {
                bail!("'axes' is an attribute, not an input, before opset {axes_become_input}");
            }
            Axes::Attr(node.ints_opt("axes")?)
        };
        Ok(Reduce { kind, keepdims: node.int("keepdims", 1)? != 0, axes, opset: node.opset })
    }

    fn infer(&self, inputs: &[Option<Arg>]) -> Result<Vec<TensorType>> {
        let x = inputs.req(0)?.ty;
        self.check_dtype(x.dtype)?;
        let Some(dims) = x.shape.dims() else { return Ok(vec![TensorType::new(x.dtype, Shape::unknown())]) };
        let rank = dims.len();
        let axes_known = match &self.axes {
            Axes::Attr(_) => true,
            Axes::Input { .. } => inputs.opt(1).is_none_or(|a| a.value.is_some()),
        };
        if axes_known {
            let list = match &self.axes {
                Axes::Attr(a) => a.clone(),
                Axes::Input { .. } => util::const_ints(inputs, 1)?,
            };
            let shape = match self.plan(list.as_deref(), rank)? {
                Plan::Identity => x.shape.clone(),
                Plan::Axes(axes) => Shape::from_dims(self.out_dims(dims, &axes)),
            };
            return Ok(vec![TensorType::new(x.dtype, shape)]);
        }
        // The axes are data: only their count may be known.
        let count = inputs.opt(1).and_then(|a| a.ty.shape.as_fixed()).and_then(|s| s.first().copied());
        let unknown_except_ones = || dims.iter().map(|d| if *d == Some(1) { Some(1) } else { None }).collect::<Vec<Dim>>();
        let shape = match (count, self.keepdims) {
            (Some(0), _) => match self.plan(Some(&[]), rank)? {
                Plan::Identity => x.shape.clone(),
                Plan::Axes(axes) => Shape::from_dims(self.out_dims(dims, &axes)),
            },
            (_, true) => Shape::from_dims(unknown_except_ones()),
            (Some(n), false) => {
                if n > rank {
                    bail!("{n} axes given for an input of rank {rank}");
                }
                Shape::of_rank(rank - n)
            }
            (None, false) => Shape::unknown(),
        };
        Ok(vec![TensorType::new(x.dtype, shape)])
    }

    fn eval(&self, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
        let x = inputs.req(0)?;
        self.check_dtype(x.dtype())?;
        let list = match &self.axes {
            Axes::Attr(a) => a.clone(),
            Axes::Input { .. } => inputs.opt(1).map(|t| t.to_i64_vec()).transpose()?,
        };
        let axes = match self.plan(list.as_deref(), x.rank())? {
            Plan::Identity => return Ok(vec![x.clone()]),
            Plan::Axes(axes) => axes,
        };
        let (kind, keep) = (self.kind, self.keepdims);
        let out = match x {
            Tensor::Bool(a) => {
                let max = kind == Kind::Max;
                Tensor::Bool(reduce_lanes(a, &axes, keep, |lane| {
                    if max {
                        lane.iter().any(|&b| b)
                    } else {
                        lane.iter().all(|&b| b)
                    }
                })?)
            }
            x => map_num!(x, a => reduce_lanes(a, &axes, keep, |lane| reduce_lane(kind, lane))?)?,
        };
        Ok(vec![out])
    }

    fn lower(&self, cx: &mut crate::back::lower::LowerCx) -> Result<()> {
        let x = cx.input(0)?.clone();
        let list = match &self.axes {
            Axes::Attr(a) => a.clone(),
            Axes::Input { .. } => match cx.opt_input(1) {
                None => None,
                Some(l) => match &l.constant {
                    Some(c) => Some(c.to_i64_vec()?),
                    // No axes whatever the data.
                    None if l.is_empty() => Some(Vec::new()),
                    None => crate::unsupported!("code generation needs the axes of a reduction to be a constant"),
                },
            },
        };
        let axes = match self.plan(list.as_deref(), x.shape.len())? {
            Plan::Identity => {
                let (_, shape) = cx.output_type(0)?;
                let loc = x.reshaped(shape);
                return cx.alias_output(0, loc);
            }
            Plan::Axes(axes) => axes,
        };
        let kind = match self.kind {
            Kind::Sum => 0,
            Kind::Mean => 1,
            Kind::Max => 2,
            Kind::Min => 3,
            Kind::Prod => 4,
            Kind::L1 => 5,
            Kind::L2 => 6,
            Kind::LogSum => 7,
            Kind::LogSumExp => 8,
            Kind::SumSquare => 9,
        };
        let y = cx.output(0)?;
        super::reduce_lower::reduce(cx, &x, &y, &axes, kind)
    }

    /// int8: ReduceMean as IntReduceMean (the identity on codes when no
    /// axis is reduced) when the shapes and axes are known at compile time;
    /// the other reductions float only.
    fn quantize(&self, rule: Rule) -> Result<int8_rule::Plan> {
        if self.kind != Kind::Mean {
            return Ok(rule.float_only(NO_INTEGER_KERNEL));
        }
        rule.on_codes(Needs::Output, |cx| {
            let ins = cx.inputs();
            let x = ins.req(0)?;
            let Some(xs) = cx.ty(x)?.shape.as_fixed() else { return Ok(int8_rule::Plan::float("input shape known only at run time")) };
            let given = cx.input_constant(1);
            if ins.opt(1).is_some() && given.is_none() {
                return Ok(int8_rule::Plan::float("axes known only at run time"));
            }
            let axes = self.resolved_axes(given.as_deref(), xs.len())?;
            if axes.is_empty() {
                return cx.passthrough();
            }
            mean_on_codes(cx, x, &xs, &axes)
        })
    }
}

/// IntReduceMean of `x` (shape `xs`) over `axes`, requantized to the
/// output's parameters, once the int32 sum is proven not to overflow.
fn mean_on_codes(cx: &mut dyn QuantCx, x: ValueId, xs: &[usize], axes: &[usize]) -> Result<int8_rule::Plan> {
    let y = cx.first_output()?;
    let Some(ys) = cx.ty(y)?.shape.as_fixed() else { return Ok(int8_rule::Plan::float("output shape known only at run time")) };
    let count: usize = axes.iter().map(|&a| xs[a]).product();
    let px = cx.code_params(x)?;
    let po = cx.params(y)?;
    let Some(m) = quantize_multiplier(px.scale as f64 / (count.max(1) as f64 * po.scale as f64)) else {
        return Ok(int8_rule::Plan::float("scales too far apart"));
    };
    // |Σ (q − z_x)| ≤ count · max |q − z_x|, times 2^max(e, 0) inside `requantize`.
    let (x_min, x_max) = px.code_range();
    let x_bound = (px.zero - x_min).max(x_max - px.zero) as u128;
    if (count as u128 * x_bound) << m.exponent.max(0) >= 1 << 31 {
        return Ok(int8_rule::Plan::float(format!("the int32 sum of {count} elements could overflow")));
    }
    let (xq, _) = cx.as_int(x)?;
    let (kept, reduced) = reduce_groups(xs, axes);
    let (lo, hi) = po.code_range();
    let op = IntReduceMean { kept, reduced, out_shape: ys, x_zero: px.zero, m, stage: cx.stage(po, lo, hi) };
    cx.emit(y, po, "IntReduceMean", Op::IntReduceMean(op), &[Some(xq)])
}

impl Reduce {
    /// The reduced axes (increasing, distinct) for an input of `rank`, the
    /// axes input being `given` when the opset takes them as an input;
    /// empty when the operator is the identity (`noop_with_empty_axes`).
    pub fn resolved_axes(&self, given: Option<&Tensor>, rank: usize) -> Result<Vec<usize>> {
        let list = match &self.axes {
            Axes::Attr(a) => a.clone(),
            Axes::Input { .. } => given.map(|t| t.to_i64_vec()).transpose()?,
        };
        Ok(match self.plan(list.as_deref(), rank)? {
            Plan::Identity => Vec::new(),
            Plan::Axes(mut axes) => {
                axes.sort_unstable();
                axes.dedup();
                axes
            }
        })
    }

    fn check_dtype(&self, d: DType) -> Result<()> {
        let ok = match self.kind {
            Kind::Max | Kind::Min => d.is_int() || d.is_float() || d == DType::Bool,
            // Integer inputs were dropped from the schema in opset 28.
            Kind::LogSum | Kind::LogSumExp if self.opset >= 28 => d.is_float(),
            _ => d.is_int() || d.is_float(),
        };
        if !ok {
            bail!("{:?} does not accept {d} inputs", self.kind);
        }
        Ok(())
    }

    /// Resolves the axes list (`None` = not given) for an input of `rank`.
    fn plan(&self, list: Option<&[i64]>, rank: usize) -> Result<Plan> {
        match list {
            Some(l) if !l.is_empty() => Ok(Plan::Axes(util::axes(l, rank)?)),
            _ => match self.axes {
                Axes::Input { noop_when_empty: true } => Ok(Plan::Identity),
                _ => Ok(Plan::Axes((0..rank).collect())),
            },
        }
    }

    fn out_dims(&self, dims: &[Dim], axes: &[usize]) -> Vec<Dim> {
        let mut out = Vec::with_capacity(dims.len());
        for (i, d) in dims.iter().enumerate() {
            if !axes.contains(&i) {
                out.push(*d);
            } else if self.keepdims {
                out.push(Some(1));
            }
        }
        out
    }
}

/// Applies `f` to every lane of the elements reduced together (the reduced
/// axes, in their order) and gathers the results in the output shape.
pub fn reduce_lanes<T: Clone, U>(a: &ArrayD<T>, axes: &[usize], keepdims: bool, f: impl Fn(&[T]) -> U) -> Result<ArrayD<U>> {
    let shape = a.shape();
    if let Some(bad) = axes.iter().find(|&&i| i >= shape.len()) {
        bail!("axis {bad} is out of range for rank {}", shape.len());
    }
    let kept: Vec<usize> = (0..shape.len()).filter(|i| !axes.contains(i)).collect();
    let perm: Vec<usize> = kept.iter().chain(axes).copied().collect();
    let reduced_dims: Vec<usize> = axes.iter().map(|&i| shape[i]).collect();
    let kept_dims: Vec<usize> = kept.iter().map(|&i| shape[i]).collect();
    // Either product may exceed the input's size when the other one is 0.
    let lane_len = checked_numel(&reduced_dims)?;
    let count = checked_numel(&kept_dims)?;
    let permuted = a.view().permuted_axes(IxDyn(&perm));
    let standard = permuted.as_standard_layout();
    let Some(flat) = standard.as_slice() else { bail!("internal error: reduction input is not contiguous") };
    let mut values = Vec::with_capacity(count);
    for i in 0..count {
        let start = i * lane_len;
        match flat.get(start..start + lane_len) {
            Some(lane) => values.push(f(lane)),
            None => bail!("internal error: reduction lane {i} is out of range"),
        }
    }
    let out_dims: Vec<usize> = if keepdims {
        shape.iter().enumerate().map(|(i, &d)| if axes.contains(&i) { 1 } else { d }).collect()
    } else {
        kept_dims
    };
    ArrayD::from_shape_vec(IxDyn(&out_dims), values).map_err(|e| crate::Error::Op(format!("reduction output: {e}")))
}

fn reduce_lane<T: Num>(kind: Kind, lane: &[T]) -> T {
    if T::IS_FLOAT {
        T::from_f64(reduce_float(kind, lane.iter().map(|v| v.to_f64())))
    } else {
        reduce_int(kind, lane)
    }
}

fn reduce_float(kind: Kind, values: impl Iterator<Item = f64> + Clone) -> f64 {
    fn sum(it: impl Iterator<Item = f64>) -> f64 {
        it.fold(0.0, |s, v| s + v)
    }
    // NaN wins, as in numpy's maximum/minimum.
    fn pick(m: f64, v: f64, better: bool) -> f64 {
        if m.is_nan() || v.is_nan() {
            f64::NAN
        } else if better {
            v
        } else {
            m
        }
    }
    match kind {
        Kind::Sum => sum(values),
        Kind::Mean => {
            let n = values.clone().count();
            sum(values) / n as f64
        }
        Kind::Max => values.fold(f64::NEG_INFINITY, |m, v| pick(m, v, v > m)),
        Kind::Min => values.fold(f64::INFINITY, |m, v| pick(m, v, v < m)),
        Kind::Prod => values.fold(1.0, |p, v| p * v),
        Kind::L1 => sum(values.map(f64::abs)),
        Kind::L2 => sum(values.map(|v| v * v)).sqrt(),
        Kind::LogSum => sum(values).ln(),
        Kind::LogSumExp => {
            // Shift by the largest finite value so exp cannot overflow.
            let shift = values.clone().filter(|v| v.is_finite()).fold(f64::NEG_INFINITY, f64::max);
            let shift = if shift.is_finite() { shift } else { 0.0 };
            shift + sum(values.map(|v| (v - shift).exp())).ln()
        }
        Kind::SumSquare => sum(values.map(|v| v * v)),
    }
}

fn reduce_int<T: Num>(kind: Kind, lane: &[T]) -> T {
    let sum = |f: &dyn Fn(T) -> T| lane.iter().fold(T::zero(), |s, &v| s.add(f(v)));
    let abs = |v: T| if v < T::zero() { T::zero().sub(v) } else { v };
    match kind {
        Kind::Sum => sum(&|v| v),
        Kind::Mean => {
            if lane.is_empty() {
                T::zero()
            } else {
                T::from_f64(sum(&|v| v).to_f64() / lane.len() as f64)
            }
        }
        Kind::Max => lane.iter().fold(T::min_value(), |m, &v| if v > m { v } else { m }),
        Kind::Min => lane.iter().fold(T::max_value(), |m, &v| if v < m { v } else { m }),
        Kind::Prod => lane.iter().fold(T::one(), |p, &v| p.mul(v)),
        Kind::L1 => sum(&abs),
        Kind::L2 => T::from_f64(sum(&|v| v.mul(v)).to_f64().sqrt()),
        Kind::LogSum => T::from_f64(sum(&|v| v).to_f64().ln()),
        Kind::LogSumExp => T::from_f64(reduce_float(kind, lane.iter().map(|v| v.to_f64()))),
        Kind::SumSquare => sum(&|v| v.mul(v)),
    }
}

#[cfg(test)]
mod tests {
    use crate::front::onnx::Attr;
    use crate::ir::Shape;
    use crate::ops::testing::{f32s, i64s, infer, run};
    use crate::tensor::Tensor;

    #[test]
    fn constant_axes_give_exact_shapes() {
        let x = f32s(&[2, 3, 4], &[0.0; 24]);
        let axes = i64s(&[1], &[-2]);
        let exact = infer("ReduceMax", 18, vec![("keepdims", Attr::Int(0))], &[x.clone(), axes.clone()], &[1]).unwrap();
        assert_eq!(exact[0].shape, Shape::fixed(&[2, 4]));
        let data = infer("ReduceMax", 18, vec![("keepdims", Attr::Int(0))], &[x.clone(), axes.clone()], &[]).unwrap();
        assert_eq!(data[0].shape, Shape::of_rank(2));
        let kept = infer("ReduceMax", 18, vec![], &[x, axes], &[]).unwrap();
        assert_eq!(kept[0].shape, Shape::of_rank(3));
    }

    #[test]
    fn sum_with_axes_input_and_attribute() {
        let x = f32s(&[2, 3], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        let by_input = run("ReduceSum", 13, vec![("keepdims", Attr::Int(0))], &[x.clone(), i64s(&[1], &[1])]).unwrap();
        assert_eq!(by_input[0], f32s(&[2], &[6.0, 15.0]));
        let by_attr = run("ReduceSum", 11, vec![("axes", Attr::Ints(vec![-2]))], &[x]).unwrap();
        assert_eq!(by_attr[0], f32s(&[1, 3], &[5.0, 7.0, 9.0]));
    }

    #[test]
    fn empty_axes_reduce_all_or_nothing() {
        let x = f32s(&[2, 2], &[1.0, 2.0, 3.0, 4.0]);
        let all = run("ReduceMean", 18, vec![("keepdims", Attr::Int(0))], std::slice::from_ref(&x)).unwrap();
        assert_eq!(all[0], Tensor::scalar(2.5f32));
        let noop = run("ReduceMean", 18, vec![("noop_with_empty_axes", Attr::Int(1))], &[x.clone(), i64s(&[0], &[])]).unwrap();
        assert_eq!(noop[0], x);
    }

    #[test]
    fn empty_reductions_give_the_identity() {
        let x = f32s(&[2, 0], &[]);
        let cases = [
            ("ReduceSum", 0.0),
            ("ReduceProd", 1.0),
            ("ReduceMax", f32::NEG_INFINITY),
            ("ReduceMin", f32::INFINITY),
            ("ReduceLogSumExp", f32::NEG_INFINITY),
            ("ReduceL2", 0.0),
        ];
        for (op, want) in cases {
            let out = run(op, 18, vec![], &[x.clone(), i64s(&[1], &[1])]).unwrap();
            assert_eq!(out[0], f32s(&[2, 1], &[want, want]), "{op}");
        }
        let ints = run("ReduceMax", 18, vec![], &[i64s(&[0], &[])]).unwrap();
        assert_eq!(ints[0], i64s(&[1], &[i64::MIN]));
    }

    #[test]
    fn integers_wrap_and_bools_reduce() {
        let x = Tensor::from_vec(&[2], vec![i32::MAX, 1]).unwrap();
        assert_eq!(run("ReduceSum", 13, vec![], &[x]).unwrap()[0], Tensor::from_vec(&[1], vec![i32::MIN]).unwrap());
        let b = Tensor::from_vec(&[2, 2], vec![true, false, false, false]).unwrap();
        let any = run("ReduceMax", 20, vec![], &[b.clone(), i64s(&[1], &[1])]).unwrap();
        assert_eq!(any[0], Tensor::from_vec(&[2, 1], vec![true, false]).unwrap());
        let all = run("ReduceMin", 20, vec![], &[b, i64s(&[1], &[0])]).unwrap();
        assert_eq!(all[0], Tensor::from_vec(&[1, 2], vec![false, false]).unwrap());
    }

    #[test]
    fn log_sum_exp_is_stable() {
        let x = f32s(&[3], &[1000.0, 1000.0, f32::NEG_INFINITY]);
        let out = run("ReduceLogSumExp", 18, vec![("keepdims", Attr::Int(0))], &[x]).unwrap();
        let v = out[0].scalar_f64().unwrap();
        assert!((v - (1000.0 + 2f64.ln())).abs() < 1e-3, "{v}");
    }

    #[test]
    fn bad_axes_are_errors() {
        let x = f32s(&[2, 2], &[1.0, 2.0, 3.0, 4.0]);
        assert!(run("ReduceSum", 13, vec![], &[x.clone(), i64s(&[1], &[2])]).is_err());
        assert!(run("ReduceSum", 13, vec![], &[x.clone(), i64s(&[2], &[0, -2])]).is_err());
        assert!(run("ReduceMax", 11, vec![("axes", Attr::Ints(vec![5]))], std::slice::from_ref(&x)).is_err());
        assert!(run("ReduceLogSum", 28, vec![], &[i64s(&[1], &[1])]).is_err());
    }
}
