//! Heavy-tailed SGD (S091): gradient steps plus symmetric α-stable noise,
//!
//! ```text
//! θ ← θ − η·g + η^{1/α}·σ·ξ,    ξ_j i.i.d. symmetric α-stable (S α S), α ∈ (1, 2]
//! ```
//! `ξ` is drawn by the Chambers–Mallows–Stuck method, `U ~ U(−π/2, π/2)`, `W ~ Exp(1)`,
//! `ξ = sin(αU)/cos(U)^{1/α}·(cos((1−α)U)/W)^{(1−α)/α}` (α = 2 gives √2 × a standard normal, α = 1
//! a Cauchy variable), from the run's seeded optimizer stream. `ξ` is clipped to ±1e3 (the noise
//! term to ±1e3·σ) so that rare huge draws cannot turn the weights into NaN [our choice]. `η` is
//! the scheduled learning rate of the step. σ = 0 is plain SGD.
//!
//! Reference: Zhu, Gurbuzbalaban, Raj & Simsekli, *Algorithmic Stability of Heavy-Tailed SGD
//! with General Loss Functions*, ICML 2023 (S091) [paper-text: the recursion with `η^{1/α}`-scaled
//! α-stable noise; σ's default is our choice]; Chambers, Mallows & Stuck, JASA 1976.

use super::{Context, Objective, Optimizer, OptimizerInfo, OptimizerSpec};
use crate::error::Result;
use crate::registry::{check_range, ParamDoc, Validate};
use crate::rng::{Purpose, Stream};
use candle_core::{Tensor, Var};
use serde::{Deserialize, Serialize};

pub static INFO: OptimizerInfo = OptimizerInfo {
    name: "heavy_tailed_sgd",
    summary: "SGD with injected symmetric α-stable noise (tail index α) for generalization-gap studies",
    update: "θ ← θ − η·g + η^{1/α}·σ·ξ,  ξ ~ SαS(α) (Chambers–Mallows–Stuck), |ξ| ≤ 1e3",
    reference: "Zhu et al., Algorithmic Stability of Heavy-Tailed SGD with General Loss Functions, ICML 2023 (S091)",
    params: &[
        ParamDoc { name: "lr", meaning: "learning rate η", range: "0 < lr ≤ 100", default: "0.1" },
        ParamDoc { name: "alpha", meaning: "tail index α (2: Gaussian noise)", range: "1 < α ≤ 2", default: "1.8" },
        ParamDoc { name: "sigma", meaning: "noise scale σ", range: "0 ≤ σ ≤ 10", default: "0.001" },
    ],
    build: super::build_params::<Params>,
};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    pub lr: f64,
    pub alpha: f64,
    pub sigma: f64,
}

impl Default for Params {
    fn default() -> Self {
        Params { lr: 0.1, alpha: 1.8, sigma: 1e-3 }
    }
}

impl Validate for Params {
    fn validate(&self) -> Result<()> {
        check_range("lr", self.lr, 1e-12, 100.0)?;
        check_range("alpha", self.alpha, 1.000_001, 2.0)?;
        check_range("sigma", self.sigma, 0.0, 10.0)
    }
}

impl OptimizerSpec for Params {
    fn lr(&self) -> f64 {
        self.lr
    }
    fn instantiate(&self, vars: Vec<Var>, ctx: &Context) -> Result<Box<dyn Optimizer>> {
        Ok(Box::new(HeavyTailed { params: self.clone(), vars, rng: Stream::new(ctx.seed, Purpose::Optimizer, 0) }))
    }
}

/// One symmetric α-stable draw (Chambers–Mallows–Stuck), clipped to ±1e3.
pub fn stable(alpha: f64, rng: &mut Stream) -> f64 {
    use std::f64::consts::FRAC_PI_2;
    let u = rng.uniform_in(-FRAC_PI_2, FRAC_PI_2);
    let w = loop {
        let w = rng.exp1();
        if w > 0.0 {
            break w;
        }
    };
    let xi = (alpha * u).sin() / u.cos().powf(1.0 / alpha) * ((((1.0 - alpha) * u).cos()) / w).powf((1.0 - alpha) / alpha);
    if xi.is_finite() {
        xi.clamp(-1e3, 1e3)
    } else {
        0.0
    }
}

pub struct HeavyTailed {
    params: Params,
    vars: Vec<Var>,
    rng: Stream,
}

impl Optimizer for HeavyTailed {
    fn step(&mut self, objective: &mut dyn Objective, lr: f64) -> Result<f64> {
        let e = objective.eval()?;
        let p = &self.params;
        let noise_scale = lr.powf(1.0 / p.alpha) * p.sigma;
        for v in &self.vars {
            let Some(g) = e.grads.get(v.as_tensor()) else { continue };
            let theta = v.as_tensor();
            let mut next = (theta - (g * lr)?)?;
            if noise_scale > 0.0 {
                let xi: Vec<f64> = (0..theta.elem_count()).map(|_| stable(p.alpha, &mut self.rng)).collect();
                let xi = Tensor::from_vec(xi, theta.shape(), theta.device())?.to_dtype(theta.dtype())?;
                next = (next + (xi * noise_scale)?)?;
            }
            v.set(&next)?;
        }
        Ok(e.loss)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::testing::{rosenbrock, start};

    /// α = 2: ξ = √2·N(0, 1), variance 2. α = 1.5: the tails are heavy (P(|ξ| > 10) ≈ 1.4 %,
    /// far above a Gaussian's), and symmetric.
    #[test]
    fn cms_draws_have_the_stable_laws() {
        let mut rng = Stream::new(1, Purpose::Optimizer, 0);
        let draws: Vec<f64> = (0..200_000).map(|_| stable(2.0, &mut rng)).collect();
        let var = draws.iter().map(|x| x * x).sum::<f64>() / draws.len() as f64;
        assert!((var - 2.0).abs() < 0.03, "α = 2 variance {var}");
        let draws: Vec<f64> = (0..200_000).map(|_| stable(1.5, &mut rng)).collect();
        let tail = draws.iter().filter(|x| x.abs() > 10.0).count() as f64 / draws.len() as f64;
        let positive = draws.iter().filter(|x| **x > 0.0).count() as f64 / draws.len() as f64;
        assert!((0.008..0.025).contains(&tail), "P(|ξ| > 10) = {tail}");
        assert!((positive - 0.5).abs() < 0.01, "{positive}");
    }

    /// σ = 0 is SGD step by step; with noise, the same seed gives the same trajectory.
    #[test]
    fn without_noise_it_is_sgd_and_noise_is_seeded() {
        let (ht, _) = (INFO.build)(&serde_json::json!({"lr": 1e-3, "sigma": 0.0})).unwrap();
        let (sgd, _) = (crate::optim::sgd::INFO.build)(&serde_json::json!({"lr": 1e-3})).unwrap();
        let (a, b) = (start(), start());
        let ctx = Context { seed: 4, n_train: 1, total_steps: 0 };
        let (mut oa, mut ob) = (ht.instantiate(vec![a.clone()], &ctx).unwrap(), sgd.instantiate(vec![b.clone()], &ctx).unwrap());
        for _ in 0..20 {
            oa.step(&mut || rosenbrock(&a), 1e-3).unwrap();
            ob.step(&mut || rosenbrock(&b), 1e-3).unwrap();
            assert_eq!(a.as_tensor().to_vec1::<f64>().unwrap(), b.as_tensor().to_vec1::<f64>().unwrap());
        }
        let (noisy, _) = (INFO.build)(&serde_json::json!({"lr": 1e-3, "sigma": 0.01})).unwrap();
        let run = || {
            let v = start();
            let mut o = noisy.instantiate(vec![v.clone()], &ctx).unwrap();
            for _ in 0..20 {
                o.step(&mut || rosenbrock(&v), 1e-3).unwrap();
            }
            v.as_tensor().to_vec1::<f64>().unwrap()
        };
        let (r1, r2) = (run(), run());
        assert_eq!(r1, r2);
        assert_ne!(r1, a.as_tensor().to_vec1::<f64>().unwrap());
    }
}
