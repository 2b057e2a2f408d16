//! Pad, Resize, ReduceMean and average pooling on codes.

use super::super::fixed_point::quantize_multiplier;
use crate::ir::{Node, NodeId, ValueId};
use crate::ops::qint::IntAvgPool;
use crate::ops::qint::{q11_taps, reduce_groups, IntReduceMean, IntResize, Sampling};
use crate::ops::spatial::Axis;
use crate::ops::Op;
use crate::tensor::Tensor;
use crate::{Error, Result};
use super::{Plan, Rewriter};

impl Rewriter<'_> {
    /// Pad on codes (its other inputs constants): `op` is the node's
    /// operator with an attribute fill (opsets before 11) already replaced
    /// by `fill`, the fill's code; from opset 11 `fill` becomes input 2.
    /// The output keeps the input's parameters.
    pub(super) fn pad(&mut self, n: NodeId, op: Op, fill: i32, legacy: bool) -> Result<Plan> {
        let ins = self.src.node_inputs(n);
        let (xq, px) = self.as_int(ins[0].ok_or_else(|| Error::Op("no input".into()))?)?;
        let mut inputs = vec![Some(xq)];
        let slots = if legacy { ins.len() } else { ins.len().max(3) };
        for i in 1..slots {
            inputs.push(match ins.get(i).copied().flatten() {
                _ if i == 2 && !legacy => {
                    let name = format!("{}_fill_q", self.src.node(n).name);
                    Some(self.constant(name, crate::ops::qint::codes(px.dtype, &[], vec![fill])?))
                }
                Some(v) => Some(self.as_float(v)?),
                None => None,
            });
        }
        let y = self.src.node_outputs(n)[0].ok_or_else(|| Error::Op("no output".into()))?;
        let out = self.fresh(format!("{}_q", self.src.value(y).name));
        let node = Node { op, ..self.src.node(n).clone() };
        self.dst.add_node(node, &inputs, &[Some(out)])?;
        self.int.insert(y, (out, px));
        Ok(Plan::Done)
    }

    /// IntResize: nearest copies codes; linear interpolates the last two
    /// axes (the others unchanged). The output keeps the input's parameters.
    pub(super) fn resize(&mut self, n: NodeId, sampling: Sampling, xs: &[usize]) -> Result<Plan> {
        let x = self.src.node_inputs(n)[0].ok_or_else(|| Error::Op("no input".into()))?;
        let y = self.src.node_outputs(n)[0].ok_or_else(|| Error::Op("no output".into()))?;
        let (op, tables) = match sampling {
            Sampling::Float(reason) => return Ok(Plan::Float(reason)),
            Sampling::Nearest(picks) => (IntResize::Nearest(picks), None),
            Sampling::Linear(taps) => {
                let rank = taps.len();
                let unchanged = |a: usize| taps[a].len() == xs[a] && taps[a].iter().enumerate().all(|(i, t)| t[0] == (i, 1.0) && t[1].1 == 0.0);
                if rank < 2 || !(0..rank - 2).all(unchanged) {
                    return Ok(Plan::Float("linear resize of axes other than the last two".into()));
                }
                (IntResize::Bilinear, Some((q11_taps(&taps[rank - 2])?, q11_taps(&taps[rank - 1])?)))
            }
        };
        let (xq, px) = self.as_int(x)?;
        let mut inputs = vec![Some(xq)];
        if let Some((th, tw)) = tables {
            let name = self.src.value(y).name.clone();
            let (lh, lw) = (th.len(), tw.len());
            inputs.push(Some(self.constant(format!("{name}_taps_h"), Tensor::from_vec(&[lh / 3, 3], th)?)));
            inputs.push(Some(self.constant(format!("{name}_taps_w"), Tensor::from_vec(&[lw / 3, 3], tw)?)));
        }
        self.emit(n, y, px, "IntResize", Op::IntResize(op), &inputs)
    }

    /// IntReduceMean of `x` (shape `xs`) over `axes`, requantized to the
    /// output's parameters.
    pub(super) fn reduce_mean(&mut self, n: NodeId, x: ValueId, xs: &[usize], axes: &[usize]) -> Result<Plan> {
        let y = self.src.node_outputs(n)[0].ok_or_else(|| Error::Op("no output".into()))?;
        let Some(ys) = self.src.ty(y)?.shape.as_fixed() else { return Ok(Plan::Float("output shape known only at run time".into())) };
        let count: usize = axes.iter().map(|&a| xs[a]).product();
        let px = self.code_params(x)?;
        let po = self.params(y)?;
        let Some(m) = quantize_multiplier(px.scale as f64 / (count.max(1) as f64 * po.scale as f64)) else {
            return Ok(Plan::Float("scales too far apart".into()));
        };
        // |Σ (q − z_x)| ≤ count · max |q − z_x|, times 2^max(e, 0) inside `requantize`.
        let (x_min, x_max) = px.code_range();
        let x_bound = (px.zero - x_min).max(x_max - px.zero) as u128;
        if (count as u128 * x_bound) << m.exponent.max(0) >= 1 << 31 {
            return Ok(Plan::Float(format!("the int32 sum of {count} elements could overflow")));
        }
        let (xq, _) = self.as_int(x)?;
        let (kept, reduced) = reduce_groups(xs, axes);
        let (lo, hi) = po.code_range();
        let op = IntReduceMean { kept, reduced, out_shape: ys, x_zero: px.zero, m, stage: self.stage(po, lo, hi) };
        self.emit(n, y, po, "IntReduceMean", Op::IntReduceMean(op), &[Some(xq)])
    }

    pub(super) fn avg_pool(&mut self, n: NodeId, axes: Vec<Axis>, include_pad: bool) -> Result<Plan> {
        let x = self.src.node_inputs(n)[0].ok_or_else(|| Error::Op("no input".into()))?;
        let y = self.src.node_outputs(n)[0].ok_or_else(|| Error::Op("no output".into()))?;
        let (xq, px) = self.as_int(x)?;
        // Every window counts the same when no padding is excluded.
        let inside = axes.iter().all(|a| (a.output.max(1) - 1) * a.stride + a.kernel <= a.input + a.pad_begin + a.pad_end);
        let same_count = inside && (include_pad || axes.iter().all(|a| a.pad_begin == 0 && a.pad_end == 0));
        let count: usize = axes.iter().map(|a| a.kernel).product();
        let requant = match self.params(y) {
            Ok(po) if same_count && po != px => {
                let m = quantize_multiplier(px.scale as f64 / (count as f64 * po.scale as f64)).filter(|m| m.exponent <= 0);
                let (lo, hi) = po.code_range();
                m.map(|m| (m, self.stage(po, lo, hi), po))
            }
            _ => None,
        };
        let po = requant.map_or(px, |r| r.2);
        let op = IntAvgPool { axes, include_pad, x_zero: px.zero, requant: requant.map(|(m, s, _)| (m, s)) };
        self.emit(n, y, po, "IntAvgPool", Op::IntAvgPool(op), &[Some(xq)])
    }
}
