//! MeanVarianceNormalization: `y = (x − mean) / (sqrt(var) + 1e-9)` with
//! mean and (population) variance over `axes` (default [0, 2, 3]). Float
//! types, computed in float64.
//! <https://onnx.ai/onnx/operators/onnx__MeanVarianceNormalization.html>

use super::super::{util, Arg, OpDef, Slots};
use super::{check_float, floats, mean_var};
use crate::front::onnx::OnnxNode;
use crate::ir::TensorType;
use crate::tensor::Tensor;
use crate::Result;
use ndarray::{ArrayD, IxDyn};

/// Added to the standard deviation, as in the operator's function body.
const EPSILON: f64 = 1e-9;

#[derive(Debug, Clone)]
pub struct MeanVarianceNormalization {
    axes: Vec<i64>,
}

impl OpDef for MeanVarianceNormalization {
    fn from_onnx(node: &OnnxNode) -> Result<Self> {
        Ok(MeanVarianceNormalization { axes: node.ints_opt("axes")?.unwrap_or_else(|| vec![0, 2, 3]) })
    }

    fn infer(&self, inputs: &[Option<Arg>]) -> Result<Vec<TensorType>> {
        let x = inputs.req(0)?.ty;
        check_float(x, "X")?;
        if let Some(r) = x.shape.rank() {
            util::axes(&self.axes, r)?;
        }
        Ok(vec![x.clone()])
    }

    fn eval(&self, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
        let x = inputs.req(0)?;
        let shape = x.shape();
        let reduced = util::axes(&self.axes, shape.len())?;
        // Kept axes first, reduced axes last: each block is contiguous.
        let mut order: Vec<usize> = (0..shape.len()).filter(|a| !reduced.contains(a)).collect();
        order.extend(&reduced);
        let xs = ArrayD::from_shape_vec(IxDyn(shape), floats(x)?).map_err(|e| crate::Error::Op(e.to_string()))?;
        let permuted = xs.permuted_axes(IxDyn(&order)).as_standard_layout().into_owned();
        let block: usize = reduced.iter().map(|&a| shape[a]).product();
        let mut y = Vec::with_capacity(permuted.len());
        for v in permuted.as_slice().unwrap_or(&[]).chunks(block.max(1)) {
            let (mean, var) = mean_var(v);
            let std = var.max(0.0).sqrt() + EPSILON;
            y.extend(v.iter().map(|e| (e - mean) / std));
        }
        let y = ArrayD::from_shape_vec(permuted.raw_dim(), y).map_err(|e| crate::Error::Op(e.to_string()))?;
        let mut inverse = vec![0usize; order.len()];
        for (i, &a) in order.iter().enumerate() {
            inverse[a] = i;
        }
        let y = y.permuted_axes(IxDyn(&inverse)).as_standard_layout().into_owned();
        Ok(vec![crate::ops::dense::demote(Tensor::F64(y), x.dtype())?])
    }

    fn lower(&self, cx: &mut crate::back::lower::LowerCx) -> Result<()> {
        let x = cx.input(0)?.clone();
        let axes = util::axes(&self.axes, x.shape.len())?;
        super::lower::mvn(cx, &x, &axes, EPSILON)
    }

    /// int8: float only.
    fn quantize(&self, rule: crate::ops::Rule) -> Result<crate::ops::Plan> {
        Ok(rule.float_only(crate::ops::NO_INTEGER_KERNEL))
    }
}

#[cfg(test)]
mod tests {
    use crate::front::onnx::Attr;
    use crate::ops::testing::{f32s, run};

    #[test]
    fn normalizes_over_the_given_axes() {
        let x = f32s(&[2, 2], &[1.0, 10.0, 3.0, 30.0]);
        let y = run("MeanVarianceNormalization", 13, vec![("axes", Attr::Ints(vec![0]))], std::slice::from_ref(&x)).unwrap();
        let crate::tensor::Tensor::F32(a) = &y[0] else { panic!() };
        assert!((a[[0, 0]] + 1.0).abs() < 1e-6 && (a[[1, 1]] - 1.0).abs() < 1e-6);
        assert!(run("MeanVarianceNormalization", 13, vec![], &[x]).is_err());
    }
}
