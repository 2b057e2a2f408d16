//! The activation functions of RNN, GRU and LSTM, named by the
//! `activations` attribute, with their `activation_alpha` /
//! `activation_beta` parameters.

use crate::{bail, Result};

/// One activation function with its parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Activation {
    Relu,
    Tanh,
    Sigmoid,
    Affine { alpha: f64, beta: f64 },
    LeakyRelu { alpha: f64 },
    ThresholdedRelu { alpha: f64 },
    ScaledTanh { alpha: f64, beta: f64 },
    HardSigmoid { alpha: f64, beta: f64 },
    Elu { alpha: f64 },
    Softsign,
    Softplus,
}

impl Activation {
    /// Parses a list of names (case-insensitive). Each function that takes
    /// an alpha (a beta) consumes the next value of `alphas` (`betas`), in
    /// list order, or gets its default when the list is exhausted.
    pub fn parse_list(names: &[String], alphas: &[f32], betas: &[f32]) -> Result<Vec<Activation>> {
        let mut alphas = alphas.iter().map(|&v| v as f64);
        let mut betas = betas.iter().map(|&v| v as f64);
        let mut out = Vec::with_capacity(names.len());
        for name in names {
            let lower = name.to_ascii_lowercase();
            // (default alpha, default beta) of the functions that take them.
            let (alpha_default, beta_default) = match lower.as_str() {
                "relu" | "tanh" | "sigmoid" | "softsign" | "softplus" => (None, None),
                "affine" => (Some(1.0), Some(0.0)),
                "leakyrelu" => (Some(0.01), None),
                "thresholdedrelu" => (Some(1.0), None),
                "scaledtanh" => (Some(1.0), Some(1.0)),
                "hardsigmoid" => (Some(0.2), Some(0.5)),
                "elu" => (Some(1.0), None),
                _ => bail!("unknown activation function '{name}'"),
            };
            let alpha = alpha_default.map(|d| alphas.next().unwrap_or(d)).unwrap_or(0.0);
            let beta = beta_default.map(|d| betas.next().unwrap_or(d)).unwrap_or(0.0);
            out.push(match lower.as_str() {
                "relu" => Activation::Relu,
                "tanh" => Activation::Tanh,
                "sigmoid" => Activation::Sigmoid,
                "softsign" => Activation::Softsign,
                "softplus" => Activation::Softplus,
                "affine" => Activation::Affine { alpha, beta },
                "leakyrelu" => Activation::LeakyRelu { alpha },
                "thresholdedrelu" => Activation::ThresholdedRelu { alpha },
                "scaledtanh" => Activation::ScaledTanh { alpha, beta },
                "hardsigmoid" => Activation::HardSigmoid { alpha, beta },
                _ => Activation::Elu { alpha },
            });
        }
        Ok(out)
    }

    /// The code, alpha and beta of the function in the runtime's `rnn`
    /// kernels (`activate`: 0 Relu, 1 Tanh, 2 Sigmoid, 3 Affine, 4
    /// LeakyRelu, 5 ThresholdedRelu, 6 ScaledTanh, 7 HardSigmoid, 8 Elu,
    /// 9 Softsign, 10 Softplus).
    pub fn code(self) -> (i64, f64, f64) {
        match self {
            Activation::Relu => (0, 0.0, 0.0),
            Activation::Tanh => (1, 0.0, 0.0),
            Activation::Sigmoid => (2, 0.0, 0.0),
            Activation::Affine { alpha, beta } => (3, alpha, beta),
            Activation::LeakyRelu { alpha } => (4, alpha, 0.0),
            Activation::ThresholdedRelu { alpha } => (5, alpha, 0.0),
            Activation::ScaledTanh { alpha, beta } => (6, alpha, beta),
            Activation::HardSigmoid { alpha, beta } => (7, alpha, beta),
            Activation::Elu { alpha } => (8, alpha, 0.0),
            Activation::Softsign => (9, 0.0, 0.0),
            Activation::Softplus => (10, 0.0, 0.0),
        }
    }

    pub fn apply(self, x: f64) -> f64 {
        match self {
            Activation::Relu => x.max(0.0),
            Activation::Tanh => x.tanh(),
            Activation::Sigmoid => {
                if x >= 0.0 {
                    1.0 / (1.0 + (-x).exp())
                } else {
                    let e = x.exp();
                    e / (1.0 + e)
                }
            }
            Activation::Affine { alpha, beta } => alpha * x + beta,
            Activation::LeakyRelu { alpha } => {
                if x >= 0.0 {
                    x
                } else {
                    alpha * x
                }
            }
            Activation::ThresholdedRelu { alpha } => {
                if x >= alpha {
                    x
                } else {
                    0.0
                }
            }
            Activation::ScaledTanh { alpha, beta } => alpha * (beta * x).tanh(),
            Activation::HardSigmoid { alpha, beta } => (alpha * x + beta).clamp(0.0, 1.0),
            Activation::Elu { alpha } => {
                if x >= 0.0 {
                    x
                } else {
                    alpha * x.exp_m1()
                }
            }
            Activation::Softsign => x / (1.0 + x.abs()),
            Activation::Softplus => {
                if x > 30.0 {
                    x
                } else {
                    x.exp().ln_1p()
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Activation;

    #[test]
    fn parameters_are_consumed_in_order() {
        let names: Vec<String> = ["LeakyRelu", "tanh", "HardSigmoid"].iter().map(|s| s.to_string()).collect();
        let acts = Activation::parse_list(&names, &[0.5, 0.25], &[0.75]).unwrap();
        let want = [
            Activation::LeakyRelu { alpha: 0.5 },
            Activation::Tanh,
            Activation::HardSigmoid { alpha: 0.25, beta: 0.75 },
        ];
        assert_eq!(acts, want);
        let defaults = Activation::parse_list(&names, &[], &[]).unwrap();
        assert!(matches!(defaults[2], Activation::HardSigmoid { alpha, beta } if alpha == 0.2 && beta == 0.5));
        assert!(Activation::parse_list(&["Gelu".to_string()], &[], &[]).is_err());
        assert_eq!(Activation::HardSigmoid { alpha: 0.2, beta: 0.5 }.apply(10.0), 1.0);
    }
}
