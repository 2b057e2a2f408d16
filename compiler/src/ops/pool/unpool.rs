//! MaxUnpool: scatters the values X of a MaxPool into zeros at the flat
//! (row-major, whole-tensor) positions given by its Indices.
//! <https://onnx.ai/onnx/operators/onnx__MaxUnpool.html>
//!
//! The output shape is the `output_shape` input when present, otherwise
//! `(in − 1)·stride − pad_begin − pad_end + kernel` per spatial axis.
//! Indices address the output tensor itself, as in ONNX Runtime and
//! PyTorch (the ONNX reference instead addresses the default-shaped output
//! and pads it to `output_shape`; the two agree when the shapes do).

use super::super::spatial::Window;
use super::super::{util, Arg, OpDef, Slots};
use crate::front::onnx::OnnxNode;
use crate::ir::{Dim, Shape, TensorType};
use crate::tensor::{shape_from_i64, DType, Tensor};
use crate::{bail, Result};

#[derive(Debug, Clone)]
pub struct MaxUnpool {
    window: Window,
}

impl MaxUnpool {
    fn default_shape(&self, x: &[Dim]) -> Result<Vec<Dim>> {
        let Some(kernel) = &self.window.kernel_shape else { bail!("attribute 'kernel_shape' is required") };
        if x.len() < 3 {
            bail!("X must have rank 3 or more ([N, C, spatial...])");
        }
        let spatial = x.len() - 2;
        self.window.check_rank(spatial)?;
        let mut dims = x[..2].to_vec();
        for (i, (&d, &k)) in x[2..].iter().zip(kernel).enumerate() {
            let (pb, pe) = self.window.explicit_pads(i, spatial);
            dims.push(match d {
                Some(d) => {
                    let full = (d.max(1) - 1).checked_mul(self.window.stride(i)).and_then(|v| v.checked_add(k));
                    match full.and_then(|f| f.checked_sub(pb + pe)) {
                        Some(v) => Some(v),
                        None => bail!("pads remove more than the output along spatial axis {i}"),
                    }
                }
                None => None,
            });
        }
        Ok(dims)
    }

    fn output_shape(&self, x: &Shape, given: Option<Vec<i64>>, given_rank: Option<usize>) -> Result<Shape> {
        if let Some(dims) = given {
            if let Some(r) = x.rank() {
                if dims.len() != r {
                    bail!("output_shape {dims:?} must have the rank of X ({r})");
                }
            }
            return Ok(Shape::fixed(&shape_from_i64(&dims)?));
        }
        if let Some(r) = given_rank {
            return Ok(Shape::of_rank(r));
        }
        match x.dims() {
            Some(d) => Ok(Shape::from_dims(self.default_shape(d)?)),
            None => Ok(Shape::unknown()),
        }
    }
}

impl OpDef for MaxUnpool {
    fn from_onnx(node: &OnnxNode) -> Result<Self> {
        let window = Window::from_onnx(node, false)?;
        if window.kernel_shape.is_none() {
            bail!("attribute 'kernel_shape' is required");
        }
        Ok(MaxUnpool { window })
    }

    fn infer(&self, inputs: &[Option<Arg>]) -> Result<Vec<TensorType>> {
        let (x, i) = (inputs.req(0)?.ty, inputs.req(1)?.ty);
        if !x.dtype.is_float() || i.dtype != DType::I64 {
            bail!("X must be float and I int64, got {} and {}", x.dtype, i.dtype);
        }
        let given = util::const_ints(inputs, 2)?;
        let given_rank = inputs.opt(2).and_then(|a| a.ty.shape.as_fixed()).and_then(|d| d.first().copied());
        Ok(vec![TensorType::new(x.dtype, self.output_shape(&x.shape, given, given_rank)?)])
    }

    fn eval(&self, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
        let (x, idx) = (inputs.req(0)?, inputs.req(1)?);
        if !x.dtype().is_float() || idx.dtype() != DType::I64 {
            bail!("X must be float and I int64, got {} and {}", x.dtype(), idx.dtype());
        }
        if idx.shape() != x.shape() {
            bail!("I {:?} must have the shape of X {:?}", idx.shape(), x.shape());
        }
        let given = inputs.opt(2).map(|t| t.to_i64_vec()).transpose()?;
        let Some(out) = self.output_shape(&Shape::fixed(x.shape()), given, None)?.as_fixed() else {
            bail!("cannot resolve the output shape");
        };
        let positions = idx.to_i64_vec()?;
        let mut y = Tensor::zeros(x.dtype(), &out)?;
        let len = y.len() as i64;
        let mut flat = Vec::with_capacity(positions.len());
        for p in positions {
            if !(0..len).contains(&p) {
                bail!("index {p} is outside the output of {len} elements");
            }
            flat.push(p as usize);
        }
        util::scatter_flat(&mut y, &flat, x)?;
        Ok(vec![y])
    }

    /// int8: float only.
    fn quantize(&self, rule: crate::ops::Rule) -> Result<crate::ops::Plan> {
        Ok(rule.float_only(crate::ops::NO_INTEGER_KERNEL))
    }
}

#[cfg(test)]
mod tests {
    use crate::front::onnx::Attr;
    use crate::ops::testing::{f32s, i64s, run};

    #[test]
    fn scatters_into_default_and_given_shapes() {
        let x = f32s(&[1, 1, 1, 2], &[7.0, 8.0]);
        let i = i64s(&[1, 1, 1, 2], &[1, 6]);
        let k = ("kernel_shape", Attr::Ints(vec![2, 2]));
        let y = run("MaxUnpool", 11, vec![k.clone(), ("strides", Attr::Ints(vec![2, 2]))], &[x.clone(), i.clone()]).unwrap();
        assert_eq!(y[0], f32s(&[1, 1, 2, 4], &[0.0, 7.0, 0.0, 0.0, 0.0, 0.0, 8.0, 0.0]));
        let y = run("MaxUnpool", 11, vec![k.clone()], &[x.clone(), i.clone(), i64s(&[4], &[1, 1, 3, 3])]).unwrap();
        assert_eq!(y[0], f32s(&[1, 1, 3, 3], &[0.0, 7.0, 0.0, 0.0, 0.0, 0.0, 8.0, 0.0, 0.0]));
        assert!(run("MaxUnpool", 11, vec![k], &[x, i64s(&[1, 1, 1, 2], &[1, 60])]).is_err());
    }
}
