//! The reference interpreter: evaluates a prepared graph with each
//! operator's `eval`, in topological order, freeing every value after its
//! last use.
//!
//! It also checks, at every node, that the evaluated outputs fit the types
//! that inference assigned; a mismatch is reported as an internal error, so
//! the conformance suite tests inference as well as evaluation.

pub mod gemm;

use crate::ir::{Graph, NodeId, ValueId};
use crate::tensor::Tensor;
use crate::{Error, Result};
use rayon::prelude::*;
use std::collections::HashMap;
use std::sync::Arc;

/// What [`Interpreter::run_layerwise`] calls before each node: the node and
/// its inputs for every sample in, what to change out.
pub type Adjust<'a> = dyn FnMut(NodeId, &[Vec<Option<&Tensor>>]) -> Result<Adjusted> + 'a;

/// What an [`Adjust`] changes before a node runs.
#[derive(Debug, Default)]
pub struct Adjusted {
    /// New values of the node's constant inputs, which the node and the
    /// rest of the run read.
    pub constants: Vec<(ValueId, Tensor)>,
    /// The node's outputs for the first samples, already computed with
    /// those constants (the node runs for the samples after them).
    pub outputs: Vec<Vec<Tensor>>,
}

/// A graph ready to run: its node order and value lifetimes, computed once.
pub struct Interpreter<'g> {
    graph: &'g Graph,
    order: Vec<NodeId>,
    /// For each value read by a node, the position in `order` of its last
    /// reader; graph outputs are never freed and have no entry.
    last_use: HashMap<ValueId, usize>,
}

impl<'g> Interpreter<'g> {
    pub fn new(graph: &'g Graph) -> Result<Interpreter<'g>> {
        graph.check_supported()?;
        let order = graph.topo_order()?;
        let mut last_use = HashMap::new();
        for (pos, &n) in order.iter().enumerate() {
            for v in graph.node_inputs(n).into_iter().flatten() {
                last_use.insert(v, pos);
            }
        }
        for o in &graph.outputs {
            last_use.remove(o);
        }
        Ok(Interpreter { graph, order, last_use })
    }

    /// Runs the graph on `inputs`, given in graph-input order.
    pub fn run(&self, inputs: Vec<Tensor>) -> Result<Vec<Tensor>> {
        self.run_observed(inputs, &mut |_, _| {})
    }

    /// [`Interpreter::run`], showing `observe` every graph input and every
    /// computed value once, as soon as it exists (calibration).
    pub fn run_observed(&self, inputs: Vec<Tensor>, observe: &mut dyn FnMut(ValueId, &Tensor)) -> Result<Vec<Tensor>> {
        let g = self.graph;
        let mut env = self.bind(inputs)?;
        for (&id, t) in &env {
            observe(id, t);
        }
        for (pos, &n) in self.order.iter().enumerate() {
            self.step(n, &mut env).map_err(|e| e.at_node(&g.node_ref(n)))?;
            for v in g.node_outputs(n).into_iter().flatten() {
                if let Some(t) = env.get(&v) {
                    observe(v, t);
                }
            }
            self.free(pos, &mut env);
        }
        g.outputs.iter().map(|&o| fetch(g, &env, o).map(|t| Tensor::clone(t))).collect()
    }

    /// Runs the graph on every sample of `samples` (each in graph-input
    /// order) node by node: all samples through a node before the next.
    /// Before each node, `adjust` sees the node and its inputs for every
    /// sample and may replace its constant inputs and give its outputs for
    /// the first samples (layer-by-layer corrections of a quantized graph).
    /// Returns each sample's outputs.
    pub fn run_layerwise(&self, samples: Vec<Vec<Tensor>>, adjust: &mut Adjust) -> Result<Vec<Vec<Tensor>>> {
        let g = self.graph;
        let mut envs = samples.into_iter().map(|s| self.bind(s)).collect::<Result<Vec<_>>>()?;
        let mut replaced: HashMap<ValueId, Arc<Tensor>> = HashMap::new();
        for (pos, &n) in self.order.iter().enumerate() {
            let inputs = g.node_inputs(n);
            let Adjusted { constants, outputs } = {
                let mut seen = Vec::with_capacity(envs.len());
                for env in &envs {
                    let read = inputs.iter().map(|v| v.map(|v| replaced.get(&v).map_or_else(|| fetch(g, env, v), Ok).map(|t| &**t)).transpose());
                    seen.push(read.collect::<Result<Vec<_>>>()?);
                }
                adjust(n, &seen).map_err(|e| e.at_node(&g.node_ref(n)))?
            };
            replaced.extend(constants.into_iter().map(|(v, t)| (v, Arc::new(t))));
            let mut given: Vec<Option<Vec<Tensor>>> = outputs.into_iter().map(Some).collect();
            given.resize_with(envs.len(), || None);
            envs.par_iter_mut().zip(given).try_for_each(|(env, given)| {
                for v in inputs.iter().flatten() {
                    if let Some(t) = replaced.get(v) {
                        env.insert(*v, t.clone());
                    }
                }
                match given {
                    Some(results) => self.store(n, env, results),
                    None => self.step(n, env),
                }
                .map_err(|e| e.at_node(&g.node_ref(n)))?;
                self.free(pos, env);
                Ok::<_, Error>(())
            })?;
        }
        envs.iter().map(|env| g.outputs.iter().map(|&o| fetch(g, env, o).map(|t| Tensor::clone(t))).collect()).collect()
    }

    /// The environment of one run: the graph inputs, checked against their
    /// types.
    fn bind(&self, inputs: Vec<Tensor>) -> Result<HashMap<ValueId, Arc<Tensor>>> {
        let g = self.graph;
        if inputs.len() != g.inputs.len() {
            return Err(Error::Usage(format!("the model has {} input(s), but {} were given", g.inputs.len(), inputs.len())));
        }
        let mut env = HashMap::new();
        for (&id, t) in g.inputs.iter().zip(inputs) {
            let value = g.value(id);
            let ty = g.ty(id)?;
            if !ty.admits(&t) {
                return Err(Error::Usage(format!(
                    "input '{}' must be {ty}, but the data is {}{:?}",
                    value.name,
                    t.dtype(),
                    t.shape()
                )));
            }
            env.insert(id, Arc::new(t));
        }
        Ok(env)
    }

    /// Drops the values whose last reader is the node at `pos`.
    fn free(&self, pos: usize, env: &mut HashMap<ValueId, Arc<Tensor>>) {
        for v in self.graph.node_inputs(self.order[pos]).into_iter().flatten() {
            if self.last_use.get(&v) == Some(&pos) {
                env.remove(&v);
            }
        }
    }

    fn step(&self, n: NodeId, env: &mut HashMap<ValueId, Arc<Tensor>>) -> Result<()> {
        let g = self.graph;
        let inputs = g.node_inputs(n);
        let mut held = Vec::with_capacity(inputs.len());
        for v in &inputs {
            held.push(match v {
                Some(v) => Some(fetch(g, env, *v)?.clone()),
                None => None,
            });
        }
        let args: Vec<Option<&Tensor>> = held.iter().map(|t| t.as_deref()).collect();
        let results = g.node(n).op.eval(&args)?;
        self.store(n, env, results)
    }

    /// Puts node `n`'s `results` into `env`, checked against their types.
    fn store(&self, n: NodeId, env: &mut HashMap<ValueId, Arc<Tensor>>, results: Vec<Tensor>) -> Result<()> {
        let g = self.graph;
        let outputs = g.node_outputs(n);
        let mut results: Vec<Option<Tensor>> = results.into_iter().map(Some).collect();
        for (slot, v) in outputs.iter().enumerate() {
            let Some(v) = v else { continue };
            let Some(t) = results.get_mut(slot).and_then(Option::take) else {
                return Err(Error::Op(format!("evaluation produced no output {slot}")));
            };
            let ty = g.ty(*v)?;
            if !ty.admits(&t) {
                return Err(Error::Op(format!(
                    "internal error: output '{}' was inferred as {ty} but evaluates to {}{:?}",
                    g.value(*v).name,
                    t.dtype(),
                    t.shape()
                )));
            }
            env.insert(*v, Arc::new(t));
        }
        Ok(())
    }
}

fn fetch<'a>(g: &'a Graph, env: &'a HashMap<ValueId, Arc<Tensor>>, v: ValueId) -> Result<&'a Arc<Tensor>> {
    if let Some(t) = env.get(&v) {
        return Ok(t);
    }
    g.value(v).constant.as_ref().ok_or_else(|| Error::Op(format!("value '{}' has not been computed", g.value(v).name)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::{TensorType, Value};
    use crate::ops::testing::add_op;
    use crate::tensor::DType;

    /// y = (x + a) · b with constants a and b.
    fn graph() -> (Graph, ValueId, ValueId) {
        let mut g = Graph::new("layerwise");
        let x = g.add_value(Value { name: "x".into(), ty: Some(TensorType::fixed(DType::F32, &[2])), constant: None });
        g.inputs.push(x);
        let constant = |g: &mut Graph, name: &str, v: f32| g.add_value(Value { name: name.into(), ty: Some(TensorType::fixed(DType::F32, &[2])), constant: Some(Arc::new(Tensor::from_vec(&[2], vec![v, v]).unwrap())) });
        let (a, b) = (constant(&mut g, "a", 1.0), constant(&mut g, "b", 2.0));
        let s = add_op(&mut g, "Add", vec![], &[x, a]);
        let y = add_op(&mut g, "Mul", vec![], &[s, b]);
        g.outputs.push(y);
        crate::passes::infer_shapes::run(&mut g).unwrap();
        (g, a, b)
    }

    #[test]
    fn layerwise_runs_see_every_sample_and_read_the_constants_they_replace() {
        let (g, a, b) = graph();
        let run = Interpreter::new(&g).unwrap();
        let samples: Vec<Vec<Tensor>> = [[0f32, 1.0], [2.0, 3.0], [4.0, 5.0]].iter().map(|s| vec![Tensor::from_vec(&[2], s.to_vec()).unwrap()]).collect();
        let plain = run.run_layerwise(samples.clone(), &mut |_, _| Ok(Adjusted::default())).unwrap();
        for (s, out) in samples.iter().zip(&plain) {
            assert_eq!(*out, run.run(s.clone()).unwrap());
        }
        // Before the Mul, b becomes the mean of the first input over the samples.
        let mut seen = Vec::new();
        let out = run
            .run_layerwise(samples, &mut |n, inputs| {
                seen.push((g.node(n).op_type.clone(), inputs.len()));
                if g.node(n).op_type != "Mul" {
                    return Ok(Adjusted::default());
                }
                let sum: f64 = inputs.iter().map(|i| i[0].unwrap().to_f64_vec().unwrap()[0]).sum();
                // The first sample's product is given (and not what Mul computes).
                let constants = vec![(b, Tensor::from_vec(&[2], vec![(sum / 3.0) as f32; 2])?)];
                Ok(Adjusted { constants, outputs: vec![vec![Tensor::from_vec(&[2], vec![-1f32, -2.0])?]] })
            })
            .unwrap();
        assert_eq!(seen, [("Add".to_string(), 3), ("Mul".to_string(), 3)]);
        // The sums' first elements are 1, 3 and 5: b = 3.
        assert_eq!(out[1][0].to_f64_vec().unwrap(), [9.0, 12.0]);
        assert_eq!(out[0][0].to_f64_vec().unwrap(), [-1.0, -2.0]);
        assert_eq!(g.value(a).constant.as_ref().unwrap().to_f64_vec().unwrap(), [1.0, 1.0]);
    }
}
