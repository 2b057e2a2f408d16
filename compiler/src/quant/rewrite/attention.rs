//! The attention operators on codes: MatMul of two activations (Q·Kᵀ,
//! P·V) as IntMatMul with a proven int32 accumulator bound, and Softmax as
//! IntSoftmax with its exponential table and fixed output parameters
//! (NUMERICS.md, "Products of two activations" and "Softmax").

use super::{Plan, Rewriter};
use crate::ir::NodeId;
use crate::ops::qint::{IntMatMul, IntSoftmax, SOFTMAX_MAX_ROW, SOFTMAX_RECIP, SOFTMAX_TABLE_BITS};
use crate::ops::softmax::Softmax;
use crate::ops::Op;
use crate::quant::fixed_point::quantize_multiplier;
use crate::quant::params::QParams;
use crate::tensor::{DType, Tensor};
use crate::{Error, Result};

impl Rewriter<'_> {
    /// MatMul whose B is not a constant: IntMatMul, when the operands have
    /// rank 2 or more, one code type, and the accumulator bound
    /// `K · max|a − z_a| · max|b − z_b| · 2^max(e, 0) < 2^31` holds.
    pub(super) fn activation_matmul(&mut self, n: NodeId) -> Result<Plan> {
        let ins = self.src.node_inputs(n);
        let (Some(a), Some(b)) = (ins[0], ins.get(1).copied().flatten()) else { return Ok(Plan::Float("missing operand".into())) };
        let y = self.src.node_outputs(n)[0].ok_or_else(|| Error::Op("no output".into()))?;
        let (Some(ash), Some(bsh)) = (self.src.ty(a)?.shape.as_fixed(), self.src.ty(b)?.shape.as_fixed()) else {
            return Ok(Plan::Float("operand shapes known only at run time".into()));
        };
        if ash.len() < 2 || bsh.len() < 2 {
            return Ok(Plan::Float("a 1-D operand".into()));
        }
        let (pa, pb, po) = (self.code_params(a)?, self.code_params(b)?, self.stage_params(y)?);
        if pa.dtype != pb.dtype || pa.dtype != po.dtype {
            return Ok(Plan::Float("operands and output codes differ in type".into()));
        }
        let Some(m) = quantize_multiplier(pa.scale as f64 * pb.scale as f64 / po.scale as f64) else {
            return Ok(Plan::Float("scales too far apart".into()));
        };
        let reach = |p: QParams| {
            let (lo, hi) = p.code_range();
            (lo - p.zero).unsigned_abs().max((hi - p.zero).unsigned_abs()) as u128
        };
        // u128: K < 2^64, each reach ≤ 255 and the exponent ≤ 30, so no bit is lost.
        let k = *ash.last().unwrap_or(&0) as u128;
        let bound = (k * reach(pa) * reach(pb)) << m.exponent.max(0);
        if bound >= 1 << 31 {
            return Ok(Plan::Float(format!("the int32 accumulator could overflow (K = {k}, bound {bound} ≥ 2^31)")));
        }
        let (aq, pa) = self.as_int(a)?;
        let (bq, pb) = self.as_int(b)?;
        let (target, po, lo, hi) = self.output_stage(y)?;
        let op = IntMatMul { za: pa.zero, zb: pb.zero, m, stage: self.stage(po, lo, hi) };
        self.emit(n, target, po, "IntMatMul", Op::IntMatMul(op), &[Some(aq), Some(bq)])
    }

    /// Softmax as IntSoftmax. The output parameters are fixed, whatever was
    /// calibrated: scale 1/255 and zero point −128 (int8) or 0 (uint8), so
    /// the probabilities [0, 1] map exactly onto the 256 codes (1 included)
    /// and the quotient is exact integer arithmetic.
    pub(super) fn softmax(&mut self, n: NodeId, s: &Softmax) -> Result<Plan> {
        let x = self.src.node_inputs(n)[0].ok_or_else(|| Error::Op("no input".into()))?;
        let y = self.src.node_outputs(n)[0].ok_or_else(|| Error::Op("no output".into()))?;
        let Some(shape) = self.src.ty(x)?.shape.as_fixed() else { return Ok(Plan::Float("shape known only at run time".into())) };
        let rows = s.rows(&shape)?;
        if rows[1] > SOFTMAX_MAX_ROW {
            return Ok(Plan::Float(format!("rows of {} exceed the integer softmax's {SOFTMAX_MAX_ROW}", rows[1])));
        }
        let (xq, px) = self.as_int(x)?;
        let zero = if px.dtype == DType::U8 { 0 } else { -128 };
        let po = QParams { scale: (1.0 / SOFTMAX_RECIP as f64) as f32, zero, dtype: px.dtype };
        let table = softmax_table(px.scale as f64);
        let name = self.src.value(y).name.clone();
        let t = self.constant(format!("{name}_exp_table"), Tensor::from_vec(&[256], table)?);
        let op = IntSoftmax { rows, y_zero: zero, recip: SOFTMAX_RECIP };
        self.emit(n, y, po, "IntSoftmax", Op::IntSoftmax(op), &[Some(xq), Some(t)])
    }
}

/// `round_half_even(2^30 · exp(−scale · d))` for `d = 0..255`: entry 0 is
/// exactly 2^30, entries only decrease.
pub fn softmax_table(scale: f64) -> Vec<i32> {
    let one = (1u64 << SOFTMAX_TABLE_BITS) as f64;
    (0..256).map(|d| (one * (-scale * d as f64).exp()).round_ties_even() as i32).collect()
}

#[cfg(test)]
mod tests {
    use super::softmax_table;

    #[test]
    fn the_table_starts_at_one_and_decreases() {
        let t = softmax_table(0.05);
        assert_eq!(t[0], 1 << 30);
        assert!(t.windows(2).all(|w| w[1] <= w[0]));
        assert_eq!(t[20], ((1u64 << 30) as f64 * (-1f64).exp()).round() as i32);
    }
}
