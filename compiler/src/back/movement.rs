//! Data-movement operators lowered through their own `eval`: every output
//! element of Transpose, Slice, Concat, Pad, Gather (constant indices) and
//! the like is a copy of one input element or a fill value. Evaluating the
//! operator at compile time on index tensors ("iota") gives that map; it is
//! then covered by as few strided `Copy` and `Fill` steps as possible, or
//! becomes an alias of the input when it is a contiguous run of it.
//!
//! Two evaluations with index bases far apart tell copies (which move with
//! the base) from fills (which do not), whatever the fill value; one more
//! evaluation on zeros of the real element type gives the fill values.

use super::lower::{Loc, LowerCx};
use super::program::{ElemLit, Step, View};
use crate::tensor::{DType, Tensor};
use crate::{Error, Result};
use std::sync::Arc;

/// The distance between the two index bases, and between inputs' ranges.
const BASE: i64 = 1 << 40;
const INPUT_SPAN: i64 = 1 << 34;

/// Where one output element comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    /// Element `index` (flat) of data input `input`.
    Copy { input: usize, index: i64 },
    Fill,
}

/// More steps than this means an irregular map that strided copies do not
/// describe well; such operators stay unsupported.
const MAX_PIECES: usize = 4096;

/// Output 0 is input 0 under another shape (Reshape, Flatten, Squeeze,
/// Unsqueeze, Identity): no code unless it is a graph output.
pub fn alias(cx: &mut LowerCx) -> Result<()> {
    let (_, shape) = cx.output_type(0)?;
    let loc = cx.input(0)?.reshaped(&shape.to_vec());
    cx.alias_output(0, loc)
}

/// Lowers an operator whose outputs move elements of the inputs listed in
/// `data` (in input order). Every other present input must be a
/// compile-time constant. `eval` is the operator's interpreter semantics.
pub fn lower(cx: &mut LowerCx, data: &[usize], eval: impl Fn(&[Option<&Tensor>]) -> Result<Vec<Tensor>>) -> Result<()> {
    let n = cx.num_inputs();
    let locs: Vec<Option<Loc>> = (0..n).map(|i| cx.opt_input(i).cloned()).collect();
    let data_dtype = match data.first().and_then(|&i| locs.get(i).cloned().flatten()) {
        Some(l) => l.dtype,
        None => return Err(Error::Op("data input is missing".into())),
    };
    if data_dtype.is_small() || data_dtype == DType::Str {
        crate::unsupported!("code generation for {data_dtype} data movement is not implemented yet");
    }
    let with_base = |base: i64| -> Result<Vec<Option<Tensor>>> {
        let mut v = Vec::new();
        for (i, loc) in locs.iter().enumerate() {
            let Some(loc) = loc else {
                v.push(None);
                continue;
            };
            if let Some(k) = data.iter().position(|&d| d == i) {
                let start = base + k as i64 * INPUT_SPAN;
                v.push(Some(Tensor::from_vec(&loc.shape, (0..loc.len() as i64).map(|x| start + x).collect())?));
            } else {
                let Some(c) = &loc.constant else {
                    crate::unsupported!("code generation needs input {i} to be a constant here");
                };
                // Parameters of the data's own type (a pad value) take the index type.
                v.push(Some(if loc.dtype == data_dtype { c.cast(DType::I64)? } else { (**c).clone() }));
            }
        }
        Ok(v)
    };
    let run = |inputs: &[Option<Tensor>]| -> Result<Vec<Tensor>> {
        let refs: Vec<Option<&Tensor>> = inputs.iter().map(Option::as_ref).collect();
        eval(&refs)
    };
    let first = run(&with_base(0)?)?;
    let second = run(&with_base(BASE)?)?;
    let mut zero_outputs: Option<Vec<Tensor>> = None;
    for (slot, (a, b)) in first.iter().zip(&second).enumerate() {
        if !cx.has_output(slot) {
            continue;
        }
        if a.dtype() != DType::I64 {
            // Not indices: an output that ignores the data (Dropout's mask).
            if a != b {
                crate::unsupported!("code generation: output {slot} is not a movement of input elements");
            }
        }
        let (a, b) = if a.dtype() == DType::I64 { (a.to_i64_vec()?, b.to_i64_vec()?) } else { (vec![0; a.len()], vec![0; a.len()]) };
        let lens: Vec<i64> = data.iter().map(|&i| locs[i].as_ref().map_or(0, |l| l.len() as i64)).collect();
        let mut map = Vec::with_capacity(a.len());
        for (&x, &y) in a.iter().zip(&b) {
            let (input, index) = ((x / INPUT_SPAN) as usize, x % INPUT_SPAN);
            map.push(if y.wrapping_sub(x) == BASE && x >= 0 && lens.get(input).is_some_and(|&n| index < n) {
                Source::Copy { input, index }
            } else if x == y {
                Source::Fill
            } else {
                crate::unsupported!("code generation: this operator combines elements, it does not only move them");
            });
        }
        let (dtype, shape) = cx.output_type(slot).map(|(d, s)| (d, s.to_vec()))?;
        let fill = match map.iter().position(|s| *s == Source::Fill) {
            None => None,
            Some(at) => {
                if zero_outputs.is_none() {
                    zero_outputs = Some(run(&zeros_in(&locs, data, data_dtype)?)?);
                }
                let value = zero_outputs.as_ref().and_then(|z| z.get(slot)).ok_or_else(|| Error::Op("no fill value".into()))?;
                Some(element(value, at, dtype)?)
            }
        };
        let srcs: Vec<Loc> = data.iter().map(|&i| locs[i].clone().ok_or_else(|| Error::Op(format!("input {i} is missing")))).collect::<Result<_>>()?;
        emit(cx, slot, &shape, &map, &srcs, fill)?;
    }
    Ok(())
}

/// The inputs with data replaced by zeros of its real type (for fill values).
fn zeros_in(locs: &[Option<Loc>], data: &[usize], dtype: DType) -> Result<Vec<Option<Tensor>>> {
    let mut v = Vec::new();
    for (i, loc) in locs.iter().enumerate() {
        v.push(match loc {
            None => None,
            Some(l) if data.contains(&i) => Some(Tensor::zeros(dtype, &l.shape)?),
            Some(l) => l.constant.as_ref().map(|c| (**c).clone()),
        });
    }
    Ok(v)
}

/// Element `at` (flat) of `t` as a literal of type `dtype`.
fn element(t: &Tensor, at: usize, dtype: DType) -> Result<ElemLit> {
    let value = if dtype.is_float() {
        Tensor::scalar(t.to_f64_vec()?[at]).cast(dtype)?
    } else if dtype == DType::U64 {
        Tensor::scalar(t.array::<u64>()?.iter().nth(at).copied().unwrap_or(0))
    } else if dtype == DType::Bool {
        Tensor::scalar(t.array::<bool>()?.iter().nth(at).copied().unwrap_or(false))
    } else {
        Tensor::scalar(t.to_i64_vec()?[at]).cast(dtype)?
    };
    Ok(ElemLit { dtype, value: Arc::new(value) })
}

/// A rectangular block of the output: `start` and `extent` per dimension.
#[derive(Clone)]
struct Block {
    start: Vec<usize>,
    extent: Vec<usize>,
}

enum Piece {
    Copy { block: Block, input: usize, base: i64, strides: Vec<isize> },
    Fill(Block),
}

/// Emits output `slot` from its element map, as an alias when it is one
/// contiguous run of an input, else as copies and fills.
fn emit(cx: &mut LowerCx, slot: usize, shape: &[usize], map: &[Source], srcs: &[Loc], fill: Option<ElemLit>) -> Result<()> {
    let total: usize = shape.iter().product();
    if let Some(Source::Copy { input, index }) = map.first().copied() {
        let contiguous = map.iter().enumerate().all(|(k, s)| *s == Source::Copy { input, index: index + k as i64 });
        if contiguous && total > 0 {
            let src = &srcs[input];
            let loc = Loc { offset: src.offset + index as usize, shape: shape.to_vec(), constant: None, ..src.clone() };
            return cx.alias_output(slot, loc);
        }
    }
    let out = cx.output(slot)?;
    if total == 0 {
        return Ok(());
    }
    let mut pieces = Vec::new();
    cover(shape, map, Block { start: vec![0; shape.len()], extent: shape.to_vec() }, &mut pieces)?;
    let out_strides = super::lower::row_major_strides(shape);
    for p in pieces {
        match p {
            Piece::Copy { block, input, base, strides } => {
                let src = &srcs[input];
                let step = Step::Copy {
                    src: View { operand: src.operand, offset: src.offset + base as usize, strides },
                    dst: block_view(&out, &out_strides, &block),
                    shape: block.extent.clone(),
                    dtype: out.dtype,
                };
                cx.push(step);
            }
            Piece::Fill(block) => {
                let value = fill.clone().ok_or_else(|| Error::Op("internal error: fill without a value".into()))?;
                cx.push(Step::Fill { dst: block_view(&out, &out_strides, &block), shape: block.extent.clone(), value });
            }
        }
    }
    Ok(())
}

fn block_view(out: &Loc, strides: &[isize], b: &Block) -> View {
    let offset: isize = b.start.iter().zip(strides).map(|(&s, &st)| s as isize * st).sum();
    View { operand: out.operand, offset: out.offset + offset as usize, strides: strides.to_vec() }
}

/// Covers `block` with pieces: the whole block when its map is affine,
/// else the affine runs along the dimension that needs the fewest (a
/// Concat splits along its axis), else the runs along its first non-unit
/// dimension with the slabs that are not affine covered recursively.
fn cover(shape: &[usize], map: &[Source], block: Block, pieces: &mut Vec<Piece>) -> Result<()> {
    if pieces.len() > MAX_PIECES {
        crate::unsupported!("code generation: the element map needs more than {MAX_PIECES} strided copies");
    }
    if let Some(p) = fit(shape, map, &block) {
        pieces.push(p);
        return Ok(());
    }
    let mut cuts: Vec<_> = (0..block.extent.len()).filter(|&d| block.extent[d] > 1).map(|d| runs_along(shape, map, &block, d)).collect();
    if cuts.is_empty() {
        return Err(Error::Op("internal error: a single element is always affine".into()));
    }
    let best = (0..cuts.len()).filter(|&k| cuts[k].iter().all(Result::is_ok)).min_by_key(|&k| cuts[k].len()).unwrap_or(0);
    for run in cuts.swap_remove(best) {
        match run {
            Ok(p) => pieces.push(p),
            Err(slab) => cover(shape, map, slab, pieces)?,
        }
    }
    Ok(())
}

/// The block cut along dimension `d` into maximal affine runs, with each
/// slab that is not affine on its own given back as a block.
fn runs_along(shape: &[usize], map: &[Source], block: &Block, d: usize) -> Vec<std::result::Result<Piece, Block>> {
    let end = block.start[d] + block.extent[d];
    let slab = |j: usize, len: usize| {
        let mut b = block.clone();
        b.start[d] = j;
        b.extent[d] = len;
        b
    };
    let mut runs = Vec::new();
    let mut j = block.start[d];
    while j < end {
        let Some(mut piece) = fit(shape, map, &slab(j, 1)) else {
            runs.push(Err(slab(j, 1)));
            j += 1;
            continue;
        };
        let mut len = 1;
        while j + len < end {
            match fit(shape, map, &slab(j, len + 1)) {
                Some(p) => {
                    piece = p;
                    len += 1;
                }
                None => break,
            }
        }
        runs.push(Ok(piece));
        j += len;
    }
    runs
}

/// The block as one piece, if its elements are all fills or all copies
/// from one input at affine positions.
fn fit(shape: &[usize], map: &[Source], b: &Block) -> Option<Piece> {
    let strides = super::lower::row_major_strides(shape);
    let flat = |idx: &[usize]| -> usize { idx.iter().zip(&strides).map(|(&i, &s)| i * s as usize).sum() };
    let origin = map[flat(&b.start)];
    let (input, base) = match origin {
        Source::Fill => {
            return all(b, |idx| map[flat(idx)] == Source::Fill).then(|| Piece::Fill(b.clone()));
        }
        Source::Copy { input, index } => (input, index),
    };
    let mut src_strides = vec![0isize; shape.len()];
    for d in 0..shape.len() {
        if b.extent[d] > 1 {
            let mut idx = b.start.clone();
            idx[d] += 1;
            match map[flat(&idx)] {
                Source::Copy { input: k, index } if k == input => src_strides[d] = (index - base) as isize,
                _ => return None,
            }
        }
    }
    let ok = all(b, |idx| {
        let want = base + idx.iter().zip(&b.start).zip(&src_strides).map(|((&i, &s), &st)| (i - s) as i64 * st as i64).sum::<i64>();
        map[flat(idx)] == Source::Copy { input, index: want }
    });
    ok.then(|| Piece::Copy { block: b.clone(), input, base, strides: src_strides })
}

/// Whether `f` holds at every index of the block (stops at the first miss).
fn all(b: &Block, mut f: impl FnMut(&[usize]) -> bool) -> bool {
    if b.extent.iter().any(|&e| e == 0) {
        return true;
    }
    let mut idx = b.start.clone();
    loop {
        if !f(&idx) {
            return false;
        }
        let mut d = idx.len();
        loop {
            if d == 0 {
                return true;
            }
            d -= 1;
            idx[d] += 1;
            if idx[d] < b.start[d] + b.extent[d] {
                break;
            }
            idx[d] = b.start[d];
        }
    }
}
