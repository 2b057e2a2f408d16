//! Model importers. ONNX is the one input format.

pub mod onnx;
