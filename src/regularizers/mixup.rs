//! `mixup` — train on convex combinations of example pairs (input level):
//! `λ ~ Beta(α, α)` once per step, `x̃ = λ·x + (1 − λ)·x[π]` with `π` a random permutation of the
//! batch, and loss `λ·ℓ(f(x̃), y) + (1 − λ)·ℓ(f(x̃), y[π])`.
//!
//! This is the loss-mixing form of the authors' CIFAR code, which works for every loss (for
//! cross-entropy it equals training on the mixed one-hot target). `λ` and `π` come from the
//! run's seeded regularizer stream, the same at every evaluation of a step (SAM-type
//! optimizers see one mixed batch). Dense inputs only: mixing token ids is meaningless.
//! Reference: Zhang, Cisse, Dauphin & Lopez-Paz, *mixup: Beyond Empirical Risk Minimization*,
//! ICLR 2018; facebookresearch/mixup-cifar10 `mixup_data`, `mixup_criterion` [ref].

use super::{Active, Kind, Mix, Regularizer, RegularizerInfo, Start};
use crate::error::Result;
use crate::registry::{check_range, ParamDoc, Validate};
use crate::rng::Stream;
use candle_core::Tensor;
use serde::{Deserialize, Serialize};

pub static INFO: RegularizerInfo = RegularizerInfo {
    name: "mixup",
    kind: Kind::Forward,
    families: &[],
    summary: "mixup: convex combinations of input pairs, loss mixed with the same λ",
    formula: "λ ~ Beta(α, α);  x̃ = λx + (1−λ)x[π];  L = λ·ℓ(f(x̃), y) + (1−λ)·ℓ(f(x̃), y[π])",
    reference: "Zhang et al., mixup, ICLR 2018; facebookresearch/mixup-cifar10 [ref]",
    params: &[ParamDoc { name: "alpha", meaning: "Beta(α, α) parameter", range: "0 < α ≤ 100", default: "0.2" }],
    build: super::build_params::<Params>,
};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    pub alpha: f64,
}

impl Default for Params {
    fn default() -> Self {
        Params { alpha: 0.2 }
    }
}

impl Validate for Params {
    fn validate(&self) -> Result<()> {
        check_range("alpha", self.alpha, 1e-6, 100.0)
    }
}

impl Regularizer for Params {
    fn start(&self, _run: &Start) -> Result<Box<dyn Active>> {
        Ok(Box::new(State { alpha: self.alpha, last: None }))
    }
}

struct State {
    alpha: f64,
    last: Option<f64>,
}

/// Mix `x` with a permutation of itself.
pub fn mix(x: &Tensor, lambda: f64, perm: Vec<u32>) -> Result<Mix> {
    let n = perm.len();
    let perm = Tensor::from_vec(perm, n, x.device())?;
    let mixed = ((x * lambda)? + (x.index_select(&perm, 0)? * (1.0 - lambda))?)?;
    Ok(Mix { x: mixed, perm, lambda })
}

impl Active for State {
    fn mix(&mut self, x: &Tensor, rng: &mut Stream) -> Result<Option<Mix>> {
        let lambda = rng.beta(self.alpha, self.alpha);
        let perm: Vec<u32> = rng.permutation(x.dim(0)?).into_iter().map(|i| i as u32).collect();
        self.last = Some(lambda);
        mix(x, lambda, perm).map(Some)
    }
    /// The λ of the last step (its epoch mean is logged).
    fn logged(&self) -> Option<f64> {
        self.last
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use crate::rng::{Purpose, Stream};

    #[test]
    fn mixes_rows_with_a_permutation_and_lambda_has_beta_moments() {
        let model = model(&[], 2, 2);
        let mut reg = start("mixup", serde_json::json!({"alpha": 0.4}), model.as_ref());
        let x = inputs(5, 2, 1);
        let mut rng = Stream::new(0, Purpose::Regularizer, 0);
        let m = reg.mix(&x, &mut rng).unwrap().unwrap();
        let perm = m.perm.to_vec1::<u32>().unwrap();
        let xs = x.to_vec2::<f64>().unwrap();
        let mixed = m.x.to_vec2::<f64>().unwrap();
        for i in 0..5 {
            for j in 0..2 {
                let expect = m.lambda * xs[i][j] + (1.0 - m.lambda) * xs[perm[i] as usize][j];
                assert!((mixed[i][j] - expect).abs() < 1e-12);
            }
        }
        // Beta(0.4, 0.4): mean 1/2, variance 1/(4·(2α + 1)) = 0.1389.
        let draws: Vec<f64> = (0..20_000).map(|_| rng.beta(0.4, 0.4)).collect();
        let mean = draws.iter().sum::<f64>() / draws.len() as f64;
        let var = draws.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / draws.len() as f64;
        assert!((mean - 0.5).abs() < 0.01 && (var - 1.0 / 7.2).abs() < 0.005, "{mean} {var}");
    }
}
