//! Einsum: general Einstein summation over any number of operands, with
//! explicit or implicit output, repeated labels within a term (diagonals),
//! ellipsis axes (broadcast like numpy) and sums over labels that do not
//! reach the output. Numeric types: floats (the half types computed in
//! float32) and integers (wrapping).
//! <https://onnx.ai/onnx/operators/onnx__Einsum.html>
//!
//! Evaluation: each operand first takes its diagonals and sums the labels
//! no one else needs; operands are then contracted left to right, each
//! pair as one batched GEMM ([batch, M, K] x [batch, K, N]); the result is
//! finally permuted into the output's label order.

mod parse;

use super::dense::{compute_type, demote, promote};
use super::{Arg, OpDef};
use crate::front::onnx::OnnxNode;
use crate::interp::gemm::{gemm, Dot};
use crate::ir::{Dim, Shape, TensorType};
use crate::tensor::{checked_numel, DType, Elem, Tensor};
use crate::{bail, Error, Result};
use ndarray::{ArrayD, ArrayView2, ArrayViewMut2, Axis, IxDyn};
use parse::{is_ellipsis, Equation, Label};

#[derive(Debug, Clone)]
pub struct Einsum {
    equation: Equation,
}

/// The size of every label, from partly known operand dims; ellipsis
/// axes broadcast (1 against n), letters must agree.
fn label_sizes(labels: &[Vec<Label>], dims: &[Vec<Dim>]) -> Result<Vec<(Label, Dim)>> {
    let mut sizes: Vec<(Label, Dim)> = Vec::new();
    for (ls, ds) in labels.iter().zip(dims) {
        for (&l, &d) in ls.iter().zip(ds) {
            match sizes.iter_mut().find(|(m, _)| *m == l) {
                None => sizes.push((l, d)),
                Some((_, s)) => match (*s, d) {
                    (Some(a), Some(b)) if a == b => {}
                    (Some(1), Some(b)) if is_ellipsis(l) => *s = Some(b),
                    (Some(_), Some(1)) if is_ellipsis(l) => {}
                    (Some(a), Some(b)) => bail!("a label has size {a} in one place and {b} in another"),
                    (None, d) => *s = d,
                    (Some(_), None) => {}
                },
            }
        }
    }
    Ok(sizes)
}

fn size_of(sizes: &[(Label, Dim)], l: Label) -> Dim {
    sizes.iter().find(|(m, _)| *m == l).and_then(|(_, d)| *d)
}

/// An intermediate operand: an array with one label per axis.
struct Term<T> {
    data: ArrayD<T>,
    labels: Vec<Label>,
}

fn shape_err(e: ndarray::ShapeError) -> Error {
    Error::Op(format!("internal shape error: {e}"))
}

impl<T: Dot + Elem> Term<T> {
    /// Keeps one axis per label, taking the diagonal of repeated labels.
    fn diagonal(self) -> Result<Term<T>> {
        let mut unique: Vec<Label> = Vec::new();
        for &l in &self.labels {
            if !unique.contains(&l) {
                unique.push(l);
            }
        }
        if unique.len() == self.labels.len() {
            return Ok(self);
        }
        let dims: Vec<usize> = unique.iter().map(|l| self.labels.iter().position(|m| m == l).map_or(1, |i| self.data.shape()[i])).collect();
        for (&l, &d) in self.labels.iter().zip(self.data.shape()) {
            if unique.iter().position(|&m| m == l).map(|i| dims[i]) != Some(d) {
                bail!("a repeated label has sizes that differ within one operand");
            }
        }
        checked_numel(&dims)?;
        let src: Vec<usize> = self.labels.iter().map(|l| unique.iter().position(|m| m == l).unwrap_or(0)).collect();
        let mut at = vec![0usize; src.len()];
        let data = ArrayD::from_shape_fn(IxDyn(&dims), |idx| {
            for (a, &s) in at.iter_mut().zip(&src) {
                *a = idx[s];
            }
            self.data.get(IxDyn(&at)).copied().unwrap_or_else(T::zero)
        });
        Ok(Term { data, labels: unique })
    }

    /// Sums the axes whose labels are not in `keep`.
    fn reduce(mut self, keep: &[Label]) -> Term<T> {
        for i in (0..self.labels.len()).rev() {
            if !keep.contains(&self.labels[i]) {
                self.data = self.data.fold_axis(Axis(i), T::zero(), |acc, &x| (*acc).add(x));
                self.labels.remove(i);
            }
        }
        self
    }

    /// The data with axes in `order` (labels), broadcast to `sizes`, as a
    /// contiguous array of shape `[groups...]` collapsed to `collapsed`.
    fn arrange(&self, order: &[Label], sizes: &[(Label, Dim)], collapsed: &[usize]) -> Result<ArrayD<T>> {
        let perm: Vec<usize> = order.iter().filter_map(|l| self.labels.iter().position(|m| m == l)).collect();
        let mut sorted = perm.clone();
        sorted.sort_unstable();
        if perm.len() != self.labels.len() || sorted.iter().enumerate().any(|(i, &p)| i != p) {
            bail!("internal error: labels do not match the arrangement");
        }
        let permuted = self.data.view().permuted_axes(IxDyn(&perm));
        let full: Vec<usize> = order.iter().map(|&l| size_of(sizes, l).unwrap_or(1)).collect();
        let Some(b) = permuted.broadcast(IxDyn(&full)) else { bail!("operand axes do not broadcast") };
        let owned = b.as_standard_layout().into_owned();
        owned.into_shape_with_order(IxDyn(collapsed)).map_err(shape_err)
    }
}

/// Contracts two terms: labels in both and in `keep` are batch axes,
/// labels in both but not kept are summed.
fn contract<T: Dot + Elem>(a: Term<T>, b: Term<T>, keep: &[Label], sizes: &[(Label, Dim)]) -> Result<Term<T>> {
    let a = a.reduce(&[keep, &b.labels].concat());
    let b = b.reduce(&[keep, &a.labels].concat());
    let in_b = |l: &Label| b.labels.contains(l);
    let batch: Vec<Label> = a.labels.iter().copied().filter(|l| in_b(l) && keep.contains(l)).collect();
    let summed: Vec<Label> = a.labels.iter().copied().filter(|l| in_b(l) && !keep.contains(l)).collect();
    let a_only: Vec<Label> = a.labels.iter().copied().filter(|l| !in_b(l)).collect();
    let b_only: Vec<Label> = b.labels.iter().copied().filter(|l| !a.labels.contains(l)).collect();
    let prod = |ls: &[Label]| -> Result<usize> { checked_numel(&ls.iter().map(|&l| size_of(sizes, l).unwrap_or(1)).collect::<Vec<_>>()) };
    let (nb, m, k, n) = (prod(&batch)?, prod(&a_only)?, prod(&summed)?, prod(&b_only)?);
    let av = a.arrange(&[&batch[..], &a_only, &summed].concat(), sizes, &[nb, m, k])?;
    let bv = b.arrange(&[&batch[..], &summed, &b_only].concat(), sizes, &[nb, k, n])?;
    let labels = [&batch[..], &a_only, &b_only].concat();
    let dims: Vec<usize> = labels.iter().map(|&l| size_of(sizes, l).unwrap_or(1)).collect();
    let total = checked_numel(&dims)?;
    let mut y = vec![T::zero(); total];
    let (asl, bsl) = (av.as_slice().unwrap_or(&[]), bv.as_slice().unwrap_or(&[]));
    for i in 0..nb {
        let a2 = ArrayView2::from_shape((m, k), asl.get(i * m * k..(i + 1) * m * k).unwrap_or(&[])).map_err(shape_err)?;
        let b2 = ArrayView2::from_shape((k, n), bsl.get(i * k * n..(i + 1) * k * n).unwrap_or(&[])).map_err(shape_err)?;
        let Some(ys) = y.get_mut(i * m * n..(i + 1) * m * n) else { bail!("internal error: batch out of range") };
        gemm(T::one(), a2, b2, T::zero(), ArrayViewMut2::from_shape((m, n), ys).map_err(shape_err)?)?;
    }
    let data = ArrayD::from_shape_vec(IxDyn(&dims), y).map_err(shape_err)?;
    Ok(Term { data, labels })
}

impl Einsum {
    fn run<T: Dot + Elem>(&self, inputs: &[&Tensor]) -> Result<Tensor> {
        let ranks: Vec<usize> = inputs.iter().map(|t| t.rank()).collect();
        let (labels, output) = self.equation.resolve(&ranks)?;
        let dims: Vec<Vec<Dim>> = inputs.iter().map(|t| t.shape().iter().map(|&d| Some(d)).collect()).collect();
        let sizes = label_sizes(&labels, &dims)?;
        let mut terms = Vec::with_capacity(inputs.len());
        for (t, ls) in inputs.iter().zip(&labels) {
            terms.push(Term { data: t.array::<T>()?.clone(), labels: ls.clone() }.diagonal()?);
        }
        let mut acc: Option<Term<T>> = None;
        for (i, term) in terms.into_iter().enumerate() {
            // Labels needed after this step: the output's and later operands'.
            let mut keep = output.clone();
            keep.extend(labels.iter().skip(i + 1).flatten().copied());
            acc = Some(match acc {
                None => term.reduce(&keep),
                Some(prev) => contract(prev, term, &keep, &sizes)?,
            });
        }
        let Some(result) = acc else { bail!("Einsum needs at least one operand") };
        let result = result.reduce(&output);
        let dims: Vec<usize> = output.iter().map(|&l| size_of(&sizes, l).unwrap_or(1)).collect();
        let data = result.arrange(&output, &sizes, &dims)?;
        Ok(T::wrap(data))
    }
}

impl OpDef for Einsum {
    fn from_onnx(node: &OnnxNode) -> Result<Self> {
        let Some(eq) = node.string_opt("equation")? else { bail!("required attribute 'equation' is missing") };
        Ok(Einsum { equation: Equation::parse(&eq)? })
    }

    fn infer(&self, inputs: &[Option<Arg>]) -> Result<Vec<TensorType>> {
        let types: Vec<&TensorType> = inputs.iter().flatten().map(|a| a.ty).collect();
        let Some(first) = types.first() else { bail!("Einsum needs at least one operand") };
        check_types(&types.iter().map(|t| t.dtype).collect::<Vec<_>>())?;
        if types.len() != self.equation.num_inputs() {
            bail!("the equation has {} operand(s), but {} were given", self.equation.num_inputs(), types.len());
        }
        let Some(dims) = types.iter().map(|t| t.shape.dims().map(<[Dim]>::to_vec)).collect::<Option<Vec<_>>>() else {
            return Ok(vec![TensorType::new(first.dtype, Shape::unknown())]);
        };
        let ranks: Vec<usize> = dims.iter().map(Vec::len).collect();
        let (labels, output) = self.equation.resolve(&ranks)?;
        let sizes = label_sizes(&labels, &dims)?;
        Ok(vec![TensorType::new(first.dtype, Shape::from_dims(output.iter().map(|&l| size_of(&sizes, l)).collect()))])
    }

    fn eval(&self, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
        let ts: Vec<&Tensor> = inputs.iter().flatten().copied().collect();
        let dtypes: Vec<DType> = ts.iter().map(|t| t.dtype()).collect();
        check_types(&dtypes)?;
        let Some(&d) = dtypes.first() else { bail!("Einsum needs at least one operand") };
        let y = match d {
            DType::U8 => self.run::<u8>(&ts)?,
            DType::I8 => self.run::<i8>(&ts)?,
            DType::U16 => self.run::<u16>(&ts)?,
            DType::I16 => self.run::<i16>(&ts)?,
            DType::U32 => self.run::<u32>(&ts)?,
            DType::I32 => self.run::<i32>(&ts)?,
            DType::U64 => self.run::<u64>(&ts)?,
            DType::I64 => self.run::<i64>(&ts)?,
            _ => {
                let promoted = ts.iter().map(|t| promote(t)).collect::<Result<Vec<_>>>()?;
                let refs: Vec<&Tensor> = promoted.iter().map(|t| t.as_ref()).collect();
                match compute_type(d)? {
                    DType::F64 => self.run::<f64>(&refs)?,
                    _ => demote(self.run::<f32>(&refs)?, d)?,
                }
            }
        };
        Ok(vec![y])
    }

    /// With two or more operands: the size of the full label space (one
    /// multiply-accumulate per combination of labels, as a direct loop).
    fn macs(&self, inputs: &[Option<&TensorType>], _outputs: &[&TensorType]) -> u64 {
        let types: Vec<&TensorType> = inputs.iter().flatten().copied().collect();
        if types.len() < 2 {
            return 0;
        }
        let Some(dims) = types.iter().map(|t| t.shape.dims().map(<[Dim]>::to_vec)).collect::<Option<Vec<_>>>() else { return 0 };
        let ranks: Vec<usize> = dims.iter().map(Vec::len).collect();
        let Ok((labels, _)) = self.equation.resolve(&ranks) else { return 0 };
        let Ok(sizes) = label_sizes(&labels, &dims) else { return 0 };
        sizes.iter().try_fold(1u64, |acc, (_, d)| d.map(|d| acc.saturating_mul(d as u64))).unwrap_or(0)
    }

    /// int8: float only.
    fn quantize(&self, rule: crate::ops::Rule) -> Result<crate::ops::Plan> {
        Ok(rule.float_only(crate::ops::NO_INTEGER_KERNEL))
    }
}

fn check_types(dtypes: &[DType]) -> Result<()> {
    let Some(&first) = dtypes.first() else { return Ok(()) };
    if dtypes.iter().any(|&d| d != first) || !(first.is_float() || first.is_int()) {
        bail!("Einsum operands must share one numeric element type, got {dtypes:?}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::front::onnx::Attr;
    use crate::ops::testing::{f32s, i64s, run};

    fn eq(s: &str) -> Vec<(&'static str, Attr)> {
        vec![("equation", Attr::String(s.to_string()))]
    }

    #[test]
    fn products_traces_and_outer_products() {
        let a = f32s(&[2, 2], &[1.0, 2.0, 3.0, 4.0]);
        assert_eq!(run("Einsum", 12, eq("ij,jk->ik"), &[a.clone(), a.clone()]).unwrap()[0], f32s(&[2, 2], &[7.0, 10.0, 15.0, 22.0]));
        assert_eq!(run("Einsum", 12, eq("ii"), std::slice::from_ref(&a)).unwrap()[0], f32s(&[], &[5.0]));
        assert_eq!(run("Einsum", 12, eq("ii->i"), std::slice::from_ref(&a)).unwrap()[0], f32s(&[2], &[1.0, 4.0]));
        assert_eq!(run("Einsum", 12, eq("ij->ji"), std::slice::from_ref(&a)).unwrap()[0], f32s(&[2, 2], &[1.0, 3.0, 2.0, 4.0]));
        assert_eq!(run("Einsum", 12, eq("ij->"), std::slice::from_ref(&a)).unwrap()[0], f32s(&[], &[10.0]));
        let v = i64s(&[2], &[1, 2]);
        assert_eq!(run("Einsum", 12, eq("i,j"), &[v.clone(), v.clone()]).unwrap()[0], i64s(&[2, 2], &[1, 2, 2, 4]));
        assert_eq!(run("Einsum", 12, eq("i,i,i->"), &[v.clone(), v.clone(), v]).unwrap()[0], i64s(&[], &[9]));
        // Ellipsis broadcasting: [2, 1, 2] x [3, 2] over "...j,...j->...".
        let x = f32s(&[2, 1, 2], &[1.0, 0.0, 0.0, 1.0]);
        let y = f32s(&[3, 2], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        assert_eq!(run("Einsum", 12, eq("...j,...j->..."), &[x, y]).unwrap()[0], f32s(&[2, 3], &[1.0, 3.0, 5.0, 2.0, 4.0, 6.0]));
    }

    #[test]
    fn bad_equations_are_errors() {
        let a = f32s(&[2, 3], &[0.0; 6]);
        assert!(run("Einsum", 12, eq("ij,jk"), &[a.clone(), a.clone()]).is_err());
        assert!(run("Einsum", 12, eq("ijk"), std::slice::from_ref(&a)).is_err());
        assert!(run("Einsum", 12, eq("ii"), std::slice::from_ref(&a)).is_err());
        assert!(run("Einsum", 12, eq("ij,ij"), &[a]).is_err());
    }
}
