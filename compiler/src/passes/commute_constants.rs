//! Puts the activation first in Add and Mul nodes whose first operand is
//! a constant (`scale * x`, `bias + x`): both commute, and the quantizer's
//! rules and elementwise tables take the activation at input 0 (a node
//! whose input 0 is not an activation stays float).

use crate::ir::{Graph, ValueId};
use crate::ops::Op;
use crate::Result;

pub fn run(graph: &mut Graph) -> Result<()> {
    for n in graph.nodes() {
        if !matches!(&graph.node(n).op, Op::Binary(b) if b.commutes()) {
            continue;
        }
        let constant = |v: Option<ValueId>| v.is_some_and(|v| graph.value(v).constant.is_some());
        if let [a, b] = graph.node_inputs(n)[..] {
            if constant(a) && b.is_some() && !constant(b) {
                graph.swap_inputs(n, 0, 1);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::ir::{Graph, Node, NodeId, TensorType, Value, ValueId};
    use crate::ops::Op;
    use crate::tensor::{DType, Tensor};
    use std::sync::Arc;

    fn binary(g: &mut Graph, op_type: &str, inputs: [ValueId; 2]) -> NodeId {
        let onnx = crate::ops::testing::node(op_type, 17, vec![], 2, 1);
        let node = Node { name: op_type.into(), op_type: op_type.into(), opset: 17, op: Op::from_onnx(&onnx).unwrap() };
        let y = g.add_value(Value { name: format!("{op_type}_y"), ty: None, constant: None });
        g.add_node(node, &[Some(inputs[0]), Some(inputs[1])], &[Some(y)]).unwrap()
    }

    #[test]
    fn a_constant_first_operand_of_add_and_mul_moves_second() {
        let mut g = Graph::new("g");
        let scale = Tensor::from_vec(&[1], vec![2f32]).unwrap();
        let c = g.add_value(Value { name: "c".into(), ty: Some(TensorType::of(&scale)), constant: Some(Arc::new(scale)) });
        let x = g.add_value(Value { name: "x".into(), ty: Some(TensorType::fixed(DType::F32, &[3])), constant: None });
        let (mul, add, sub) = (binary(&mut g, "Mul", [c, x]), binary(&mut g, "Add", [c, x]), binary(&mut g, "Sub", [c, x]));
        super::run(&mut g).unwrap();
        assert_eq!(g.node_inputs(mul), vec![Some(x), Some(c)]);
        assert_eq!(g.node_inputs(add), vec![Some(x), Some(c)]);
        assert_eq!(g.node_inputs(sub), vec![Some(c), Some(x)], "Sub does not commute");
    }
}
