//! Windowed pools over the spatial axes of [N, C, spatial...] tensors:
//! MaxPool (with the optional int64 Indices output, storage_order,
//! dilations, ceil_mode; float and 8-bit integer data), AveragePool
//! (count_include_pad, dilations, ceil_mode) and LpPool (integer p), with
//! explicit pads or auto_pad; the global pools live in `global.rs` and
//! MaxUnpool in `unpool.rs`.
//! <https://onnx.ai/onnx/operators/onnx__MaxPool.html>
//! <https://onnx.ai/onnx/operators/onnx__AveragePool.html>
//! <https://onnx.ai/onnx/operators/onnx__LpPool.html>
//!
//! A window entirely in the padding gives the lowest value (MaxPool, index
//! -1), NaN (AveragePool without counted padding) or 0 (LpPool).

pub(crate) mod global;
mod lower;
mod unpool;

pub use global::GlobalPool;
pub use unpool::MaxUnpool;

use super::dense::{array, compute_type, demote, promote, row_major};
use super::spatial::{Axis, Traversal, Window};
use super::int8_rule::{quantize_multiplier, Needs, Plan, QuantCx, Rule};
use super::qint::IntAvgPool;
use super::{Arg, LowerCx, Op, OpDef, Slots};
use lower::PoolKind;
use crate::front::onnx::OnnxNode;
use crate::ir::{Dim, Shape, TensorType};
use crate::tensor::{checked_numel, DType, Num, Tensor};
use crate::{bail, map_num, unsupported, Result};
use ndarray::ArrayD;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `column_major`: storage_order 1 for the indices.
    Max { column_major: bool },
    Average { count_include_pad: bool },
    Lp { p: i32 },
}

#[derive(Debug, Clone)]
pub struct Pool {
    pub(crate) kind: Kind,
    pub(crate) window: Window,
}

/// Reads LpPool's `p` (a positive integer).
pub(super) fn lp_order(node: &OnnxNode) -> Result<i32> {
    let p = match node.attr("p") {
        Some(crate::front::onnx::Attr::Float(f)) if f.fract() == 0.0 => *f as i64,
        Some(crate::front::onnx::Attr::Float(f)) => unsupported!("non-integer p = {f}"),
        _ => node.int("p", 2)?,
    };
    if !(1..=64).contains(&p) {
        bail!("p must be a positive integer (at most 64), got {p}");
    }
    Ok(p as i32)
}

/// Output dims [N, C, out...] of a pool from partly known input dims.
fn pool_shape(window: &Window, x: &Shape) -> Result<Shape> {
    let Some(xd) = x.dims() else { return Ok(Shape::unknown()) };
    if xd.len() < 3 {
        bail!("X must have rank 3 or more ([N, C, spatial...]), got {x}");
    }
    let kernel = window.kernel(None)?;
    let mut dims: Vec<Dim> = xd[..2].to_vec();
    dims.extend(window.output_dims(&xd[2..], &kernel)?);
    Ok(Shape::from_dims(dims))
}

impl OpDef for Pool {
    fn from_onnx(node: &OnnxNode) -> Result<Self> {
        let kind = match node.op_type.as_str() {
            "MaxPool" => Kind::Max { column_major: node.int("storage_order", 0)? != 0 },
            "AveragePool" => Kind::Average { count_include_pad: node.int("count_include_pad", 0)? != 0 },
            "LpPool" => Kind::Lp { p: lp_order(node)? },
            other => bail!("'{other}' is not a windowed pool"),
        };
        let window = Window::from_onnx(node, true)?;
        if window.kernel_shape.is_none() {
            bail!("attribute 'kernel_shape' is required");
        }
        if node.num_outputs() > 1 && !matches!(kind, Kind::Max { .. }) {
            bail!("{} has one output", node.op_type);
        }
        Ok(Pool { kind, window })
    }

    fn infer(&self, inputs: &[Option<Arg>]) -> Result<Vec<TensorType>> {
        let x = inputs.req(0)?.ty;
        self.check_dtype(x.dtype)?;
        let shape = pool_shape(&self.window, &x.shape)?;
        let mut out = vec![TensorType::new(x.dtype, shape.clone())];
        if matches!(self.kind, Kind::Max { .. }) {
            out.push(TensorType::new(DType::I64, shape));
        }
        Ok(out)
    }

    fn eval(&self, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
        let x = inputs.req(0)?;
        self.check_dtype(x.dtype())?;
        let out = pool_shape(&self.window, &Shape::fixed(x.shape()))?;
        let Some(out) = out.as_fixed() else { bail!("cannot resolve the output shape") };
        checked_numel(&out)?;
        let kernel = self.window.kernel_shape.clone().unwrap_or_default();
        let axes = self.window.resolve(&x.shape()[2..], &kernel)?;
        let t = Traversal::forward(&axes)?;
        let planes = x.shape()[0] * x.shape()[1];
        match self.kind {
            Kind::Max { column_major } => {
                let mut indices = Vec::new();
                let y = map_num!(x, a => max_pool(a, planes, &t, &out, &mut indices)?)?;
                let idx = if column_major { column_major_indices(&indices, &x.shape()[2..]) } else { indices };
                Ok(vec![y, Tensor::I64(array(&out, idx)?)])
            }
            Kind::Average { .. } | Kind::Lp { .. } => {
                let xp = promote(x)?;
                let y = match compute_type(x.dtype())? {
                    DType::F64 => Tensor::F64(self.sum_pool::<f64>(xp.array::<f64>()?, planes, &t, &axes, &out)?),
                    _ => Tensor::F32(self.sum_pool::<f32>(xp.array::<f32>()?, planes, &t, &axes, &out)?),
                };
                Ok(vec![demote(y, x.dtype())?])
            }
        }
    }

    fn lower(&self, cx: &mut LowerCx) -> Result<()> {
        let x = cx.input(0)?.clone();
        if x.shape.len() < 3 {
            bail!("X must have rank 3 or more ([N, C, spatial...])");
        }
        let kernel = self.window.kernel_shape.clone().unwrap_or_default();
        let axes = self.window.resolve(&x.shape[2..], &kernel)?;
        let dims = lower::pool_dims(x.shape[0] * x.shape[1], &axes)?;
        let kind = match self.kind {
            Kind::Max { column_major } => PoolKind::Max { column_major },
            Kind::Average { count_include_pad } => PoolKind::Average { count_include_pad },
            Kind::Lp { p } => PoolKind::Lp { p },
        };
        lower::lower_pool(cx, &x, kind, dims)
    }

    /// int8: MaxPool on codes; AveragePool as IntAvgPool over 1-D and 2-D
    /// windows without dilation; LpPool and MaxPool's Indices float only.
    /// The output keeps the input's parameters when it has none of its own.
    fn quantize(&self, rule: Rule) -> Result<Plan> {
        rule.on_codes(Needs::Inputs, |cx| {
            if cx.outputs().opt(1).is_some() {
                return Ok(Plan::float("MaxPool indices"));
            }
            if matches!(self.kind, Kind::Max { .. }) {
                return cx.passthrough();
            }
            let Kind::Average { count_include_pad } = self.kind else { return Ok(Plan::float("LpPool")) };
            let x = cx.inputs().req(0)?;
            let xs = cx.ty(x)?.shape.as_fixed().unwrap_or_default();
            let Some(spatial) = xs.get(2..) else { return Ok(Plan::float("input shape known only at run time")) };
            let kernel = self.window.kernel_shape.clone().unwrap_or_default();
            let axes = self.window.resolve(spatial, &kernel)?;
            if axes.is_empty() || axes.len() > 2 || axes.iter().any(|a| a.dilation != 1) || (self.window.ceil_mode && count_include_pad) {
                return Ok(Plan::float("integer average pooling covers 1-D and 2-D windows without dilation"));
            }
            avg_pool_codes(cx, axes, count_include_pad)
        })
    }
}

/// IntAvgPool over `axes`: requantized to the output's parameters when it
/// has its own and every window counts the same number of elements, else
/// on the input's parameters (NUMERICS.md, "Average pooling").
fn avg_pool_codes(cx: &mut dyn QuantCx, axes: Vec<Axis>, include_pad: bool) -> Result<Plan> {
    let x = cx.inputs().req(0)?;
    let y = cx.first_output()?;
    let (xq, px) = cx.as_int(x)?;
    // Every window counts the same when no padding is excluded.
    let inside = axes.iter().all(|a| (a.output.max(1) - 1) * a.stride + a.kernel <= a.input + a.pad_begin + a.pad_end);
    let same_count = inside && (include_pad || axes.iter().all(|a| a.pad_begin == 0 && a.pad_end == 0));
    let count: usize = axes.iter().map(|a| a.kernel).product();
    let requant = match cx.params(y) {
        Ok(po) if same_count && po != px => {
            let m = quantize_multiplier(px.scale as f64 / (count as f64 * po.scale as f64)).filter(|m| m.exponent <= 0);
            let (lo, hi) = po.code_range();
            m.map(|m| (m, cx.stage(po, lo, hi), po))
        }
        _ => None,
    };
    let po = requant.map_or(px, |r| r.2);
    let op = IntAvgPool { axes, include_pad, x_zero: px.zero, requant: requant.map(|(m, s, _)| (m, s)) };
    cx.emit(y, po, "IntAvgPool", Op::IntAvgPool(op), &[Some(xq)])
}

impl Pool {
    fn check_dtype(&self, d: DType) -> Result<()> {
        let int_ok = matches!(self.kind, Kind::Max { .. }) && matches!(d, DType::U8 | DType::I8 | DType::I16);
        if !d.is_float() && !int_ok {
            bail!("element type {d} is not supported by this pool");
        }
        Ok(())
    }

    /// AveragePool and LpPool: sums of x (or |x|^p) over each window.
    fn sum_pool<T: Num>(&self, x: &ArrayD<T>, planes: usize, t: &Traversal, axes: &[Axis], out: &[usize]) -> Result<ArrayD<T>> {
        let xs = row_major(x);
        let (in_len, out_len) = (t.a_len(), t.b_len());
        let offsets = t.kernel_offsets();
        let mut y = vec![T::zero(); checked_numel(out)?];
        // LpPool sums |x|^p: raise the input once, then sum like AveragePool.
        let powered: Vec<T>;
        let src_all: &[T] = match self.kind {
            Kind::Lp { p } => {
                powered = xs.iter().map(|&v| T::from_f64(v.to_f64().abs().powi(p))).collect();
                &powered
            }
            _ => &xs,
        };
        for (x_plane, y_plane) in src_all.chunks(in_len.max(1)).zip(y.chunks_mut(out_len.max(1))).take(planes) {
            for k in &offsets {
                t.for_each_run(k, 0..out_len, |r| {
                    let Some(dst) = y_plane.get_mut(r.pos + r.lo..r.pos + r.hi.max(r.lo)) else { return };
                    let src = x_plane.get(r.a_start..).unwrap_or(&[]);
                    for (d, &v) in dst.iter_mut().zip(src.iter().step_by(r.a_step)) {
                        *d = d.add(v);
                    }
                });
            }
        }
        match self.kind {
            Kind::Lp { p } => {
                let inv = 1.0 / p as f64;
                y.iter_mut().for_each(|v| *v = T::from_f64(v.to_f64().powf(inv)));
            }
            Kind::Average { count_include_pad } => {
                let counts = window_counts(axes, count_include_pad);
                for y_plane in y.chunks_mut(out_len.max(1)) {
                    for (v, &c) in y_plane.iter_mut().zip(&counts) {
                        *v = v.div(T::from_i64(c as i64));
                    }
                }
            }
            Kind::Max { .. } => {}
        }
        array(out, y)
    }
}

/// Per output position (flat), the number of window elements that count:
/// inside the input, or inside the padded input with `count_include_pad`.
fn window_counts(axes: &[Axis], count_include_pad: bool) -> Vec<usize> {
    let per_axis: Vec<Vec<usize>> = axes
        .iter()
        .map(|a| {
            let (lo, hi) = if count_include_pad {
                (0i64, (a.input + a.pad_begin + a.pad_end) as i64)
            } else {
                (a.pad_begin as i64, (a.input + a.pad_begin) as i64)
            };
            (0..a.output)
                .map(|o| (0..a.kernel).filter(|&k| (lo..hi).contains(&((o * a.stride + k * a.dilation) as i64))).count())
                .collect()
        })
        .collect();
    let mut counts = vec![1usize];
    for axis in &per_axis {
        counts = counts.iter().flat_map(|&c| axis.iter().map(move |&n| c * n)).collect();
    }
    counts
}

/// Max over each window; `indices` receives, per output, the flat input
/// index (row-major over the whole tensor) of the first maximum, or -1.
fn max_pool<T: Num>(x: &ArrayD<T>, planes: usize, t: &Traversal, out: &[usize], indices: &mut Vec<i64>) -> Result<ArrayD<T>> {
    let xs = row_major(x);
    let (in_len, out_len) = (t.a_len(), t.b_len());
    let total = checked_numel(out)?;
    let mut y = vec![T::min_value(); total];
    let mut arg = vec![-1i64; total];
    let offsets = t.kernel_offsets();
    for (plane, ((x_plane, y_plane), a_plane)) in
        xs.chunks(in_len.max(1)).zip(y.chunks_mut(out_len.max(1))).zip(arg.chunks_mut(out_len.max(1))).take(planes).enumerate()
    {
        let base = (plane * in_len) as i64;
        for k in &offsets {
            t.for_each_run(k, 0..out_len, |r| {
                let range = r.pos + r.lo..r.pos + r.hi.max(r.lo);
                let (Some(dst), Some(dst_arg)) = (y_plane.get_mut(range.clone()), a_plane.get_mut(range)) else { return };
                let src = x_plane.get(r.a_start..).unwrap_or(&[]);
                for (j, ((d, da), &v)) in dst.iter_mut().zip(dst_arg.iter_mut()).zip(src.iter().step_by(r.a_step)).enumerate() {
                    // The first element in the window, then any larger one
                    // (a NaN maximum gives way to any later number).
                    #[allow(clippy::eq_op)]
                    if *da < 0 || v > *d || *d != *d {
                        *d = v;
                        *da = base + (r.a_start + j * r.a_step) as i64;
                    }
                }
            });
        }
    }
    *indices = arg;
    array(out, y)
}

/// Rewrites row-major flat indices as column-major spatial positions
/// (plane offset kept), for storage_order = 1.
fn column_major_indices(indices: &[i64], spatial: &[usize]) -> Vec<i64> {
    let plane: i64 = spatial.iter().product::<usize>() as i64;
    indices
        .iter()
        .map(|&i| {
            if i < 0 || plane == 0 {
                return i;
            }
            let (base, mut rest) = (i - i % plane, i % plane);
            let mut pos = vec![0i64; spatial.len()];
            for (p, &d) in pos.iter_mut().zip(spatial).rev() {
                *p = rest % d as i64;
                rest /= d as i64;
            }
            let (mut flat, mut scale) = (0i64, 1i64);
            for (&p, &d) in pos.iter().zip(spatial) {
                flat += p * scale;
                scale *= d as i64;
            }
            base + flat
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use crate::front::onnx::Attr;
    use crate::ops::testing::{f32s, i64s, run};
    use crate::tensor::Tensor;

    #[test]
    fn max_pool_indices_in_both_storage_orders() {
        let x = f32s(&[1, 1, 2, 3], &[1.0, 9.0, 3.0, 4.0, 5.0, 6.0]);
        let k = ("kernel_shape", Attr::Ints(vec![2, 2]));
        let y = run("MaxPool", 12, vec![k.clone()], std::slice::from_ref(&x)).unwrap();
        assert_eq!(y[0], f32s(&[1, 1, 1, 2], &[9.0, 9.0]));
        assert_eq!(y[1], i64s(&[1, 1, 1, 2], &[1, 1]));
        let y = run("MaxPool", 12, vec![k, ("storage_order", Attr::Int(1))], &[x]).unwrap();
        // Element (0, 1) of a 2x3 plane is at 0 + 1 * 2 in column-major order.
        assert_eq!(y[1], i64s(&[1, 1, 1, 2], &[2, 2]));
    }

    #[test]
    fn average_pool_counts_padding_on_request() {
        let x = f32s(&[1, 1, 3], &[3.0, 6.0, 9.0]);
        let attrs = |inc: i64| vec![("kernel_shape", Attr::Ints(vec![2])), ("pads", Attr::Ints(vec![1, 0])), ("count_include_pad", Attr::Int(inc))];
        assert_eq!(run("AveragePool", 19, attrs(0), std::slice::from_ref(&x)).unwrap()[0], f32s(&[1, 1, 3], &[3.0, 4.5, 7.5]));
        assert_eq!(run("AveragePool", 19, attrs(1), &[x]).unwrap()[0], f32s(&[1, 1, 3], &[1.5, 4.5, 7.5]));
    }

    #[test]
    fn int8_max_pool_and_lp_pool() {
        let x = Tensor::from_vec(&[1, 1, 4], vec![-5i8, -3, 7, 2]).unwrap();
        let y = run("MaxPool", 12, vec![("kernel_shape", Attr::Ints(vec![2])), ("strides", Attr::Ints(vec![2]))], &[x]).unwrap();
        assert_eq!(y[0], Tensor::from_vec(&[1, 1, 2], vec![-3i8, 7]).unwrap());
        let x = f32s(&[1, 1, 2], &[3.0, -4.0]);
        let y = run("LpPool", 18, vec![("kernel_shape", Attr::Ints(vec![2]))], &[x]).unwrap();
        assert_eq!(y[0], f32s(&[1, 1, 1], &[5.0]));
    }

    #[test]
    fn bad_pools_are_errors() {
        let x = f32s(&[1, 1, 2], &[1.0, 2.0]);
        assert!(run("MaxPool", 12, vec![], std::slice::from_ref(&x)).is_err());
        assert!(run("MaxPool", 12, vec![("kernel_shape", Attr::Ints(vec![3]))], std::slice::from_ref(&x)).is_err());
        assert!(run("AveragePool", 19, vec![("kernel_shape", Attr::Ints(vec![1, 1]))], std::slice::from_ref(&x)).is_err());
        assert!(run("LpPool", 18, vec![("kernel_shape", Attr::Ints(vec![1])), ("p", Attr::Int(0))], &[x]).is_err());
        let ints = Tensor::from_vec(&[1, 1, 2], vec![1i32, 2]).unwrap();
        assert!(run("AveragePool", 19, vec![("kernel_shape", Attr::Ints(vec![1]))], &[ints]).is_err());
    }
}
