//! Unique (opsets 11, 28): the distinct elements (or slices along `axis`)
//! of a tensor, with first-occurrence indices, inverse indices and counts.
//! <https://onnx.ai/onnx/operators/onnx__Unique.html>
//!
//! Supported: flattened input or any `axis` (slices compared
//! lexicographically), `sorted` 1 (ascending) or 0 (order of first
//! occurrence); numeric, bool and string elements. Floats compare by value
//! (-0.0 equals 0.0) and every NaN is one value, after all numbers, as in
//! numpy. The number of unique entries depends on the data, so `Y`,
//! `indices` and `counts` have an unknown dimension; `inverse_indices` has
//! one entry per input element or slice.

use super::{util, Arg, OpDef, Slots};
use crate::front::onnx::OnnxNode;
use crate::ir::{Shape, TensorType};
use crate::tensor::{DType, Elem, Tensor};
use crate::{bail, map_array, Error, Result};
use ndarray::{ArrayD, Axis, IxDyn};
use std::cmp::Ordering;

#[derive(Debug, Clone)]
pub struct Unique {
    axis: Option<i64>,
    sorted: bool,
}

/// An element as a sortable key.
#[derive(Debug, Clone, PartialEq)]
enum Key {
    Int(i128),
    Float(f64),
    Str(String),
}

impl Key {
    fn cmp(&self, other: &Key) -> Ordering {
        match (self, other) {
            (Key::Int(a), Key::Int(b)) => a.cmp(b),
            (Key::Str(a), Key::Str(b)) => a.cmp(b),
            (Key::Float(a), Key::Float(b)) => match (a.is_nan(), b.is_nan()) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                (false, false) => a.partial_cmp(b).unwrap_or(Ordering::Equal),
            },
            // One tensor holds one kind of key.
            _ => Ordering::Equal,
        }
    }
}

impl OpDef for Unique {
    fn from_onnx(node: &OnnxNode) -> Result<Self> {
        let sorted = match node.int("sorted", 1)? {
            0 => false,
            1 => true,
            v => bail!("sorted must be 0 or 1, got {v}"),
        };
        Ok(Unique { axis: node.int_opt("axis")?, sorted })
    }

    fn infer(&self, inputs: &[Option<Arg>]) -> Result<Vec<TensorType>> {
        let x = inputs.req(0)?.ty;
        check_dtype(x.dtype)?;
        let one_dim = |d: Option<usize>| TensorType::new(DType::I64, Shape::from_dims(vec![d]));
        let (y, inverse_len) = match (self.axis, x.shape.dims()) {
            (None, _) => (Shape::of_rank(1), x.shape.numel()),
            (Some(_), None) => (Shape::unknown(), None),
            (Some(a), Some(dims)) => {
                let a = util::axis(a, dims.len())?;
                let mut y = dims.to_vec();
                y[a] = None;
                (Shape::from_dims(y), dims[a])
            }
        };
        Ok(vec![TensorType::new(x.dtype, y), one_dim(None), one_dim(inverse_len), one_dim(None)])
    }

    fn eval(&self, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
        let x = inputs.req(0)?;
        check_dtype(x.dtype())?;
        // Work on a view with the unique axis first: [slices, rest].
        let (x, axis) = match self.axis {
            None => (x.reshape(&[x.len()])?, 0),
            Some(a) => (x.clone(), util::axis(a, x.rank())?),
        };
        let keys = keys(&x)?;
        let n = x.shape()[axis];
        let inner: usize = x.shape()[axis + 1..].iter().product();
        let outer: usize = x.shape()[..axis].iter().product();
        // Slice i holds, for each outer index o, keys[(o * n + i) * inner ..][..inner].
        let slice_cmp = |i: usize, j: usize| -> Ordering {
            for o in 0..outer {
                let (a, b) = ((o * n + i) * inner, (o * n + j) * inner);
                for k in 0..inner {
                    let ord = keys[a + k].cmp(&keys[b + k]);
                    if ord != Ordering::Equal {
                        return ord;
                    }
                }
            }
            Ordering::Equal
        };
        let mut order: Vec<usize> = (0..n).collect();
        // Stable, so the first member of each group is its first occurrence.
        order.sort_by(|&i, &j| slice_cmp(i, j));
        let mut groups: Vec<(usize, i64)> = Vec::new(); // (first occurrence, count)
        let mut group_of = vec![0usize; n];
        for (pos, &i) in order.iter().enumerate() {
            if pos == 0 || slice_cmp(order[pos - 1], i) != Ordering::Equal {
                groups.push((i, 0));
            }
            let g = groups.len() - 1;
            groups[g].1 += 1;
            group_of[i] = g;
        }
        // rank[g]: the output position of group g.
        let mut rank: Vec<usize> = (0..groups.len()).collect();
        if !self.sorted {
            let mut by_first: Vec<usize> = (0..groups.len()).collect();
            by_first.sort_by_key(|&g| groups[g].0);
            for (pos, &g) in by_first.iter().enumerate() {
                rank[g] = pos;
            }
        }
        let mut firsts = vec![0usize; groups.len()];
        let mut counts = vec![0i64; groups.len()];
        for (g, &(first, count)) in groups.iter().enumerate() {
            firsts[rank[g]] = first;
            counts[rank[g]] = count;
        }
        let inverse: Vec<i64> = group_of.iter().map(|&g| rank[g] as i64).collect();
        let y = map_array!(&x, a => select(a, axis, &firsts)?);
        let as_i64 = |v: Vec<i64>| Tensor::from_vec(&[v.len()], v);
        Ok(vec![y, as_i64(firsts.iter().map(|&i| i as i64).collect())?, as_i64(inverse)?, as_i64(counts)?])
    }

    /// int8: float only.
    fn quantize(&self, rule: super::Rule) -> Result<super::Plan> {
        Ok(rule.float_only(super::NO_INTEGER_KERNEL))
    }
}

fn check_dtype(d: DType) -> Result<()> {
    if d.is_small() {
        bail!("Unique does not handle {d}");
    }
    Ok(())
}

/// Every element of `x` as a key, in row-major order.
fn keys(x: &Tensor) -> Result<Vec<Key>> {
    Ok(match x {
        Tensor::Bool(a) => a.iter().map(|&b| Key::Int(b as i128)).collect(),
        Tensor::Str(a) => a.iter().map(|s| Key::Str(s.clone())).collect(),
        Tensor::U64(a) => a.iter().map(|&v| Key::Int(v as i128)).collect(),
        t if t.dtype().is_int() => t.to_i64_vec()?.into_iter().map(|v| Key::Int(v as i128)).collect(),
        t if t.dtype().is_float() => t.to_f64_vec()?.into_iter().map(Key::Float).collect(),
        t => bail!("Unique does not handle {}", t.dtype()),
    })
}

/// The slices `indices` of `a` along `axis`, in that order.
fn select<T: Elem>(a: &ArrayD<T>, axis: usize, indices: &[usize]) -> Result<ArrayD<T>> {
    let mut shape = a.shape().to_vec();
    shape[axis] = indices.len();
    let views: Vec<_> = indices.iter().map(|&i| a.index_axis(Axis(axis), i).insert_axis(Axis(axis))).collect();
    if views.is_empty() {
        return ArrayD::from_shape_vec(IxDyn(&shape), Vec::new()).map_err(|e| Error::Op(format!("internal error: {e}")));
    }
    ndarray::concatenate(Axis(axis), &views).map_err(|e| Error::Op(format!("internal error: {e}")))
}

#[cfg(test)]
mod tests {
    use crate::front::onnx::Attr;
    use crate::ops::testing::{f32s, i64s, run};
    use crate::tensor::Tensor;

    fn ints(t: &Tensor) -> Vec<i64> {
        t.to_i64_vec().unwrap()
    }

    #[test]
    fn unsorted_follows_first_occurrence() {
        let x = i64s(&[6], &[2, 1, 1, 3, 4, 3]);
        let out = run("Unique", 11, vec![("sorted", Attr::Int(0))], &[x]).unwrap();
        assert_eq!(ints(&out[0]), vec![2, 1, 3, 4]);
        assert_eq!(ints(&out[1]), vec![0, 1, 3, 4]);
        assert_eq!(ints(&out[2]), vec![0, 1, 1, 2, 3, 2]);
        assert_eq!(ints(&out[3]), vec![1, 2, 2, 1]);
    }

    #[test]
    fn nans_collapse_after_the_numbers() {
        let x = f32s(&[5], &[f32::NAN, 1.0, -0.0, 0.0, f32::NAN]);
        let out = run("Unique", 11, vec![], &[x]).unwrap();
        let y: Vec<f32> = out[0].array::<f32>().unwrap().iter().copied().collect();
        assert_eq!(y.len(), 3);
        assert!(y[0] == 0.0 && y[1] == 1.0 && y[2].is_nan());
        assert_eq!(ints(&out[3]), vec![2, 1, 2]);
    }

    #[test]
    fn slices_along_an_axis_and_empty_inputs() {
        let x = i64s(&[2, 3], &[1, 0, 1, 1, 0, 1]);
        let out = run("Unique", 11, vec![("axis", Attr::Int(-1))], &[x]).unwrap();
        assert_eq!(out[0].shape(), &[2, 2]);
        assert_eq!(ints(&out[0]), vec![0, 1, 0, 1]);
        assert_eq!(ints(&out[2]), vec![1, 0, 1]);
        let empty = i64s(&[0], &[]);
        let out = run("Unique", 11, vec![], &[empty]).unwrap();
        assert_eq!(out[0].shape(), &[0]);
        assert!(run("Unique", 11, vec![("axis", Attr::Int(2))], &[i64s(&[2], &[1, 2])]).is_err());
    }

    #[test]
    fn strings_sort_lexicographically() {
        let x = Tensor::from_vec(&[3], vec!["b".to_string(), "a".into(), "b".into()]).unwrap();
        let out = run("Unique", 11, vec![], &[x]).unwrap();
        let y: Vec<String> = out[0].array::<String>().unwrap().iter().cloned().collect();
        assert_eq!(y, vec!["a".to_string(), "b".to_string()]);
    }
}
