//! Code generation shared by the dense products (Gemm, MatMul, Conv,
//! ConvTranspose): operands packed for the runtime's blocked GEMM
//! (`kernels/gemm`: A operands in panels of [`MR`] rows, B operands in
//! panels of [`NR`] columns), constants packed at compile time.

use crate::back::lower::{LowerCx, Loc};
use crate::back::program::{Arg, ElemLit, Lit, Step};
use crate::tensor::{DType, Tensor};
use crate::{map_num, unsupported, Error, Result};
use std::sync::Arc;

/// Rows of A per register tile of the runtime GEMM.
pub const MR: usize = 4;
/// Columns of B per register tile of the runtime GEMM.
pub const NR: usize = 8;

/// Element types the generated GEMM computes exactly like the
/// interpreter: float32/float64, and integers with wrapping arithmetic.
pub fn check_dtype(d: DType) -> Result<()> {
    match d {
        DType::F32 | DType::F64 | DType::I32 | DType::I64 | DType::U32 | DType::U64 => Ok(()),
        d => unsupported!("code generation for dense products on {d} is not implemented yet"),
    }
}

/// Which operand of the GEMM a packed matrix is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// Lanes are rows of A, in panels of [`MR`].
    A,
    /// Lanes are columns of B, in panels of [`NR`].
    B,
}

impl Side {
    fn width(self) -> usize {
        match self {
            Side::A => MR,
            Side::B => NR,
        }
    }
}

/// `batch` matrices of `lanes` x `depth` elements inside a tensor: element
/// (b, l, p) is at flat index `b·batch_stride + l·lane_stride + p·depth_stride`.
#[derive(Debug, Clone, Copy)]
pub struct Matrices {
    pub batch: usize,
    pub lanes: usize,
    pub depth: usize,
    pub lane_stride: usize,
    pub depth_stride: usize,
    pub batch_stride: usize,
}

impl Matrices {
    /// Elements of one packed matrix.
    pub fn packed_len(&self, side: Side) -> usize {
        self.lanes.div_ceil(side.width()) * side.width() * self.depth
    }

    fn dims(&self) -> Vec<usize> {
        vec![self.batch, self.lanes, self.depth, self.lane_stride, self.depth_stride, self.batch_stride]
    }

    /// Flat source index of every packed element (None: a padding lane).
    fn gather_indices(&self, side: Side) -> Vec<Option<usize>> {
        let w = side.width();
        let panels = self.lanes.div_ceil(w);
        let mut idx = Vec::with_capacity(self.batch * self.packed_len(side));
        for b in 0..self.batch {
            for pi in 0..panels {
                for p in 0..self.depth {
                    for r in 0..w {
                        let l = pi * w + r;
                        idx.push((l < self.lanes).then(|| b * self.batch_stride + l * self.lane_stride + p * self.depth_stride));
                    }
                }
            }
        }
        idx
    }
}

/// The packed form of `m` read from `src`: a compile-time constant when
/// `src` is constant, else a scratch buffer filled by a pack call.
pub fn packed(cx: &mut LowerCx, src: &Loc, m: Matrices, side: Side, what: &str) -> Result<Loc> {
    let total = m.batch.checked_mul(m.packed_len(side)).ok_or_else(|| Error::Op("packed operand is too large".into()))?;
    if let Some(t) = &src.constant {
        let data = gather(t, &m.gather_indices(side))?;
        return Ok(cx.constant(what, data));
    }
    let dst = cx.scratch(src.dtype, total);
    let name = match side {
        Side::A => "pack_a",
        Side::B => "pack_b",
    };
    cx.call("gemm", name, vec![src.dtype], vec![src.arg_in(), dst.arg_out(), Arg::Dims(m.dims())]);
    Ok(dst)
}

/// The elements of `t` (row-major) at `idx`, zero where `None`, as a 1-D tensor.
fn gather(t: &Tensor, idx: &[Option<usize>]) -> Result<Tensor> {
    let n = idx.len();
    map_num!(t, a => {
        let flat: Vec<_> = a.iter().cloned().collect();
        let data: Vec<_> = idx.iter().map(|i| i.and_then(|i| flat.get(i).cloned()).unwrap_or_default()).collect();
        ndarray::ArrayD::from_shape_vec(ndarray::IxDyn(&[n]), data).map_err(|e| Error::Op(format!("internal shape error: {e}")))?
    })
}

/// A sub-range of a packed operand (one matrix of a batch).
pub fn part(loc: &Loc, index: usize, len: usize) -> Arg {
    Arg::In { operand: loc.operand, offset: loc.offset + index * len, len }
}

/// `y[i·ldy + j] = alpha · A·B + beta · y` over packed operands.
#[allow(clippy::too_many_arguments)]
pub fn gemm_call(cx: &mut LowerCx, dtype: DType, a: Arg, b: Arg, y: Arg, mnk_ldy: [usize; 4], alpha: f64, beta: f64) {
    cx.call(
        "gemm",
        "gemm",
        vec![dtype],
        vec![a, b, y, Arg::Dims(mnk_ldy.to_vec()), Arg::Lit(Lit::Float(alpha, DType::F64)), Arg::Lit(Lit::Float(beta, DType::F64))],
    );
}

/// Fills `y` with zero.
pub fn fill_zero(cx: &mut LowerCx, y: &Loc) -> Result<()> {
    let value = ElemLit { dtype: y.dtype, value: Arc::new(Tensor::zeros(y.dtype, &[])?) };
    cx.push(Step::Fill { dst: y.view(), shape: y.shape.clone(), value });
    Ok(())
}

/// Copies `src` broadcast (numpy rules) into `y`.
pub fn fill_broadcast(cx: &mut LowerCx, src: &Loc, y: &Loc) -> Result<()> {
    let view = src.broadcast_view(&y.shape)?;
    cx.push(Step::Copy { src: view, dst: y.view(), shape: y.shape.clone(), dtype: y.dtype });
    Ok(())
}

/// Elements of im2col / col2im scratch a convolution may use.
const COL_BUDGET: usize = 1 << 15;

/// Positions per im2col chunk for `rows` rows of `len` positions: a
/// multiple of [`NR`], at least one panel, at most the padded length.
pub fn chunk_len(rows: usize, len: usize) -> usize {
    let fit = COL_BUDGET / rows.max(1) / NR * NR;
    fit.min(len.div_ceil(NR) * NR).max(NR)
}

/// Per-axis values of a window geometry with up to three spatial axes,
/// each list left-padded to three with `fill`.
pub fn three<T: Copy>(v: &[T], fill: T) -> Result<Vec<T>> {
    if v.len() > 3 {
        unsupported!("code generation for windows over {} spatial axes (at most 3)", v.len());
    }
    let mut out = vec![fill; 3 - v.len()];
    out.extend_from_slice(v);
    Ok(out)
}

/// Spatial geometry of a convolution as the runtime's `conv` kernels take it.
pub struct ConvGeometry<'a> {
    pub input: &'a [usize],
    pub output: &'a [usize],
    pub kernel: &'a [usize],
    pub stride: Vec<usize>,
    pub dilation: Vec<usize>,
}

/// `dims` of the runtime's `conv` / `conv_transpose`: [batch, c_in,
/// c_out, group, input×3, output×3, kernel×3, stride×3, dilation×3, chunk].
pub fn conv_dims(batch: usize, c_in: usize, c_out: usize, group: usize, g: &ConvGeometry, chunk: usize) -> Result<Vec<usize>> {
    let mut d = vec![batch, c_in, c_out, group];
    for v in [g.input, g.output, g.kernel, &g.stride, &g.dilation] {
        d.extend(three(v, 1)?);
    }
    d.push(chunk);
    Ok(d)
}
