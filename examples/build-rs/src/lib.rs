//! A `no_std` library around a model that qcc compiles in `build.rs`: the
//! generated module `digits` is included from `OUT_DIR`, and [`classify`]
//! calls it.
#![no_std]

include!(concat!(env!("OUT_DIR"), "/digits.rs"));

/// The digit (0 to 9) an 8x8 image shows, with pixel values as in
/// scikit-learn's digits dataset (0 to 16), row by row.
pub fn classify(model: &mut digits::Model, image: &[f32; digits::IMAGE_LEN]) -> usize {
    let mut logits = [0.0f32; digits::LOGITS_LEN];
    model.run(image, &mut logits);
    let mut best = 0;
    for (k, &v) in logits.iter().enumerate() {
        if v > logits[best] {
            best = k;
        }
    }
    best
}
