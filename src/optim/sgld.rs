//! SGLD: stochastic gradient Langevin dynamics (S092, optional in the catalog).
//!
//! ```text
//! θ ← θ − η·(∇L̄(θ) + wd·θ) + √(2η·T/N)·ξ,    ξ ~ N(0, I)
//! ```
//! with `L̄` the mean mini-batch loss and `N` the training-set size: Langevin dynamics on
//! `U(θ) = N·L̄(θ) + (N·wd/2)‖θ‖²` at temperature `T`, rescaled by `1/N` so that `η` is on the
//! usual mean-loss scale. At `T = 1` (and a likelihood loss such as cross-entropy) the
//! stationary distribution is the Bayesian posterior with a Gaussian prior of precision `N·wd`;
//! `T < 1` is a "cold" posterior; `T = 0` is SGD with coupled weight decay. The noise comes from
//! the run's seeded optimizer stream. Sample collection for a posterior ensemble is not
//! implemented: the run evaluates the last iterate.
//!
//! Reference: Welling & Teh, *Bayesian Learning via Stochastic Gradient Langevin Dynamics*,
//! ICML 2011 [paper-text]; S092 lists SGLD among the learners its universality argument covers.

use super::{Context, Objective, Optimizer, OptimizerInfo, OptimizerSpec};
use crate::error::Result;
use crate::registry::{check_range, ParamDoc, Validate};
use crate::rng::{Purpose, Stream};
use candle_core::{Tensor, Var};
use serde::{Deserialize, Serialize};

pub static INFO: OptimizerInfo = OptimizerInfo {
    name: "sgld",
    summary: "stochastic gradient Langevin dynamics: SGD plus Gaussian noise of variance 2η·T/N",
    update: "θ ← θ − η·(∇L̄ + wd·θ) + √(2η·T/N)·ξ,  ξ ~ N(0, I),  N = training-set size",
    reference: "Welling & Teh, SGLD, ICML 2011; S092",
    params: &[
        ParamDoc { name: "lr", meaning: "learning rate η", range: "0 < lr ≤ 100", default: "0.01" },
        ParamDoc { name: "temperature", meaning: "temperature T (1: posterior, 0: SGD)", range: "0 ≤ T ≤ 100", default: "1.0" },
        ParamDoc { name: "weight_decay", meaning: "Gaussian-prior coefficient wd (coupled)", range: "0 ≤ wd ≤ 10", default: "0.0" },
    ],
    build: super::build_params::<Params>,
};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    pub lr: f64,
    pub temperature: f64,
    pub weight_decay: f64,
}

impl Default for Params {
    fn default() -> Self {
        Params { lr: 0.01, temperature: 1.0, weight_decay: 0.0 }
    }
}

impl Validate for Params {
    fn validate(&self) -> Result<()> {
        check_range("lr", self.lr, 1e-12, 100.0)?;
        check_range("temperature", self.temperature, 0.0, 100.0)?;
        check_range("weight_decay", self.weight_decay, 0.0, 10.0)
    }
}

impl OptimizerSpec for Params {
    fn lr(&self) -> f64 {
        self.lr
    }
    fn instantiate(&self, vars: Vec<Var>, ctx: &Context) -> Result<Box<dyn Optimizer>> {
        let rng = Stream::new(ctx.seed, Purpose::Optimizer, 1);
        Ok(Box::new(Sgld { params: self.clone(), vars, n: ctx.n_train.max(1), rng }))
    }
}

pub struct Sgld {
    params: Params,
    vars: Vec<Var>,
    n: usize,
    rng: Stream,
}

impl Optimizer for Sgld {
    fn step(&mut self, objective: &mut dyn Objective, lr: f64) -> Result<f64> {
        let e = objective.eval()?;
        let p = &self.params;
        let noise_std = (2.0 * lr * p.temperature / self.n as f64).sqrt();
        for v in &self.vars {
            let Some(g) = e.grads.get(v.as_tensor()) else { continue };
            let theta = v.as_tensor();
            let mut g = g.clone();
            if p.weight_decay != 0.0 {
                g = (g + (theta * p.weight_decay)?)?;
            }
            let mut next = (theta - (g * lr)?)?;
            if noise_std > 0.0 {
                let xi: Vec<f64> = (0..theta.elem_count()).map(|_| self.rng.normal()).collect();
                let xi = Tensor::from_vec(xi, theta.shape(), theta.device())?.to_dtype(theta.dtype())?;
                next = (next + (xi * noise_std)?)?;
            }
            v.set(&next)?;
        }
        Ok(e.loss)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::Evaluation;
    use candle_core::Device;

    /// On `L̄(θ) = ½θ²` with N = 10 and T = 1, the chain samples N(0, 1/N·T/(1 − η/2)) (the
    /// discretised Ornstein–Uhlenbeck process: variance 2ηT/N / (1 − (1 − η)²)).
    #[test]
    fn samples_the_gibbs_distribution_of_a_quadratic() {
        let (spec, _) = (INFO.build)(&serde_json::json!({"lr": 0.1})).unwrap();
        let v = Var::from_vec(vec![0.0f64; 64], 64, &Device::Cpu).unwrap();
        let mut opt = spec.instantiate(vec![v.clone()], &Context { seed: 2, n_train: 10, total_steps: 0 }).unwrap();
        let mut sum_sq = 0.0;
        let mut count = 0.0;
        for step in 0..3000 {
            let mut f = || -> Result<Evaluation> {
                let loss = (v.as_tensor().sqr()?.sum_all()? * 0.5)?;
                Ok(Evaluation { loss: loss.to_scalar::<f64>()?, grads: loss.backward()? })
            };
            opt.step(&mut f, 0.1).unwrap();
            if step >= 200 {
                sum_sq += v.as_tensor().sqr().unwrap().sum_all().unwrap().to_scalar::<f64>().unwrap();
                count += 64.0;
            }
        }
        let var = sum_sq / count;
        let expect = 2.0 * 0.1 / 10.0 / (1.0 - 0.9f64 * 0.9);
        assert!((var - expect).abs() < 0.05 * expect, "variance {var}, expected {expect}");
    }
}
