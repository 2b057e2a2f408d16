"""One-time check of build_minilm.py's graph against the real model (not for CI).

Loads the package's model directory with sentence-transformers (PyTorch),
encodes the sentences of sentences.txt, and compares the embeddings with
onnxruntime's on minilm_l6.onnx fed the same tokens padded to 64 (max |diff|
and the lowest cosine). Then exports the Hugging Face BertModel with
torch.onnx.export (TorchScript exporter, opset 17, dynamic batch and
sequence) and prints the operator histograms side by side (BertModel with sdpa and
with eager attention, and build_minilm.py's graph), so the hand-written
graph can be checked for the exporter's form.

    python3 -m venv /tmp/torch-venv
    /tmp/torch-venv/bin/pip install torch transformers sentence-transformers onnx onnxruntime tokenizers
    /tmp/torch-venv/bin/python tests/models/pretrained/verify_minilm_torch.py target/pretrained/models

README.md records the figures of the run made when the suite was written.
"""

import collections
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch
from sentence_transformers import SentenceTransformer
from tokenizers import Tokenizer
from transformers import BertModel

HERE = Path(__file__).resolve().parent


def ops(model):
    return collections.Counter(n.op_type for n in model.graph.node)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    models = Path(sys.argv[1])
    model_dir = models / "minilm"
    sentences = [s for s in (HERE / "sentences.txt").read_text().splitlines() if s.strip()]

    st = SentenceTransformer(str(model_dir), device="cpu")
    want = st.encode(sentences, convert_to_numpy=True, normalize_embeddings=False, batch_size=16)

    tok = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tok.enable_truncation(64)
    tok.enable_padding(length=64, pad_id=0, pad_token="[PAD]")
    enc = tok.encode_batch(sentences)
    feeds = {
        "input_ids": np.array([e.ids for e in enc], np.int64),
        "attention_mask": np.array([e.attention_mask for e in enc], np.int64),
        "token_type_ids": np.array([e.type_ids for e in enc], np.int64),
    }
    # The same tokens as sentence-transformers' own tokenizer gives.
    st_tokens = st.tokenize(sentences)
    n = st_tokens["input_ids"].shape[1]
    assert (st_tokens["input_ids"].numpy() == feeds["input_ids"][:, :n]).all(), "tokenizers differ"
    sess = ort.InferenceSession(str(models / "minilm_l6.onnx"), providers=["CPUExecutionProvider"])
    got = sess.run(None, feeds)[0]
    diff = np.abs(got - want).max()
    cos = (got * want).sum(1) / np.linalg.norm(got, axis=1) / np.linalg.norm(want, axis=1)
    print(f"{len(sentences)} sentences: max |onnx - SentenceTransformer| = {diff:.3e}, lowest cosine {cos.min():.8f}")

    class Encoder(torch.nn.Module):
        """BertModel's last hidden state from positional inputs, as an exporter sees it."""

        def __init__(self, bert):
            super().__init__()
            self.bert = bert

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.bert(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids).last_hidden_state

    ours = onnx.load(str(models / "minilm_l6.onnx"))
    counts = {}
    for attention in ["sdpa", "eager"]:
        bert = Encoder(BertModel.from_pretrained(str(model_dir), attn_implementation=attention).eval())
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "bert.onnx"
            args = tuple(torch.from_numpy(feeds[k][:2]) for k in ["input_ids", "attention_mask", "token_type_ids"])
            dyn = {k: {0: "batch", 1: "sequence"} for k in ["input_ids", "attention_mask", "token_type_ids"]}
            torch.onnx.export(bert, args, str(path), input_names=list(dyn), output_names=["last_hidden_state"],
                              dynamic_axes=dyn, opset_version=17, dynamo=False)
            counts[attention] = ops(onnx.load(str(path)))
    counts["build_minilm.py"] = ops(ours)
    print(f"{'op':<20}" + "".join(f"{k:>18}" for k in counts))
    for op in sorted(set().union(*counts.values())):
        print(f"{op:<20}" + "".join(f"{c.get(op, 0):>18}" for c in counts.values()))
    print("(torch.onnx.export of BertModel with sdpa and eager attention; build_minilm.py adds pooling and normalization: "
          "Expand, ReduceSum, Clip, ReduceL2 and their Mul/Div/Cast/Unsqueeze/Shape)")


if __name__ == "__main__":
    main()
