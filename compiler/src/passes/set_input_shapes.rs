//! Fixes the dimensions of graph inputs that the model leaves dynamic, from
//! `--input-shape NAME=d0,d1,...` (or from the shapes of the input data),
//! and requires every input dimension to be known afterwards. A dimension
//! the model names (`dim_param`) takes the size given for the same name on
//! another input.

use crate::ir::{Graph, Shape, ValueId};
use crate::{Error, Result};
use std::collections::HashMap;

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
    fill_named_dims(graph);
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
                describe(graph, id),
                value.name,
                example.join(",")
            )));
        }
    }
    Ok(())
}

/// Gives unknown dimensions the size that another input's dimension of the
/// same name already has.
fn fill_named_dims(graph: &mut Graph) {
    let mut sizes: HashMap<String, usize> = HashMap::new();
    for (id, names) in &graph.dim_names {
        let Some(dims) = graph.value(*id).ty.as_ref().and_then(|t| t.shape.dims()) else { continue };
        for (name, dim) in names.iter().zip(dims) {
            if let (Some(name), Some(size)) = (name, dim) {
                sizes.entry(name.clone()).or_insert(*size);
            }
        }
    }
    let named: Vec<(ValueId, Vec<Option<String>>)> = graph.dim_names.iter().map(|(k, v)| (*k, v.clone())).collect();
    for (id, names) in named {
        let Some(ty) = graph.value_mut(id).ty.as_mut() else { continue };
        let Some(dims) = ty.shape.0.as_mut() else { continue };
        for (dim, name) in dims.iter_mut().zip(&names) {
            if dim.is_none() {
                *dim = name.as_ref().and_then(|n| sizes.get(n).copied());
            }
        }
    }
}

/// The input's shape with dynamic dimensions shown by name (`[N, 3, ?]`).
fn describe(graph: &Graph, id: ValueId) -> String {
    let Some(dims) = graph.value(id).ty.as_ref().and_then(|t| t.shape.dims()) else { return "[?...]".into() };
    let names = graph.dim_names.get(&id);
    let parts: Vec<String> = dims
        .iter()
        .enumerate()
        .map(|(i, d)| match (d, names.and_then(|n| n.get(i)).and_then(Option::as_ref)) {
            (Some(n), _) => n.to_string(),
            (None, Some(name)) => name.clone(),
            (None, None) => "?".into(),
        })
        .collect();
    format!("[{}]", parts.join(", "))
}
