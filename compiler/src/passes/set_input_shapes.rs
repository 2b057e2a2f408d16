//! Fixes the dimensions of graph inputs that the model leaves dynamic, from
//! `--input-shape NAME=d0,d1,...` (or from the shapes of the input data),
//! and requires every input dimension to be known afterwards.

use crate::ir::{Graph, Shape};
use crate::{Error, Result};

/// Applies `shapes` (input name, dims) and checks that no dimension stays
/// unknown. A shape that contradicts a fixed dimension is an error.
pub fn run(graph: &mut Graph, shapes: &[(String, Vec<usize>)]) -> Result<()> {
    for (name, dims) in shapes {
        let Some(&id) = graph.inputs.iter().find(|&&i| graph.value(i).name == *name) else {
            let names: Vec<String> = graph.inputs.iter().map(|&i| format!("'{}'", graph.value(i).name)).collect();
            return Err(Error::Usage(format!("--input-shape names '{name}', but the model's inputs are {}", names.join(", "))));
        };
        let value = graph.value_mut(id);
        let Some(ty) = value.ty.as_mut() else {
            return Err(Error::InvalidModel(format!("graph input '{name}' has no type")));
        };
        if let Some(declared) = ty.shape.dims() {
            let conflict = declared.len() != dims.len() || declared.iter().zip(dims).any(|(d, n)| d.is_some_and(|d| d != *n));
            if conflict {
                return Err(Error::Usage(format!("input '{name}' has shape {} in the model, which {dims:?} does not fit", ty.shape)));
            }
        }
        let shape = Shape::fixed(dims);
        shape.check_size().map_err(|e| Error::Usage(format!("input '{name}': {e}")))?;
        ty.shape = shape;
    }
    for &id in &graph.inputs {
        let value = graph.value(id);
        let Some(ty) = &value.ty else { continue };
        if !ty.shape.is_fixed() {
            let example: Vec<String> = match ty.shape.dims() {
                Some(dims) => dims.iter().map(|d| d.unwrap_or(1).to_string()).collect(),
                None => vec!["1".into(), "3".into(), "224".into(), "224".into()],
            };
            return Err(Error::Usage(format!(
                "input '{}' has dynamic dimensions {}; fix them with --input-shape {}={}",
                value.name,
                ty.shape,
                value.name,
                example.join(",")
            )));
        }
    }
    Ok(())
}
