//! Scalar math for `no_std` code: f32 and f64 elementary functions.
