//! No-panic property of the frontend and the passes: deterministic
//! pseudo-random mutations of small valid models (every truncation, byte
//! flips, overwrites, insertions, deletions, splices) go through
//! `front::onnx::import`, then `passes::pipeline::prepare` and the
//! interpreter when they get that far. Errors are fine; a panic fails the
//! test and prints the input that caused it.


use qcc_tests::model::*;
use qcc::interp::Interpreter;
use qcc::ir::Graph;
use qcc::tensor::Tensor;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Deterministic 64-bit pseudo-random numbers (SplitMix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn byte(&mut self) -> u8 {
        // Bias towards values that matter to protobuf: varint continuation
        // bits, wire types and small lengths.
        match self.below(4) {
            0 => 0xFF,
            1 => 0x80 | self.below(128) as u8,
            2 => self.below(16) as u8,
            _ => self.next() as u8,
        }
    }
}

/// Small valid models covering the importer's paths.
fn seeds() -> Vec<Vec<u8>> {
    let mut shape_chain = model(
        vec![
            node("Shape", "shape", &["x"], &["s"]),
            node("Reshape", "flatten", &["x", "flat"], &["f"]),
            node("Reshape", "back", &["f", "s"], &["r"]),
            with(node("LeakyRelu", "leaky", &["r"], &["l"]), attr_float("alpha", 0.1)),
            node("Dropout", "drop", &["l"], &["d"]),
            node("Identity", "id", &["d"], &["y"]),
        ],
        vec![value_info("x", FLOAT, &[D::P("N"), D::N(3)])],
        vec![f32_info("y", &[2, 3])],
        vec![tensor_i64("flat", &[1], &[-1])],
    );
    graph(&mut shape_chain).node.push(with(
        node("Constant", "const", &[], &["c"]),
        attr_tensor("value", tensor_i64("", &[2], &[2, 3])),
    ));
    graph(&mut shape_chain).output.push(value_info("c", INT64, &[D::N(2)]));

    // A local function, called twice.
    let mut f = FunctionProto::new();
    f.name = "AddRelu".into();
    f.domain = "local".into();
    f.input = vec!["p".into(), "q".into()];
    f.output = vec!["o".into()];
    f.opset_import = vec![opset("", OPSET)];
    f.node = vec![node("Add", "add", &["p", "q"], &["t"]), node("Relu", "relu", &["t"], &["o"])];
    let mut call1 = node("AddRelu", "call1", &["a", "b"], &["u"]);
    call1.domain = "local".into();
    let mut call2 = node("AddRelu", "call2", &["u", "w"], &["y"]);
    call2.domain = "local".into();
    let mut functions = model(
        vec![call1, call2],
        vec![f32_info("a", &[2, 3]), f32_info("b", &[2, 3])],
        vec![f32_info("y", &[2, 3])],
        vec![tensor_f32_typed("w", &[2, 3], &ADD_MUL_RELU_W)],
    );
    functions.opset_import.push(opset("local", 1));
    functions.functions.push(f);

    let constants = model(
        vec![
            with(node("Constant", "k", &[], &["k"]), attr_floats("value_floats", &[1.0, 2.0, 3.0])),
            with(node("Constant", "n", &[], &["n"]), attr_int("value_int", 4)),
            node("Mul", "scale", &["x", "k"], &["y"]),
            with(node("Elu", "elu", &["y"], &["z"]), attr_float("alpha", 1.5)),
        ],
        vec![f32_info("x", &[2, 3])],
        vec![f32_info("z", &[2, 3]), value_info("n", INT64, &[])],
        vec![],
    );

    vec![bytes(&add_mul_relu()), bytes(&dynamic_batch()), bytes(&shape_chain), bytes(&functions), bytes(&constants)]
}

/// How far an input got: 0 = rejected by import, 1 = imported, 2 =
/// prepared, 3 = ran.
fn exercise(bytes: &[u8]) -> usize {
    let Ok(mut graph) = qcc::front::onnx::import(bytes, None) else { return 0 };
    let shapes = input_shapes(&graph);
    if qcc::passes::pipeline::prepare(&mut graph, &shapes).is_err() {
        return 1;
    }
    let Some(inputs) = zero_inputs(&graph) else { return 2 };
    match Interpreter::new(&graph).and_then(|interp| interp.run(inputs)) {
        Ok(_) => 3,
        Err(_) => 2,
    }
}

/// The declared input shapes, dynamic dims set to 2; None-shaped inputs skipped.
fn input_shapes(graph: &Graph) -> Vec<(String, Vec<usize>)> {
    let mut out = Vec::new();
    for &i in &graph.inputs {
        let v = graph.value(i);
        if let Some(dims) = v.ty.as_ref().and_then(|t| t.shape.dims()) {
            out.push((v.name.clone(), dims.iter().map(|d| d.unwrap_or(2)).collect()));
        }
    }
    out
}

/// Zero-filled inputs of the prepared graph, if they are small.
fn zero_inputs(graph: &Graph) -> Option<Vec<Tensor>> {
    graph
        .inputs
        .iter()
        .map(|&i| {
            let ty = graph.value(i).ty.as_ref()?;
            let dims = ty.shape.as_fixed()?;
            (qcc::tensor::checked_numel(&dims).ok()? <= 4096).then(|| Tensor::zeros(ty.dtype, &dims).ok())?
        })
        .collect()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Runs every mutant and fails listing those that panicked. Unless told
/// otherwise, also checks that some mutants ran (else the mutations would not
/// test the later stages).
fn check_all(mutants: impl Iterator<Item = (String, Vec<u8>)>) {
    check_all_reaching(mutants, true)
}

fn check_all_reaching(mutants: impl Iterator<Item = (String, Vec<u8>)>, must_go_deep: bool) {
    let mut reached = [0usize; 4];
    let mut failures = Vec::new();
    for (what, bytes) in mutants {
        match catch_unwind(AssertUnwindSafe(|| exercise(&bytes))) {
            Ok(stage) => reached[stage] += 1,
            Err(_) => failures.push(format!("{what}: {}", hex(&bytes))),
        }
    }
    let count: usize = reached.iter().sum::<usize>() + failures.len();
    assert!(failures.is_empty(), "{} of {count} inputs panicked:\n{}", failures.len(), failures.join("\n"));
    println!("{count} inputs: {} rejected by import, {} by prepare, {} prepared, {} ran", reached[0], reached[1], reached[2], reached[3]);
    assert!(!must_go_deep || reached[3] > 0, "no mutant got through import and prepare: {reached:?}");
}

#[test]
fn seeds_are_valid() {
    for (k, seed) in seeds().iter().enumerate() {
        let mut graph = qcc::front::onnx::import(seed, None).unwrap_or_else(|e| panic!("seed {k}: {e}"));
        let shapes = input_shapes(&graph);
        qcc::passes::pipeline::prepare(&mut graph, &shapes).unwrap_or_else(|e| panic!("seed {k}: {e}"));
        let inputs = zero_inputs(&graph).expect("small inputs");
        Interpreter::new(&graph).and_then(|i| i.run(inputs)).unwrap_or_else(|e| panic!("seed {k}: {e}"));
    }
}

/// Inputs that once panicked, found by `cargo fuzz run import`.
const FUZZ_FINDINGS: &[&[u8]] = &[
    // A uint16 initializer of shape [0, huge, ...] (ndarray refused it), in a
    // graph cut short after an unknown group field.
    b"\x08\x09\x08\x25\x08\x73\x10\x02\x08\x65\x73\x74\x3a\xaf\x01\x0a\x00\x22\x0c\x4c\x61\x62\x4a\x01\x61\x4a\x01\x62\x4a\x01\x63\xa0\x05\x08\x2a\x18\x0a\x0d\x76\x02\x00\x00\x4c\x65\x73\x73\x0a\x2e\x61\x69\x6c\x10\x04",
];

#[test]
fn fuzz_findings() {
    check_all_reaching(FUZZ_FINDINGS.iter().enumerate().map(|(k, b)| (format!("fuzz finding {k}"), b.to_vec())), false);
}

#[test]
fn every_truncation() {
    let seeds = seeds();
    let mutants = seeds.iter().enumerate().flat_map(|(k, s)| (0..s.len()).map(move |cut| (format!("seed {k} cut at {cut}"), s[..cut].to_vec())));
    check_all_reaching(mutants, false);
}

/// A truncated file is refused as such; a model whose *graph* was cut
/// (re-wrapped so the file is complete) reaches the importer's later checks.
#[test]
fn every_truncation_of_the_graph() {
    let mut mutants = Vec::new();
    for (k, seed) in seeds().iter().enumerate() {
        let model = ModelProto::parse_from_bytes(seed).unwrap();
        let graph = model.graph.as_ref().unwrap().write_to_bytes().unwrap();
        for cut in 0..graph.len() {
            let Ok(partial) = GraphProto::parse_from_bytes(&graph[..cut]) else { continue };
            let mut m = model.clone();
            m.graph = Some(partial).into();
            mutants.push((format!("seed {k} graph cut at {cut}"), bytes(&m)));
        }
    }
    check_all(mutants.into_iter());
}

#[test]
fn every_byte_flipped() {
    let seeds = seeds();
    let mutants = seeds.iter().enumerate().flat_map(|(k, s)| {
        (0..s.len()).flat_map(move |i| {
            [0x01u8, 0x02, 0x08, 0x40, 0x80, 0xFF].into_iter().map(move |mask| {
                let mut m = s.clone();
                m[i] ^= mask;
                (format!("seed {k} byte {i} ^ {mask:#04x}"), m)
            })
        })
    });
    check_all(mutants);
}

/// The model without its graph, and the graph's bytes.
fn split_graph(seed: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let mut model = ModelProto::parse_from_bytes(seed).unwrap();
    let graph = model.graph.take().unwrap().write_to_bytes().unwrap();
    (bytes(&model), graph)
}

/// `rest` with `graph` appended as the model's graph field (7).
fn join_graph(rest: &[u8], graph: &[u8]) -> Vec<u8> {
    let mut out = rest.to_vec();
    out.push(7 << 3 | 2);
    let mut len = graph.len();
    while len >= 0x80 {
        out.push((len as u8 & 0x7F) | 0x80);
        len >>= 7;
    }
    out.push(len as u8);
    out.extend_from_slice(graph);
    out
}

/// Mutations of whole files (most fail the top-level framing), and of the
/// graph alone, re-framed so that the file is complete.
#[test]
fn random_mutations_and_splices() {
    let seeds = seeds();
    let split: Vec<(Vec<u8>, Vec<u8>)> = seeds.iter().map(|s| split_graph(s)).collect();
    let graphs: Vec<Vec<u8>> = split.iter().map(|(_, g)| g.clone()).collect();
    mutate(&seeds, 0x5EED, 30_000, |_, m| m);
    mutate(&graphs, 0x6EED, 60_000, |k, g| join_graph(&split[k].0, &g));
}

/// `rounds` mutants of `seeds` (each passed through `frame` with its seed
/// index), checked for panics.
fn mutate(seeds: &[Vec<u8>], seed: u64, rounds: usize, frame: impl Fn(usize, Vec<u8>) -> Vec<u8>) {
    let mut rng = Rng(seed);
    let mut mutants = Vec::new();
    for round in 0..rounds {
        let k = rng.below(seeds.len());
        let mut m = seeds[k].clone();
        for _ in 0..1 + rng.below(4) {
            let at = rng.below(m.len() + 1);
            match rng.below(5) {
                0 if at < m.len() => m[at] = rng.byte(),
                1 => m.insert(at, rng.byte()),
                2 if at < m.len() => {
                    m.remove(at);
                }
                3 => {
                    // Splice: a piece of another seed over the tail.
                    let other = &seeds[rng.below(seeds.len())];
                    let from = rng.below(other.len());
                    let len = rng.below(other.len() - from + 1);
                    m.truncate(at);
                    m.extend_from_slice(&other[from..from + len]);
                }
                _ => {
                    // Duplicate a range (repeated fields, nested messages).
                    let from = rng.below(m.len());
                    let len = rng.below(m.len() - from + 1).min(64);
                    let piece = m[from..from + len].to_vec();
                    let at = at.min(m.len());
                    m.splice(at..at, piece);
                }
            }
        }
        mutants.push((format!("random round {round} (seed {seed:#x})"), frame(k, m)));
    }
    check_all(mutants.into_iter());
}
