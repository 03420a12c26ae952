//! `vat` — virtual adversarial training (S057): penalise the change of the predictive
//! distribution under the input perturbation that changes it most,
//!
//! ```text
//! d ~ N(0, I), normalised per example;  repeat ip times:
//!     d ← normalise(∇_d KL(sg[p(·|x)] ‖ p(·|x + ξ·d)))
//! r_adv = ε·d;   R = KL(sg[p(·|x)] ‖ p(·|x + r_adv))   (batch mean)
//! ```
//! The perturbation passes run the model without dropout; `p(·|x)` is the training forward's
//! prediction, detached. The gradient with respect to `d` comes from a `Var` and a separate
//! backward pass (Candle has no second-order autodiff, and VAT needs none). `d` is drawn from
//! the run's seeded regularizer stream, the same at every evaluation of a step. Dense inputs
//! only. Reference: Miyato, Maeda, Koyama & Ishii, *Virtual Adversarial Training*, TPAMI 2018
//! (S057); lyakaap/VAT-pytorch `vat.py` (`VATLoss`: ξ, ε, ip, batch-mean KL) [ref]. ξ = 1e-2 and
//! ε = 1 suit standardised features (the paper's ξ = 1e-6 is below f32 resolution there).

use super::{Active, Batch, Kind, Regularizer, RegularizerInfo, Start};
use crate::error::Result;
use crate::registry::{check_range, ParamDoc, Validate};
use crate::task::Family;
use candle_core::{DType, Tensor, Var, D};
use serde::{Deserialize, Serialize};

pub static INFO: RegularizerInfo = RegularizerInfo {
    name: "vat",
    kind: Kind::Penalty,
    families: &[Family::Classification],
    summary: "virtual adversarial training: KL between predictions at x and at the worst nearby input",
    formula: "d ← normalise(∇_d KL(sg p(x) ‖ p(x + ξd))) (ip times);  R = KL(sg p(x) ‖ p(x + ε·d))",
    reference: "Miyato et al., Virtual Adversarial Training, TPAMI 2018 (S057); lyakaap/VAT-pytorch [ref]",
    params: &[
        ParamDoc { name: "weight", meaning: "coefficient α of R", range: "0 ≤ α ≤ 100", default: "1.0" },
        ParamDoc { name: "eps", meaning: "perturbation radius ε (input units)", range: "0 < ε ≤ 100", default: "1.0" },
        ParamDoc { name: "xi", meaning: "finite-difference step ξ of the power iteration", range: "0 < ξ ≤ 10", default: "0.01" },
        ParamDoc { name: "ip", meaning: "power-iteration steps", range: "1 ≤ ip ≤ 10", default: "1" },
    ],
    build: super::build_params::<Params>,
};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    pub weight: f64,
    pub eps: f64,
    pub xi: f64,
    pub ip: usize,
}

impl Default for Params {
    fn default() -> Self {
        Params { weight: 1.0, eps: 1.0, xi: 0.01, ip: 1 }
    }
}

impl Validate for Params {
    fn validate(&self) -> Result<()> {
        check_range("weight", self.weight, 0.0, 100.0)?;
        check_range("eps", self.eps, 1e-12, 100.0)?;
        check_range("xi", self.xi, 1e-12, 10.0)?;
        check_range("ip", self.ip as f64, 1.0, 10.0)
    }
}

impl Regularizer for Params {
    fn start(&self, _run: &Start) -> Result<Box<dyn Active>> {
        Ok(Box::new(State { params: self.clone(), last: None }))
    }
}

/// Each row scaled to unit L2 norm (`+1e-12` in the norm, as the reference).
fn normalise_rows(d: &Tensor) -> Result<Tensor> {
    let norm = (d.sqr()?.sum_keepdim(1)?.sqrt()? + 1e-12)?;
    Ok(d.broadcast_div(&norm)?)
}

/// `mean_i KL(p_i ‖ q_i)` from log-probabilities `logp` (fixed) and logits `z_q`.
fn kl_batchmean(logp: &Tensor, z_q: &Tensor) -> Result<Tensor> {
    let logq = candle_nn::ops::log_softmax(z_q, D::Minus1)?;
    let n = logp.dim(0)? as f64;
    Ok(((logp.exp()? * (logp - logq)?)?.sum_all()? / n)?)
}

struct State {
    params: Params,
    last: Option<f64>,
}

impl Active for State {
    fn weight(&self) -> f64 {
        self.params.weight
    }
    fn penalty(&mut self, batch: &mut Batch) -> Result<Option<Tensor>> {
        let x = batch.x.detach();
        let logp = candle_nn::ops::log_softmax(&batch.pred.out.detach(), D::Minus1)?;
        let shape = x.shape().clone();
        let noise: Vec<f64> = (0..x.elem_count()).map(|_| batch.rng.normal()).collect();
        let mut d = normalise_rows(&Tensor::from_vec(noise, shape, x.device())?.to_dtype(x.dtype())?)?;
        for _ in 0..self.params.ip {
            let dv = Var::from_tensor(&d)?;
            let z = batch.model.forward(&(&x + (dv.as_tensor() * self.params.xi)?)?, None)?;
            let grads = kl_batchmean(&logp, &z)?.backward()?;
            let Some(g) = grads.get(dv.as_tensor()) else { break };
            d = normalise_rows(g)?;
        }
        let z_adv = batch.model.forward(&(&x + (d * self.params.eps)?)?, None)?;
        let r = kl_batchmean(&logp, &z_adv)?;
        self.last = Some(r.to_dtype(DType::F64)?.to_scalar::<f64>()?);
        Ok(Some(r))
    }
    fn logged(&self) -> Option<f64> {
        self.last
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;

    /// For a linear model z = Wx + b and small ε, KL(p(x) ‖ p(x + r)) ≈ ½ rᵀ Wᵀ(diag p − ppᵀ)W r, so
    /// the adversarial direction is the top eigenvector of F = Wᵀ(diag p − ppᵀ)W and
    /// R ≈ ½ ε² λ_max(F): VAT's power iteration (ip = 5) must find it. Checked with a batch of
    /// one. (No finite-difference check: `sg[p(x)]` and `d` are deliberately held fixed.)
    #[test]
    fn finds_the_most_sensitive_direction_of_a_linear_model() {
        let model = model(&[], 3, 3);
        let x = inputs(1, 3, 4);
        let y = classes(1, 3);
        let eps = 1e-3;
        let mut reg = start("vat", serde_json::json!({"eps": eps, "xi": 1e-3, "ip": 5}), model.as_ref());
        let r = penalty(reg.as_mut(), model.as_ref(), &x, &y, 0).to_scalar::<f64>().unwrap();
        // F on the host, then its top eigenvalue by many power steps.
        let w = model.linear_layers()[0].0.to_vec2::<f64>().unwrap();
        let z = model.forward(&x, None).unwrap().to_vec2::<f64>().unwrap()[0].clone();
        let m = z.iter().cloned().fold(f64::MIN, f64::max);
        let e: Vec<f64> = z.iter().map(|v| (v - m).exp()).collect();
        let s: f64 = e.iter().sum();
        let p: Vec<f64> = e.iter().map(|v| v / s).collect();
        let mut f = [[0.0; 3]; 3];
        for a in 0..3 {
            for b in 0..3 {
                for c in 0..3 {
                    for k in 0..3 {
                        let cov = if c == k { p[c] } else { 0.0 } - p[c] * p[k];
                        f[a][b] += w[c][a] * cov * w[k][b];
                    }
                }
            }
        }
        let mut v = [1.0, 0.3, -0.2];
        let mut lambda = 0.0;
        for _ in 0..500 {
            let fv: Vec<f64> = (0..3).map(|a| (0..3).map(|b| f[a][b] * v[b]).sum()).collect();
            lambda = fv.iter().map(|t| t * t).sum::<f64>().sqrt();
            v = [fv[0] / lambda, fv[1] / lambda, fv[2] / lambda];
        }
        let expect = 0.5 * eps * eps * lambda;
        assert!((r - expect).abs() < 1e-2 * expect, "R = {r}, ½ε²λ_max = {expect}");
    }
}
