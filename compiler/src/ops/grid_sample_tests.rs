//! Unit tests of GridSample: modes, padding modes and align_corners against hand-computed values.

use crate::front::onnx::Attr;
use crate::ops::testing::{f32s, run};
use crate::tensor::Tensor;

fn sample(attrs: Vec<(&str, Attr)>, x: Tensor, grid: Tensor) -> Vec<f32> {
    let y = run("GridSample", 22, attrs, &[x, grid]).unwrap();
    y[0].array::<f32>().unwrap().iter().copied().collect()
}

fn mode(m: &str) -> (&'static str, Attr) {
    ("mode", Attr::String(m.to_string()))
}

fn padding(p: &str) -> (&'static str, Attr) {
    ("padding_mode", Attr::String(p.to_string()))
}

#[test]
fn linear_interpolates_between_pixel_centres() {
    // A 1x2 image [0, 10]; x = 0 is halfway between the two pixel centres.
    let x = f32s(&[1, 1, 1, 2], &[0.0, 10.0]);
    let grid = f32s(&[1, 1, 3, 2], &[0.0, 0.0, -0.5, 0.0, 0.5, 0.0]);
    assert_eq!(sample(vec![], x.clone(), grid.clone()), vec![5.0, 0.0, 10.0]);
    // With aligned corners, -1 and 1 are the pixel centres.
    let grid = f32s(&[1, 1, 2, 2], &[-1.0, 0.0, 1.0, 0.0]);
    assert_eq!(sample(vec![("align_corners", Attr::Int(1))], x, grid), vec![0.0, 10.0]);
}

#[test]
fn padding_modes_differ_outside_the_image() {
    let x = f32s(&[1, 1, 1, 2], &[1.0, 3.0]);
    // x = 1.5 in normalized units: pixel coordinate 2, one past the end.
    let grid = f32s(&[1, 1, 1, 2], &[1.5, 0.0]);
    assert_eq!(sample(vec![mode("nearest")], x.clone(), grid.clone()), vec![0.0]);
    assert_eq!(sample(vec![mode("nearest"), padding("border")], x.clone(), grid.clone()), vec![3.0]);
    // Reflected at 1.5: coordinate 1.0, the last pixel.
    assert_eq!(sample(vec![mode("nearest"), padding("reflection")], x.clone(), grid.clone()), vec![3.0]);
    // Far outside: reflection keeps folding into range, never out of bounds.
    let far = f32s(&[1, 1, 2, 2], &[1e9, -1e9, -7.3, 0.0]);
    for m in ["nearest", "linear", "cubic"] {
        for p in ["zeros", "border", "reflection"] {
            let y = sample(vec![mode(m), padding(p)], x.clone(), far.clone());
            assert_eq!(y.len(), 2);
        }
    }
}

#[test]
fn nearest_rounds_half_to_even_and_works_for_strings() {
    let x = Tensor::from_vec(&[1, 1, 1, 4], vec!["a".to_string(), "b".into(), "c".into(), "d".into()]).unwrap();
    // Pixel coordinates 0.5 and 1.5 round to 0 and 2.
    let grid = f32s(&[1, 1, 2, 2], &[-0.5, 0.0, 0.0, 0.0]);
    let y = run("GridSample", 22, vec![mode("nearest")], &[x.clone(), grid.clone()]).unwrap();
    let y: Vec<String> = y[0].array::<String>().unwrap().iter().cloned().collect();
    assert_eq!(y, vec!["a".to_string(), "c".to_string()]);
    assert!(run("GridSample", 22, vec![mode("linear")], &[x, grid]).is_err());
}

#[test]
fn cubic_hits_pixels_and_keeps_constants() {
    let ramp = f32s(&[1, 1, 1, 6], &[0.0, 1.0, 4.0, 9.0, 16.0, 25.0]);
    // Pixel coordinate 3 exactly: the pixel itself.
    let grid = f32s(&[1, 1, 1, 2], &[0.16666667, 0.0]);
    let y = sample(vec![mode("cubic")], ramp, grid.clone());
    assert!((y[0] - 9.0).abs() < 1e-4, "{y:?}");
    // The four weights sum to one anywhere: a constant image stays constant.
    let flat = f32s(&[1, 1, 1, 6], &[2.0; 6]);
    let grid = f32s(&[1, 1, 2, 2], &[-0.083333336, 0.0, 0.3, 0.0]);
    for y in sample(vec![mode("cubic")], flat, grid) {
        assert!((y - 2.0).abs() < 1e-5, "{y}");
    }
}

#[test]
fn shape_mismatches_are_errors() {
    let x = f32s(&[1, 1, 2, 2], &[0.0; 4]);
    // Three coordinates for a 2-D image.
    assert!(run("GridSample", 22, vec![], &[x.clone(), f32s(&[1, 1, 1, 3], &[0.0; 3])]).is_err());
    // Batch sizes differ.
    assert!(run("GridSample", 22, vec![], &[x.clone(), f32s(&[2, 1, 1, 2], &[0.0; 4])]).is_err());
    assert!(run("GridSample", 22, vec![mode("area")], &[x.clone(), f32s(&[1, 1, 1, 2], &[0.0; 2])]).is_err());
    let int_grid = crate::ops::testing::i64s(&[1, 1, 1, 2], &[0, 0]);
    assert!(run("GridSample", 22, vec![], &[x, int_grid]).is_err());
}

#[test]
fn too_many_interpolated_dimensions_are_unsupported() {
    let x = f32s(&[1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1], &[1.0]);
    let mut grid_dims = vec![1usize; 10];
    grid_dims.push(9);
    let grid = f32s(&grid_dims, &[0.0; 9]);
    let err = run("GridSample", 22, vec![mode("cubic")], &[x.clone(), grid.clone()]).unwrap_err();
    assert!(matches!(err, crate::Error::Unsupported(_)), "{err}");
    // Nearest reads one input per output in any number of dimensions.
    assert_eq!(sample(vec![mode("nearest")], x, grid), vec![1.0]);
}
