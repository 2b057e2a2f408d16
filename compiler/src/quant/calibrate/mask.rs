//! The range of an additive attention mask: just wide enough that every
//! masked score lands on the lowest code of the sum it is added to.
//!
//! A mask such as BERT's `(1 − mask) · −3.4e38` holds 0 on the positions
//! attended to and a huge negative number on the others. Calibrated like
//! any value, its range would be `[−3.4e38, 0]` and so would the range of
//! the scores it is added to: every real score would fall into one code.
//! Instead, calibration sets the masked elements apart (`observe`), so the
//! sum's range is that of the real scores, and gives the mask the range
//! `[−R, 0]` with `R` twice what takes the largest score below the sum's
//! lowest end: 0 stays exact (the zero point), the masked elements clamp
//! to `−R`, and the sum saturates to its lowest code there, which the
//! Softmax reads as its smallest weight.

use super::observe::ValueStats;
use super::roles;
use super::Range;
use crate::ir::{Graph, ValueId};
use crate::ops::binary::Kind as BinaryKind;
use crate::ops::Op;
use std::collections::HashMap;

/// Gives every pure mask of `g` (a value whose calibration elements are all
/// masked or 0, or all 0 but a product with a masked constant, added to
/// the scores of a Softmax) the range that saturates
/// the sums it is added to, from the ranges chosen for the scores and the
/// sums in `ranges`.
pub fn saturate(g: &Graph, stats: &HashMap<ValueId, &ValueStats>, ranges: &mut HashMap<ValueId, Range>) {
    let masks: Vec<ValueId> = stats.iter().filter(|(&v, s)| is_pure_mask(s) || is_unused_mask(g, v, s)).map(|(&v, _)| v).collect();
    for v in masks {
        let reach = roles::masked_sums(g, v)
            .into_iter()
            .filter_map(|(scores, sum)| {
                let (x, y) = (ranges.get(&scores)?, ranges.get(&sum)?);
                Some((x.hi - y.lo).max(y.hi - y.lo) as f64)
            })
            .fold(0.0, f64::max);
        if reach > 0.0 && reach.is_finite() {
            ranges.insert(v, Range { lo: (-2.0 * reach) as f32, hi: 0.0 });
        }
    }
}

/// Whether the observed elements were masked ones and zeros only.
fn is_pure_mask(s: &ValueStats) -> bool {
    s.masked > 0 && (!s.seen() || (s.lo == 0.0 && s.hi == 0.0))
}

/// Whether `v` was all zeros in calibration but is a product with a
/// constant at or below [`roles::MASKED`] (`(1 − mask) · −3.4e38` when no
/// calibration sample had padding): a mask that masks at run time.
fn is_unused_mask(g: &Graph, v: ValueId, s: &ValueStats) -> bool {
    let Some((p, 0)) = g.producer(v) else { return false };
    let scales_by_masked = || {
        matches!(&g.node(p).op, Op::Binary(b) if b.kind == BinaryKind::Mul)
            && g.node_inputs(p).into_iter().flatten().any(|i| {
                let c = g.value(i).constant.as_deref();
                c.is_some_and(|c| c.len() == 1 && c.scalar_f64().is_ok_and(|x| x <= roles::MASKED))
            })
    };
    s.masked == 0 && s.lo == 0.0 && s.hi == 0.0 && scales_by_masked()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::{Node, TensorType, Value};
    use crate::tensor::{DType, Tensor};

    fn node(g: &mut Graph, op_type: &str, inputs: &[ValueId]) -> ValueId {
        let onnx = crate::ops::testing::node(op_type, 17, vec![], inputs.len(), 1);
        let node = Node { name: op_type.into(), op_type: op_type.into(), opset: 17, op: Op::from_onnx(&onnx).unwrap() };
        let out = g.add_value(Value { name: format!("{op_type}_out"), ty: None, constant: None });
        g.add_node(node, &inputs.iter().map(|&v| Some(v)).collect::<Vec<_>>(), &[Some(out)]).unwrap();
        out
    }

    #[test]
    fn a_mask_never_padded_in_calibration_still_saturates_the_scores() {
        // Softmax(scores + keep · −3.4e38), `keep` 0 on every calibration sample.
        let mut g = Graph::new("mask");
        let scores = g.add_value(Value { name: "scores".into(), ty: Some(TensorType::fixed(DType::F32, &[1, 4, 4])), constant: None });
        let keep = g.add_value(Value { name: "keep".into(), ty: Some(TensorType::fixed(DType::F32, &[1, 1, 4])), constant: None });
        let lowest = g.add_value(Value { name: "lowest".into(), ty: Some(TensorType::fixed(DType::F32, &[])), constant: Some(Tensor::scalar(f32::MIN).into()) });
        let mask = node(&mut g, "Mul", &[keep, lowest]);
        let sum = node(&mut g, "Add", &[scores, mask]);
        let probs = node(&mut g, "Softmax", &[sum]);
        g.inputs.extend([scores, keep]);
        g.outputs.push(probs);
        crate::passes::infer_shapes::run(&mut g).unwrap();
        let zeros = ValueStats::of(&[&[0.0; 4]]);
        let observed = ValueStats::of(&[&[-3.0, 5.0]]);
        let stats = HashMap::from([(mask, &zeros), (scores, &observed), (sum, &observed)]);
        let mut ranges = HashMap::from([(scores, Range { lo: -3.0, hi: 5.0 }), (sum, Range { lo: -3.0, hi: 5.0 }), (mask, Range { lo: 0.0, hi: 0.0 })]);
        saturate(&g, &stats, &mut ranges);
        // R = 2 · max(5 − (−3), 5 − (−3)).
        assert_eq!(ranges[&mask], Range { lo: -16.0, hi: 0.0 });
        assert_eq!(ranges[&scores], Range { lo: -3.0, hi: 5.0 });
    }

    #[test]
    fn only_masked_elements_and_zeros_make_a_mask() {
        let mask = ValueStats { masked: 10, ..ValueStats::of(&[&[0.0, 0.0]]) };
        let scores = ValueStats { masked: 10, ..ValueStats::of(&[&[0.0, 1.5]]) };
        let all_masked = ValueStats { masked: 10, ..ValueStats::default() };
        assert!(is_pure_mask(&mask) && is_pure_mask(&all_masked));
        assert!(!is_pure_mask(&scores) && !is_pure_mask(&ValueStats::of(&[&[0.0]])));
    }
}
