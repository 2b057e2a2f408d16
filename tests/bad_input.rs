//! Hostile and malformed input to the real `qcc` binary: every case must
//! end with a non-zero exit and exactly one `error: ` line on stderr that
//! names the file (and the node and op type where one is at fault), never
//! with a panic or a hang.
//!
//! Models are built in Rust (`common/model.rs`), written to a scratch
//! directory and given to `qcc run` and `qcc inspect`. `qcc inspect` lists
//! unsupported operators instead of failing on them, so the unknown-op cases
//! check that listing and fail only under `qcc run`.


use qcc_tests::cli::{expect_error, expect_success, qcc, TempDir};
use qcc_tests::model::*;
use qcc::tensor::{npy, Tensor};
use std::path::{Path, PathBuf};

/// A model file with `.npy` inputs beside it.
struct Case {
    dir: TempDir,
    model: PathBuf,
    inputs: Vec<PathBuf>,
}

impl Case {
    fn bytes(tag: &str, bytes: &[u8], inputs: &[Tensor]) -> Case {
        let dir = TempDir::new(tag);
        let model = dir.write("model.onnx", bytes);
        let inputs = inputs
            .iter()
            .enumerate()
            .map(|(k, t)| {
                let p = dir.path().join(format!("in{k}.npy"));
                npy::save_npy(&p, t).expect("write input");
                p
            })
            .collect();
        Case { dir, model, inputs }
    }

    fn new(tag: &str, m: &ModelProto, inputs: &[Tensor]) -> Case {
        Case::bytes(tag, &bytes(m), inputs)
    }

    fn file(&self) -> String {
        self.model.display().to_string()
    }

    fn run(&self, extra: &[&str]) -> std::process::Output {
        let mut args: Vec<String> = vec!["run".into(), self.file()];
        for i in &self.inputs {
            args.push("-i".into());
            args.push(i.display().to_string());
        }
        args.push("-o".into());
        args.push(self.dir.path().join("out").display().to_string());
        args.extend(extra.iter().map(|s| s.to_string()));
        qcc(args)
    }

    fn inspect(&self, extra: &[&str]) -> std::process::Output {
        let mut args: Vec<String> = vec!["inspect".into(), self.file()];
        args.extend(extra.iter().map(|s| s.to_string()));
        qcc(args)
    }

    /// Both `run` and `inspect` fail naming the file and each of `needles`.
    fn rejected(&self, needles: &[&str]) {
        let file = self.file();
        let mut all = vec![file.as_str()];
        all.extend_from_slice(needles);
        expect_error(&self.run(&[]), &all);
        expect_error(&self.inspect(&[]), &all);
    }

    /// `run` fails as in [`Case::rejected`]; `inspect` succeeds and lists the
    /// unsupported node among its output.
    fn unsupported(&self, needles: &[&str]) {
        let file = self.file();
        let mut all = vec![file.as_str()];
        all.extend_from_slice(needles);
        expect_error(&self.run(&[]), &all);
        let listing = expect_success(&self.inspect(&[]));
        for n in needles {
            assert!(listing.contains(n), "inspect does not list {n:?}:\n{listing}");
        }
    }
}

fn f32_tensor(shape: &[usize]) -> Tensor {
    let n = shape.iter().product();
    Tensor::from_vec(shape, (0..n).map(|i| i as f32 * 0.5 - 1.0).collect::<Vec<f32>>()).unwrap()
}

/// Inputs of [`add_mul_relu`].
fn ab() -> Vec<Tensor> {
    vec![f32_tensor(&[2, 3]), f32_tensor(&[2, 3])]
}

/// One-input model `y = op(x)`, x: float[2, 3].
fn unary(op: &str, name: &str, attrs: Vec<AttributeProto>) -> ModelProto {
    let mut n = node(op, name, &["x"], &["y"]);
    n.attribute = attrs;
    model(vec![n], vec![f32_info("x", &[2, 3])], vec![f32_info("y", &[2, 3])], vec![])
}

fn x23() -> Vec<Tensor> {
    vec![f32_tensor(&[2, 3])]
}

/// Deterministic pseudo-random bytes (64-bit LCG).
fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut s = seed;
    (0..len)
        .map(|_| {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (s >> 33) as u8
        })
        .collect()
}

// ---------------------------------------------------------------- the file

#[test]
fn truncated_model() {
    let full = bytes(&add_mul_relu());
    for cut in [1, 7, full.len() / 4, full.len() / 2, full.len() * 3 / 4, full.len() - 1] {
        let case = Case::bytes("truncated", &full[..cut], &ab());
        case.rejected(&["truncated"]);
    }
}

#[test]
fn random_garbage() {
    for seed in 1..=3 {
        let case = Case::bytes("garbage", &noise(seed, 1000), &ab());
        case.rejected(&["invalid model"]);
    }
}

#[test]
fn empty_file() {
    Case::bytes("empty", &[], &ab()).rejected(&["empty"]);
}

#[test]
fn missing_file() {
    let dir = TempDir::new("missing");
    let path = dir.path().join("nope.onnx");
    let out = qcc(["inspect".as_ref(), path.as_os_str()]);
    expect_error(&out, &[&path.display().to_string()]);
}

#[test]
fn protobuf_that_is_not_a_model() {
    // A tensor, and a bare graph (a common mistake), saved instead of a model.
    let tensor = tensor_f32("w", &[2, 3], &ADD_MUL_RELU_W).write_to_bytes().unwrap();
    Case::bytes("tensor", &tensor, &ab()).rejected(&["invalid model"]);
    let graph = add_mul_relu().graph.unwrap().write_to_bytes().unwrap();
    Case::bytes("graph", &graph, &ab()).rejected(&["invalid model"]);
    // Decodes as a model, but carries nothing of one.
    let mut m = ModelProto::new();
    m.producer_name = "not a model".into();
    Case::new("nograph", &m, &ab()).rejected(&["no graph"]);
}

#[test]
fn no_graph_and_no_outputs() {
    let mut m = add_mul_relu();
    m.graph = Default::default();
    Case::new("nograph", &m, &ab()).rejected(&["no graph"]);
    let mut m = add_mul_relu();
    graph(&mut m).output.clear();
    Case::new("nooutputs", &m, &ab()).rejected(&["no outputs"]);
    let mut m = add_mul_relu();
    graph(&mut m).output[0].name = "nowhere".into();
    Case::new("badoutput", &m, &ab()).rejected(&["'nowhere'"]);
}

// ------------------------------------------------------------ tensor data

#[test]
fn raw_data_of_the_wrong_size() {
    let mut m = add_mul_relu();
    graph(&mut m).initializer[0] = tensor_f32("w", &[2, 3], &[1.0; 5]);
    Case::new("rawsize", &m, &ab()).rejected(&["initializer 'w'", "24 bytes", "20"]);
}

#[test]
fn typed_data_of_the_wrong_count() {
    let mut m = add_mul_relu();
    graph(&mut m).initializer[0] = tensor_f32_typed("w", &[2, 3], &[1.0; 7]);
    Case::new("typedcount", &m, &ab()).rejected(&["initializer 'w'", "6 elements", "7"]);
}

fn with_external(w: TensorProto) -> ModelProto {
    let mut m = add_mul_relu();
    graph(&mut m).initializer[0] = w;
    m
}

#[test]
fn external_data_outside_the_model_dir() {
    for location in ["../w.bin", "/etc/hostname", "sub/../../w.bin"] {
        let case = Case::new("extout", &with_external(tensor_external("w", &[2, 3], location, None, None)), &ab());
        case.rejected(&["initializer 'w'", location, "inside the model's directory"]);
    }
}

#[test]
fn external_data_past_the_end() {
    let data: Vec<u8> = ADD_MUL_RELU_W.iter().flat_map(|v| v.to_le_bytes()).collect();
    let cases = [
        (Some(100), None, "past the end"),
        (Some(8), Some(24), "past the end"),
        (Some(0), Some(u64::MAX), "past the end"),
        (Some(u64::MAX), Some(1), "past the end"),
        // The file is 24 bytes; 16 of them do not make a [2, 3] float tensor.
        (Some(8), None, "24 bytes"),
    ];
    for (offset, length, needle) in cases {
        let case = Case::new("extend", &with_external(tensor_external("w", &[2, 3], "w.bin", offset, length)), &ab());
        case.dir.write("w.bin", &data);
        case.rejected(&["initializer 'w'", needle]);
    }
}

#[test]
fn external_data_missing() {
    let case = Case::new("extmissing", &with_external(tensor_external("w", &[2, 3], "absent.bin", None, None)), &ab());
    case.rejected(&["initializer 'w'", "absent.bin"]);
    let mut no_location = tensor_external("w", &[2, 3], "x", None, None);
    no_location.external_data.clear();
    Case::new("extnoloc", &with_external(no_location), &ab()).rejected(&["initializer 'w'", "location"]);
    let mut bad_offset = tensor_external("w", &[2, 3], "w.bin", None, None);
    let mut e = StringStringEntryProto::new();
    e.key = "offset".into();
    e.value = "-3".into();
    bad_offset.external_data.push(e);
    Case::new("extbadoff", &with_external(bad_offset), &ab()).rejected(&["initializer 'w'", "'-3'"]);
}

#[test]
fn sparse_initializer_with_bad_indices() {
    // Flat indices out of range, and per-dimension indices out of range whose
    // flat position would still fall inside the tensor.
    for (indices, dims) in [(vec![0i64, 6], vec![2i64]), (vec![-1, 0], vec![2]), (vec![0, 5, 1, 0], vec![2, 2])] {
        let mut sparse = SparseTensorProto::new();
        sparse.dims = vec![2, 3];
        sparse.values = Some(tensor_f32("w", &[2], &[1.0, 2.0])).into();
        sparse.indices = Some(tensor_i64("", &dims, &indices)).into();
        let mut m = add_mul_relu();
        graph(&mut m).initializer.clear();
        graph(&mut m).sparse_initializer.push(sparse);
        Case::new("sparse", &m, &ab()).rejected(&["sparse initializer 'w'", "outside shape [2, 3]"]);
    }
}

#[test]
fn initializer_with_absurd_dims() {
    // Empty tensors too: their other dimensions still have to be representable.
    let empty = [vec![0, 1 << 40, 1 << 40], vec![1 << 33, 0]];
    for dims in [vec![1i64 << 40, 1 << 40], vec![1 << 62, 1 << 62, 4], vec![i64::MAX, 2], vec![1 << 33]].into_iter().chain(empty) {
        let mut m = add_mul_relu();
        graph(&mut m).initializer[0] = tensor_f32("w", &dims, &[]);
        Case::new("absurdinit", &m, &ab()).rejected(&["initializer 'w'", "elements"]);
    }
}

#[test]
fn negative_dims() {
    let mut m = add_mul_relu();
    graph(&mut m).initializer[0] = tensor_f32("w", &[-2, -3], &ADD_MUL_RELU_W);
    Case::new("neginit", &m, &ab()).rejected(&["initializer 'w'", "negative dimension -2"]);

    let m = model(
        vec![node("Relu", "relu", &["x"], &["y"])],
        vec![value_info("x", FLOAT, &[D::N(-5), D::N(3)])],
        vec![f32_info("y", &[2, 3])],
        vec![],
    );
    Case::new("neginput", &m, &x23()).rejected(&["graph input 'x'", "-5"]);

    let m = model(
        vec![node("Reshape", "reshape", &["x", "shape"], &["y"])],
        vec![f32_info("x", &[2, 3])],
        vec![f32_info("y", &[3, 2])],
        vec![tensor_i64("shape", &[2], &[-2, 3])],
    );
    Case::new("negreshape", &m, &x23()).rejected(&["node 'reshape' (Reshape", "-2"]);
}

// ------------------------------------------------------- graph structure

#[test]
fn missing_initializer() {
    let mut m = add_mul_relu();
    graph(&mut m).initializer.clear();
    Case::new("noinit", &m, &ab()).rejected(&["node 'mul' (Mul", "'w'", "not defined"]);
}

#[test]
fn unknown_op_type() {
    let m = unary("FrobnicateV2", "frob", vec![]);
    Case::new("unknownop", &m, &x23()).unsupported(&["frob", "FrobnicateV2"]);
}

#[test]
fn if_on_input_data() {
    // The condition is a graph input: not known at compile time.
    let mut n = node("If", "by_flag", &["flag"], &["y"]);
    n.attribute.push(attr_graph("then_branch", vec![node("Neg", "neg", &["x"], &["m"])], &["m"]));
    n.attribute.push(attr_graph("else_branch", vec![], &["x"]));
    let m = model(vec![n], vec![f32_info("x", &[2, 3]), value_info("flag", BOOL, &[])], vec![f32_info("y", &[2, 3])], vec![]);
    let flag = Tensor::from_vec(&[], vec![true]).unwrap();
    Case::new("ifdata", &m, &[f32_tensor(&[2, 3]), flag]).unsupported(&["by_flag", "If", "not known at compile time"]);
}

#[test]
fn unknown_domain() {
    // Imported but unknown domain, with an op type that exists in the default one.
    let mut m = unary("Relu", "custom_relu", vec![]);
    graph(&mut m).node[0].domain = "com.example.custom".into();
    m.opset_import.push(opset("com.example.custom", 1));
    Case::new("unknowndomain", &m, &x23()).unsupported(&["custom_relu", "Relu", "com.example.custom"]);
    // A domain the model does not even import.
    let mut m = unary("Relu", "stray_relu", vec![]);
    graph(&mut m).node[0].domain = "org.nowhere".into();
    Case::new("noimport", &m, &x23()).unsupported(&["stray_relu", "Relu", "org.nowhere"]);
    // No opset for the default domain at all.
    let mut m = unary("Relu", "relu", vec![]);
    m.opset_import.clear();
    Case::new("noopset", &m, &x23()).unsupported(&["relu", "Relu", "opset"]);
}

#[test]
fn cycle_between_two_nodes() {
    let m = model(
        vec![node("Add", "first", &["x", "b"], &["a"]), node("Relu", "second", &["a"], &["b"])],
        vec![f32_info("x", &[2, 3])],
        vec![f32_info("b", &[2, 3])],
        vec![],
    );
    Case::new("cycle", &m, &x23()).rejected(&["cycle", "'first' (Add)"]);
    let m = model(
        vec![node("Add", "selfish", &["x", "y"], &["y"])],
        vec![f32_info("x", &[2, 3])],
        vec![f32_info("y", &[2, 3])],
        vec![],
    );
    Case::new("selfloop", &m, &x23()).rejected(&["cycle", "'selfish' (Add)"]);
}

#[test]
fn duplicate_value_names() {
    let mut m = add_mul_relu();
    graph(&mut m).initializer.push(tensor_f32("w", &[2, 3], &ADD_MUL_RELU_W));
    Case::new("dupinit", &m, &ab()).rejected(&["'w'", "more than once"]);
    let mut m = add_mul_relu();
    graph(&mut m).node[1].output[0] = "s".into();
    Case::new("dupout", &m, &ab()).rejected(&["node 'mul' (Mul", "'s'", "more than once"]);
    let mut m = add_mul_relu();
    graph(&mut m).node[0].output[0] = "a".into();
    Case::new("outisinput", &m, &ab()).rejected(&["node 'add' (Add", "'a'", "more than once"]);
    let mut m = add_mul_relu();
    graph(&mut m).input.push(f32_info("a", &[2, 3]));
    Case::new("dupinput", &m, &ab()).rejected(&["'a'", "more than once"]);
}

#[test]
fn recursive_and_exploding_functions() {
    // F calls itself.
    let mut f = FunctionProto::new();
    f.name = "F".into();
    f.domain = "local".into();
    f.input = vec!["i".into()];
    f.output = vec!["o".into()];
    f.opset_import = vec![opset("", OPSET), opset("local", 1)];
    let mut call = node("F", "inner", &["i"], &["o"]);
    call.domain = "local".into();
    f.node = vec![call.clone()];
    let mut m = unary("F", "outer", vec![]);
    graph(&mut m).node[0].domain = "local".into();
    m.opset_import.push(opset("local", 1));
    m.functions.push(f);
    Case::new("recursive", &m, &x23()).rejected(&["node 'outer' (F", "recursive"]);

    // F0 calls F1 twice, F1 calls F2 twice, ...: 2^30 nodes if inlined.
    let mut m = unary("F0", "top", vec![]);
    graph(&mut m).node[0].domain = "local".into();
    m.opset_import.push(opset("local", 1));
    for level in 0..30 {
        let mut f = FunctionProto::new();
        f.name = format!("F{level}");
        f.domain = "local".into();
        f.input = vec!["i".into()];
        f.output = vec!["o".into()];
        f.opset_import = vec![opset("", OPSET), opset("local", 1)];
        let callee = format!("F{}", level + 1);
        let op = if level == 29 { "Relu" } else { callee.as_str() };
        let mut first = node(op, "first", &["i"], &["t"]);
        let mut second = node(op, "second", &["t"], &["o"]);
        if level < 29 {
            first.domain = "local".into();
            second.domain = "local".into();
        }
        f.node = vec![first, second];
        m.functions.push(f);
    }
    Case::new("exploding", &m, &x23()).rejected(&["node 'top' (F0", "nodes"]);
}

// ------------------------------------------------------------ absurd sizes

#[test]
fn graph_input_whose_dims_overflow() {
    for dims in [[1i64 << 40, 1 << 40], [1 << 62, 8], [i64::MAX, i64::MAX]] {
        let m = model(
            vec![node("Relu", "relu", &["x"], &["y"])],
            vec![f32_info("x", &dims)],
            vec![f32_info("y", &dims)],
            vec![],
        );
        Case::new("inputoverflow", &m, &x23()).rejected(&["graph input 'x'", "elements"]);
    }
}

#[test]
fn constant_with_absurd_size() {
    let mut t = tensor_f32("", &[1 << 40, 1 << 40], &[]);
    t.float_data = vec![1.0];
    let m = model(
        vec![with(node("Constant", "huge", &[], &["y"]), attr_tensor("value", t))],
        vec![],
        vec![f32_info("y", &[1])],
        vec![],
    );
    Case::new("hugeconst", &m, &[]).rejected(&["node 'huge' (Constant", "elements"]);
}

#[test]
fn reshape_to_an_absurd_shape() {
    for (x_const, shape) in [(false, [1i64 << 20, 1 << 20, 1 << 20]), (true, [1 << 40, 1 << 40, 1]), (false, [i64::MAX, 2, 1])] {
        let mut inputs = vec![f32_info("x", &[2, 3])];
        let mut inits = vec![tensor_i64("shape", &[3], &shape)];
        if x_const {
            inputs.clear();
            inits.push(tensor_f32("x", &[2, 3], &ADD_MUL_RELU_W));
        }
        let m = model(vec![node("Reshape", "reshape", &["x", "shape"], &["y"])], inputs, vec![f32_info("y", &[6])], inits);
        let data = if x_const { vec![] } else { x23() };
        let case = Case::new("hugereshape", &m, &data);
        case.rejected(&["node 'reshape' (Reshape"]);
    }
}

/// A one-node model `y = op(inputs...)` whose inputs are initializers.
fn const_op(op: &str, name: &str, inits: Vec<TensorProto>, attrs: Vec<AttributeProto>) -> ModelProto {
    let names: Vec<String> = inits.iter().map(|t| t.name.clone()).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut n = node(op, name, &names, &["y"]);
    n.attribute = attrs;
    model(vec![n], vec![], vec![f32_info("y", &[1])], inits)
}

/// The op must exist (not be listed as unsupported) and refuse the size.
fn absurd_op(m: &ModelProto, name: &str, op: &str) {
    let case = Case::new("absurdop", m, &[]);
    let needle = format!("node '{name}' ({op}");
    case.rejected(&[&needle]);
    let out = case.inspect(&[]);
    let err = expect_error(&out, &[&needle]);
    assert!(!err.contains("not supported by qcc"), "{op} is not implemented: {err}");
}

#[test]
fn constant_of_shape_with_absurd_size() {
    let m = const_op("ConstantOfShape", "fill", vec![tensor_i64("shape", &[2], &[1 << 40, 1 << 40])], vec![]);
    absurd_op(&m, "fill", "ConstantOfShape");
}

#[test]
fn expand_to_an_absurd_shape() {
    let m = const_op(
        "Expand",
        "grow",
        vec![tensor_f32("x", &[1], &[1.0]), tensor_i64("shape", &[3], &[1 << 20, 1 << 20, 1 << 20])],
        vec![],
    );
    absurd_op(&m, "grow", "Expand");
}

#[test]
fn tile_to_an_absurd_shape() {
    let m = const_op(
        "Tile",
        "tiles",
        vec![tensor_f32("x", &[2, 3], &ADD_MUL_RELU_W), tensor_i64("repeats", &[2], &[1 << 40, 1 << 40])],
        vec![],
    );
    absurd_op(&m, "tiles", "Tile");
}

#[test]
fn range_of_absurd_length() {
    let m = const_op(
        "Range",
        "count",
        vec![tensor_i64("start", &[], &[0]), tensor_i64("limit", &[], &[i64::MAX]), tensor_i64("delta", &[], &[1])],
        vec![],
    );
    absurd_op(&m, "count", "Range");
    let m = const_op(
        "Range",
        "count",
        vec![tensor_f32("start", &[], &[0.0]), tensor_f32("limit", &[], &[1e30]), tensor_f32("delta", &[], &[1e-30])],
        vec![],
    );
    absurd_op(&m, "count", "Range");
}

// ------------------------------------------------------------- attributes

#[test]
fn non_finite_float_attributes() {
    for (op, attr, v) in [("LeakyRelu", "alpha", f32::NAN), ("LeakyRelu", "alpha", f32::INFINITY), ("Elu", "alpha", f32::NEG_INFINITY)] {
        let m = unary(op, "act", vec![attr_float(attr, v)]);
        let case = Case::new("nonfinite", &m, &x23());
        case.rejected(&[&format!("node 'act' ({op}"), &format!("'{attr}'"), &v.to_string()]);
    }
}

#[test]
fn attribute_of_the_wrong_type_or_unknown_type() {
    let m = unary("LeakyRelu", "act", vec![attr_ints("alpha", &[1, 2])]);
    Case::new("wrongattr", &m, &x23()).rejected(&["node 'act' (LeakyRelu", "'alpha'"]);
    let mut a = attr_float("alpha", 0.1);
    a.type_ = protobuf::EnumOrUnknown::from_i32(77);
    let m = unary("LeakyRelu", "act", vec![a]);
    Case::new("unknownattr", &m, &x23()).rejected(&["node 'act' (LeakyRelu", "'alpha'", "77"]);
}

// ----------------------------------------------------------- command line

#[test]
fn input_shape_errors() {
    let case = Case::new("shapeflag", &dynamic_batch(), &[f32_tensor(&[4, 3])]);
    let file = case.file();
    // Unknown input name.
    expect_error(&case.inspect(&["--input-shape", "nope=1,3"]), &[&file, "'nope'", "'x'"]);
    expect_error(&case.run(&["--input-shape", "nope=1,3"]), &[&file, "'nope'", "'x'"]);
    // Bad syntax.
    for bad in ["x", "x=", "x=1,,3", "x=1,a", "=1,3", "x=-1,3", "x=99999999999999999999999,3"] {
        expect_error(&case.inspect(&["--input-shape", bad]), &["--input-shape"]);
    }
    // Rank mismatch and a conflict with a fixed dimension.
    expect_error(&case.inspect(&["--input-shape", "x=2"]), &[&file, "'x'", "[?, 3]"]);
    expect_error(&case.inspect(&["--input-shape", "x=2,4"]), &[&file, "'x'", "[?, 3]"]);
    expect_error(&case.run(&["--input-shape", "x=5,3"]), &[&file, "'x'"]);
    // Overflowing dims.
    expect_error(&case.inspect(&["--input-shape", "x=6148914691236517206,3"]), &[&file, "'x'", "elements"]);
}

#[test]
fn dynamic_dims_without_input_shape() {
    let case = Case::new("dynamic", &dynamic_batch(), &[]);
    expect_error(&case.inspect(&[]), &[&case.file(), "input 'x'", "--input-shape x=1,3"]);
}

#[test]
fn bad_npy_inputs() {
    let case = Case::new("badnpy", &add_mul_relu(), &ab());
    let garbage = case.dir.write("garbage.npy", &noise(9, 300));
    let b = case.inputs[1].display().to_string();
    let run = |a: &Path| {
        let out = case.dir.path().join("out").display().to_string();
        qcc(["run", &case.file(), "-i", &a.display().to_string(), "-i", &b, "-o", &out])
    };
    expect_error(&run(&garbage), &[&garbage.display().to_string(), ".npy"]);
    // A header promising far more data than the file holds.
    let mut short = npy_header("<f4", "(1000000,)");
    short.extend_from_slice(&[0; 12]);
    let short = case.dir.write("short.npy", &short);
    expect_error(&run(&short), &[&short.display().to_string()]);
    // Header shapes that overflow, with and without a zero dimension.
    for shape in ["(4294967296, 4294967296, 4294967296)", "(0, 18446744073709551615, 18446744073709551615)", "(18446744073709551615,)"] {
        let huge = case.dir.write("huge.npy", &npy_header("<f4", shape));
        expect_error(&run(&huge), &[&huge.display().to_string()]);
    }
    // A file that does not exist.
    let missing = case.dir.path().join("missing.npy");
    expect_error(&run(&missing), &[&missing.display().to_string()]);
    // A .pb input that is not a tensor, and one cut short.
    let pb = case.dir.write("x.pb", &noise(3, 64));
    expect_error(&run(&pb), &[&pb.display().to_string()]);
    let full = tensor_f32("a", &[2, 3], &ADD_MUL_RELU_W).write_to_bytes().unwrap();
    let cut = case.dir.write("cut.pb", &full[..full.len() - 5]);
    expect_error(&run(&cut), &[&cut.display().to_string(), "truncated"]);
}

/// A version-1 `.npy` header for `descr` and `shape` (no data).
fn npy_header(descr: &str, shape: &str) -> Vec<u8> {
    let mut dict = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    while (10 + dict.len() + 1) % 64 != 0 {
        dict.push(' ');
    }
    dict.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(dict.len() as u16).to_le_bytes());
    out.extend_from_slice(dict.as_bytes());
    out
}

#[test]
fn wrong_inputs_for_run() {
    let case = Case::new("wronginputs", &add_mul_relu(), &ab());
    let file = case.file();
    let out_dir = case.dir.path().join("out").display().to_string();
    let a = case.inputs[0].display().to_string();
    // Too few and too many inputs.
    expect_error(&qcc(["run", &file, "-i", &a, "-o", &out_dir]), &[&file, "2 input(s)", "1 were given"]);
    expect_error(&qcc(["run", &file, "-i", &a, "-i", &a, "-i", &a, "-o", &out_dir]), &[&file, "3 were given"]);
    // Wrong element type.
    let ints = case.dir.path().join("ints.npy");
    npy::save_npy(&ints, &Tensor::from_vec(&[2, 3], vec![1i64; 6]).unwrap()).unwrap();
    expect_error(&qcc(["run", &file, "-i", &a, "-i", &ints.display().to_string(), "-o", &out_dir]), &[&file, "'b'", "int64"]);
    // Wrong shape.
    let wide = case.dir.path().join("wide.npy");
    npy::save_npy(&wide, &f32_tensor(&[3, 2])).unwrap();
    expect_error(&qcc(["run", &file, "-i", &a, "-i", &wide.display().to_string(), "-o", &out_dir]), &[&file, "'b'", "[3, 2]"]);
}

#[test]
fn bad_datasets() {
    let case = Case::new("baddataset", &add_mul_relu(), &ab());
    let file = case.file();
    let out_dir = case.dir.path().join("out").display().to_string();
    let write = |name: &str, arrays: Vec<(&str, Tensor)>| {
        let p = case.dir.path().join(name);
        let arrays: Vec<(String, Tensor)> = arrays.into_iter().map(|(n, t)| (n.to_string(), t)).collect();
        npy::save_npz(&p, &arrays).unwrap();
        p.display().to_string()
    };
    let run = |dataset: &str| qcc(["run", &file, "--dataset", dataset, "-o", &out_dir]);
    // No samples at all.
    let empty = write("empty.npz", vec![("a", f32_tensor(&[0, 2, 3])), ("b", f32_tensor(&[0, 2, 3]))]);
    expect_error(&run(&empty), &[&empty, "no samples"]);
    // A missing array, different sample counts, scalars, wrong per-sample shapes.
    let missing = write("missing.npz", vec![("a", f32_tensor(&[2, 2, 3]))]);
    expect_error(&run(&missing), &[&missing, "'b'"]);
    let uneven = write("uneven.npz", vec![("a", f32_tensor(&[2, 2, 3])), ("b", f32_tensor(&[3, 2, 3]))]);
    expect_error(&run(&uneven), &[&uneven, "'b'", "samples"]);
    let scalar = write("scalar.npz", vec![("a", f32_tensor(&[])), ("b", f32_tensor(&[]))]);
    expect_error(&run(&scalar), &[&scalar]);
    let shaped = write("shaped.npz", vec![("a", f32_tensor(&[2, 3, 2])), ("b", f32_tensor(&[2, 3, 2]))]);
    expect_error(&run(&shaped), &[&file, "'a'"]);
    // Not an archive.
    let garbage = case.dir.write("garbage.npz", &noise(5, 200)).display().to_string();
    expect_error(&run(&garbage), &[&garbage, ".npz"]);
}

#[test]
fn bad_calibration_data() {
    let case = Case::new("badcalib", &add_mul_relu(), &ab());
    let write = |name: &str, arrays: Vec<(&str, Tensor)>| {
        let p = case.dir.path().join(name);
        let arrays: Vec<(String, Tensor)> = arrays.into_iter().map(|(n, t)| (n.to_string(), t)).collect();
        npy::save_npz(&p, &arrays).unwrap();
        p.display().to_string()
    };
    let calibrate = |data: &str| case.run(&["--quantize", "int8", "--calibration", data]);
    let with = |k: usize, v: f32| {
        let mut values = vec![0.5f32; 3 * 6];
        values[k] = v;
        Tensor::from_vec(&[3, 2, 3], values).unwrap()
    };
    // Names: an array the model does not have instead of one it needs.
    let renamed = write("renamed.npz", vec![("a", f32_tensor(&[3, 2, 3])), ("c", f32_tensor(&[3, 2, 3]))]);
    expect_error(&calibrate(&renamed), &[&renamed, "no array named 'b'", "it has a, c"]);
    // Shapes and element types of the samples.
    let shaped = write("shaped.npz", vec![("a", f32_tensor(&[3, 2, 3])), ("b", f32_tensor(&[3, 3, 2]))]);
    expect_error(&calibrate(&shaped), &[&shaped, "input 'b'", "float32[2, 3]", "float32[3, 2]"]);
    let ints = write("ints.npz", vec![("a", Tensor::from_vec(&[3, 2, 3], vec![1i64; 18]).unwrap()), ("b", f32_tensor(&[3, 2, 3]))]);
    expect_error(&calibrate(&ints), &[&ints, "input 'a'", "float32[2, 3]", "int64[2, 3]"]);
    // Sample counts that differ between the inputs.
    let uneven = write("uneven.npz", vec![("a", f32_tensor(&[3, 2, 3])), ("b", f32_tensor(&[2, 2, 3]))]);
    expect_error(&calibrate(&uneven), &[&uneven, "array 'b' has 2 samples", "the first array has 3"]);
    // No samples.
    let empty = write("empty.npz", vec![("a", f32_tensor(&[0, 2, 3])), ("b", f32_tensor(&[0, 2, 3]))]);
    expect_error(&calibrate(&empty), &[&empty, "no samples"]);
    // NaN and infinities, named with the input, the sample and the element.
    let nan = write("nan.npz", vec![("a", f32_tensor(&[3, 2, 3])), ("b", with(10, f32::NAN))]);
    expect_error(&calibrate(&nan), &[&nan, "sample 1", "input 'b'", "NaN at element 4", "must be finite"]);
    let inf = write("inf.npz", vec![("a", with(17, f32::NEG_INFINITY)), ("b", f32_tensor(&[3, 2, 3]))]);
    expect_error(&calibrate(&inf), &[&inf, "sample 2", "input 'a'", "an infinity at element 5"]);
    // A directory: empty, or with a file that is not a valid array; the
    // error names the file inside it.
    let dir = case.dir.path().join("calib");
    std::fs::create_dir_all(&dir).unwrap();
    let dir_arg = dir.display().to_string();
    expect_error(&calibrate(&dir_arg), &[&dir_arg, "no .npz or .npy files"]);
    npy::save_npz(&dir.join("0.npz"), &[("a".to_string(), f32_tensor(&[2, 2, 3])), ("b".to_string(), f32_tensor(&[2, 2, 3]))]).unwrap();
    std::fs::write(dir.join("1.npz"), noise(7, 300)).unwrap();
    let broken = dir.join("1.npz").display().to_string();
    expect_error(&calibrate(&dir_arg), &[&broken, "not a valid .npz archive"]);
    std::fs::remove_file(dir.join("1.npz")).unwrap();
    let mut late_values = vec![0.5f32; 2 * 6];
    late_values[3] = f32::INFINITY;
    let b = Tensor::from_vec(&[2, 2, 3], late_values).unwrap();
    npy::save_npz(&dir.join("2.npz"), &[("a".to_string(), f32_tensor(&[2, 2, 3])), ("b".to_string(), b)]).unwrap();
    let late = dir.join("2.npz").display().to_string();
    expect_error(&calibrate(&dir_arg), &[&late, "sample 0", "input 'b'", "an infinity at element 3"]);
    // A single-input model: a .npy that is not one.
    let single = Case::new("badcalibnpy", &unary("Relu", "r", vec![]), &x23());
    let npy_garbage = single.dir.write("garbage.npy", &noise(9, 100)).display().to_string();
    expect_error(&single.run(&["--quantize", "int8", "--calibration", &npy_garbage]), &[&npy_garbage]);
}

#[test]
fn names_with_line_breaks_stay_on_one_line() {
    let m = unary("LeakyRelu", "two\nlines", vec![attr_float("alpha", f32::NAN)]);
    let line = Case::new("newline", &m, &x23()).run(&[]);
    let err = expect_error(&line, &["two lines", "LeakyRelu"]);
    assert!(!err.contains('\r'), "{err}");
    let mut m = add_mul_relu();
    graph(&mut m).node[1].input[1] = "w\r\nmissing".into();
    Case::new("newline2", &m, &ab()).rejected(&["node 'mul' (Mul", "not defined"]);
}

#[test]
fn malformed_command_lines() {
    let case = Case::new("cmdline", &add_mul_relu(), &ab());
    let file = case.file();
    expect_error(&qcc(["run", file.as_str()]), &["--output"]);
    expect_error(&qcc(["frobnicate", file.as_str()]), &["frobnicate"]);
    expect_error(&qcc(["run", file.as_str(), "-o"]), &["--output"]);
    expect_error(&qcc(["inspect"]), &["MODEL"]);
    expect_error(&qcc(["run", file.as_str(), "-o", "x", "--dataset", "d.npz", "-i", "a.npy"]), &["--dataset"]);
}
