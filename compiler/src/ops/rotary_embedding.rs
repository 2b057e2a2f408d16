//! RotaryEmbedding (opset 23): rotary positional embeddings (RoPE).
//! <https://onnx.ai/onnx/operators/onnx__RotaryEmbedding.html>
//!
//! Supported: 4-D input `[batch, heads, seq, head_size]` and 3-D input
//! `[batch, seq, heads * head_size]` (with `num_heads`); the half-split and
//! `interleaved` pairings; partial rotation (`rotary_embedding_dim`); caches
//! indexed by `position_ids` (`[max_position, dim / 2]`) or given per token
//! (`[batch, seq, dim / 2]`). Batch and sequence axes of size 1 broadcast.
//! Float16/bfloat16/float32; each step is rounded to the input type.

use super::precision::Prec;
use super::util::positive;
use super::{Arg, OpDef, Slots};
use crate::front::onnx::OnnxNode;
use crate::ir::{Dim, TensorType};
use crate::tensor::{DType, Tensor};
use crate::{bail, Error, Result};

#[derive(Debug, Clone)]
pub struct RotaryEmbedding {
    interleaved: bool,
    /// 0: rotate the whole head.
    rotary_dim: usize,
    num_heads: Option<usize>,
}

/// Sizes of one evaluation.
struct Layout {
    rank3: bool,
    batch: usize,
    heads: usize,
    seq: usize,
    head: usize,
    /// Number of rotated pairs: `rotary_dim / 2`.
    half: usize,
}

impl OpDef for RotaryEmbedding {
    fn from_onnx(node: &OnnxNode) -> Result<Self> {
        let interleaved = match node.int("interleaved", 0)? {
            0 => false,
            1 => true,
            v => bail!("interleaved must be 0 or 1, got {v}"),
        };
        let rotary_dim = match node.int("rotary_embedding_dim", 0)? {
            d if d >= 0 && d % 2 == 0 => usize::try_from(d).map_err(|_| Error::Op(format!("rotary_embedding_dim {d} is too large")))?,
            d => bail!("rotary_embedding_dim must be a nonnegative even number, got {d}"),
        };
        let num_heads = node.int_opt("num_heads")?.map(|n| positive(n, "num_heads")).transpose()?;
        Ok(RotaryEmbedding { interleaved, rotary_dim, num_heads })
    }

    fn infer(&self, inputs: &[Option<Arg>]) -> Result<Vec<TensorType>> {
        let x = inputs.req(0)?.ty;
        Prec::of(x.dtype)?;
        for (i, name) in [(1, "cos_cache"), (2, "sin_cache")] {
            let c = inputs.req(i)?.ty;
            if c.dtype != x.dtype {
                bail!("{name} has element type {}, but the input has {}", c.dtype, x.dtype);
            }
            let want = if inputs.opt(3).is_some() { 2 } else { 3 };
            if let Some(r) = c.shape.rank() {
                if r != want {
                    bail!("{name} must be {want}-D here, got {}", c.shape);
                }
            }
            if let (Some(dims), Some(half)) = (c.shape.dims(), self.half_of(x.shape.dims())?) {
                if let Some(Some(last)) = dims.last() {
                    if *last != half {
                        bail!("{name} has {last} values per position, but the rotation needs {half}");
                    }
                }
            }
        }
        if let Some(p) = inputs.opt(3) {
            if p.ty.dtype != DType::I64 {
                bail!("position_ids must be int64, got {}", p.ty.dtype);
            }
        }
        Ok(vec![x.clone()])
    }

    fn eval(&self, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
        let x = inputs.req(0)?;
        let (cos, sin) = (inputs.req(1)?, inputs.req(2)?);
        let p = Prec::of(x.dtype())?;
        if cos.dtype() != x.dtype() || sin.dtype() != x.dtype() {
            bail!("the caches must have the input's element type {}", x.dtype());
        }
        if cos.shape() != sin.shape() {
            bail!("cos_cache {:?} and sin_cache {:?} differ in shape", cos.shape(), sin.shape());
        }
        let l = self.layout(x.shape())?;
        let rows = CacheRows::new(cos.shape(), inputs.opt(3), &l)?;
        let (cos, sin) = (cos.to_f64_vec()?, sin.to_f64_vec()?);
        let mut data = x.to_f64_vec()?;
        let r = |v: f64| p.round(v);
        for b in 0..l.batch {
            for s in 0..l.seq {
                let at = rows.row(b, s)? * l.half;
                let (Some(c), Some(sn)) = (cos.get(at..at + l.half), sin.get(at..at + l.half)) else {
                    bail!("cache row {} is out of range", at / l.half.max(1));
                };
                for h in 0..l.heads {
                    let base = if l.rank3 { ((b * l.seq + s) * l.heads + h) * l.head } else { ((b * l.heads + h) * l.seq + s) * l.head };
                    let Some(v) = data.get_mut(base..base + 2 * l.half) else { bail!("internal error: head out of range") };
                    for k in 0..l.half {
                        let (i1, i2) = if self.interleaved { (2 * k, 2 * k + 1) } else { (k, k + l.half) };
                        let (x1, x2) = (v[i1], v[i2]);
                        v[i1] = r(r(c[k] * x1) - r(sn[k] * x2));
                        v[i2] = r(r(sn[k] * x1) + r(c[k] * x2));
                    }
                }
            }
        }
        Ok(vec![Tensor::from_vec(x.shape(), data)?.cast(x.dtype())?])
    }

    /// int8: float only.
    fn quantize(&self, rule: super::Rule) -> Result<super::Plan> {
        Ok(rule.float_only(super::NO_INTEGER_KERNEL))
    }
}

impl RotaryEmbedding {
    /// Number of rotated pairs, if the head size is known.
    fn half_of(&self, dims: Option<&[Dim]>) -> Result<Option<usize>> {
        let head = match dims {
            Some([_, _, _, Some(d)]) => *d,
            Some([_, _, Some(hidden)]) => match self.num_heads {
                Some(n) if hidden % n == 0 => hidden / n,
                Some(n) => bail!("hidden size {hidden} is not a multiple of num_heads {n}"),
                None => bail!("a 3-D input needs the num_heads attribute"),
            },
            Some(d) if d.len() != 3 && d.len() != 4 => bail!("the input must be 3-D or 4-D, got rank {}", d.len()),
            _ => return Ok(None),
        };
        let dim = if self.rotary_dim == 0 { head } else { self.rotary_dim };
        if dim > head || dim % 2 != 0 {
            bail!("cannot rotate {dim} of a head of size {head} (the rotated part must be even and fit the head)");
        }
        Ok(Some(dim / 2))
    }

    fn layout(&self, shape: &[usize]) -> Result<Layout> {
        let dims: Vec<Dim> = shape.iter().map(|&d| Some(d)).collect();
        let Some(half) = self.half_of(Some(&dims))? else { bail!("the input must be 3-D or 4-D, got {shape:?}") };
        Ok(match *shape {
            [batch, heads, seq, head] => Layout { rank3: false, batch, heads, seq, head, half },
            [batch, seq, hidden] => {
                let heads = self.num_heads.unwrap_or(1);
                Layout { rank3: true, batch, heads, seq, head: hidden / heads, half }
            }
            _ => bail!("the input must be 3-D or 4-D, got {shape:?}"),
        })
    }
}

/// Which cache row serves each (batch, position).
enum CacheRows {
    /// Row `position_ids[b, s]` of a `[max_position, half]` cache; the ids
    /// have shape `[pb, ps]`, each 1 or the full size.
    Ids { ids: Vec<i64>, pb: usize, ps: usize, max: usize },
    /// A `[cb, cs, half]` cache indexed by batch and position directly.
    Direct { cb: usize, cs: usize },
}

impl CacheRows {
    fn new(cache: &[usize], ids: Option<&Tensor>, l: &Layout) -> Result<CacheRows> {
        let fits = |d: usize, full: usize| d == 1 || d == full;
        match (ids, cache) {
            (Some(ids), &[max, half]) if half == l.half => match *ids.shape() {
                [pb, ps] if ids.dtype() == DType::I64 && fits(pb, l.batch) && fits(ps, l.seq) => {
                    Ok(CacheRows::Ids { ids: ids.to_i64_vec()?, pb, ps, max })
                }
                _ => bail!("position_ids must be int64 of shape [{}, {}], got {}{:?}", l.batch, l.seq, ids.dtype(), ids.shape()),
            },
            (None, &[cb, cs, half]) if half == l.half && fits(cb, l.batch) && fits(cs, l.seq) => Ok(CacheRows::Direct { cb, cs }),
            _ => bail!(
                "the caches must have shape {} with {} values per row, got {cache:?}",
                if ids.is_some() { "[max_position, dim / 2]" } else { "[batch, seq, dim / 2]" },
                l.half
            ),
        }
    }

    fn row(&self, b: usize, s: usize) -> Result<usize> {
        let pick = |i: usize, n: usize| if n == 1 { 0 } else { i };
        match self {
            CacheRows::Ids { ids, pb, ps, max } => {
                let id = ids.get(pick(b, *pb) * ps + pick(s, *ps)).copied().unwrap_or(-1);
                match usize::try_from(id) {
                    Ok(id) if id < *max => Ok(id),
                    _ => bail!("position id {id} is out of range for a cache of {max} positions"),
                }
            }
            CacheRows::Direct { cb, cs } => Ok(pick(b, *cb) * cs + pick(s, *cs)),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::front::onnx::Attr;
    use crate::ops::testing::{f32_values, f32s, i64s, run};

    #[test]
    fn rotates_pairs_by_the_cached_angle() {
        // Head of 2: one pair (x1, x2) rotated by 90 degrees -> (-x2, x1).
        let x = f32s(&[1, 1, 1, 2], &[1.0, 2.0]);
        let cos = f32s(&[3, 1], &[1.0, 1.0, 0.0]);
        let sin = f32s(&[3, 1], &[0.0, 0.0, 1.0]);
        let y = run("RotaryEmbedding", 23, vec![], &[x, cos, sin, i64s(&[1, 1], &[2])]).unwrap();
        assert_eq!(f32_values(&y[0]), vec![-2.0, 1.0]);
    }

    #[test]
    fn partial_rotation_keeps_the_tail() {
        let x = f32s(&[1, 1, 1, 4], &[1.0, 2.0, 3.0, 4.0]);
        let cos = f32s(&[1, 1, 1], &[0.0]);
        let sin = f32s(&[1, 1, 1], &[1.0]);
        let y = run("RotaryEmbedding", 23, vec![("rotary_embedding_dim", Attr::Int(2))], &[x, cos, sin]).unwrap();
        assert_eq!(f32_values(&y[0]), vec![-2.0, 1.0, 3.0, 4.0]);
    }

    #[test]
    fn out_of_range_positions_are_errors() {
        let x = f32s(&[1, 1, 1, 2], &[1.0, 2.0]);
        let cache = f32s(&[3, 1], &[0.0; 3]);
        for id in [3, -1] {
            let err = run("RotaryEmbedding", 23, vec![], &[x.clone(), cache.clone(), cache.clone(), i64s(&[1, 1], &[id])]).unwrap_err();
            assert!(err.to_string().contains("out of range"), "{err}");
        }
    }

    #[test]
    fn bad_shapes_and_attributes_are_errors() {
        let x3 = f32s(&[1, 1, 4], &[0.0; 4]);
        let cache = f32s(&[1, 1, 1], &[0.0]);
        // 3-D input without num_heads.
        assert!(run("RotaryEmbedding", 23, vec![], &[x3.clone(), cache.clone(), cache.clone()]).is_err());
        // Cache rows too short for the head.
        assert!(run("RotaryEmbedding", 23, vec![("num_heads", Attr::Int(1))], &[x3.clone(), cache.clone(), cache.clone()]).is_err());
        assert!(run("RotaryEmbedding", 23, vec![("rotary_embedding_dim", Attr::Int(3))], &[x3.clone(), cache.clone(), cache.clone()]).is_err());
        assert!(run("RotaryEmbedding", 23, vec![("num_heads", Attr::Int(3))], &[x3, cache.clone(), cache]).is_err());
        let x = f32s(&[1, 1, 1, 2], &[0.0; 2]);
        let big = f32s(&[1, 1, 1], &[0.0]);
        assert!(run("RotaryEmbedding", 23, vec![("rotary_embedding_dim", Attr::Int(4))], &[x, big.clone(), big]).is_err());
    }
}
