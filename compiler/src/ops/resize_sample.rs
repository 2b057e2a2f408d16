//! The one-axis sampling rules of Resize (and Upsample): how an output
//! coordinate maps back to the input (`coordinate_transformation_mode`),
//! which input element nearest mode picks, and the weights of the linear
//! and cubic filters (optionally antialiased). Resize applies them axis by
//! axis; see `resize.rs`.
//!
//! Conventions, as in the ONNX reference implementation: the source
//! coordinate `x` splits into `floor(x)` and a ratio in `(0, 1]` (an integer
//! `x` has ratio 1, so the filter leans on the pixel left of it); a filter of
//! `n` taps (always even) covers the `n` pixels nearest `x`, and taps
//! outside the axis read the edge pixel.

use crate::tensor::MAX_ELEMENTS;
use crate::{bail, Result};

/// `coordinate_transformation_mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coord {
    HalfPixel,
    HalfPixelSymmetric,
    PytorchHalfPixel,
    AlignCorners,
    Asymmetric,
    TfCropAndResize,
    /// Opset 11 only: `(y + 0.5) / scale`.
    TfHalfPixelForNn,
}

/// `nearest_mode`, plus the rule of opsets before 11 (ceil when
/// downsampling, floor otherwise).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nearest {
    RoundPreferFloor,
    RoundPreferCeil,
    Floor,
    Ceil,
    Legacy,
}

/// The interpolation filter of linear and cubic modes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Filter {
    Linear,
    Cubic { a: f64 },
}

/// The (input position, weight) pairs that make one output element.
pub type Taps = Vec<(usize, f64)>;

/// How one axis is resampled.
#[derive(Debug, Clone, Copy)]
pub struct Axis {
    pub in_len: usize,
    pub out_len: usize,
    pub scale: f64,
    /// The region of interest (start, end), used by `tf_crop_and_resize`.
    pub roi: (f64, f64),
}

impl Axis {
    /// Whether resampling leaves this axis unchanged (skipped, as the
    /// reference implementation does).
    pub fn is_identity(&self, coord: Coord) -> bool {
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * a.abs().max(b.abs());
        close(self.scale, 1.0)
            && self.out_len == self.in_len
            && (coord != Coord::TfCropAndResize || (self.roi.0 == 0.0 && close(self.roi.1, 1.0)))
    }

    /// The source coordinate of output position `y`, and whether it lies
    /// outside the input (only `tf_crop_and_resize` extrapolates).
    pub fn source(&self, coord: Coord, y: usize) -> (f64, bool) {
        let y = y as f64;
        let len = self.in_len as f64;
        // The fractional output length the scale implies (not out_len).
        let out = self.scale * len;
        let x = match coord {
            Coord::HalfPixel => (y + 0.5) / self.scale - 0.5,
            Coord::HalfPixelSymmetric => {
                let adjustment = self.out_len as f64 / out;
                let offset = len / 2.0 * (1.0 - adjustment);
                offset + (y + 0.5) / self.scale - 0.5
            }
            Coord::PytorchHalfPixel if out == 1.0 => 0.0,
            Coord::PytorchHalfPixel => (y + 0.5) / self.scale - 0.5,
            Coord::AlignCorners if out == 1.0 => 0.0,
            Coord::AlignCorners => y * (len - 1.0) / (out - 1.0),
            Coord::Asymmetric => y / self.scale,
            Coord::TfHalfPixelForNn => (y + 0.5) / self.scale,
            Coord::TfCropAndResize => {
                let (start, end) = self.roi;
                let x = if out == 1.0 {
                    (end - start) * (len - 1.0) / 2.0
                } else {
                    y * (end - start) * (len - 1.0) / (out - 1.0)
                };
                let x = x + start * (len - 1.0);
                return (x, !(0.0..=len - 1.0).contains(&x));
            }
        };
        (x, false)
    }

    /// For each output position: the input position nearest mode copies,
    /// or `None` where `tf_crop_and_resize` extrapolates.
    pub fn nearest(&self, coord: Coord, mode: Nearest) -> Result<Vec<Option<usize>>> {
        self.check_input()?;
        let last = self.in_len as i64 - 1;
        Ok(self.map_sources(coord, |floor, ratio| {
            let up = match mode {
                Nearest::RoundPreferFloor => ratio > 0.5,
                Nearest::RoundPreferCeil => ratio >= 0.5,
                Nearest::Floor => false,
                Nearest::Ceil => true,
                Nearest::Legacy => self.scale < 1.0,
            };
            // ratio == 1 marks an integer x = floor + 1.
            let i = if up || ratio == 1.0 { floor.saturating_add(1) } else { floor };
            i.clamp(0, last) as usize
        }))
    }

    /// For each output position: the (input position, weight) taps of the
    /// filter, or `None` where `tf_crop_and_resize` extrapolates.
    pub fn taps(
        &self,
        coord: Coord,
        filter: Filter,
        antialias: bool,
        exclude_outside: bool,
    ) -> Result<Vec<Option<Taps>>> {
        self.check_input()?;
        if self.out_len == 0 {
            return Ok(Vec::new());
        }
        // Antialiasing stretches the filter by 1/scale when downsampling.
        let stretch = if antialias { self.scale.min(1.0) } else { 1.0 };
        let reach = match filter {
            Filter::Linear => 1.0,
            Filter::Cubic { .. } => 2.0,
        };
        let half = (reach / stretch).ceil();
        let n_f = 2.0 * half;
        if !n_f.is_finite() || n_f > 2.0 * MAX_ELEMENTS as f64 || (n_f as usize).saturating_mul(self.out_len) > MAX_ELEMENTS {
            bail!("scale {} makes the resampling filter too large", self.scale);
        }
        // Taps start `half - 1` pixels left of floor(x) (`half` for an integer x).
        let n = n_f as i64;
        let first = 1 - half as i64;
        let last = self.in_len as i64 - 1;
        Ok(self.map_sources(coord, |floor, ratio| {
            let mut weights: Vec<f64> = if antialias {
                // The filter stretched by 1/scale, normalised to sum 1.
                let w: Vec<f64> = (0..n)
                    .map(|k| {
                        let d = ((first + k) as f64 - ratio) * stretch;
                        match filter {
                            Filter::Linear => (1.0 - d.abs()).clamp(0.0, 1.0),
                            Filter::Cubic { a } => cubic_expanded(a, d),
                        }
                    })
                    .collect();
                normalize(w)
            } else {
                match filter {
                    Filter::Linear => vec![1.0 - ratio, ratio],
                    Filter::Cubic { a } => cubic_taps(a, ratio).to_vec(),
                }
            };
            let positions: Vec<i64> = (0..n).map(|k| floor.saturating_add(first + k)).collect();
            if exclude_outside {
                for (w, p) in weights.iter_mut().zip(&positions) {
                    if !(0..=last).contains(p) {
                        *w = 0.0;
                    }
                }
                weights = normalize(weights);
            }
            positions.iter().zip(weights).map(|(&p, w)| (p.clamp(0, last) as usize, w)).collect()
        }))
    }

    /// `f(floor, ratio)` of each output position's source coordinate (see
    /// [`split`]), or `None` where `tf_crop_and_resize` extrapolates.
    fn map_sources<T>(&self, coord: Coord, mut f: impl FnMut(i64, f64) -> T) -> Vec<Option<T>> {
        (0..self.out_len)
            .map(|y| {
                let (x, outside) = self.source(coord, y);
                (!outside).then(|| {
                    let (floor, ratio) = split(x);
                    f(floor, ratio)
                })
            })
            .collect()
    }

    fn check_input(&self) -> Result<()> {
        if self.in_len == 0 && self.out_len > 0 {
            bail!("cannot resize an empty axis to {} elements", self.out_len);
        }
        Ok(())
    }
}

/// `floor(x)` and the ratio in `(0, 1]` (1 for an integer `x`, whose floor
/// is then reported as `x - 1`).
fn split(x: f64) -> (i64, f64) {
    // `as` saturates coordinates beyond i64 (tiny scales); callers clamp.
    let f = x.floor();
    if f == x {
        ((f as i64).saturating_sub(1), 1.0)
    } else {
        (f as i64, x - f)
    }
}

/// `w / sum(w)` (unchanged if the sum is 0).
fn normalize(w: Vec<f64>) -> Vec<f64> {
    let sum: f64 = w.iter().fold(0.0, |s, &v| s + v);
    let sum = if sum == 0.0 { 1.0 } else { sum };
    w.into_iter().map(|v| v / sum).collect()
}

// The two cubic forms below are the same kernel; each is written in the
// arithmetic order of the ONNX reference implementation for its use, so
// that results (and the rounding of integer outputs) agree with it exactly.

/// The four cubic weights at `ratio` (taps at distances 1 + r, r, 1 - r,
/// 2 - r), in nested form.
fn cubic_taps(a: f64, r: f64) -> [f64; 4] {
    let near = |x: f64| ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0;
    let far = |x: f64| ((a * x - 5.0 * a) * x + 8.0 * a) * x - 4.0 * a;
    let s = 1.0 - r;
    [far(r + 1.0), near(r), near(s), far(s + 1.0)]
}

/// The cubic kernel with coefficient `a` at distance `d`, in expanded form.
fn cubic_expanded(a: f64, d: f64) -> f64 {
    let x = d.abs();
    let (x2, x3) = (x * x, x * x * x);
    if x <= 1.0 {
        (a + 2.0) * x3 - (a + 3.0) * x2 + 1.0
    } else if x < 2.0 {
        a * x3 - 5.0 * a * x2 + 8.0 * a * x - 4.0 * a
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn axis(in_len: usize, out_len: usize, scale: f64) -> Axis {
        Axis { in_len, out_len, scale, roi: (0.0, 1.0) }
    }

    #[test]
    fn nearest_modes_break_ties_as_documented() {
        // Asymmetric, scale 2/3: x = 0, 1.5, 3.0 (clamped to 2).
        let a = axis(3, 3, 2.0 / 3.0);
        let pick = |m| a.nearest(Coord::Asymmetric, m).unwrap();
        assert_eq!(pick(Nearest::RoundPreferFloor), vec![Some(0), Some(1), Some(2)]);
        assert_eq!(pick(Nearest::RoundPreferCeil), vec![Some(0), Some(2), Some(2)]);
        assert_eq!(pick(Nearest::Floor), vec![Some(0), Some(1), Some(2)]);
        assert_eq!(pick(Nearest::Ceil), vec![Some(0), Some(2), Some(2)]);
    }

    #[test]
    fn linear_taps_sum_to_one_and_clamp_at_edges() {
        let taps = axis(2, 4, 2.0).taps(Coord::HalfPixel, Filter::Linear, false, false).unwrap();
        // y = 0 -> x = -0.25: taps at -1 (clamped to 0) and 0.
        assert_eq!(taps[0], Some(vec![(0, 0.25), (0, 0.75)]));
        for t in taps.iter().flatten() {
            assert!((t.iter().map(|p| p.1).sum::<f64>() - 1.0).abs() < 1e-12);
        }
    }

    #[test]
    fn antialias_widens_the_filter() {
        let taps = axis(8, 2, 0.25).taps(Coord::HalfPixel, Filter::Linear, true, false).unwrap();
        assert_eq!(taps[0].as_ref().map(Vec::len), Some(8));
        assert!(axis(0, 1, 1.0).taps(Coord::HalfPixel, Filter::Linear, false, false).is_err());
    }

    #[test]
    fn crop_and_resize_flags_extrapolation() {
        let a = Axis { in_len: 4, out_len: 3, scale: 0.75, roi: (-0.5, 0.5) };
        let picks = a.nearest(Coord::TfCropAndResize, Nearest::Floor).unwrap();
        assert_eq!(picks[0], None);
        assert!(picks[2].is_some());
    }
}
