//! InstanceNormalization and GroupNormalization: mean/variance
//! normalization of each (image, channel group) block of [N, C, ...], then
//! a per-channel scale and bias (GroupNormalization before opset 21 takes
//! one value per group, and per-channel values too, as later exporters
//! write them). Float types, computed in float64.
//! <https://onnx.ai/onnx/operators/onnx__InstanceNormalization.html>
//! <https://onnx.ai/onnx/operators/onnx__GroupNormalization.html>

use super::super::{Arg, OpDef, Slots};
use super::{check_float, check_nc_rank, floats, mean_var, nc_shape, output};
use crate::front::onnx::OnnxNode;
use crate::ir::TensorType;
use crate::tensor::Tensor;
use crate::{bail, Result};

#[derive(Debug, Clone)]
pub struct GroupNorm {
    /// `None` for InstanceNormalization (one group per channel).
    groups: Option<usize>,
    /// Scale and bias may hold one value per group (opset 18) instead of
    /// one per channel.
    per_group_params: bool,
    epsilon: f64,
}

impl OpDef for GroupNorm {
    fn from_onnx(node: &OnnxNode) -> Result<Self> {
        let epsilon = node.float("epsilon", 1e-5)? as f64;
        match node.op_type.as_str() {
            "InstanceNormalization" => Ok(GroupNorm { groups: None, per_group_params: false, epsilon }),
            "GroupNormalization" => {
                let g = node.int_req("num_groups")?;
                if g < 1 {
                    bail!("num_groups must be positive, got {g}");
                }
                let groups = usize::try_from(g).map_err(|_| crate::Error::Op(format!("num_groups {g} is too large")))?;
                Ok(GroupNorm { groups: Some(groups), per_group_params: node.opset < 21, epsilon })
            }
            other => bail!("'{other}' is not a group normalization"),
        }
    }

    fn infer(&self, inputs: &[Option<Arg>]) -> Result<Vec<TensorType>> {
        let x = inputs.req(0)?.ty;
        check_float(x, "X")?;
        check_float(inputs.req(1)?.ty, "scale")?;
        check_float(inputs.req(2)?.ty, "B")?;
        check_nc_rank(x)?;
        if let (Some(g), Some(Some(c))) = (self.groups, x.shape.dims().and_then(|d| d.get(1).copied())) {
            if c % g != 0 {
                bail!("{c} channels are not divisible into {g} groups");
            }
        }
        Ok(vec![x.clone()])
    }

    fn eval(&self, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
        let x = inputs.req(0)?;
        let shape = nc_shape(x)?;
        let c = shape[1];
        let groups = self.groups.unwrap_or(c);
        if groups == 0 || c % groups != 0 {
            bail!("{c} channels are not divisible into {groups} groups");
        }
        let per_channel = c / groups;
        let spatial: usize = shape[2..].iter().product();
        let (scale, bias) = (floats(inputs.req(1)?)?, floats(inputs.req(2)?)?);
        let by_group = self.per_group_params && scale.len() == groups && scale.len() != c;
        let params = if by_group { groups } else { c };
        if scale.len() != params || bias.len() != params {
            bail!("scale and B have {} and {} elements, expected {params}", scale.len(), bias.len());
        }
        let xs = floats(x)?;
        let block = per_channel * spatial;
        let mut y = Vec::with_capacity(xs.len());
        for (b, v) in xs.chunks(block.max(1)).enumerate() {
            let g = b % groups;
            let (mean, var) = mean_var(v);
            let inv = 1.0 / (var + self.epsilon).sqrt();
            for (i, &e) in v.iter().enumerate() {
                let p = if by_group { g } else { g * per_channel + i / spatial.max(1) };
                let (s, o) = (scale.get(p).copied().unwrap_or(0.0), bias.get(p).copied().unwrap_or(0.0));
                y.push((e - mean) * inv * s + o);
            }
        }
        Ok(vec![output(shape, y, x.dtype())?])
    }

    fn lower(&self, cx: &mut crate::back::lower::LowerCx) -> Result<()> {
        let x = cx.input(0)?.clone();
        if x.shape.len() < 2 {
            bail!("X must have rank 2 or more ([N, C, ...]), got {:?}", x.shape);
        }
        let c = x.shape[1];
        let groups = self.groups.unwrap_or(c);
        if groups == 0 || c % groups != 0 {
            bail!("{c} channels are not divisible into {groups} groups");
        }
        let (scale, bias) = (cx.input(1)?.clone(), cx.input(2)?.clone());
        let by_group = self.per_group_params && scale.len() == groups && scale.len() != c;
        let params = if by_group { groups } else { c };
        if scale.len() != params || bias.len() != params {
            bail!("scale and B have {} and {} elements, expected {params}", scale.len(), bias.len());
        }
        let dims = [x.shape[0] * groups, groups, c / groups, x.shape[2..].iter().product()];
        let (scale, bias) = (scale.reshaped(&[params]), bias.reshaped(&[params]));
        for p in [&scale, &bias] {
            if p.dtype != x.dtype {
                crate::unsupported!("code generation for {} parameters of a {} normalisation is not implemented yet", p.dtype, x.dtype);
            }
        }
        super::lower::group_norm(cx, &x, &scale, Some(&bias), dims, self.epsilon, super::lower::NormKind { by_group, stats: false, centered: true })
    }

    /// int8: float only.
    fn quantize(&self, rule: crate::ops::Rule) -> Result<crate::ops::Plan> {
        Ok(rule.float_only(crate::ops::NO_INTEGER_KERNEL))
    }
}

#[cfg(test)]
mod tests {
    use crate::front::onnx::Attr;
    use crate::ops::testing::{f32s, run};

    #[test]
    fn instance_and_group_norms() {
        let x = f32s(&[1, 2, 2], &[1.0, 3.0, 5.0, 5.0]);
        let p = |a: f32, b: f32| f32s(&[2], &[a, b]);
        let eps = ("epsilon", Attr::Float(0.0));
        let y = run("InstanceNormalization", 6, vec![eps.clone()], &[x.clone(), p(2.0, 1.0), p(0.0, 7.0)]).unwrap();
        // Channel 1 has zero variance: 0 * inf is NaN.
        let crate::tensor::Tensor::F32(a) = &y[0] else { panic!() };
        assert_eq!((a[[0, 0, 0]], a[[0, 0, 1]]), (-2.0, 2.0));
        let y = run("GroupNormalization", 21, vec![eps, ("num_groups", Attr::Int(1))], &[x.clone(), p(1.0, 1.0), p(0.0, 0.0)]).unwrap();
        let crate::tensor::Tensor::F32(a) = &y[0] else { panic!() };
        assert!((a[[0, 0, 0]] + 1.5075567).abs() < 1e-5);
        assert!(run("GroupNormalization", 21, vec![("num_groups", Attr::Int(3))], &[x.clone(), p(1.0, 1.0), p(0.0, 0.0)]).is_err());
        // Opset 18: one scale per group (here 1 group for 2 channels).
        let one = |v: f32| f32s(&[1], &[v]);
        let y = run("GroupNormalization", 18, vec![("num_groups", Attr::Int(1)), ("epsilon", Attr::Float(0.0))], &[x.clone(), one(2.0), one(1.0)]).unwrap();
        let crate::tensor::Tensor::F32(a) = &y[0] else { panic!() };
        assert!((a[[0, 0, 0]] - (1.0 - 2.0 * 1.5075567)).abs() < 1e-5);
        assert!(run("GroupNormalization", 21, vec![("num_groups", Attr::Int(1))], &[x, one(2.0), one(1.0)]).is_err());
    }
}
