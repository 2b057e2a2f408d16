//! Sliding-window geometry shared by the convolutions and pools: the
//! `kernel_shape`, `strides`, `dilations`, `pads`, `auto_pad` and
//! `ceil_mode` attributes, their resolution against input sizes into output
//! sizes and pads, and the traversal of one kernel offset over all window
//! positions that im2col, col2im and the pools are built on.

use crate::front::onnx::OnnxNode;
use crate::ir::Dim;
use crate::{bail, unsupported, Result};
use std::ops::Range;

/// Largest stride, dilation, pad or kernel extent accepted; keeps every
/// index computation far inside `i64`.
const LIMIT: usize = 1 << 40;

/// The `auto_pad` attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AutoPad {
    NotSet,
    SameUpper,
    SameLower,
    Valid,
}

impl AutoPad {
    pub fn from_onnx(node: &OnnxNode) -> Result<AutoPad> {
        Ok(match node.string("auto_pad", "NOTSET")?.as_str() {
            "NOTSET" | "" => AutoPad::NotSet,
            "SAME_UPPER" => AutoPad::SameUpper,
            "SAME_LOWER" => AutoPad::SameLower,
            "VALID" => AutoPad::Valid,
            other => bail!("auto_pad '{other}' is not NOTSET, SAME_UPPER, SAME_LOWER or VALID"),
        })
    }

    pub fn is_same(self) -> bool {
        matches!(self, AutoPad::SameUpper | AutoPad::SameLower)
    }
}

/// Window attributes as written on the node; lists are per spatial axis
/// (`pads` holds all begins, then all ends). Absent lists mean the defaults.
#[derive(Debug, Clone)]
pub struct Window {
    pub kernel_shape: Option<Vec<usize>>,
    pub strides: Option<Vec<usize>>,
    pub dilations: Option<Vec<usize>>,
    pub pads: Option<Vec<usize>>,
    pub auto_pad: AutoPad,
    pub ceil_mode: bool,
}

/// Reads a list of integers in `min..=LIMIT`.
fn list(node: &OnnxNode, name: &str, min: i64) -> Result<Option<Vec<usize>>> {
    let Some(values) = node.ints_opt(name)? else { return Ok(None) };
    let mut out = Vec::with_capacity(values.len());
    for v in values {
        if v < min {
            bail!("attribute '{name}' contains {v}; its values must be at least {min}");
        }
        if v as u64 > LIMIT as u64 {
            unsupported!("attribute '{name}' contains {v}, larger than qcc's limit of {LIMIT}");
        }
        out.push(v as usize);
    }
    Ok(Some(out))
}

/// An optional per-axis list attribute of ops that check it at evaluation
/// (Col2Im, DeformConv): `len` values, or `default` for each when absent.
pub fn per_axis(v: &Option<Vec<i64>>, len: usize, default: i64, name: &str) -> Result<Vec<i64>> {
    match v {
        None => Ok(vec![default; len]),
        Some(v) if v.len() == len => Ok(v.clone()),
        Some(v) => bail!("{name} {v:?} must have {len} values"),
    }
}

/// `v` as sizes, each of which must be positive (`name` names the list in
/// the error).
pub fn positive_each(v: Vec<i64>, name: &str) -> Result<Vec<usize>> {
    v.iter()
        .map(|&x| if x > 0 { usize::try_from(x).map_err(|_| crate::Error::Op(format!("{name} {x} is too large"))) } else { bail!("{name} must be positive, got {v:?}") })
        .collect()
}

impl Window {
    /// Reads the window attributes; `ceil_mode` only where the op has it.
    pub fn from_onnx(node: &OnnxNode, has_ceil_mode: bool) -> Result<Window> {
        Ok(Window {
            kernel_shape: list(node, "kernel_shape", 1)?,
            strides: list(node, "strides", 1)?,
            dilations: list(node, "dilations", 1)?,
            pads: list(node, "pads", 0)?,
            auto_pad: AutoPad::from_onnx(node)?,
            ceil_mode: has_ceil_mode && node.int("ceil_mode", 0)? != 0,
        })
    }

    /// Checks the list lengths against the number of spatial axes.
    pub fn check_rank(&self, spatial: usize) -> Result<()> {
        let check = |name: &str, l: &Option<Vec<usize>>, want: usize| -> Result<()> {
            match l {
                Some(v) if v.len() != want => {
                    bail!("attribute '{name}' has {} values, expected {want} for {spatial} spatial axes", v.len())
                }
                _ => Ok(()),
            }
        };
        check("kernel_shape", &self.kernel_shape, spatial)?;
        check("strides", &self.strides, spatial)?;
        check("dilations", &self.dilations, spatial)?;
        check("pads", &self.pads, 2 * spatial)
    }

    pub fn stride(&self, i: usize) -> usize {
        self.strides.as_ref().and_then(|s| s.get(i).copied()).unwrap_or(1)
    }

    pub fn dilation(&self, i: usize) -> usize {
        self.dilations.as_ref().and_then(|s| s.get(i).copied()).unwrap_or(1)
    }

    /// The explicit (begin, end) pads of axis `i` of `spatial`.
    pub fn explicit_pads(&self, i: usize, spatial: usize) -> (usize, usize) {
        match &self.pads {
            Some(p) => (p.get(i).copied().unwrap_or(0), p.get(i + spatial).copied().unwrap_or(0)),
            None => (0, 0),
        }
    }

    /// The kernel size of every spatial axis: from the weights' dims where
    /// known, checked against `kernel_shape`.
    pub fn kernel(&self, from_weights: Option<&[Dim]>) -> Result<Vec<Dim>> {
        match (from_weights, &self.kernel_shape) {
            (Some(w), Some(k)) => {
                if w.len() != k.len() {
                    bail!("kernel_shape {k:?} does not match the {}-D kernel of the weights", w.len());
                }
                for (d, &kk) in w.iter().zip(k) {
                    if d.is_some_and(|d| d != kk) {
                        bail!("kernel_shape {k:?} does not match the weights' kernel {w:?}");
                    }
                }
                Ok(k.iter().map(|&k| Some(k)).collect())
            }
            (Some(w), None) => Ok(w.to_vec()),
            (None, Some(k)) => Ok(k.iter().map(|&k| Some(k)).collect()),
            (None, None) => bail!("attribute 'kernel_shape' is required"),
        }
    }

    /// Output sizes for partly known input and kernel sizes.
    pub fn output_dims(&self, input: &[Dim], kernel: &[Dim]) -> Result<Vec<Dim>> {
        let spatial = input.len();
        self.check_rank(spatial)?;
        if kernel.len() != spatial {
            bail!("{}-D kernel for {spatial} spatial axes", kernel.len());
        }
        let mut out = Vec::with_capacity(spatial);
        for (i, (&x, &k)) in input.iter().zip(kernel).enumerate() {
            out.push(match (x, k) {
                (Some(x), Some(k)) => Some(self.axis(i, spatial, x, k)?.output),
                _ => None,
            });
        }
        Ok(out)
    }

    /// Resolves every spatial axis against known input and kernel sizes.
    pub fn resolve(&self, input: &[usize], kernel: &[usize]) -> Result<Vec<Axis>> {
        let spatial = input.len();
        self.check_rank(spatial)?;
        if kernel.len() != spatial {
            bail!("{}-D kernel for {spatial} spatial axes", kernel.len());
        }
        input.iter().zip(kernel).enumerate().map(|(i, (&x, &k))| self.axis(i, spatial, x, k)).collect()
    }

    /// Output size and pads of spatial axis `i` of `spatial`.
    fn axis(&self, i: usize, spatial: usize, input: usize, kernel: usize) -> Result<Axis> {
        let (stride, dilation) = (self.stride(i), self.dilation(i));
        if kernel == 0 {
            bail!("kernel size 0 along spatial axis {i}");
        }
        let extent = (kernel - 1).checked_mul(dilation).and_then(|e| e.checked_add(1)).filter(|&e| e <= LIMIT);
        let Some(extent) = extent else { unsupported!("kernel extent along spatial axis {i} exceeds qcc's limit") };
        let (pad_begin, pad_end, output) = match self.auto_pad {
            AutoPad::NotSet | AutoPad::Valid => {
                let (pb, pe) = if self.auto_pad == AutoPad::Valid { (0, 0) } else { self.explicit_pads(i, spatial) };
                let span = input + pb + pe;
                if span < extent {
                    bail!(
                        "kernel extent {extent} is larger than the padded input ({input} + {pb} + {pe}) along spatial axis {i}"
                    );
                }
                let mut out = if self.ceil_mode { (span - extent).div_ceil(stride) + 1 } else { (span - extent) / stride + 1 };
                // In ceil mode, a last window starting in the end padding is dropped.
                if self.ceil_mode && out > 1 && (out - 1) * stride >= input + pb {
                    out -= 1;
                }
                (pb, pe, out)
            }
            AutoPad::SameUpper | AutoPad::SameLower => {
                let out = input.div_ceil(stride);
                let total = (out.saturating_sub(1) * stride + extent).saturating_sub(input);
                let small = total / 2;
                if self.auto_pad == AutoPad::SameUpper {
                    (small, total - small, out)
                } else {
                    (total - small, small, out)
                }
            }
        };
        Ok(Axis { input, kernel, stride, dilation, pad_begin, pad_end, output })
    }
}

/// One resolved spatial axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Axis {
    pub input: usize,
    pub kernel: usize,
    pub stride: usize,
    pub dilation: usize,
    pub pad_begin: usize,
    pub pad_end: usize,
    pub output: usize,
}

/// One spatial axis of a traversal: window position `b` in `0..b_dim` and
/// kernel offset `k` read source position `a = b·stride + k·dilation − offset`,
/// which counts only when it lies in `0..a_dim`.
#[derive(Debug, Clone, Copy)]
pub struct TraversalAxis {
    pub b_dim: usize,
    pub a_dim: usize,
    pub stride: usize,
    pub dilation: usize,
    pub offset: i64,
}

/// The positions of one row (all spatial axes but the last fixed) that one
/// kernel offset covers: elements `pos + lo .. pos + hi` of the window
/// positions (flat) read sources `a_start, a_start + a_step, ...` (flat);
/// elements `pos .. pos + lo` and `pos + hi .. pos + len` read padding.
#[derive(Debug, Clone, Copy)]
pub struct Run {
    pub pos: usize,
    pub len: usize,
    pub lo: usize,
    pub hi: usize,
    pub a_start: usize,
    pub a_step: usize,
}

/// Window positions against source positions, over all spatial axes, for
/// a kernel of known size.
#[derive(Debug, Clone)]
pub struct Traversal {
    axes: Vec<TraversalAxis>,
    kernel: Vec<usize>,
}

impl Traversal {
    /// A traversal of at least one axis. Fails unless every position
    /// `b·stride + k·dilation ± offset` fits comfortably in `i64`.
    pub fn new(axes: Vec<TraversalAxis>, kernel: &[usize]) -> Result<Traversal> {
        if axes.is_empty() || axes.len() != kernel.len() {
            bail!("a window needs at least one spatial axis and one kernel size per axis");
        }
        const BOUND: u64 = 1 << 62;
        for (a, &k) in axes.iter().zip(kernel) {
            let reach = (a.b_dim.saturating_sub(1) as u64)
                .checked_mul(a.stride as u64)
                .zip((k.saturating_sub(1) as u64).checked_mul(a.dilation as u64))
                .and_then(|(x, y)| x.checked_add(y))
                .and_then(|r| r.checked_add(a.offset.unsigned_abs()))
                .and_then(|r| r.checked_add(a.a_dim as u64));
            if a.stride == 0 || reach.is_none_or(|r| r > BOUND) {
                unsupported!("window of stride {}, dilation {}, offset {} exceeds qcc's index range", a.stride, a.dilation, a.offset);
            }
        }
        Ok(Traversal { axes, kernel: kernel.to_vec() })
    }

    /// For convolutions and pools: window positions are outputs, sources
    /// are inputs.
    pub fn forward(axes: &[Axis]) -> Result<Traversal> {
        let kernel: Vec<usize> = axes.iter().map(|a| a.kernel).collect();
        Traversal::new(
            axes.iter()
                .map(|a| TraversalAxis {
                    b_dim: a.output,
                    a_dim: a.input,
                    stride: a.stride,
                    dilation: a.dilation,
                    offset: a.pad_begin as i64,
                })
                .collect(),
            &kernel,
        )
    }

    /// Every kernel offset in row-major order.
    pub fn kernel_offsets(&self) -> Vec<Vec<usize>> {
        let dims = &self.kernel;
        let total: usize = dims.iter().product();
        let mut out = Vec::with_capacity(total);
        let mut idx = vec![0usize; dims.len()];
        for _ in 0..total {
            out.push(idx.clone());
            for (i, d) in idx.iter_mut().zip(dims).rev() {
                *i += 1;
                if *i < *d {
                    break;
                }
                *i = 0;
            }
        }
        out
    }

    /// Whether every window position reads the source position with the
    /// same index at kernel offset 0 (stride 1, no offset, equal sizes).
    pub fn is_identity(&self) -> bool {
        self.axes.iter().all(|a| a.a_dim == a.b_dim && (a.stride == 1 || a.b_dim <= 1) && a.offset == 0)
    }

    /// Number of window positions.
    pub fn b_len(&self) -> usize {
        self.axes.iter().map(|a| a.b_dim).product()
    }

    /// Number of source positions.
    pub fn a_len(&self) -> usize {
        self.axes.iter().map(|a| a.a_dim).product()
    }

    /// Calls `f` with the run of every row that intersects the flat window
    /// positions `range`, for kernel offset `kidx` (one index per axis).
    /// Rows whose leading source positions fall outside get `lo == hi == 0`.
    pub fn for_each_run(&self, kidx: &[usize], range: Range<usize>, mut f: impl FnMut(Run)) {
        let Some((last, lead)) = self.axes.split_last() else { return };
        let row_len = last.b_dim;
        let in_kernel = kidx.len() == self.kernel.len() && kidx.iter().zip(&self.kernel).all(|(i, k)| i < k);
        if row_len == 0 || range.start >= range.end || !in_kernel {
            return;
        }
        let Some((&k_last, k_lead)) = kidx.split_last() else { return };
        // Along the last axis, b is valid in [b_lo, b_hi).
        let shift = (k_last * last.dilation) as i64 - last.offset;
        let s = last.stride as i64;
        let b_lo = if shift >= 0 { 0 } else { (-shift + s - 1) / s };
        let room = last.a_dim as i64 - shift;
        let b_hi = if room <= 0 { 0 } else { (room + s - 1) / s };
        let (b_lo, b_hi) = (b_lo.min(row_len as i64) as usize, b_hi.clamp(0, row_len as i64) as usize);
        let first_row = range.start / row_len;
        let end_row = range.end.div_ceil(row_len);
        for row in first_row..end_row {
            let row_start = row * row_len;
            let c0 = range.start.max(row_start) - row_start;
            let c1 = range.end.min(row_start + row_len) - row_start;
            // Leading source offset, or None if out of range.
            let mut rest = row;
            let mut a_lead = 0usize;
            let mut a_scale = last.a_dim;
            let mut inside = true;
            for (ax, &k) in lead.iter().zip(k_lead).rev() {
                let b = rest % ax.b_dim.max(1);
                rest /= ax.b_dim.max(1);
                let a = (b * ax.stride + k * ax.dilation) as i64 - ax.offset;
                if a < 0 || a >= ax.a_dim as i64 {
                    inside = false;
                    break;
                }
                a_lead += a as usize * a_scale;
                a_scale *= ax.a_dim;
            }
            let (lo, hi) = if inside && b_lo < b_hi {
                let lo = b_lo.clamp(c0, c1);
                (lo, b_hi.clamp(lo, c1))
            } else {
                (c0, c0)
            };
            let a_start = if hi > lo { a_lead + ((lo as i64 * s + shift) as usize) } else { 0 };
            f(Run { pos: row_start + c0, len: c1 - c0, lo: lo - c0, hi: hi - c0, a_start, a_step: last.stride });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::front::onnx::Attr;
    use crate::ops::testing::node;

    fn window(attrs: Vec<(&str, Attr)>) -> Window {
        Window::from_onnx(&node("MaxPool", 17, attrs, 1, 1), true).unwrap()
    }

    #[test]
    fn output_sizes_follow_the_spec() {
        let w = window(vec![("pads", Attr::Ints(vec![1, 1])), ("strides", Attr::Ints(vec![2]))]);
        assert_eq!(w.resolve(&[5], &[3]).unwrap()[0].output, 3);
        let same = window(vec![("auto_pad", Attr::String("SAME_LOWER".into())), ("strides", Attr::Ints(vec![2]))]);
        let a = same.resolve(&[4], &[3]).unwrap()[0];
        assert_eq!((a.output, a.pad_begin, a.pad_end), (2, 1, 0));
        let ceil = window(vec![("ceil_mode", Attr::Int(1)), ("strides", Attr::Ints(vec![2]))]);
        assert_eq!(ceil.resolve(&[4], &[3]).unwrap()[0].output, 2);
        // The last window would start in the end padding: dropped.
        let ceil_pad = window(vec![("ceil_mode", Attr::Int(1)), ("strides", Attr::Ints(vec![2])), ("pads", Attr::Ints(vec![0, 1]))]);
        assert_eq!(ceil_pad.resolve(&[3], &[1]).unwrap()[0].output, 2);
    }

    #[test]
    fn kernel_larger_than_padded_input_is_an_error() {
        let w = window(vec![("pads", Attr::Ints(vec![1, 0]))]);
        let e = w.resolve(&[2], &[4]).unwrap_err().to_string();
        assert!(e.contains("larger than the padded input"), "{e}");
        assert!(Window::from_onnx(&node("MaxPool", 17, vec![("strides", Attr::Ints(vec![0]))], 1, 1), true).is_err());
        assert!(window(vec![("pads", Attr::Ints(vec![1]))]).resolve(&[3], &[1]).is_err());
    }

    #[test]
    fn runs_cover_valid_positions() {
        // 1-D: 4 outputs, stride 1, pad 1, kernel offset 0 reads a = b - 1.
        let t = Traversal::new(vec![TraversalAxis { b_dim: 4, a_dim: 4, stride: 1, dilation: 1, offset: 1 }], &[3]).unwrap();
        let mut runs = Vec::new();
        t.for_each_run(&[0], 0..4, |r| runs.push((r.pos, r.len, r.lo, r.hi, r.a_start)));
        assert_eq!(runs, vec![(0, 4, 1, 4, 0)]);
        // 2-D with a chunk that starts mid-row.
        let ax = TraversalAxis { b_dim: 3, a_dim: 3, stride: 1, dilation: 1, offset: 0 };
        let t = Traversal::new(vec![ax, ax], &[2, 3]).unwrap();
        let mut runs = Vec::new();
        t.for_each_run(&[1, 2], 2..7, |r| runs.push((r.pos, r.len, r.lo, r.hi, r.a_start)));
        // Row 0: cols 2..3 with k=(1,2): a = (1, 4) out of range for col 2 -> none.
        // Row 1: a row 2, cols 0..1 valid (col+2 < 3) -> a_start = 2*3 + 2.
        // Row 2: a row 3 out of range.
        assert_eq!(runs, vec![(2, 1, 0, 0, 0), (3, 3, 0, 1, 8), (6, 1, 0, 0, 0)]);
        let t = Traversal::new(vec![ax, ax], &[2, 2]).unwrap();
        assert_eq!(t.kernel_offsets(), vec![vec![0, 0], vec![0, 1], vec![1, 0], vec![1, 1]]);
    }
}
