//! TensorScatter (opset 24): writes `update` into a copy of `past_cache`
//! along the sequence axis, starting at each batch's write index (a KV
//! cache update).
//! <https://onnx.ai/onnx/operators/onnx__TensorScatter.html>
//!
//! Full operator: any element type, any `axis` but the batch axis 0, modes
//! `linear` (the written range must fit the cache) and `circular` (write
//! positions wrap modulo the cache length). Write indices must be
//! non-negative.

use super::{take, util, Arg, OpDef, Slots};
use crate::front::onnx::OnnxNode;
use crate::ir::{Shape, TensorType};
use crate::tensor::{checked_numel, DType, Tensor};
use crate::{bail, map2_array, Result};

#[derive(Debug, Clone)]
pub struct TensorScatter {
    axis: i64,
    circular: bool,
}

impl OpDef for TensorScatter {
    fn from_onnx(node: &OnnxNode) -> Result<Self> {
        let circular = match node.string("mode", "linear")?.as_str() {
            "linear" => false,
            "circular" => true,
            other => bail!("mode must be 'linear' or 'circular', got '{other}'"),
        };
        Ok(TensorScatter { axis: node.int("axis", -2)?, circular })
    }

    fn infer(&self, inputs: &[Option<Arg>]) -> Result<Vec<TensorType>> {
        let (past, update) = (inputs.req(0)?.ty, inputs.req(1)?.ty);
        util::same_dtype(past, update, "past_cache and update")?;
        let Some(rank) = past.shape.rank().or(update.shape.rank()) else {
            return Ok(vec![past.clone()]);
        };
        let axis = self.axis(rank)?;
        let mut dims = util::dims_of_rank(&past.shape, rank, "past_cache")?;
        let upd = util::dims_of_rank(&update.shape, rank, "update")?;
        for (a, (d, u)) in dims.iter_mut().zip(&upd).enumerate() {
            if a == axis {
                if let (Some(d), Some(u)) = (*d, *u) {
                    if u > d {
                        bail!("update's sequence length {u} exceeds the cache length {d}");
                    }
                }
            } else {
                *d = util::unify_dim(*d, *u, "past_cache and update dimensions")?;
            }
        }
        if let Some(w) = inputs.opt(2) {
            if w.ty.dtype != DType::I64 {
                bail!("write_indices must be int64, got {}", w.ty.dtype);
            }
            let wd = util::dims_of_rank(&w.ty.shape, 1, "write_indices")?;
            util::unify_dim(wd[0], dims[0], "write_indices length and batch size")?;
        }
        Ok(vec![TensorType::new(past.dtype, Shape::from_dims(dims))])
    }

    fn eval(&self, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
        let (past, update) = (inputs.req(0)?, inputs.req(1)?);
        let (shape, ushape) = (past.shape(), update.shape());
        let axis = self.axis(shape.len())?;
        let compatible = ushape.len() == shape.len()
            && shape.iter().zip(ushape).enumerate().all(|(a, (d, u))| if a == axis { u <= d } else { u == d });
        if !compatible {
            bail!("update of shape {ushape:?} does not fit past_cache of shape {shape:?} along axis {axis}");
        }
        let batch = shape[0];
        let writes = match inputs.opt(2) {
            Some(w) => {
                if w.dtype() != DType::I64 || w.shape() != [batch] {
                    bail!("write_indices must be int64[{batch}], got {}{:?}", w.dtype(), w.shape());
                }
                w.to_i64_vec()?
            }
            None => vec![0; batch],
        };
        let (cache_len, seq_len) = (shape[axis], ushape[axis]);
        let per_batch = checked_numel(&shape[1..axis])?;
        let prefixes = checked_numel(&shape[..axis])?;
        let inner = checked_numel(&shape[axis + 1..])?;

        // Flat destination of every update element, in the update's row-major order.
        let mut dst = Vec::with_capacity(update.len());
        for p in 0..prefixes {
            let b = p / per_batch.max(1);
            let Some(&start) = writes.get(b) else { bail!("internal: batch {b} has no write index") };
            let Ok(start) = usize::try_from(start) else { bail!("write index {start} of batch {b} is negative") };
            for s in 0..seq_len {
                let mut pos = start.saturating_add(s);
                if self.circular {
                    // seq_len > 0 here, and seq_len <= cache_len, so cache_len > 0.
                    pos %= cache_len;
                } else if pos >= cache_len {
                    bail!("write index {start} of batch {b} plus sequence length {seq_len} exceeds the cache length {cache_len}");
                }
                let base = (p * cache_len + pos) * inner;
                dst.extend(base..base + inner);
            }
        }
        let out = map2_array!(past, update, (d, u) => take::scatter(d, &dst, u, replace)?)?;
        Ok(vec![out])
    }

    /// int8: float only.
    fn quantize(&self, rule: super::Rule) -> Result<super::Plan> {
        Ok(rule.float_only(super::NO_INTEGER_KERNEL))
    }
}

fn replace<T: Clone>(_old: &T, new: &T) -> T {
    new.clone()
}

impl TensorScatter {
    /// The sequence axis, which cannot be the batch axis 0.
    fn axis(&self, rank: usize) -> Result<usize> {
        let axis = util::axis(self.axis, rank)?;
        if axis == 0 {
            bail!("axis {} is the batch axis; the sequence axis must be 1 or more", self.axis);
        }
        Ok(axis)
    }
}

#[cfg(test)]
mod tests {
    use crate::front::onnx::Attr;
    use crate::ops::testing::{f32s, i64s, infer, run};
    use crate::tensor::DType;

    fn circular() -> Vec<(&'static str, Attr)> {
        vec![("mode", Attr::String("circular".into()))]
    }

    #[test]
    fn writes_at_each_batch_index_and_wraps_in_circular_mode() {
        // Cache [2, 3, 1] (axis -2 = 1), update [2, 2, 1].
        let past = f32s(&[2, 3, 1], &[0.0; 6]);
        let upd = f32s(&[2, 2, 1], &[1.0, 2.0, 3.0, 4.0]);
        let w = i64s(&[2], &[1, 0]);
        let y = run("TensorScatter", 24, vec![], &[past.clone(), upd.clone(), w]).unwrap();
        assert_eq!(y[0], f32s(&[2, 3, 1], &[0.0, 1.0, 2.0, 3.0, 4.0, 0.0]));
        let w = i64s(&[2], &[2, 5]);
        let y = run("TensorScatter", 24, circular(), &[past, upd, w]).unwrap();
        assert_eq!(y[0], f32s(&[2, 3, 1], &[2.0, 0.0, 1.0, 4.0, 0.0, 3.0]));
    }

    #[test]
    fn out_of_range_writes_are_errors() {
        let past = f32s(&[1, 3], &[0.0; 3]);
        let upd = f32s(&[1, 2], &[1.0, 2.0]);
        let axis = || vec![("axis", Attr::Int(1))];
        assert!(run("TensorScatter", 24, axis(), &[past.clone(), upd.clone(), i64s(&[1], &[2])]).is_err());
        assert!(run("TensorScatter", 24, axis(), &[past.clone(), upd.clone(), i64s(&[1], &[-1])]).is_err());
        assert!(run("TensorScatter", 24, axis(), &[past.clone(), upd.clone(), i64s(&[1], &[i64::MAX])]).is_err());
        assert!(run("TensorScatter", 24, axis(), &[past.clone(), upd.clone(), i64s(&[2], &[0, 0])]).is_err());
        // The batch axis, an update longer than the cache, a bad mode.
        assert!(run("TensorScatter", 24, vec![("axis", Attr::Int(0))], &[past.clone(), upd.clone()]).is_err());
        assert!(run("TensorScatter", 24, axis(), &[upd.clone(), past.clone()]).is_err());
        assert!(run("TensorScatter", 24, vec![("mode", Attr::String("ring".into()))], &[past, upd]).is_err());
    }

    #[test]
    fn infers_the_cache_shape() {
        let past = f32s(&[2, 4, 3], &[0.0; 24]);
        let upd = f32s(&[2, 1, 3], &[0.0; 6]);
        let ty = infer("TensorScatter", 24, vec![], &[past, upd.clone()], &[]).unwrap();
        assert_eq!(ty[0], crate::ir::TensorType::fixed(DType::F32, &[2, 4, 3]));
        let wrong = f32s(&[2, 4, 2], &[0.0; 16]);
        assert!(infer("TensorScatter", 24, vec![], &[wrong, upd], &[]).is_err());
    }
}
