//! Per-channel first and second moments of a layer's output, the
//! statistics `quant::correct` matches between float and int8.

/// Sums, sums of squares and counts per output channel.
#[derive(Debug, Clone, Default)]
pub struct Moments {
    sum: Vec<f64>,
    squares: Vec<f64>,
    count: Vec<f64>,
}

impl Moments {
    pub fn new(channels: usize) -> Moments {
        Moments { sum: vec![0.0; channels], squares: vec![0.0; channels], count: vec![0.0; channels] }
    }

    /// The moments of a tensor of shape `shape`: channels on axis 1 for a
    /// convolution's output ([N, C, spatial...]), the last axis when
    /// `rows` (a matrix product's output); None for a shape without that
    /// axis.
    pub fn of(values: &[f32], shape: &[usize], rows: bool) -> Option<Moments> {
        let channels = if rows { *shape.last()? } else { *shape.get(1)? };
        let mut m = Moments::new(channels);
        m.add(values.iter().map(|&v| f64::from(v)), shape, rows, |_| 1.0);
        Some(m)
    }

    /// Adds the values of a tensor of shape `shape` (channels as in
    /// [`Moments::of`]), each channel's scaled by `unit[c]`.
    pub fn add(&mut self, values: impl Iterator<Item = f64>, shape: &[usize], rows: bool, unit: impl Fn(usize) -> f64) {
        let channels = self.sum.len();
        let plane: usize = if rows { 1 } else { shape.iter().skip(2).product() };
        for (i, v) in values.enumerate() {
            let c = (i / plane.max(1)) % channels.max(1);
            let v = v * unit(c);
            self.sum[c] += v;
            self.squares[c] += v * v;
            self.count[c] += 1.0;
        }
    }

    /// The moments of both (channel counts must agree; a mismatch keeps
    /// `self`).
    pub fn merge(&mut self, other: &Moments) {
        if other.sum.len() != self.sum.len() {
            return;
        }
        for (c, n) in other.count.iter().enumerate() {
            self.sum[c] += other.sum[c];
            self.squares[c] += other.squares[c];
            self.count[c] += n;
        }
    }

    /// The channels.
    pub fn channels(&self) -> usize {
        self.sum.len()
    }

    /// Mean and standard deviation of channel `c`.
    pub fn stats(&self, c: usize) -> (f64, f64) {
        let n = self.count[c].max(1.0);
        let mean = self.sum[c] / n;
        (mean, (self.squares[c] / n - mean * mean).max(0.0).sqrt())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_are_planes_of_a_convolution_and_columns_of_a_matrix_product() {
        // [1, 2, 3]: channel 0 holds 1, 2, 3 and channel 1 holds 4, 5, 6.
        let planes = Moments::of(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[1, 2, 3], false).unwrap();
        assert_eq!((planes.stats(0).0, planes.stats(1).0), (2.0, 5.0));
        // [3, 2] rows: channel 0 holds 1, 3, 5 and channel 1 holds 2, 4, 6.
        let rows = Moments::of(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[3, 2], true).unwrap();
        assert_eq!((rows.stats(0).0, rows.stats(1).0), (3.0, 4.0));
        let (_, spread) = rows.stats(1);
        assert!((spread - (8.0f64 / 3.0).sqrt()).abs() < 1e-12, "{spread}");
        assert!(Moments::of(&[1.0], &[], true).is_none());
    }
}
