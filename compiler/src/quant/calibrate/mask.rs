//! The range of an additive attention mask: just wide enough that every
//! masked score lands on the lowest code of the sum it is added to.
//!
//! A mask such as BERT's `(1 − mask) · −3.4e38` holds 0 on the positions
//! attended to and a huge negative number on the others. Calibrated like
//! any value, its range would be `[−3.4e38, 0]` and so would the range of
//! the scores it is added to: every real score would fall into one code.
//! Instead, calibration sets the masked elements apart (`observe`), so the
//! sum's range is that of the real scores, and gives the mask the range
//! `[−R, 0]` with `R` twice what takes the largest score below the sum's
//! lowest end: 0 stays exact (the zero point), the masked elements clamp
//! to `−R`, and the sum saturates to its lowest code there, which the
//! Softmax reads as its smallest weight.

use super::observe::ValueStats;
use super::roles;
use super::Range;
use crate::ir::{Graph, ValueId};
use std::collections::HashMap;

/// Gives every pure mask of `g` (a value whose calibration elements are all
/// masked or 0, added to the scores of a Softmax) the range that saturates
/// the sums it is added to, from the ranges chosen for the scores and the
/// sums in `ranges`.
pub fn saturate(g: &Graph, stats: &HashMap<ValueId, &ValueStats>, ranges: &mut HashMap<ValueId, Range>) {
    let masks: Vec<ValueId> = stats.iter().filter(|(_, s)| is_pure_mask(s)).map(|(&v, _)| v).collect();
    for v in masks {
        let reach = roles::masked_sums(g, v)
            .into_iter()
            .filter_map(|(scores, sum)| {
                let (x, y) = (ranges.get(&scores)?, ranges.get(&sum)?);
                Some((x.hi - y.lo).max(y.hi - y.lo) as f64)
            })
            .fold(0.0, f64::max);
        if reach > 0.0 && reach.is_finite() {
            ranges.insert(v, Range { lo: (-2.0 * reach) as f32, hi: 0.0 });
        }
    }
}

/// Whether the observed elements were masked ones and zeros only.
fn is_pure_mask(s: &ValueStats) -> bool {
    s.masked > 0 && (!s.seen() || (s.lo == 0.0 && s.hi == 0.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_masked_elements_and_zeros_make_a_mask() {
        let mask = ValueStats { masked: 10, ..ValueStats::of(&[&[0.0, 0.0]]) };
        let scores = ValueStats { masked: 10, ..ValueStats::of(&[&[0.0, 1.5]]) };
        let all_masked = ValueStats { masked: 10, ..ValueStats::default() };
        assert!(is_pure_mask(&mask) && is_pure_mask(&all_masked));
        assert!(!is_pure_mask(&scores) && !is_pure_mask(&ValueStats::of(&[&[0.0]])));
    }
}
