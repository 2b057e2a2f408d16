#!/usr/bin/env python3
"""Writes the ONNX backend test cases that the conformance tests run.

Every case comes from the pinned `onnx` package (see requirements.txt):

* node: the node tests defined in Python (`onnx.backend.test.case.node`),
  serialised here as model.onnx + test_data_set_N/{input,output}_K.pb;
* simple, pytorch-converted, pytorch-operator: copied from the model sets that
  ship inside the package (onnx/backend/test/data/<set>);
* light: the "light" real-model set (ResNet-50, DenseNet-121, ...). The package
  ships each model and its expected output; the input is the deterministic
  ramp that onnx's own backend runner feeds these models.

Usage: generate.py OUT_DIR. Writes OUT_DIR/<set>/<case>/ and OUT_DIR/STAMP.
"""

import json
import os
import shutil
import sys
import warnings

import numpy as np
import onnx
from onnx import numpy_helper
from onnx.backend.test.case import model as model_cases
from onnx.backend.test.case import node as node_cases

COPIED_SETS = ("simple", "pytorch-converted", "pytorch-operator")


def value_to_proto(value, type_proto, name):
    """Serialises one test value according to the graph's declared type."""
    if type_proto.HasField("sequence_type"):
        return numpy_helper.from_list(value, name)
    if type_proto.HasField("optional_type"):
        return numpy_helper.from_optional(value, name)
    if type_proto.HasField("map_type"):
        return numpy_helper.from_dict(value, name)
    if isinstance(value, onnx.TensorProto):
        return value
    return numpy_helper.from_array(np.asarray(value), name)


def write_case(out_dir, model, data_sets, rtol, atol):
    os.makedirs(out_dir)
    onnx.save_model(model, os.path.join(out_dir, "model.onnx"))
    with open(os.path.join(out_dir, "data.json"), "w") as f:
        json.dump({"rtol": rtol, "atol": atol}, f)
    graph = model.graph
    for n, (inputs, outputs) in enumerate(data_sets):
        ds = os.path.join(out_dir, f"test_data_set_{n}")
        os.makedirs(ds)
        for kind, values, decls in (("input", inputs, graph.input), ("output", outputs, graph.output)):
            for k, value in enumerate(values):
                proto = value_to_proto(value, decls[k].type, decls[k].name)
                with open(os.path.join(ds, f"{kind}_{k}.pb"), "wb") as f:
                    f.write(proto.SerializeToString())


def write_node_tests(out):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cases = node_cases.collect_testcases(None)
    for case in cases:
        write_case(os.path.join(out, "node", case.name), case.model, case.data_sets, case.rtol, case.atol)
    return len(cases)


def copy_sets(out):
    data = os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data")
    count = 0
    for name in COPIED_SETS:
        shutil.copytree(os.path.join(data, name), os.path.join(out, name))
        count += len(os.listdir(os.path.join(out, name)))
    return count


def ramp_input(value_info):
    """The input onnx's backend runner generates for light models."""
    dims = value_info.type.tensor_type.shape.dim
    shape = tuple(d.dim_value if d.HasField("dim_value") else 1 for d in dims)
    n = int(np.prod(shape))
    return (np.arange(n).reshape(shape) / n).astype(np.float32)


def write_light_models(out):
    light = os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data", "light")
    tolerance = {c.model_name: (c.rtol, c.atol) for c in model_cases.collect_testcases()}
    count = 0
    for file in sorted(os.listdir(light)):
        if not file.endswith(".onnx"):
            continue
        stem = file[: -len(".onnx")]
        rtol, atol = tolerance[stem[len("light_") :]]
        model = onnx.load(os.path.join(light, file))
        initializers = {i.name for i in model.graph.initializer}
        inputs = [ramp_input(i) for i in model.graph.input if i.name not in initializers]
        outputs = []
        for k in range(len(model.graph.output)):
            with open(os.path.join(light, f"{stem}_output_{k}.pb"), "rb") as f:
                outputs.append(onnx.load_tensor_from_string(f.read()))
        # Light models also list their initializers as graph inputs; those are
        # constants, so the data set holds only the other inputs, in order.
        write_case(os.path.join(out, "light", stem), model, [(inputs, outputs)], rtol, atol)
        count += 1
    return count


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: generate.py OUT_DIR")
    out = sys.argv[1]
    if os.path.exists(out):
        shutil.rmtree(out)
    os.makedirs(out)
    counts = {
        "node": write_node_tests(out),
        "copied": copy_sets(out),
        "light": write_light_models(out),
    }
    with open(os.path.join(out, "STAMP"), "w") as f:
        f.write(f"onnx {onnx.__version__}\n")
    print(f"wrote {counts} test cases to {out} (onnx {onnx.__version__})")


if __name__ == "__main__":
    main()
