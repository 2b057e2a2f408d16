//! Static memory planning: every arena buffer gets an element offset in the
//! pool of its element type, from buffer lifetimes over the step order.
//!
//! Buffers live from the first step that touches them to the last. An
//! elementwise step may write its output over an input that dies at that
//! step (same type, same element-for-element access): such pairs share one
//! slot. Slots are placed greedily by size, largest first, each at the
//! lowest offset that does not overlap a slot live at the same time. The
//! lower bound reported beside the plan is, per pool, the largest total size
//! of slots live at one step.

use super::program::{elem_bytes, Operand, Program, Step};
use crate::tensor::DType;
use std::collections::BTreeMap;

/// Arena bytes are aligned to this many bytes at the start of every pool.
pub const POOL_ALIGN: usize = 16;

/// The placement of every buffer.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// Element offset of each buffer within its dtype's pool.
    pub offsets: Vec<usize>,
    /// Pools by element type: length in elements and byte offset in the arena.
    pub pools: Vec<Pool>,
    /// Total arena bytes (pools laid out one after another, aligned).
    pub arena_bytes: usize,
    /// The smallest arena any placement could reach for this step order.
    pub lower_bound_bytes: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Pool {
    pub dtype: DType,
    pub len: usize,
    pub byte_offset: usize,
}

impl Plan {
    pub fn pool(&self, dtype: DType) -> Option<&Pool> {
        self.pools.iter().find(|p| p.dtype == dtype)
    }
}

/// A group of buffers sharing storage, with its lifetime in steps.
#[derive(Debug, Clone)]
struct Slot {
    dtype: DType,
    len: usize,
    first: usize,
    last: usize,
    members: Vec<usize>,
}

pub fn plan(p: &Program) -> Plan {
    let n = p.buffers.len();
    let mut first = vec![usize::MAX; n];
    let mut last = vec![0usize; n];
    for (s, a) in p.steps.iter().enumerate() {
        for op in a.step.reads().into_iter().chain(a.step.writes()) {
            if let Operand::Buf(b) = op {
                first[b] = first[b].min(s);
                last[b] = last[b].max(s);
            }
        }
    }
    // Union of buffers written in place over a dying input.
    let mut group: Vec<usize> = (0..n).collect();
    for (s, a) in p.steps.iter().enumerate() {
        if let Step::Map { inputs, output, .. } = &a.step {
            let Operand::Buf(o) = output.operand else { continue };
            for v in inputs {
                let Operand::Buf(i) = v.operand else { continue };
                let same = i != o
                    && last[i] == s
                    && first[o] == s
                    && v == &super::program::View { operand: v.operand, ..output.clone() }
                    && p.buffers[i] == p.buffers[o];
                if same && root(&mut group, i) != root(&mut group, o) {
                    let (ri, ro) = (root(&mut group, i), root(&mut group, o));
                    group[ro] = ri;
                    break;
                }
            }
        }
    }
    let mut slots: BTreeMap<usize, Slot> = BTreeMap::new();
    for b in 0..n {
        if first[b] == usize::MAX {
            // Never touched: no storage needed.
            continue;
        }
        let r = root(&mut group, b);
        let buf = &p.buffers[b];
        let slot = slots.entry(r).or_insert(Slot { dtype: buf.dtype, len: buf.len, first: first[b], last: last[b], members: Vec::new() });
        slot.len = slot.len.max(buf.len);
        slot.first = slot.first.min(first[b]);
        slot.last = slot.last.max(last[b]);
        slot.members.push(b);
    }
    let mut by_dtype: BTreeMap<DType, Vec<Slot>> = BTreeMap::new();
    for slot in slots.into_values() {
        by_dtype.entry(slot.dtype).or_default().push(slot);
    }
    let mut offsets = vec![0usize; n];
    let mut pools = Vec::new();
    let mut arena = 0usize;
    let mut bound = 0usize;
    for (dtype, slots) in by_dtype {
        let (placed, len) = place(&slots);
        for (slot, off) in slots.iter().zip(&placed) {
            for &m in &slot.members {
                offsets[m] = *off;
            }
        }
        let bytes = len * elem_bytes(dtype);
        arena = arena.next_multiple_of(POOL_ALIGN);
        pools.push(Pool { dtype, len, byte_offset: arena });
        arena += bytes;
        bound += peak(&slots) * elem_bytes(dtype);
    }
    Plan { offsets, pools, arena_bytes: arena, lower_bound_bytes: bound }
}

fn root(group: &mut [usize], mut x: usize) -> usize {
    while group[x] != x {
        group[x] = group[group[x]];
        x = group[x];
    }
    x
}

/// Greedy by size: offsets per slot and the pool length.
fn place(slots: &[Slot]) -> (Vec<usize>, usize) {
    let mut order: Vec<usize> = (0..slots.len()).collect();
    order.sort_by(|&a, &b| slots[b].len.cmp(&slots[a].len).then(slots[a].first.cmp(&slots[b].first)).then(a.cmp(&b)));
    let mut offsets = vec![0usize; slots.len()];
    let mut placed: Vec<usize> = Vec::new();
    let mut end = 0usize;
    for i in order {
        let s = &slots[i];
        let mut busy: Vec<(usize, usize)> = placed
            .iter()
            .filter(|&&j| slots[j].first <= s.last && s.first <= slots[j].last)
            .map(|&j| (offsets[j], offsets[j] + slots[j].len))
            .collect();
        busy.sort();
        let mut at = 0usize;
        for (lo, hi) in busy {
            if at + s.len <= lo {
                break;
            }
            at = at.max(hi);
        }
        offsets[i] = at;
        end = end.max(at + s.len);
        placed.push(i);
    }
    (offsets, end)
}

/// The largest total length of slots live at one step.
fn peak(slots: &[Slot]) -> usize {
    let Some(steps) = slots.iter().map(|s| s.last).max() else { return 0 };
    (0..=steps).map(|t| slots.iter().filter(|s| s.first <= t && t <= s.last).map(|s| s.len).sum()).max().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slot(len: usize, first: usize, last: usize) -> Slot {
        Slot { dtype: DType::F32, len, first, last, members: vec![] }
    }

    #[test]
    fn disjoint_lifetimes_share_memory() {
        let slots = [slot(100, 0, 1), slot(100, 2, 3), slot(50, 1, 2)];
        let (offsets, len) = place(&slots);
        assert_eq!(len, 150);
        assert_eq!(offsets[0], offsets[1]);
        assert_eq!(peak(&slots), 150);
    }

    #[test]
    fn overlapping_lifetimes_do_not_overlap_in_memory() {
        let slots = [slot(10, 0, 5), slot(20, 1, 2), slot(30, 2, 3), slot(5, 3, 4)];
        let (offsets, len) = place(&slots);
        for (a, sa) in slots.iter().enumerate() {
            for (b, sb) in slots.iter().enumerate().skip(a + 1) {
                let live = sa.first <= sb.last && sb.first <= sa.last;
                let apart = offsets[a] + sa.len <= offsets[b] || offsets[b] + sb.len <= offsets[a];
                assert!(!live || apart, "slots {a} and {b} overlap");
            }
        }
        assert!(len >= peak(&slots));
    }
}
