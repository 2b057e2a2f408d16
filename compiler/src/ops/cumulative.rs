//! CumSum and CumProd: running sums (products) along one axis.
//! <https://onnx.ai/onnx/operators/onnx__CumSum.html>,
//! <https://onnx.ai/onnx/operators/onnx__CumProd.html>
//!
//! CumSum opsets 11 and 14, CumProd opset 26: the axis is an int32/int64
//! input holding one value; `exclusive` (each output leaves out its own
//! element) and `reverse` (run from the end). Integer and float inputs;
//! integers wrap, floats accumulate in f64 and round each output once.

use super::{util, Arg, OpDef, Slots};
use crate::front::onnx::OnnxNode;
use crate::ir::TensorType;
use crate::tensor::{DType, Num, Tensor};
use crate::{bail, map_num, Result};
use ndarray::{ArrayD, Axis};

#[derive(Debug, Clone)]
pub struct Cumulative {
    product: bool,
    exclusive: bool,
    reverse: bool,
}

impl OpDef for Cumulative {
    fn from_onnx(node: &OnnxNode) -> Result<Self> {
        let product = match node.op_type.as_str() {
            "CumSum" => false,
            "CumProd" => true,
            other => bail!("'{other}' is not CumSum or CumProd"),
        };
        Ok(Cumulative { product, exclusive: node.int("exclusive", 0)? != 0, reverse: node.int("reverse", 0)? != 0 })
    }

    fn infer(&self, inputs: &[Option<Arg>]) -> Result<Vec<TensorType>> {
        let x = inputs.req(0)?.ty;
        check_dtype(x.dtype)?;
        let axis = inputs.req(1)?;
        if !matches!(axis.ty.dtype, DType::I32 | DType::I64) {
            bail!("the axis must be int32 or int64, got {}", axis.ty.dtype);
        }
        if let (Some(t), Some(rank)) = (axis.value, x.shape.rank()) {
            util::axis(axis_value(t)?, rank)?;
        }
        Ok(vec![x.clone()])
    }

    fn eval(&self, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
        let x = inputs.req(0)?;
        check_dtype(x.dtype())?;
        let axis = util::axis(axis_value(inputs.req(1)?)?, x.rank())?;
        let out = map_num!(x, a => self.run(a, axis))?;
        Ok(vec![out])
    }

    fn lower(&self, cx: &mut crate::back::lower::LowerCx) -> Result<()> {
        let x = cx.input(0)?.clone();
        let axis = cx.input(1)?.clone();
        let y = cx.output(0)?;
        let flags = [self.product, self.exclusive, self.reverse];
        match &axis.constant {
            Some(a) => {
                let a = util::axis(axis_value(a)?, x.shape.len())?;
                super::reduce_lower::cumulative(cx, &x, &y, a, flags)
            }
            None => super::reduce_lower::cumulative_runtime_axis(cx, &x, &axis, &y, flags),
        }
    }

    /// int8: float only.
    fn quantize(&self, rule: super::Rule) -> Result<super::Plan> {
        Ok(rule.float_only(super::NO_INTEGER_KERNEL))
    }
}

impl Cumulative {
    fn run<T: Num>(&self, a: &ArrayD<T>, axis: usize) -> ArrayD<T> {
        let mut out = a.clone();
        for mut lane in out.lanes_mut(Axis(axis)) {
            let step = |v: &mut T, acc: &mut Acc<T>| {
                let own = *v;
                if self.exclusive {
                    *v = acc.value();
                    acc.push(own, self.product);
                } else {
                    acc.push(own, self.product);
                    *v = acc.value();
                }
            };
            let mut acc = Acc::new(self.product);
            if self.reverse {
                lane.iter_mut().rev().for_each(|v| step(v, &mut acc));
            } else {
                lane.iter_mut().for_each(|v| step(v, &mut acc));
            }
        }
        out
    }
}

/// A running sum or product: f64 for floats, the element type for integers.
enum Acc<T> {
    Float(f64),
    Int(T),
}

impl<T: Num> Acc<T> {
    fn new(product: bool) -> Acc<T> {
        match (T::IS_FLOAT, product) {
            (true, false) => Acc::Float(0.0),
            (true, true) => Acc::Float(1.0),
            (false, false) => Acc::Int(T::zero()),
            (false, true) => Acc::Int(T::one()),
        }
    }

    fn push(&mut self, v: T, product: bool) {
        match self {
            Acc::Float(a) if product => *a *= v.to_f64(),
            Acc::Float(a) => *a += v.to_f64(),
            Acc::Int(a) if product => *a = a.mul(v),
            Acc::Int(a) => *a = a.add(v),
        }
    }

    fn value(&self) -> T {
        match self {
            Acc::Float(a) => T::from_f64(*a),
            Acc::Int(a) => *a,
        }
    }
}

fn check_dtype(d: DType) -> Result<()> {
    if !(d.is_int() || d.is_float()) {
        bail!("CumSum/CumProd do not accept {d} inputs");
    }
    Ok(())
}

/// The axis input: a scalar or a one-element 1-D tensor.
fn axis_value(t: &Tensor) -> Result<i64> {
    if t.rank() > 1 {
        bail!("the axis must be a scalar, got shape {:?}", t.shape());
    }
    t.scalar_i64()
}

#[cfg(test)]
mod tests {
    use crate::front::onnx::Attr;
    use crate::ops::testing::{f32s, i64s, run};
    use crate::tensor::Tensor;

    #[test]
    fn exclusive_reverse_sum() {
        let x = f32s(&[4], &[1.0, 2.0, 3.0, 4.0]);
        let axis = Tensor::scalar(0i32);
        let out = run("CumSum", 14, vec![("exclusive", Attr::Int(1)), ("reverse", Attr::Int(1))], &[x, axis]).unwrap();
        assert_eq!(out[0], f32s(&[4], &[9.0, 7.0, 4.0, 0.0]));
    }

    #[test]
    fn product_along_an_axis() {
        let x = i64s(&[2, 3], &[1, 2, 3, 4, 5, 6]);
        let out = run("CumProd", 26, vec![], &[x.clone(), i64s(&[], &[-1])]).unwrap();
        assert_eq!(out[0], i64s(&[2, 3], &[1, 2, 6, 4, 20, 120]));
        let exclusive = run("CumProd", 26, vec![("exclusive", Attr::Int(1))], &[x, i64s(&[], &[0])]).unwrap();
        assert_eq!(exclusive[0], i64s(&[2, 3], &[1, 1, 1, 1, 2, 3]));
    }

    #[test]
    fn bad_axis_is_an_error() {
        let x = f32s(&[2], &[1.0, 2.0]);
        assert!(run("CumSum", 14, vec![], &[x.clone(), i64s(&[], &[1])]).is_err());
        assert!(run("CumSum", 14, vec![], &[x.clone(), i64s(&[2], &[0, 0])]).is_err());
        assert!(run("CumSum", 14, vec![], &[x, f32s(&[], &[0.0])]).is_err());
    }
}
