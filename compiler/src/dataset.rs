//! Datasets of model inputs for `qcc run --dataset` and calibration: a
//! `.npz` with one array per input name, a `.npy` for a single-input model,
//! or a directory of such files (read in name order); samples run along
//! each array's first axis.

use crate::ir::Graph;
use crate::tensor::{npy, Tensor};
use crate::{Error, Result};
use std::path::{Path, PathBuf};

/// The arrays of one file, in graph-input order, and their sample count.
struct Part {
    file: PathBuf,
    columns: Vec<Tensor>,
    samples: usize,
}

/// Input samples, each a list of tensors in graph-input order.
pub struct Dataset {
    parts: Vec<Part>,
    /// Each row is one sample with batch size 1 (see [`rows_are_batches`]).
    batch_rows: bool,
}

impl Dataset {
    /// Reads `path` for the inputs of `graph` (before or after preparation).
    pub fn load(path: &Path, graph: &Graph) -> Result<Dataset> {
        let files = if path.is_dir() { files_in(path)? } else { vec![path.to_path_buf()] };
        let mut parts = Vec::new();
        for f in &files {
            parts.push(read_part(f, graph).map_err(|e| e.in_file(f))?);
        }
        if parts.iter().all(|p| p.samples == 0) {
            return Err(Error::Usage("the dataset has no samples".into()).in_file(path));
        }
        let batch_rows = parts.iter().all(|p| rows_are_batches(graph, &p.columns));
        Ok(Dataset { parts, batch_rows })
    }

    /// The number of samples.
    pub fn len(&self) -> usize {
        self.parts.iter().map(|p| p.samples).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether each row is one sample of batch size 1 (outputs then drop
    /// their batch axis when stacked).
    pub fn batch_rows(&self) -> bool {
        self.batch_rows
    }

    /// Sample `i`, in graph-input order.
    pub fn sample(&self, mut i: usize) -> Result<Vec<Tensor>> {
        for p in &self.parts {
            if i < p.samples {
                return p.columns.iter().map(|t| row(t, i, self.batch_rows)).collect();
            }
            i -= p.samples;
        }
        Err(Error::Usage(format!("no sample {i} in the dataset")))
    }

    /// Checks that every sample fits the inputs of `graph` as calibration
    /// needs them: each input's element type, its shape (the dynamic
    /// dimensions free) and only finite values. The first misfit, in file
    /// and sample order, is the error, naming the file, the sample, the
    /// input and what is wrong.
    pub fn check_samples(&self, graph: &Graph) -> Result<()> {
        for p in &self.parts {
            for (t, &id) in p.columns.iter().zip(&graph.inputs) {
                check_column(t, graph, id, self.batch_rows).map_err(|e| e.in_file(&p.file))?;
            }
        }
        Ok(())
    }

    /// The shape of every input of `graph` in the first sample, by name.
    pub fn input_shapes(&self, graph: &Graph) -> Result<Vec<(String, Vec<usize>)>> {
        let first = self.sample(0)?;
        Ok(graph.inputs.iter().zip(&first).map(|(&id, t)| (graph.value(id).name.clone(), t.shape().to_vec())).collect())
    }
}

/// The .npz and .npy files of a directory, in name order.
fn files_in(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "npz" || x == "npy"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(Error::Usage("the directory holds no .npz or .npy files".into()).in_file(dir));
    }
    Ok(files)
}

fn read_part(path: &Path, graph: &Graph) -> Result<Part> {
    let columns = if path.extension().is_some_and(|x| x == "npy") {
        if graph.inputs.len() != 1 {
            return Err(Error::Usage(format!(
                "a .npy dataset fits only single-input models, and this one has {} inputs; use a .npz with one array per input name",
                graph.inputs.len()
            )));
        }
        vec![npy::load_npy(path)?]
    } else {
        let mut arrays = npy::load_npz(path)?;
        let have: Vec<String> = arrays.iter().map(|(n, _)| n.clone()).collect();
        let mut columns = Vec::new();
        for &id in &graph.inputs {
            let name = &graph.value(id).name;
            let Some(k) = arrays.iter().position(|(n, _)| n == name) else {
                return Err(Error::Usage(format!("the dataset has no array named '{name}' (it has {})", have.join(", "))));
            };
            columns.push(arrays.swap_remove(k).1);
        }
        columns
    };
    let mut samples = None;
    for (t, &id) in columns.iter().zip(&graph.inputs) {
        let name = &graph.value(id).name;
        let Some(&n) = t.shape().first() else {
            return Err(Error::Usage(format!("array '{name}' is a scalar; dataset arrays hold samples along their first axis")));
        };
        match samples {
            Some(s) if s != n => return Err(Error::Usage(format!("array '{name}' has {n} samples, but the first array has {s}"))),
            _ => samples = Some(n),
        }
    }
    match samples {
        None => Err(Error::Usage("the model has no inputs, so it takes no dataset".into())),
        Some(samples) => Ok(Part { file: path.to_path_buf(), columns, samples }),
    }
}

/// Whether the arrays have the rank of the model's inputs, whose first
/// dimension is dynamic or 1: then each row is one sample with batch size 1
/// (e.g. images [N, 1, 8, 8] for an input [batch, 1, 8, 8]), instead of the
/// general layout [samples, *input shape].
fn rows_are_batches(graph: &Graph, columns: &[Tensor]) -> bool {
    graph.inputs.iter().zip(columns).all(|(&id, t)| {
        let Some(dims) = graph.value(id).ty.as_ref().and_then(|ty| ty.shape.dims().map(<[_]>::to_vec)) else { return false };
        dims.len() == t.rank() && matches!(dims.first(), Some(None | Some(1)))
    })
}

/// Checks column `t` (samples along axis 0) against input `id` of `graph`.
fn check_column(t: &Tensor, graph: &Graph, id: crate::ir::ValueId, batch_rows: bool) -> Result<()> {
    let name = &graph.value(id).name;
    let ty = graph.ty(id)?;
    let row: Vec<usize> = match t.shape().split_first() {
        Some((_, rest)) if batch_rows => std::iter::once(1).chain(rest.iter().copied()).collect(),
        Some((_, rest)) => rest.to_vec(),
        None => return Ok(()),
    };
    if t.dtype() != ty.dtype || !ty.shape.admits(&row) {
        return Err(Error::Usage(format!("input '{name}': the model takes {ty}, but each sample is {}{row:?}", t.dtype())));
    }
    if !t.dtype().is_float() {
        return Ok(());
    }
    let values = t.to_f64_vec()?;
    let per_sample = row.iter().product::<usize>().max(1);
    if let Some(k) = values.iter().position(|x| !x.is_finite()) {
        let what = if values[k].is_nan() { "NaN" } else { "an infinity" };
        return Err(Error::Usage(format!(
            "sample {}, input '{name}': {what} at element {}; calibration data must be finite",
            k / per_sample,
            k % per_sample
        )));
    }
    Ok(())
}

/// Row `i` of an array with a leading sample axis; `keep_axis` keeps it as
/// a batch axis of size 1.
fn row(t: &Tensor, i: usize, keep_axis: bool) -> Result<Tensor> {
    if t.shape().first().is_none_or(|&n| i >= n) {
        return Err(Error::Usage(format!("no sample {i} in an array of shape {:?}", t.shape())));
    }
    Ok(if keep_axis {
        crate::map_array!(t, a => a.slice_axis(ndarray::Axis(0), ndarray::Slice::from(i..i + 1)).to_owned())
    } else {
        crate::map_array!(t, a => a.index_axis(ndarray::Axis(0), i).to_owned())
    })
}
