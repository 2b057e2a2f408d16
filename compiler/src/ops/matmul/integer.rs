//! MatMulInteger and QLinearMatMul: `matmul` (with MatMul's broadcasting)
//! of uint8/int8 operands minus their zero points, accumulated exactly in
//! int32 (wrapping). A's zero point and scale are per tensor or per row
//! (one value per row of A's last two axes), B's per tensor or per column.
//! MatMulInteger returns the int32 accumulators; QLinearMatMul requantizes
//! with `a_scale · b_scale / y_scale` (computed in the scales' element
//! type), rounding ties to even and saturating to y_zero_point's type.
//! <https://onnx.ai/onnx/operators/onnx__MatMulInteger.html>
//! <https://onnx.ai/onnx/operators/onnx__QLinearMatMul.html>

use super::super::dense::array;
use super::super::quant::{centered, check_8bit, check_count, lower_centered, requantize, scales, zero_points};
use super::super::{Arg, LowerCx, OpDef, Slots};
use super::{batched, matmul_macs, matmul_shape};
use crate::front::onnx::OnnxNode;
use crate::ir::TensorType;
use crate::tensor::{DType, Tensor};
use crate::{bail, Result};
use half::{bf16, f16};

#[derive(Debug, Clone)]
pub struct MatMulInteger;

#[derive(Debug, Clone)]
pub struct QLinearMatMul;

/// Row count of A (per-row parameters) and column count of B.
fn rows_cols(a: &[usize], b: &[usize]) -> (usize, usize) {
    let rows = if a.len() >= 2 { a[a.len() - 2] } else { 1 };
    let cols = if b.len() >= 2 { b[b.len() - 1] } else { 1 };
    (rows, cols)
}

/// The int32 product of `a − a_zp` and `b − b_zp`, and its shape.
fn int_matmul(a: &Tensor, a_zp: Option<&Tensor>, b: &Tensor, b_zp: Option<&Tensor>) -> Result<(Vec<i32>, Vec<usize>)> {
    check_8bit(a.dtype(), "A")?;
    check_8bit(b.dtype(), "B")?;
    let (az, bz) = (zero_points(a_zp, a.dtype(), "a_zero_point")?, zero_points(b_zp, b.dtype(), "b_zero_point")?);
    let (sa, sb) = (a.shape(), b.shape());
    if (sa.len() < 2 && az.len() != 1) || (sb.len() < 2 && bz.len() != 1) {
        bail!("zero points of a 1-D operand must be scalars");
    }
    let av = centered(a, sa, &az, sa.len().saturating_sub(2), "a_zero_point")?;
    let bv = centered(b, sb, &bz, sb.len().saturating_sub(1), "b_zero_point")?;
    batched(&av, sa, &bv, sb)
}

impl OpDef for MatMulInteger {
    fn from_onnx(_node: &OnnxNode) -> Result<Self> {
        Ok(MatMulInteger)
    }

    fn infer(&self, inputs: &[Option<Arg>]) -> Result<Vec<TensorType>> {
        let (a, b) = (inputs.req(0)?.ty, inputs.req(1)?.ty);
        check_8bit(a.dtype, "A")?;
        check_8bit(b.dtype, "B")?;
        Ok(vec![TensorType::new(DType::I32, matmul_shape(&a.shape, &b.shape)?)])
    }

    fn eval(&self, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
        let (y, out) = int_matmul(inputs.req(0)?, inputs.opt(2), inputs.req(1)?, inputs.opt(3))?;
        Ok(vec![Tensor::I32(array(&out, y)?)])
    }

    /// A and B minus their zero points (per tensor, per row of A, per
    /// column of B) as int32, at compile time when constant, then the
    /// int32 MatMul.
    fn lower(&self, cx: &mut LowerCx) -> Result<()> {
        let (a, b) = (cx.input(0)?.clone(), cx.input(1)?.clone());
        check_8bit(a.dtype, "A")?;
        check_8bit(b.dtype, "B")?;
        let (a_zp, b_zp) = (cx.opt_input(2).cloned(), cx.opt_input(3).cloned());
        for (t, zp, what) in [(&a, &a_zp, "a_zero_point"), (&b, &b_zp, "b_zero_point")] {
            if t.shape.len() < 2 && zp.as_ref().is_some_and(|z| z.len() != 1) {
                bail!("{what} of a 1-D operand must be a scalar");
            }
        }
        let ac = lower_centered(cx, &a, a_zp.as_ref(), a.shape.len().saturating_sub(2), "a_zero_point")?;
        let bc = lower_centered(cx, &b, b_zp.as_ref(), b.shape.len().saturating_sub(1), "b_zero_point")?;
        super::lower_product(cx, &ac, &bc)
    }

    fn macs(&self, inputs: &[Option<&TensorType>], outputs: &[&TensorType]) -> u64 {
        matmul_macs(inputs.opt(0), outputs.first())
    }

    /// int8: integer in the model already; copied as it is.
    fn quantize(&self, rule: crate::ops::Rule) -> Result<crate::ops::Plan> {
        Ok(rule.as_is())
    }
}

/// `v` rounded to the float type `d` (how numpy computes with scales of that type).
fn round_to(d: DType, v: f64) -> f64 {
    match d {
        DType::F16 => f16::from_f64(v).to_f64(),
        DType::BF16 => bf16::from_f64(v).to_f64(),
        DType::F32 => v as f32 as f64,
        _ => v,
    }
}

impl OpDef for QLinearMatMul {
    fn from_onnx(_node: &OnnxNode) -> Result<Self> {
        Ok(QLinearMatMul)
    }

    fn infer(&self, inputs: &[Option<Arg>]) -> Result<Vec<TensorType>> {
        let (a, b, y_zp) = (inputs.req(0)?.ty, inputs.req(3)?.ty, inputs.req(7)?.ty);
        check_8bit(a.dtype, "a")?;
        check_8bit(b.dtype, "b")?;
        check_8bit(y_zp.dtype, "y_zero_point")?;
        Ok(vec![TensorType::new(y_zp.dtype, matmul_shape(&a.shape, &b.shape)?)])
    }

    fn eval(&self, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
        let (a, a_scale, a_zp) = (inputs.req(0)?, inputs.req(1)?, inputs.req(2)?);
        let (b, b_scale, b_zp) = (inputs.req(3)?, inputs.req(4)?, inputs.req(5)?);
        let (y_scale, y_zp) = (inputs.req(6)?, inputs.req(7)?);
        let (acc, out) = int_matmul(a, Some(a_zp), b, Some(b_zp))?;
        let (rows, cols) = rows_cols(a.shape(), b.shape());
        let (sa, sb, sy) = (scales(a_scale, "a_scale")?, scales(b_scale, "b_scale")?, scales(y_scale, "y_scale")?);
        check_count(sa.len(), rows, "a_scale")?;
        check_count(sb.len(), cols, "b_scale")?;
        check_count(sy.len(), 1, "y_scale")?;
        check_8bit(y_zp.dtype(), "y_zero_point")?;
        let yz = zero_points(Some(y_zp), y_zp.dtype(), "y_zero_point")?;
        let [yz] = yz[..] else { bail!("y_zero_point must be a scalar") };
        let dt = a_scale.dtype();
        let (out_rows, out_cols) = (if a.rank() >= 2 { rows } else { 1 }, if b.rank() >= 2 { cols } else { 1 });
        let multiplier = |i: usize| {
            let (r, c) = ((i / out_cols.max(1)) % out_rows.max(1), i % out_cols.max(1));
            let s_a = sa.get(if sa.len() == 1 { 0 } else { r }).copied().unwrap_or(0.0) as f64;
            let s_b = sb.get(if sb.len() == 1 { 0 } else { c }).copied().unwrap_or(0.0) as f64;
            round_to(dt, round_to(dt, s_a * s_b) / sy[0] as f64)
        };
        Ok(vec![requantize(&acc, &out, multiplier, yz, y_zp.dtype())?])
    }

    fn macs(&self, inputs: &[Option<&TensorType>], outputs: &[&TensorType]) -> u64 {
        matmul_macs(inputs.opt(0), outputs.first())
    }

    /// int8: integer in the model already; copied as it is.
    fn quantize(&self, rule: crate::ops::Rule) -> Result<crate::ops::Plan> {
        Ok(rule.as_is())
    }
}

#[cfg(test)]
mod tests {
    use crate::ops::testing::run;
    use crate::tensor::Tensor;

    #[test]
    fn integer_products_with_zero_points() {
        let a = Tensor::from_vec(&[2, 2], vec![10u8, 12, 14, 16]).unwrap();
        let b = Tensor::from_vec(&[2, 1], vec![1i8, -1]).unwrap();
        let y = run("MatMulInteger", 10, vec![], &[a.clone(), b.clone(), Tensor::scalar(10u8), Tensor::scalar(0i8)]).unwrap();
        assert_eq!(y[0], Tensor::from_vec(&[2, 1], vec![-2i32, -2]).unwrap());
        // Per-row zero points of A.
        let y = run("MatMulInteger", 10, vec![], &[a.clone(), b.clone(), Tensor::from_vec(&[2], vec![10u8, 14]).unwrap()]).unwrap();
        assert_eq!(y[0], Tensor::from_vec(&[2, 1], vec![-2i32, -2]).unwrap());
        let q = [
            a,
            Tensor::scalar(0.5f32),
            Tensor::scalar(10u8),
            b,
            Tensor::scalar(1.0f32),
            Tensor::scalar(0i8),
            Tensor::scalar(0.25f32),
            Tensor::scalar(-126i8),
        ];
        let y = run("QLinearMatMul", 10, vec![], &q).unwrap();
        assert_eq!(y[0], Tensor::from_vec(&[2, 1], vec![-128i8, -128]).unwrap());
        let wrong = run("MatMulInteger", 10, vec![], &[q[0].clone(), q[3].clone(), Tensor::from_vec(&[3], vec![1u8, 2, 3]).unwrap()]);
        assert!(wrong.is_err());
    }
}
