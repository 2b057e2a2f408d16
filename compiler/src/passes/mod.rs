//! Graph transformations. Each pass is one file with one public `run`
//! function; `pipeline.rs` runs them in order.

pub mod commute_constants;
pub mod eliminate_dead_code;
pub mod fold_into_conv;
pub mod fold_if;
pub mod fuse_layer_norm;
pub mod infer_shapes;
pub mod pipeline;
pub mod remove_identity;
pub mod set_input_shapes;
