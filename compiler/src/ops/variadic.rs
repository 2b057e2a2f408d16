//! Elementwise reductions over any number of inputs with multidirectional
//! (numpy) broadcasting: Min, Max, Sum, Mean.
//! <https://onnx.ai/onnx/operators/onnx__Max.html> (and the pages of the others)
//!
//! All inputs share one numeric element type. Min and Max take integers and
//! floats and propagate NaN like numpy's `minimum`/`maximum`; Sum and Mean
//! take floats. Accumulation is in the element type, input by input (as the
//! ONNX reference does), and Mean divides the sum by the input count.

use super::{util, Arg, LowerCx, OpDef};
use crate::back::program::{ScalarFn, Step};
use crate::front::onnx::OnnxNode;
use crate::ir::TensorType;
use crate::tensor::{DType, Num, Tensor};
use crate::{bail, map2_num, map_num, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Min,
    Max,
    Sum,
    Mean,
}

#[derive(Debug, Clone)]
pub struct Variadic {
    kind: Kind,
}

impl OpDef for Variadic {
    fn from_onnx(node: &OnnxNode) -> Result<Self> {
        let kind = match node.op_type.as_str() {
            "Min" => Kind::Min,
            "Max" => Kind::Max,
            "Sum" => Kind::Sum,
            "Mean" => Kind::Mean,
            other => bail!("'{other}' is not a variadic elementwise operator"),
        };
        Ok(Variadic { kind })
    }

    fn infer(&self, inputs: &[Option<Arg>]) -> Result<Vec<TensorType>> {
        let present: Vec<&TensorType> = inputs.iter().flatten().map(|a| a.ty).collect();
        let dtype = self.check_dtypes(present.iter().map(|t| t.dtype))?;
        Ok(vec![util::broadcast_type(inputs, dtype)?])
    }

    fn eval(&self, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
        let present: Vec<&Tensor> = inputs.iter().flatten().copied().collect();
        self.check_dtypes(present.iter().map(|t| t.dtype()))?;
        let Some((first, rest)) = present.split_first() else { bail!("{:?} needs at least one input", self.kind) };
        let k = self.kind;
        let mut acc = (*first).clone();
        for t in rest {
            acc = map2_num!(&acc, *t, (x, y) => util::zip2(x, y, |p, q| combine(k, p, q))?)?;
        }
        if k == Kind::Mean {
            let n = present.len() as f64;
            acc = map_num!(&acc, a => a.mapv(|v| v.div(Num::from_f64(n))))?;
        }
        Ok(vec![acc])
    }

    /// The first two inputs combined into the output, then every further
    /// input into the output in place; Mean divides in place at the end.
    fn lower(&self, cx: &mut LowerCx) -> Result<()> {
        let present: Vec<_> = (0..cx.num_inputs()).filter_map(|i| cx.opt_input(i).cloned()).collect();
        let dtype = self.check_dtypes(present.iter().map(|l| l.dtype))?;
        let Some((first, rest)) = present.split_first() else { bail!("{:?} needs at least one input", self.kind) };
        if rest.is_empty() {
            return cx.alias_output(0, first.clone());
        }
        let name = match self.kind {
            Kind::Min => "min",
            Kind::Max => "max",
            Kind::Sum | Kind::Mean => "add",
        };
        let out = cx.output(0)?;
        let f = ScalarFn::new(name, vec![dtype, dtype], dtype);
        cx.map(f.clone(), &[first, &rest[0]], &out)?;
        for x in &rest[1..] {
            let view = x.broadcast_view(&out.shape)?;
            cx.push(Step::Map { f: f.clone(), inputs: vec![out.view(), view], output: out.view(), shape: out.shape.clone() });
        }
        if self.kind == Kind::Mean {
            let n = cx.constant("count", Tensor::scalar(present.len() as f64).cast(dtype)?);
            let f = ScalarFn::new("div", vec![dtype, dtype], dtype);
            let view = n.broadcast_view(&out.shape)?;
            cx.push(Step::Map { f, inputs: vec![out.view(), view], output: out.view(), shape: out.shape.clone() });
        }
        Ok(())
    }

    /// int8: float only.
    fn quantize(&self, rule: super::Rule) -> Result<super::Plan> {
        Ok(rule.float_only(super::NO_INTEGER_KERNEL))
    }
}

impl Variadic {
    /// The common element type of the inputs, if this operator accepts it.
    fn check_dtypes(&self, mut dtypes: impl Iterator<Item = DType>) -> Result<DType> {
        let Some(d) = dtypes.next() else { bail!("{:?} needs at least one input", self.kind) };
        if let Some(other) = dtypes.find(|&o| o != d) {
            bail!("{:?}: inputs have different element types ({d} and {other})", self.kind);
        }
        let ok = match self.kind {
            Kind::Min | Kind::Max => d.is_int() || d.is_float(),
            Kind::Sum | Kind::Mean => d.is_float(),
        };
        if !ok {
            bail!("{:?} does not accept {d} inputs", self.kind);
        }
        Ok(d)
    }
}

fn combine<T: Num>(k: Kind, p: T, q: T) -> T {
    // `x != x` only for NaN; the NaN operand wins, as in numpy.
    #[allow(clippy::eq_op)]
    let (p_nan, q_nan) = (p != p, q != q);
    match k {
        Kind::Min | Kind::Max if p_nan => p,
        Kind::Min | Kind::Max if q_nan => q,
        Kind::Min => {
            if q < p {
                q
            } else {
                p
            }
        }
        Kind::Max => {
            if q > p {
                q
            } else {
                p
            }
        }
        Kind::Sum | Kind::Mean => p.add(q),
    }
}

#[cfg(test)]
mod tests {
    use crate::ops::testing::{f32s, i64s, run};

    #[test]
    fn max_propagates_nan_and_broadcasts() {
        let a = f32s(&[2, 1], &[f32::NAN, 1.0]);
        let b = f32s(&[2], &[0.0, 5.0]);
        let out = run("Max", 13, vec![], &[a, b]).unwrap();
        let v: Vec<f32> = out[0].to_f64_vec().unwrap().into_iter().map(|x| x as f32).collect();
        assert!(v[0].is_nan() && v[1].is_nan());
        assert_eq!(&v[2..], &[1.0, 5.0]);
    }

    #[test]
    fn min_of_three_ints() {
        let out = run("Min", 13, vec![], &[i64s(&[2], &[3, -1]), i64s(&[1], &[2]), i64s(&[2, 1], &[0, 9])]).unwrap();
        assert_eq!(out[0], i64s(&[2, 2], &[0, -1, 2, -1]));
    }

    #[test]
    fn mean_divides_by_count() {
        let out = run("Mean", 13, vec![], &[f32s(&[2], &[1.0, 2.0]), f32s(&[2], &[3.0, 6.0])]).unwrap();
        assert_eq!(out[0], f32s(&[2], &[2.0, 4.0]));
    }

    #[test]
    fn sum_rejects_ints_and_mixed_types() {
        assert!(run("Sum", 13, vec![], &[i64s(&[1], &[1])]).is_err());
        assert!(run("Max", 13, vec![], &[i64s(&[1], &[1]), f32s(&[1], &[1.0])]).is_err());
        assert!(run("Max", 13, vec![], &[]).is_err());
    }
}
