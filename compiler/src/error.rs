//! The one error type of qcc: every failure carries enough context (file,
//! node name, op type, opset, reason) to be reported as a single line.
//!
//! Operators and helpers return [`Error::Op`] with just a reason; the caller
//! that knows the node wraps it with [`Error::at_node`], and the entry points
//! wrap everything with [`Error::in_file`]. Nothing in qcc panics on bad input.

use std::fmt;
use std::path::{Path, PathBuf};

/// Result alias used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Identifies a node in messages: its ONNX name, op type and opset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeRef {
    pub name: String,
    pub op_type: String,
    /// Opset version of the node's domain, when known.
    pub opset: Option<i64>,
}

impl fmt::Display for NodeRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "node '{}' ({}", self.name, self.op_type)?;
        if let Some(v) = self.opset {
            write!(f, ", opset {v}")?;
        }
        write!(f, ")")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A reason without location; callers add the node and the file.
    #[error("{0}")]
    Op(String),
    /// The operator or feature is valid ONNX but qcc does not support it.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// The model is not valid ONNX (structure, references, data sizes).
    #[error("invalid model: {0}")]
    InvalidModel(String),
    /// Something the user passed (input files, shapes, flags) is wrong.
    #[error("{0}")]
    Usage(String),
    #[error("{node}: {source}")]
    AtNode {
        node: NodeRef,
        #[source]
        source: Box<Error>,
    },
    #[error("{}: {source}", path.display())]
    InFile {
        path: PathBuf,
        #[source]
        source: Box<Error>,
    },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// Adds the node that failed, unless the error already names one.
    pub fn at_node(self, node: &NodeRef) -> Error {
        match self {
            e @ (Error::AtNode { .. } | Error::InFile { .. } | Error::Io { .. }) => e,
            e => Error::AtNode { node: node.clone(), source: Box::new(e) },
        }
    }

    /// Adds the file the error came from, unless it already names a file.
    pub fn in_file(self, path: &Path) -> Error {
        match self {
            e @ (Error::InFile { .. } | Error::Io { .. }) => e,
            e => Error::InFile { path: path.to_path_buf(), source: Box::new(e) },
        }
    }

    /// The innermost error, below node and file context.
    pub fn root(&self) -> &Error {
        match self {
            Error::AtNode { source, .. } | Error::InFile { source, .. } => source.root(),
            e => e,
        }
    }

    pub fn io(path: &Path, source: std::io::Error) -> Error {
        Error::Io { path: path.to_path_buf(), source }
    }
}

/// Returns early with an [`Error::Op`] built from a format string.
#[macro_export]
macro_rules! bail {
    ($($arg:tt)*) => { return Err($crate::Error::Op(format!($($arg)*))) };
}

/// Returns early with an [`Error::Unsupported`] built from a format string.
#[macro_export]
macro_rules! unsupported {
    ($($arg:tt)*) => { return Err($crate::Error::Unsupported(format!($($arg)*))) };
}

/// Returns early with an [`Error::Op`] unless the condition holds.
#[macro_export]
macro_rules! ensure {
    ($cond:expr, $($arg:tt)*) => { if !$cond { $crate::bail!($($arg)*) } };
}
