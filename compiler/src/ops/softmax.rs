//! Softmax, LogSoftmax and Hardmax.
//! <https://onnx.ai/onnx/operators/onnx__Softmax.html> (and siblings)
//!
//! Opsets 1 to 13. Before opset 13 the input is viewed as a 2-D matrix
//! `[d0 * .. * d(axis-1), d(axis) * .. * d(n-1)]` (axis default 1) and each
//! row is normalised; from opset 13 the operation runs along the single
//! axis `axis` (default -1). Float inputs, computed in f64 and rounded once.
//! Hardmax puts 1 at the first maximum of each row (NaN counts as the
//! maximum) and 0 elsewhere.

use super::arg_extrema::arg_extremum;
use super::int8_rule::{Needs, Plan, QParams, QuantCx, Rule};
use super::qint::{softmax_output, softmax_table, IntSoftmax, SOFTMAX_MAX_ROW};
use super::{util, Arg, Op, OpDef, Slots, NO_INTEGER_KERNEL};
use crate::front::onnx::OnnxNode;
use crate::ir::TensorType;
use crate::tensor::{checked_numel, Num, Tensor};
use crate::{bail, map_float, Result};
use ndarray::{ArrayD, ArrayViewMut1, Axis, IxDyn};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Softmax,
    LogSoftmax,
    Hardmax,
}

#[derive(Debug, Clone)]
pub struct Softmax {
    pub kind: Kind,
    axis: i64,
    /// Opset < 13: normalise over all axes from `axis` on.
    flatten: bool,
}

impl OpDef for Softmax {
    fn from_onnx(node: &OnnxNode) -> Result<Self> {
        let kind = match node.op_type.as_str() {
            "Softmax" => Kind::Softmax,
            "LogSoftmax" => Kind::LogSoftmax,
            "Hardmax" => Kind::Hardmax,
            other => bail!("'{other}' is not Softmax, LogSoftmax or Hardmax"),
        };
        let flatten = node.opset < 13;
        let axis = node.int("axis", if flatten { 1 } else { -1 })?;
        Ok(Softmax { kind, axis, flatten })
    }

    fn infer(&self, inputs: &[Option<Arg>]) -> Result<Vec<TensorType>> {
        let x = inputs.req(0)?.ty;
        if !x.dtype.is_float() {
            bail!("{:?} needs a float input, got {}", self.kind, x.dtype);
        }
        if let Some(rank) = x.shape.rank() {
            self.normalised_axis(rank)?;
        }
        Ok(vec![x.clone()])
    }

    fn eval(&self, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
        let x = inputs.req(0)?;
        let axis = self.normalised_axis(x.rank())?;
        let out = map_float!(x, a => self.run(a, axis)?)?;
        Ok(vec![out])
    }

    /// Probabilities (Softmax) and one-hot rows (Hardmax) lie in [0, 1];
    /// LogSoftmax is unbounded below.
    fn output_bounds(&self, _inputs: &[Option<Arg>]) -> Option<(f64, f64)> {
        (self.kind != Kind::LogSoftmax).then_some((0.0, 1.0))
    }

    fn lower(&self, cx: &mut crate::back::lower::LowerCx) -> Result<()> {
        let x = cx.input(0)?.clone();
        let axis = self.normalised_axis(x.shape.len())?;
        let dims = if self.flatten {
            [x.shape[..axis].iter().product(), x.shape[axis..].iter().product(), 1]
        } else {
            super::reduce_lower::around(&x.shape, axis)
        };
        let kind = match self.kind {
            Kind::Softmax => 0,
            Kind::LogSoftmax => 1,
            Kind::Hardmax => 2,
        };
        let y = cx.output(0)?;
        super::reduce_lower::softmax(cx, &x, &y, dims, kind)
    }

    /// int8: Softmax as IntSoftmax on rows of at most `SOFTMAX_MAX_ROW`;
    /// LogSoftmax and Hardmax float only.
    fn quantize(&self, rule: Rule) -> Result<Plan> {
        if self.kind != Kind::Softmax {
            return Ok(rule.float_only(NO_INTEGER_KERNEL));
        }
        rule.on_codes(Needs::Output, |cx| self.on_codes(cx))
    }
}

impl Softmax {
    /// IntSoftmax with its exponential table (NUMERICS.md, "Softmax"). The
    /// output parameters are fixed, whatever was calibrated: scale 1/255
    /// and zero point −128 (int8) or 0 (uint8), so the probabilities [0, 1]
    /// map exactly onto the 256 codes (1 included) and the quotient is
    /// exact integer arithmetic.
    fn on_codes(&self, cx: &mut dyn QuantCx) -> Result<Plan> {
        let x = cx.inputs().req(0)?;
        let y = cx.first_output()?;
        let Some(shape) = cx.ty(x)?.shape.as_fixed() else { return Ok(Plan::float("shape known only at run time")) };
        let rows = self.rows(&shape)?;
        if rows[1] > SOFTMAX_MAX_ROW {
            return Ok(Plan::float(format!("rows of {} exceed the integer softmax's {SOFTMAX_MAX_ROW}", rows[1])));
        }
        let (xq, px) = cx.as_int(x)?;
        let (len, recip, zero) = softmax_output(px.dtype)?;
        let po = QParams { scale: (1.0 / recip as f64) as f32, zero, dtype: px.dtype };
        let table = softmax_table(px.dtype, px.scale as f64)?;
        let t = cx.add_constant(format!("{}_exp_table", cx.name(y)), Tensor::from_vec(&[len], table)?);
        let op = IntSoftmax { rows, y_zero: zero, recip };
        cx.emit(y, po, "IntSoftmax", Op::IntSoftmax(op), &[Some(xq), Some(t)])
    }
}

impl Softmax {
    /// `[outer, len, inner]`: the rows this operator normalises in a
    /// tensor of `shape` (row-major), under the operator's opset semantics
    /// (before 13: all axes from `axis` on form one row).
    pub fn rows(&self, shape: &[usize]) -> Result<[usize; 3]> {
        let axis = self.normalised_axis(shape.len())?;
        Ok(if self.flatten {
            [shape[..axis].iter().product(), shape[axis..].iter().product(), 1]
        } else {
            super::reduce_lower::around(shape, axis)
        })
    }

    fn normalised_axis(&self, rank: usize) -> Result<usize> {
        if self.flatten {
            // The old semantics accept axis == rank (one column per row), and a scalar.
            let r = rank as i64;
            if self.axis < -r || self.axis > r {
                bail!("axis {} is out of range for rank {rank}", self.axis);
            }
            Ok(if self.axis < 0 { (self.axis + r) as usize } else { self.axis as usize })
        } else {
            util::axis(self.axis, rank)
        }
    }

    fn run<T: Num>(&self, a: &ArrayD<T>, axis: usize) -> Result<ArrayD<T>> {
        let kind = self.kind;
        if !self.flatten {
            let mut out = a.clone();
            out.lanes_mut(Axis(axis)).into_iter().for_each(|lane| normalise(kind, lane));
            return Ok(out);
        }
        let shape = a.shape();
        let rows = checked_numel(&shape[..axis])?;
        let cols = checked_numel(&shape[axis..])?;
        let data: Vec<T> = a.iter().copied().collect();
        let mut matrix = ArrayD::from_shape_vec(IxDyn(&[rows, cols]), data)
            .map_err(|e| crate::Error::Op(format!("cannot view the input as a matrix: {e}")))?;
        matrix.lanes_mut(Axis(1)).into_iter().for_each(|lane| normalise(kind, lane));
        crate::tensor::reshape_array(&matrix, shape)
    }
}

/// Normalises one row in place.
pub(super) fn normalise<T: Num>(kind: Kind, mut row: ArrayViewMut1<T>) {
    if row.is_empty() {
        return;
    }
    if kind == Kind::Hardmax {
        let hot = arg_extremum(row.view(), true, false);
        for (i, v) in row.iter_mut().enumerate() {
            *v = if i == hot { T::one() } else { T::zero() };
        }
        return;
    }
    let max = row.iter().map(|v| v.to_f64()).fold(f64::NEG_INFINITY, f64::max);
    // A row of -inf (or +inf) has no finite shift; exp(x - max) is then NaN, as in numpy.
    let sum: f64 = row.iter().map(|v| (v.to_f64() - max).exp()).fold(0.0, |s, e| s + e);
    let log_sum = sum.ln();
    for v in row.iter_mut() {
        let shifted = v.to_f64() - max;
        *v = T::from_f64(match kind {
            Kind::LogSoftmax => shifted - log_sum,
            _ => shifted.exp() / sum,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::softmax_table;
    use crate::front::onnx::Attr;
    use crate::ops::testing::{f32s, run};

    #[test]
    fn the_table_starts_at_one_and_decreases() {
        let t = softmax_table(crate::tensor::DType::I8, 0.05).unwrap();
        assert_eq!(t[0], 1 << 30);
        assert!(t.windows(2).all(|w| w[1] <= w[0]));
        assert_eq!(t[20], ((1u64 << 30) as f64 * (-1f64).exp()).round() as i32);
    }

    fn close(a: &crate::tensor::Tensor, b: &[f64]) {
        let v = a.to_f64_vec().unwrap();
        assert_eq!(v.len(), b.len());
        for (x, y) in v.iter().zip(b) {
            assert!((x - y).abs() < 1e-6 * y.abs().max(1.0), "{v:?} vs {b:?}");
        }
    }

    #[test]
    fn old_opsets_flatten_at_axis() {
        let x = f32s(&[1, 2, 2], &[0.0, 0.0, 0.0, 0.0]);
        // Opset 11, axis 1: one row of four elements.
        close(&run("Softmax", 11, vec![], std::slice::from_ref(&x)).unwrap()[0], &[0.25; 4]);
        // Opset 13, axis 1: columns of two.
        close(&run("Softmax", 13, vec![("axis", Attr::Int(1))], &[x]).unwrap()[0], &[0.5; 4]);
    }

    #[test]
    fn log_softmax_is_stable_and_hardmax_picks_the_first() {
        let x = f32s(&[3], &[1000.0, 1000.0, 0.0]);
        let l = run("LogSoftmax", 13, vec![], std::slice::from_ref(&x)).unwrap();
        close(&l[0], &[-(2f64.ln()), -(2f64.ln()), -1000.0 - 2f64.ln()]);
        let h = run("Hardmax", 13, vec![], &[x]).unwrap();
        close(&h[0], &[1.0, 0.0, 0.0]);
    }

    #[test]
    fn bad_axis_or_type_is_an_error() {
        assert!(run("Softmax", 13, vec![("axis", Attr::Int(1))], &[f32s(&[2], &[1.0, 2.0])]).is_err());
        assert!(run("Softmax", 13, vec![], &[crate::ops::testing::i64s(&[1], &[1])]).is_err());
    }
}
