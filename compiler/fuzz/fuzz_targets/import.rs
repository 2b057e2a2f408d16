//! Fuzz target `import`: arbitrary bytes as an ONNX model through
//! `front::onnx::import`, then, when that succeeds, `passes::pipeline::prepare`
//! with the declared input shapes (dynamic dimensions set to 1). Errors are
//! expected; a panic, an abort or a hang is a bug.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(mut graph) = qcc::front::onnx::import(data, None) else { return };
    let shapes: Vec<(String, Vec<usize>)> = graph
        .inputs
        .iter()
        .filter_map(|&i| {
            let v = graph.value(i);
            let dims = v.ty.as_ref()?.shape.dims()?;
            Some((v.name.clone(), dims.iter().map(|d| d.unwrap_or(1)).collect()))
        })
        .collect();
    let _ = qcc::passes::pipeline::prepare(&mut graph, &shapes);
});
