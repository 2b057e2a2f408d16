//! Static types of IR values: element type plus a shape whose rank and
//! dimensions may be unknown until inference (or forever, for data-dependent
//! results such as NonZero's).

use crate::tensor::{checked_numel, DType, Tensor};
use crate::{bail, Result};
use std::fmt;

/// One dimension: `Some(n)` when known.
pub type Dim = Option<usize>;

/// A shape: `None` when even the rank is unknown.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Shape(pub Option<Vec<Dim>>);

impl Shape {
    pub fn unknown() -> Shape {
        Shape(None)
    }

    /// A fully known shape.
    pub fn fixed(dims: &[usize]) -> Shape {
        Shape(Some(dims.iter().map(|&d| Some(d)).collect()))
    }

    /// Known rank, unknown dimensions.
    pub fn of_rank(rank: usize) -> Shape {
        Shape(Some(vec![None; rank]))
    }

    pub fn from_dims(dims: Vec<Dim>) -> Shape {
        Shape(Some(dims))
    }

    pub fn rank(&self) -> Option<usize> {
        self.0.as_ref().map(Vec::len)
    }

    pub fn dims(&self) -> Option<&[Dim]> {
        self.0.as_deref()
    }

    /// The dimensions if every one is known.
    pub fn as_fixed(&self) -> Option<Vec<usize>> {
        self.0.as_ref()?.iter().copied().collect()
    }

    pub fn is_fixed(&self) -> bool {
        self.as_fixed().is_some()
    }

    /// Number of elements, if known.
    pub fn numel(&self) -> Option<usize> {
        self.as_fixed().and_then(|d| checked_numel(&d).ok())
    }

    /// Checks that a known element count stays within qcc's limits.
    pub fn check_size(&self) -> Result<()> {
        if let Some(dims) = self.as_fixed() {
            checked_numel(&dims)?;
        }
        Ok(())
    }

    /// Whether a concrete shape fits this (possibly partial) shape.
    pub fn admits(&self, concrete: &[usize]) -> bool {
        match &self.0 {
            None => true,
            Some(dims) => {
                dims.len() == concrete.len() && dims.iter().zip(concrete).all(|(d, c)| d.is_none_or(|d| d == *c))
            }
        }
    }

    /// Numpy-style broadcast of several shapes.
    pub fn broadcast(shapes: &[&Shape]) -> Result<Shape> {
        let mut ranks = Vec::new();
        for s in shapes {
            match s.rank() {
                Some(r) => ranks.push(r),
                None => return Ok(Shape::unknown()),
            }
        }
        let rank = ranks.iter().copied().max().unwrap_or(0);
        let mut out = vec![Some(1usize); rank];
        for s in shapes {
            let dims = s.dims().unwrap_or(&[]);
            let offset = rank - dims.len();
            for (i, d) in dims.iter().enumerate() {
                let o = &mut out[offset + i];
                *o = match (*o, *d) {
                    (Some(1), d) => d,
                    (o, Some(1)) => o,
                    (Some(a), Some(b)) if a == b => Some(a),
                    (Some(a), Some(b)) => bail!("shapes {} cannot be broadcast together ({a} vs {b})", list(shapes)),
                    // One side unknown: the result is the known side unless that is 1.
                    (Some(a), None) | (None, Some(a)) => Some(a),
                    (None, None) => None,
                };
            }
        }
        Ok(Shape(Some(out)))
    }
}

fn list(shapes: &[&Shape]) -> String {
    shapes.iter().map(|s| s.to_string()).collect::<Vec<_>>().join(", ")
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            None => f.write_str("[?...]"),
            Some(dims) => {
                f.write_str("[")?;
                for (i, d) in dims.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    match d {
                        Some(n) => write!(f, "{n}")?,
                        None => f.write_str("?")?,
                    }
                }
                f.write_str("]")
            }
        }
    }
}

/// Element type and shape of a value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TensorType {
    pub dtype: DType,
    pub shape: Shape,
}

impl TensorType {
    pub fn new(dtype: DType, shape: Shape) -> TensorType {
        TensorType { dtype, shape }
    }

    pub fn fixed(dtype: DType, dims: &[usize]) -> TensorType {
        TensorType { dtype, shape: Shape::fixed(dims) }
    }

    pub fn of(t: &Tensor) -> TensorType {
        TensorType::fixed(t.dtype(), t.shape())
    }

    /// Whether a concrete tensor fits this type.
    pub fn admits(&self, t: &Tensor) -> bool {
        self.dtype == t.dtype() && self.shape.admits(t.shape())
    }
}

impl fmt::Display for TensorType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.dtype, self.shape)
    }
}
