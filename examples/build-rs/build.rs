//! Compiles the bundled digits classifier into `$OUT_DIR/digits.rs` (for
//! the target being built, read from Cargo's TARGET).

fn main() {
    let model = "../digits/model.onnx";
    let built = qcc::Builder::new(model).name("digits").input_shape("image", &[1, 1, 8, 8]).compile();
    match built {
        Ok(stats) => println!("cargo:warning=digits: {} bytes of weights, {} bytes of arena", stats.flash, stats.arena),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
