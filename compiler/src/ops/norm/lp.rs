//! LpNormalization: `y = x / ‖x‖_p` along one axis (default -1), p = 1 or
//! 2; a zero norm gives 0. Float types, computed in float64.
//! <https://onnx.ai/onnx/operators/onnx__LpNormalization.html>

use super::super::{util, Arg, OpDef, Slots};
use super::{check_float, floats};
use crate::front::onnx::OnnxNode;
use crate::ir::TensorType;
use crate::tensor::Tensor;
use crate::{bail, Result};
use ndarray::{ArrayD, Axis, IxDyn};

#[derive(Debug, Clone)]
pub struct LpNormalization {
    axis: i64,
    p: i64,
}

impl OpDef for LpNormalization {
    fn from_onnx(node: &OnnxNode) -> Result<Self> {
        let p = node.int("p", 2)?;
        if p != 1 && p != 2 {
            bail!("p must be 1 or 2, got {p}");
        }
        Ok(LpNormalization { axis: node.int("axis", -1)?, p })
    }

    fn infer(&self, inputs: &[Option<Arg>]) -> Result<Vec<TensorType>> {
        let x = inputs.req(0)?.ty;
        check_float(x, "input")?;
        if let Some(r) = x.shape.rank() {
            util::axis(self.axis, r)?;
        }
        Ok(vec![x.clone()])
    }

    fn eval(&self, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
        let x = inputs.req(0)?;
        let a = util::axis(self.axis, x.rank())?;
        let mut y = ArrayD::from_shape_vec(IxDyn(x.shape()), floats(x)?).map_err(|e| crate::Error::Op(e.to_string()))?;
        for mut lane in y.lanes_mut(Axis(a)) {
            let norm = if self.p == 1 { lane.iter().map(|v| v.abs()).sum::<f64>() } else { lane.iter().map(|v| v * v).sum::<f64>().sqrt() };
            lane.mapv_inplace(|v| if norm == 0.0 { 0.0 } else { v / norm });
        }
        Ok(vec![crate::ops::dense::demote(Tensor::F64(y), x.dtype())?])
    }

    fn lower(&self, cx: &mut crate::back::lower::LowerCx) -> Result<()> {
        let x = cx.input(0)?.clone();
        let a = util::axis(self.axis, x.shape.len())?;
        super::lower::lp_norm(cx, &x, crate::ops::reduce_lower::around(&x.shape, a), self.p)
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
    fn l1_and_l2_with_zero_norm() {
        let x = f32s(&[2, 2], &[3.0, 4.0, 0.0, 0.0]);
        assert_eq!(run("LpNormalization", 22, vec![], std::slice::from_ref(&x)).unwrap()[0], f32s(&[2, 2], &[0.6, 0.8, 0.0, 0.0]));
        let y = run("LpNormalization", 22, vec![("p", Attr::Int(1)), ("axis", Attr::Int(0))], std::slice::from_ref(&x)).unwrap();
        assert_eq!(y[0], f32s(&[2, 2], &[1.0, 1.0, 0.0, 0.0]));
        assert!(run("LpNormalization", 22, vec![("p", Attr::Int(3))], &[x]).is_err());
    }
}
