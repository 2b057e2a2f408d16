//! Inlining a subgraph in place of the node that holds it (If's chosen
//! branch): the subgraph's nodes and values are copied into the graph,
//! its inputs bound to the node's inputs and its outputs to the node's
//! outputs.

use super::{Graph, Node, NodeId, Value, ValueId};
use crate::ops::Op;
use crate::{Error, Result};
use std::collections::{HashMap, HashSet};

impl Graph {
    /// Replaces node `n` by a copy of `body`: `body.inputs[k]` becomes
    /// `inputs[k]`, and `body.outputs[k]` becomes the node's output `k`.
    /// The node's output values keep their identity and names (an output
    /// computed by a body node is produced by its copy; one that is a body
    /// input, a constant or a repeated output is copied by an Identity
    /// node). Copied values other than constants lose their types: the
    /// caller infers them again.
    pub fn inline(&mut self, n: NodeId, body: &Graph, inputs: &[Option<ValueId>]) -> Result<()> {
        let outs = self.node_outputs(n);
        let (name, opset) = (self.node(n).name.clone(), self.node(n).opset);
        if body.inputs.len() != inputs.len() || body.outputs.len() != outs.len() {
            return Err(Error::Op(format!(
                "the subgraph has {} inputs and {} outputs, the node binds {} and {}",
                body.inputs.len(),
                body.outputs.len(),
                inputs.len(),
                outs.len()
            )));
        }
        let mut map: HashMap<ValueId, ValueId> = HashMap::new();
        for (&formal, actual) in body.inputs.iter().zip(inputs) {
            let actual = actual.ok_or_else(|| Error::Op(format!("subgraph input '{}' is not bound", body.value(formal).name)))?;
            map.insert(formal, actual);
        }
        let mut claimed = HashSet::new();
        for (&inner, outer) in body.outputs.iter().zip(&outs) {
            if let Some(outer) = outer {
                if body.producer(inner).is_some() && !map.contains_key(&inner) && claimed.insert(inner) {
                    map.insert(inner, *outer);
                }
            }
        }
        self.remove_node(n);
        for bn in body.topo_order()? {
            let ins: Vec<Option<ValueId>> = body.node_inputs(bn).into_iter().map(|v| v.map(|v| self.copy_value(body, v, &mut map))).collect();
            let outs: Vec<Option<ValueId>> = body.node_outputs(bn).into_iter().map(|v| v.map(|v| self.copy_value(body, v, &mut map))).collect();
            self.add_node(body.node(bn).clone(), &ins, &outs)?;
        }
        for (k, (&inner, outer)) in body.outputs.iter().zip(&outs).enumerate() {
            let Some(outer) = *outer else { continue };
            let src = self.copy_value(body, inner, &mut map);
            if src != outer {
                let node = Node { name: format!("{name}/output_{k}"), op_type: "Identity".into(), opset, op: Op::identity() };
                self.add_node(node, &[Some(src)], &[Some(outer)])?;
            }
        }
        Ok(())
    }

    /// The value of this graph that stands for `body`'s value `v`, created
    /// on first use.
    fn copy_value(&mut self, body: &Graph, v: ValueId, map: &mut HashMap<ValueId, ValueId>) -> ValueId {
        if let Some(&id) = map.get(&v) {
            return id;
        }
        let value = body.value(v);
        let ty = if value.constant.is_some() { value.ty.clone() } else { None };
        let id = self.add_value(Value { name: value.name.clone(), ty, constant: value.constant.clone() });
        map.insert(v, id);
        id
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor::Tensor;
    use std::sync::Arc;

    fn value(g: &mut Graph, name: &str) -> ValueId {
        g.add_value(Value { name: name.into(), ty: None, constant: None })
    }

    fn node(name: &str) -> Node {
        Node { name: name.into(), op_type: "Identity".into(), opset: 16, op: Op::identity() }
    }

    #[test]
    fn body_outputs_become_the_node_outputs() {
        // body: in -> Identity -> a; outputs [a, in, a, const].
        let mut body = Graph::new("body");
        let b_in = value(&mut body, "in");
        body.inputs.push(b_in);
        let a = value(&mut body, "a");
        body.add_node(node("inner"), &[Some(b_in)], &[Some(a)]).unwrap();
        let c = body.add_value(Value { name: "c".into(), ty: None, constant: Some(Arc::new(Tensor::scalar(1.0f32))) });
        body.outputs = vec![a, b_in, a, c];

        let mut g = Graph::new("g");
        let x = value(&mut g, "x");
        g.inputs.push(x);
        let outs: Vec<ValueId> = (0..4).map(|k| value(&mut g, &format!("y{k}"))).collect();
        let holder = g.add_node(node("holder"), &[Some(x)], &outs.iter().copied().map(Some).collect::<Vec<_>>()).unwrap();
        g.outputs = outs.clone();
        g.inline(holder, &body, &[Some(x)]).unwrap();

        // y0 is produced by the copy of 'inner'; y1..y3 by Identity nodes.
        let (p0, _) = g.producer(outs[0]).unwrap();
        assert_eq!(g.node(p0).name, "inner");
        assert_eq!(g.node_inputs(p0), vec![Some(x)]);
        for (k, &out) in outs.iter().enumerate().skip(1) {
            let (p, _) = g.producer(out).unwrap();
            assert_eq!(g.node(p).name, format!("holder/output_{k}"));
        }
        let (p1, _) = g.producer(outs[1]).unwrap();
        assert_eq!(g.node_inputs(p1), vec![Some(x)]);
        let (p3, _) = g.producer(outs[3]).unwrap();
        let c_copy = g.node_inputs(p3)[0].unwrap();
        assert!(g.value(c_copy).constant.is_some());
        assert_eq!(g.node_count(), 4);
        assert!(g.inline(p0, &body, &[]).is_err());
    }
}
