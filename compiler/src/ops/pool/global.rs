//! GlobalAveragePool, GlobalMaxPool and GlobalLpPool: one value per
//! (image, channel) over all spatial axes of [N, C, spatial...] float
//! tensors (GlobalMaxPool also on int8/uint8, as MaxPool, for quantized
//! models); the spatial axes stay with size 1. Sums run in float64.
//! <https://onnx.ai/onnx/operators/onnx__GlobalAveragePool.html>
//! <https://onnx.ai/onnx/operators/onnx__GlobalMaxPool.html>
//! <https://onnx.ai/onnx/operators/onnx__GlobalLpPool.html>

use super::super::dense::{array, row_major};
use super::super::spatial::Axis;
use super::super::int8_rule::{Needs, Plan, Rule};
use super::super::{Arg, LowerCx, OpDef, Slots};
use super::lower::{self, PoolKind};
use super::lp_order;
use crate::front::onnx::OnnxNode;
use crate::ir::{Dim, Shape, TensorType};
use crate::tensor::{DType, Num, Tensor};
use crate::{bail, map_num, Result};
use ndarray::ArrayD;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Average,
    Max,
    Lp(i32),
}

#[derive(Debug, Clone)]
pub struct GlobalPool {
    pub(crate) kind: Kind,
}

fn global_shape(x: &Shape) -> Result<Shape> {
    let Some(d) = x.dims() else { return Ok(Shape::unknown()) };
    if d.len() < 2 {
        bail!("X must have rank 2 or more ([N, C, spatial...]), got {x}");
    }
    let mut dims: Vec<Dim> = d[..2].to_vec();
    dims.resize(d.len(), Some(1));
    Ok(Shape::from_dims(dims))
}

impl OpDef for GlobalPool {
    fn from_onnx(node: &OnnxNode) -> Result<Self> {
        let kind = match node.op_type.as_str() {
            "GlobalAveragePool" => Kind::Average,
            "GlobalMaxPool" => Kind::Max,
            "GlobalLpPool" => Kind::Lp(lp_order(node)?),
            other => bail!("'{other}' is not a global pool"),
        };
        Ok(GlobalPool { kind })
    }

    fn infer(&self, inputs: &[Option<Arg>]) -> Result<Vec<TensorType>> {
        let x = inputs.req(0)?.ty;
        let int_ok = self.kind == Kind::Max && matches!(x.dtype, DType::I8 | DType::U8 | DType::I16);
        if !x.dtype.is_float() && !int_ok {
            bail!("element type {} is not supported (float types; int8, uint8 and int16 codes for GlobalMaxPool)", x.dtype);
        }
        Ok(vec![TensorType::new(x.dtype, global_shape(&x.shape)?)])
    }

    fn eval(&self, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
        let x = inputs.req(0)?;
        let Some(out) = global_shape(&Shape::fixed(x.shape()))?.as_fixed() else { bail!("cannot resolve the output shape") };
        let kind = self.kind;
        Ok(vec![map_num!(x, a => reduce(a, &out, kind)?)?])
    }

    /// One window over each whole (flattened) plane.
    fn lower(&self, cx: &mut LowerCx) -> Result<()> {
        let x = cx.input(0)?.clone();
        if x.shape.len() < 2 {
            bail!("X must have rank 2 or more ([N, C, spatial...])");
        }
        let len: usize = x.shape[2..].iter().product();
        if len == 0 {
            crate::unsupported!("code generation for global pools over empty planes");
        }
        let axis = Axis { input: len, kernel: len, stride: 1, dilation: 1, pad_begin: 0, pad_end: 0, output: 1 };
        let dims = lower::pool_dims(x.shape[0] * x.shape[1], &[axis])?;
        let kind = match self.kind {
            Kind::Average => PoolKind::Average { count_include_pad: false },
            Kind::Max => PoolKind::Max { column_major: false },
            Kind::Lp(p) => PoolKind::Lp { p },
        };
        lower::lower_pool(cx, &x, kind, dims)
    }

    /// int8: GlobalMaxPool on codes; GlobalAveragePool as IntAvgPool over
    /// 1-D and 2-D planes; GlobalLpPool float only. The output keeps the
    /// input's parameters when it has none of its own.
    fn quantize(&self, rule: Rule) -> Result<Plan> {
        rule.on_codes(Needs::Inputs, |cx| match self.kind {
            Kind::Max => cx.passthrough(),
            Kind::Average => {
                let xs = cx.ty(cx.inputs().req(0)?)?.shape.as_fixed().unwrap_or_default();
                if xs.len() < 3 || xs.len() > 4 {
                    return Ok(Plan::float("integer average pooling covers 1-D and 2-D"));
                }
                let axes = xs[2..]
                    .iter()
                    .map(|&d| Axis { input: d, kernel: d, stride: 1, dilation: 1, pad_begin: 0, pad_end: 0, output: 1 })
                    .collect();
                super::avg_pool_codes(cx, axes, false)
            }
            Kind::Lp(_) => Ok(Plan::float("GlobalLpPool")),
        })
    }
}

fn reduce<T: Num>(x: &ArrayD<T>, out: &[usize], kind: Kind) -> Result<ArrayD<T>> {
    let planes: usize = x.shape().iter().take(2).product();
    let plane_len: usize = x.shape().iter().skip(2).product();
    let xs = row_major(x);
    let mut y = Vec::with_capacity(planes);
    for plane in xs.chunks(plane_len.max(1)).take(planes) {
        let v = match kind {
            Kind::Average => plane.iter().map(|v| v.to_f64()).sum::<f64>() / plane_len as f64,
            Kind::Max => plane.iter().map(|v| v.to_f64()).fold(f64::NEG_INFINITY, |m, v| if v > m || v.is_nan() { v } else { m }),
            Kind::Lp(p) => plane.iter().map(|v| v.to_f64().abs().powi(p)).sum::<f64>().powf(1.0 / p as f64),
        };
        y.push(T::from_f64(v));
    }
    // Planes of zero elements.
    y.resize(planes, T::from_f64(if kind == Kind::Max { f64::NEG_INFINITY } else { 0.0 }));
    array(out, y)
}

#[cfg(test)]
mod tests {
    use crate::front::onnx::Attr;
    use crate::ops::testing::{f32s, run};

    #[test]
    fn global_pools_reduce_each_plane() {
        let x = f32s(&[1, 2, 2], &[3.0, -4.0, 1.0, 2.0]);
        assert_eq!(run("GlobalAveragePool", 1, vec![], std::slice::from_ref(&x)).unwrap()[0], f32s(&[1, 2, 1], &[-0.5, 1.5]));
        assert_eq!(run("GlobalMaxPool", 1, vec![], std::slice::from_ref(&x)).unwrap()[0], f32s(&[1, 2, 1], &[3.0, 2.0]));
        assert_eq!(run("GlobalLpPool", 2, vec![("p", Attr::Int(2))], &[x]).unwrap()[0], f32s(&[1, 2, 1], &[5.0, 5f32.sqrt()]));
        assert!(run("GlobalAveragePool", 1, vec![], &[f32s(&[2], &[1.0, 2.0])]).is_err());
    }
}
