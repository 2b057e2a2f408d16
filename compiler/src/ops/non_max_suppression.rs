//! NonMaxSuppression (opsets 10, 11): greedy per-class selection of boxes
//! by descending score, dropping boxes whose IoU with an already selected
//! box exceeds `iou_threshold`.
//! <https://onnx.ai/onnx/operators/onnx__NonMaxSuppression.html>
//!
//! Supported: both box formats (`center_point_box` 0: corners `[y1, x1, y2,
//! x2]` in any order; 1: `[x_center, y_center, width, height]`), optional
//! `max_output_boxes_per_class` (absent or empty: 0), `iou_threshold`
//! (default 0) and `score_threshold` (absent: no filtering); float inputs,
//! compared in `f64`. Equal scores keep the lower box index first. The
//! number of selected boxes depends on the data, so it is never inferred.

use super::{Arg, OpDef, Slots};
use crate::front::onnx::OnnxNode;
use crate::ir::{Shape, TensorType};
use crate::tensor::{DType, Tensor};
use crate::{bail, Result};
use std::cmp::Ordering;

#[derive(Debug, Clone)]
pub struct NonMaxSuppression {
    center_point_box: bool,
}

impl OpDef for NonMaxSuppression {
    fn from_onnx(node: &OnnxNode) -> Result<Self> {
        let center_point_box = match node.int("center_point_box", 0)? {
            0 => false,
            1 => true,
            v => bail!("center_point_box must be 0 or 1, got {v}"),
        };
        Ok(NonMaxSuppression { center_point_box })
    }

    fn infer(&self, inputs: &[Option<Arg>]) -> Result<Vec<TensorType>> {
        let (boxes, scores) = (inputs.req(0)?.ty, inputs.req(1)?.ty);
        for (name, t) in [("boxes", boxes), ("scores", scores)] {
            if !t.dtype.is_float() || t.dtype.is_small_float() {
                bail!("{name} must be a float tensor, got {}", t.dtype);
            }
            if t.shape.rank().is_some_and(|r| r != 3) {
                bail!("{name} must be 3-D, got {}", t.shape);
            }
        }
        if let Some(m) = inputs.opt(2) {
            if m.ty.dtype != DType::I64 {
                bail!("max_output_boxes_per_class must be int64, got {}", m.ty.dtype);
            }
        }
        Ok(vec![TensorType::new(DType::I64, Shape::from_dims(vec![None, Some(3)]))])
    }

    fn eval(&self, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
        let (boxes, scores) = (inputs.req(0)?, inputs.req(1)?);
        let (&[batches, count, 4], &[score_batches, classes, score_count]) = (boxes.shape(), scores.shape()) else {
            bail!("boxes must be [batches, boxes, 4] and scores [batches, classes, boxes], got {:?} and {:?}", boxes.shape(), scores.shape());
        };
        if batches != score_batches || count != score_count {
            bail!("boxes {:?} and scores {:?} disagree on batches or boxes", boxes.shape(), scores.shape());
        }
        let first = |i: usize| -> Result<Option<f64>> {
            match inputs.opt(i) {
                Some(t) if !t.is_empty() => Ok(t.to_f64_vec()?.first().copied()),
                _ => Ok(None),
            }
        };
        let max_per_class = match inputs.opt(2) {
            Some(t) if !t.is_empty() => t.to_i64_vec()?.first().copied().unwrap_or(0).max(0),
            _ => 0,
        };
        let max_per_class = usize::try_from(max_per_class).unwrap_or(usize::MAX);
        let iou_threshold = first(3)?.unwrap_or(0.0);
        let score_threshold = first(4)?;
        let box_values = boxes.to_f64_vec()?;
        let score_values = scores.to_f64_vec()?;

        let mut selected: Vec<i64> = Vec::new();
        for b in 0..batches {
            let batch_boxes: Vec<Corners> =
                box_values[b * count * 4..(b + 1) * count * 4].chunks_exact(4).map(|v| Corners::new(v, self.center_point_box)).collect();
            for c in 0..classes {
                let class_scores = &score_values[(b * classes + c) * count..(b * classes + c + 1) * count];
                let mut candidates: Vec<usize> = (0..count).filter(|&i| score_threshold.is_none_or(|t| class_scores[i] > t)).collect();
                // Highest score first; equal scores by ascending box index.
                candidates.sort_by(|&i, &j| class_scores[j].total_cmp(&class_scores[i]).then(i.cmp(&j)));
                let mut kept: Vec<usize> = Vec::new();
                for i in candidates {
                    if kept.len() >= max_per_class {
                        break;
                    }
                    if kept.iter().all(|&k| !batch_boxes[i].overlaps(&batch_boxes[k], iou_threshold)) {
                        kept.push(i);
                        selected.extend([b as i64, c as i64, i as i64]);
                    }
                }
            }
        }
        let rows = selected.len() / 3;
        Ok(vec![Tensor::from_vec(&[rows, 3], selected)?])
    }

    /// int8: float only.
    fn quantize(&self, rule: super::Rule) -> Result<super::Plan> {
        Ok(rule.float_only(super::NO_INTEGER_KERNEL))
    }
}

/// A box as sorted corner coordinates.
struct Corners {
    x_min: f64,
    x_max: f64,
    y_min: f64,
    y_max: f64,
}

impl Corners {
    fn new(v: &[f64], center_point_box: bool) -> Corners {
        let (a, b, c, d) = (v[0], v[1], v[2], v[3]);
        if center_point_box {
            let (half_w, half_h) = (c / 2.0, d / 2.0);
            Corners { x_min: a - half_w, x_max: a + half_w, y_min: b - half_h, y_max: b + half_h }
        } else {
            let order = |p: f64, q: f64| if p.partial_cmp(&q) == Some(Ordering::Greater) { (q, p) } else { (p, q) };
            let (x_min, x_max) = order(b, d);
            let (y_min, y_max) = order(a, c);
            Corners { x_min, x_max, y_min, y_max }
        }
    }

    fn area(&self) -> f64 {
        (self.x_max - self.x_min) * (self.y_max - self.y_min)
    }

    /// Whether the intersection over union with `o` exceeds `threshold`.
    fn overlaps(&self, o: &Corners, threshold: f64) -> bool {
        let (x0, x1) = (self.x_min.max(o.x_min), self.x_max.min(o.x_max));
        let (y0, y1) = (self.y_min.max(o.y_min), self.y_max.min(o.y_max));
        // Written so that NaN coordinates never suppress.
        if !(x1 > x0 && y1 > y0) {
            return false;
        }
        let inter = (x1 - x0) * (y1 - y0);
        let (a, b) = (self.area(), o.area());
        let union = a + b - inter;
        if !(inter > 0.0 && a > 0.0 && b > 0.0 && union > 0.0) {
            return false;
        }
        inter / union > threshold
    }
}

#[cfg(test)]
mod tests {
    use crate::ops::testing::{f32s, i64s, run};
    use crate::tensor::Tensor;

    fn nms(boxes: Tensor, scores: Tensor, max: i64, iou: f32, score: Option<f32>) -> Vec<i64> {
        let mut inputs = vec![boxes, scores, i64s(&[1], &[max]), f32s(&[1], &[iou])];
        if let Some(s) = score {
            inputs.push(f32s(&[1], &[s]));
        }
        let y = run("NonMaxSuppression", 11, vec![], &inputs).unwrap();
        y[0].to_i64_vec().unwrap()
    }

    #[test]
    fn overlapping_boxes_are_suppressed_and_ties_keep_the_first() {
        // Boxes 0 and 1 overlap almost entirely; box 2 is apart; all scores equal.
        let boxes = f32s(&[1, 3, 4], &[0.0, 0.0, 1.0, 1.0, 0.0, 0.1, 1.0, 1.1, 5.0, 5.0, 6.0, 6.0]);
        let scores = f32s(&[1, 1, 3], &[0.5, 0.5, 0.5]);
        assert_eq!(nms(boxes.clone(), scores.clone(), 10, 0.5, None), vec![0, 0, 0, 0, 0, 2]);
        // A score threshold above every score selects nothing.
        assert_eq!(nms(boxes.clone(), scores.clone(), 10, 0.5, Some(0.6)), Vec::<i64>::new());
        // max_output_boxes_per_class = 0 (or negative) selects nothing.
        assert_eq!(nms(boxes, scores, -3, 0.5, None), Vec::<i64>::new());
    }

    #[test]
    fn mismatched_shapes_are_errors() {
        let boxes = f32s(&[1, 2, 4], &[0.0; 8]);
        let scores = f32s(&[1, 1, 3], &[0.0; 3]);
        assert!(run("NonMaxSuppression", 11, vec![], &[boxes.clone(), scores]).is_err());
        let scores = f32s(&[2, 1, 2], &[0.0; 4]);
        assert!(run("NonMaxSuppression", 11, vec![], &[boxes, scores]).is_err());
    }
}
