//! NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss (opsets 12 to 22).
//! <https://onnx.ai/onnx/operators/onnx__NegativeLogLikelihoodLoss.html>
//! <https://onnx.ai/onnx/operators/onnx__SoftmaxCrossEntropyLoss.html>
//!
//! Full operators: scores of shape `[N, C, d1, .., dk]` (k >= 0), labels of
//! shape `[N, d1, .., dk]` (int32 or int64), optional per-class weights `[C]`,
//! `ignore_index`, reductions `none`, `sum` and `mean`, and
//! SoftmaxCrossEntropyLoss's optional `log_prob` output. Float16, bfloat16,
//! float32 and float64; values are computed in `f64` and rounded to the
//! input type where the reference rounds (each log-probability, each
//! weighted loss, the sums). A label outside `[0, C)` that is not
//! `ignore_index` is an error.
//!
//! With weights, `mean` divides the weighted sum by the sum of the weights
//! of the labels that are not ignored; without, by the number of labels
//! that are not ignored (NaN when there are none, as 0/0).

use super::precision::Prec;
use super::softmax::{normalise, Kind};
use super::{take, util, Arg, OpDef, Slots};
use crate::front::onnx::OnnxNode;
use crate::ir::{Shape, TensorType};
use crate::tensor::{checked_numel, Tensor};
use crate::{bail, Result};
use ndarray::{ArrayD, Axis, IxDyn};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reduction {
    None,
    Sum,
    Mean,
}

#[derive(Debug, Clone)]
pub struct Loss {
    /// SoftmaxCrossEntropyLoss: the scores go through LogSoftmax over axis 1 first.
    softmax: bool,
    reduction: Reduction,
    ignore_index: Option<i64>,
}

impl OpDef for Loss {
    fn from_onnx(node: &OnnxNode) -> Result<Self> {
        let softmax = match node.op_type.as_str() {
            "NegativeLogLikelihoodLoss" => false,
            "SoftmaxCrossEntropyLoss" => true,
            other => bail!("'{other}' is not NegativeLogLikelihoodLoss or SoftmaxCrossEntropyLoss"),
        };
        let reduction = match node.string("reduction", "mean")?.as_str() {
            "none" => Reduction::None,
            "sum" => Reduction::Sum,
            "mean" => Reduction::Mean,
            other => bail!("reduction must be 'none', 'sum' or 'mean', got '{other}'"),
        };
        if !softmax && node.num_outputs() > 1 {
            bail!("NegativeLogLikelihoodLoss has one output, got {}", node.num_outputs());
        }
        Ok(Loss { softmax, reduction, ignore_index: node.int_opt("ignore_index")? })
    }

    fn infer(&self, inputs: &[Option<Arg>]) -> Result<Vec<TensorType>> {
        let (x, labels) = (inputs.req(0)?.ty, inputs.req(1)?.ty);
        Prec::of(x.dtype)?;
        take::check_index_type(labels.dtype, "labels")?;
        let weight = inputs.opt(2).map(|w| w.ty);
        if let Some(w) = weight {
            util::same_dtype(x, w, "scores and weights")?;
        }
        let rank = match (x.shape.rank(), labels.shape.rank()) {
            (Some(r), _) => Some(r),
            (None, Some(r)) => Some(r + 1),
            (None, None) => None,
        };
        let loss_shape = match rank {
            Some(rank) => {
                if rank < 2 {
                    bail!("scores must have rank 2 or more ([N, C, ...]), got {}", x.shape);
                }
                let xd = util::dims_of_rank(&x.shape, rank, "scores")?;
                let mut ld = util::dims_of_rank(&labels.shape, rank - 1, "labels")?;
                for (i, l) in ld.iter_mut().enumerate() {
                    let xi = if i == 0 { xd[0] } else { xd[i + 1] };
                    *l = util::unify_dim(*l, xi, "labels and scores dimensions")?;
                }
                if let Some(w) = weight {
                    let wd = util::dims_of_rank(&w.shape, 1, "weights")?;
                    util::unify_dim(wd[0], xd[1], "weights and classes")?;
                }
                Shape::from_dims(ld)
            }
            None => Shape::unknown(),
        };
        let loss = match self.reduction {
            Reduction::None => TensorType::new(x.dtype, loss_shape),
            _ => TensorType::fixed(x.dtype, &[]),
        };
        let mut out = vec![loss];
        if self.softmax {
            out.push(x.clone());
        }
        Ok(out)
    }

    fn eval(&self, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
        let (x, labels) = (inputs.req(0)?, inputs.req(1)?);
        let prec = Prec::of(x.dtype())?;
        take::check_index_type(labels.dtype(), "labels")?;
        let shape = x.shape();
        if shape.len() < 2 {
            bail!("scores must have rank 2 or more ([N, C, ...]), got shape {shape:?}");
        }
        let (n, classes) = (shape[0], shape[1]);
        let mut want_labels = vec![n];
        want_labels.extend_from_slice(&shape[2..]);
        if labels.shape() != want_labels.as_slice() {
            bail!("labels have shape {:?}, expected {want_labels:?} for scores of shape {shape:?}", labels.shape());
        }
        let weights = match inputs.opt(2) {
            Some(w) => {
                if w.dtype() != x.dtype() || w.shape() != [classes] {
                    bail!("weights must be {}[{classes}], got {}{:?}", x.dtype(), w.dtype(), w.shape());
                }
                Some(w.to_f64_vec()?)
            }
            None => None,
        };

        let mut scores = ArrayD::from_shape_vec(IxDyn(shape), x.to_f64_vec()?)
            .map_err(|e| crate::Error::Op(format!("internal shape error: {e}")))?;
        if self.softmax {
            scores.lanes_mut(Axis(1)).into_iter().for_each(|lane| normalise(Kind::LogSoftmax, lane));
            scores.mapv_inplace(|v| prec.round(v));
        }
        let Some(flat) = scores.as_slice() else { bail!("internal: scores are not contiguous") };
        let inner = checked_numel(&shape[2..])?;

        // Weighted loss and applied weight of each label, row-major over [N, d1, ..].
        let label_values = labels.to_i64_vec()?;
        let mut losses = Vec::with_capacity(label_values.len());
        let mut applied = Vec::with_capacity(label_values.len());
        for (pos, &label) in label_values.iter().enumerate() {
            if Some(label) == self.ignore_index {
                losses.push(0.0);
                applied.push(0.0);
                continue;
            }
            let c = match usize::try_from(label) {
                Ok(c) if c < classes => c,
                _ => bail!("label {label} is out of range for {classes} classes (ignore_index is {:?})", self.ignore_index),
            };
            // pos = i * inner + d; the score sits at (i, c, d).
            let (i, d) = (pos / inner.max(1), pos % inner.max(1));
            let at = (i * classes + c) * inner + d;
            let Some(&score) = flat.get(at) else { bail!("internal: score position {at} out of range") };
            let w = weights.as_ref().and_then(|w| w.get(c).copied()).unwrap_or(1.0);
            losses.push(prec.round(-score * w));
            applied.push(w);
        }

        let loss = match self.reduction {
            Reduction::None => Tensor::from_vec(labels.shape(), losses)?.cast(x.dtype())?,
            Reduction::Sum => Tensor::scalar(prec.sum(losses.into_iter())).cast(x.dtype())?,
            Reduction::Mean => {
                let total = prec.sum(losses.into_iter());
                // Without weights the divisor is an exact count of the labels not ignored.
                let count = if weights.is_some() { prec.sum(applied.into_iter()) } else { applied.iter().sum() };
                Tensor::scalar(prec.round(total / count)).cast(x.dtype())?
            }
        };
        let mut out = vec![loss];
        if self.softmax {
            out.push(Tensor::F64(scores).cast(x.dtype())?);
        }
        Ok(out)
    }

    /// int8: float only.
    fn quantize(&self, rule: super::Rule) -> Result<super::Plan> {
        Ok(rule.float_only(super::NO_INTEGER_KERNEL))
    }
}

#[cfg(test)]
mod tests {
    use crate::front::onnx::Attr;
    use crate::ops::testing::{f32s, i64s, infer, run};
    use crate::tensor::{DType, Tensor};

    fn values(t: &Tensor) -> Vec<f64> {
        t.to_f64_vec().unwrap()
    }

    #[test]
    fn nll_reductions_with_weights_and_ignore_index() {
        // N=2, C=3, d1=2.
        let x = f32s(&[2, 3, 2], &[1.0, 2.0, 2.0, 2.0, 3.0, 2.0, 0.0, 1.0, 2.0, 2.0, 1.0, 2.0]);
        let t = i64s(&[2, 2], &[2, 1, 0, 2]);
        let w = f32s(&[3], &[0.2, 0.3, 0.1]);
        let none = run("NegativeLogLikelihoodLoss", 13, vec![("reduction", Attr::String("none".into()))], &[x.clone(), t.clone()]).unwrap();
        assert_eq!(values(&none[0]), vec![-3.0, -2.0, -0.0, -2.0]);
        let sum = run(
            "NegativeLogLikelihoodLoss",
            13,
            vec![("reduction", Attr::String("sum".into()))],
            &[x.clone(), t.clone(), w.clone()],
        )
        .unwrap();
        assert!((values(&sum[0])[0] - -(0.3 + 0.6 + 0.0 + 0.2)).abs() < 1e-6);
        let mean = run("NegativeLogLikelihoodLoss", 13, vec![("ignore_index", Attr::Int(2))], &[x, t]).unwrap();
        // Labels 2 are ignored: (-2 - 0) / 2.
        assert_eq!(values(&mean[0]), vec![-1.0]);
    }

    #[test]
    fn sce_outputs_log_probabilities() {
        let x = f32s(&[1, 2], &[0.0, 0.0]);
        let t = i64s(&[1], &[1]);
        let y = run("SoftmaxCrossEntropyLoss", 13, vec![], &[x, t]).unwrap();
        let ln2 = std::f64::consts::LN_2;
        assert!((values(&y[0])[0] - ln2).abs() < 1e-6);
        assert!(values(&y[1]).iter().all(|v| (v + ln2).abs() < 1e-6));
    }

    #[test]
    fn labels_out_of_range_are_errors() {
        let x = f32s(&[2, 3], &[0.0; 6]);
        for bad in [3, -1, i64::MIN, i64::MAX] {
            let t = i64s(&[2], &[0, bad]);
            assert!(run("NegativeLogLikelihoodLoss", 13, vec![], &[x.clone(), t.clone()]).is_err(), "{bad}");
            assert!(run("SoftmaxCrossEntropyLoss", 13, vec![], &[x.clone(), t]).is_err(), "{bad}");
        }
        // The ignored value may be anything.
        let t = i64s(&[2], &[0, -100]);
        assert!(run("NegativeLogLikelihoodLoss", 13, vec![("ignore_index", Attr::Int(-100))], &[x, t]).is_ok());
    }

    #[test]
    fn bad_shapes_types_and_attributes_are_errors() {
        let x = f32s(&[2, 3], &[0.0; 6]);
        let t = i64s(&[2], &[0, 1]);
        // Labels of the wrong shape, weights of the wrong length, rank-1 scores.
        assert!(run("NegativeLogLikelihoodLoss", 13, vec![], &[x.clone(), i64s(&[3], &[0, 1, 2])]).is_err());
        assert!(run("NegativeLogLikelihoodLoss", 13, vec![], &[x.clone(), t.clone(), f32s(&[2], &[1.0, 1.0])]).is_err());
        assert!(run("NegativeLogLikelihoodLoss", 13, vec![], &[f32s(&[3], &[0.0; 3]), i64s(&[], &[0])]).is_err());
        // Float labels, integer scores, an unknown reduction.
        assert!(run("NegativeLogLikelihoodLoss", 13, vec![], &[x.clone(), f32s(&[2], &[0.0, 1.0])]).is_err());
        assert!(run("NegativeLogLikelihoodLoss", 13, vec![], &[i64s(&[2, 3], &[0; 6]), t.clone()]).is_err());
        assert!(run("NegativeLogLikelihoodLoss", 13, vec![("reduction", Attr::String("max".into()))], &[x, t]).is_err());
    }

    #[test]
    fn infers_exact_shapes() {
        let x = Tensor::zeros(DType::F32, &[2, 3, 4, 5]).unwrap();
        let t = Tensor::zeros(DType::I64, &[2, 4, 5]).unwrap();
        let none = vec![("reduction", Attr::String("none".into()))];
        let ty = infer("SoftmaxCrossEntropyLoss", 13, none, &[x.clone(), t.clone()], &[]).unwrap();
        assert_eq!(ty[0], crate::ir::TensorType::fixed(DType::F32, &[2, 4, 5]));
        assert_eq!(ty[1], crate::ir::TensorType::fixed(DType::F32, &[2, 3, 4, 5]));
        let ty = infer("NegativeLogLikelihoodLoss", 13, vec![], &[x, t], &[]).unwrap();
        assert_eq!(ty[0], crate::ir::TensorType::fixed(DType::F32, &[]));
        let bad = Tensor::zeros(DType::I64, &[2, 4, 6]).unwrap();
        assert!(infer("NegativeLogLikelihoodLoss", 13, vec![], &[Tensor::zeros(DType::F32, &[2, 3, 4, 5]).unwrap(), bad], &[]).is_err());
    }
}
