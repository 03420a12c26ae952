//! EnsLoss: a stochastic ensemble of convex, calibrated losses, realised through their
//! derivatives — each step draws a random non-decreasing, strictly negative loss derivative.
//!
//! ```text
//! binary: f = z_1 − z_0,  t = 2y − 1,  margin s_i = t_i·f_i
//! ξ_i ~ N(0, 1);  v_i = −BoxCox⁻¹_λ(ξ_i)   (λ = 0: −exp(ξ_i); else −max(1 + λξ_i, 0)^{1/λ})
//! sort v ascending, clamp at −1, give the k-th smallest v to the example with the k-th smallest margin
//! g_i = sg[v_i / max(s_i, 1)] − 1e-6                (superlinear tail: ÷ s_i where s_i > 1)
//! ℓ_i = g_i · s_i        (only its gradient g_i/N matters; the value is a gradient carrier)
//! ```
//! Binary only: the task must have 2 classes, and the binary score is the logit difference.
//! The random draws come from the run's own seeded stream (one fresh draw per training step);
//! `noise` (a list of N values) replaces the draw, which is how the fixtures reproduce the
//! reference exactly. The logged `loss` metric is the logistic loss `softplus(−s)` (the authors
//! log BCE alongside), so evaluation neither needs nor consumes the training randomness.
//!
//! # Shapes
//! - logits `[n, 2]`, labels `[n]` → `[n]`
//!
//! Reference: Dai et al., *EnsLoss: Stochastic Calibrated Loss Ensembles for Preventing
//! Overfitting in Classification*, arXiv:2409.00908 (S125); statmlben/ensLoss
//! `losses.py::ensLoss` (commit 051d87d) [code, checked].

use super::{classification_inputs, host_labels, softplus, Loss, LossInfo, Prop, RunContext};
use crate::error::{Error, Result};
use crate::registry::{check_range, parse_params, ParamDoc, Validate};
use crate::rng::{Purpose, Stream};
use crate::task::{Family, Prediction, Target};
use candle_core::Tensor;
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex};

pub static INFO: LossInfo = LossInfo {
    name: "ensloss",
    family: Family::Classification,
    summary: "EnsLoss (binary): a random convex calibrated loss each step, via sorted random derivatives",
    formula: "ℓ_i = sg[g_i]·s_i,  g = sorted −BoxCox⁻¹(N(0,1)) by margin rank, clamped ≥ −1, ÷ s for s > 1, − 1e-6",
    reference: "Dai et al., EnsLoss, arXiv:2409.00908 (S125); statmlben/ensLoss losses.py::ensLoss [code]",
    params: &[
        ParamDoc {
            name: "lambda", meaning: "Box–Cox λ of the random derivatives (0: log-normal)", range: "0 ≤ λ ≤ 10", default: "0.0"
        },
        ParamDoc {
            name: "noise",
            meaning: "fixed N(0,1) draws for one batch (tests); default: drawn per step",
            range: "list of N numbers",
            default: "drawn",
        },
    ],
    props: &[Prop::DetachedFactors, Prop::Piecewise, Prop::Binary],
    build,
};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    pub lambda: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub noise: Option<Vec<f64>>,
}

impl Validate for Params {
    fn validate(&self) -> Result<()> {
        check_range("lambda", self.lambda, 0.0, 10.0)?;
        if let Some(noise) = &self.noise {
            if noise.iter().any(|v| !v.is_finite()) {
                return Err(Error::input("parameter `noise`: every value must be a finite number"));
            }
        }
        Ok(())
    }
}

pub struct EnsLoss {
    pub params: Params,
    rng: Mutex<Stream>,
}

fn build(value: &serde_json::Value) -> crate::registry::Built<dyn Loss> {
    let (params, canonical) = parse_params::<Params>(value)?;
    Ok((Arc::new(EnsLoss { params, rng: Mutex::new(Stream::new(0, Purpose::Loss, 0)) }), canonical))
}

impl EnsLoss {
    fn box_cox_inv(&self, xi: f64) -> f64 {
        let lambda = self.params.lambda;
        if lambda == 0.0 {
            xi.exp()
        } else {
            (1.0 + lambda * xi).max(0.0).powf(1.0 / lambda)
        }
    }

    fn margins(&self, pred: &Prediction, target: &Target) -> Result<(Tensor, Vec<u32>)> {
        let (z, y) = classification_inputs(pred, target, "ensloss")?;
        if z.dim(1)? != 2 {
            return Err(Error::input(format!("loss `ensloss` is binary only; the logits have {} classes (need 2)", z.dim(1)?)));
        }
        let f = (z.narrow(1, 1, 1)? - z.narrow(1, 0, 1)?)?.squeeze(1)?;
        let labels = host_labels(y)?;
        let t: Vec<f64> = labels.iter().map(|&l| if l == 1 { 1.0 } else { -1.0 }).collect();
        let t = Tensor::from_vec(t, labels.len(), z.device())?.to_dtype(z.dtype())?;
        Ok(((f * t)?, labels))
    }
}

impl Loss for EnsLoss {
    fn forward(&self, pred: &Prediction, target: &Target) -> Result<Tensor> {
        let (s, labels) = self.margins(pred, target)?;
        let n = labels.len();
        let xi: Vec<f64> = match &self.params.noise {
            Some(noise) if noise.len() == n => noise.clone(),
            Some(noise) => {
                return Err(Error::input(format!("ensloss: `noise` has {} values but the batch has {n} examples", noise.len())));
            }
            None => {
                let mut rng = self.rng.lock().map_err(|_| Error::runtime("poisoned ensloss RNG lock"))?;
                (0..n).map(|_| rng.normal()).collect()
            }
        };
        let mut v: Vec<f64> = xi.iter().map(|&x| -self.box_cox_inv(x)).collect();
        v.sort_by(f64::total_cmp);
        let s_host = s.detach().to_dtype(candle_core::DType::F64)?.to_vec1::<f64>()?;
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|&a, &b| super::cmp_values(s_host[a], s_host[b]));
        let mut g = vec![0f64; n];
        for (rank, &i) in order.iter().enumerate() {
            let vi = v[rank].max(-1.0);
            let tail = if s_host[i] > 1.0 { vi / s_host[i] } else { vi };
            g[i] = tail - 1e-6;
        }
        let g = Tensor::from_vec(g, n, s.device())?.to_dtype(s.dtype())?;
        Ok((g * s)?)
    }

    fn monitor(&self, pred: &Prediction, target: &Target) -> Result<Tensor> {
        let (s, _) = self.margins(pred, target)?;
        Ok(softplus(&s.neg()?)?.reshape((s.dim(0)?,))?)
    }

    fn for_run(&self, run: &RunContext) -> Option<Arc<dyn Loss>> {
        Some(Arc::new(EnsLoss { params: self.params.clone(), rng: Mutex::new(Stream::new(run.seed, Purpose::Loss, 0)) }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    #[test]
    fn gradients_are_negative_monotone_in_the_margin_and_bounded() {
        let z = Var::new(&[[0.0f64, 2.0], [1.0, -1.0], [0.0, 0.5], [0.3, 0.0], [0.0, 4.0]], &Device::Cpu).unwrap();
        let y = Tensor::new(&[1u32, 1, 1, 0, 1], &Device::Cpu).unwrap();
        let loss = EnsLoss { params: Params::default(), rng: Mutex::new(Stream::new(3, Purpose::Loss, 0)) };
        let per = loss.forward(&Prediction::new(z.as_tensor().clone()), &Target::Classes(y)).unwrap();
        let grads = per.sum_all().unwrap().backward().unwrap();
        let gz = grads.get(z.as_tensor()).unwrap().to_vec2::<f64>().unwrap();
        // d/ds = g; with f = z1 − z0 and t = ±1: dℓ/dz1 = g·t.
        let margins: [f64; 5] = [2.0, -2.0, 0.5, 0.3, 4.0];
        let t = [1.0, 1.0, 1.0, -1.0, 1.0];
        let g: Vec<f64> = gz.iter().zip(t).map(|(r, t)| r[1] * t).collect();
        assert!(g.iter().all(|v| *v < 0.0 && *v >= -1.0 - 1e-6), "{g:?}");
        // Without the tail scaling (s ≤ 1), a smaller margin gets a more negative derivative.
        let mut idx: Vec<usize> = (0..5).filter(|&i| margins[i] <= 1.0).collect();
        idx.sort_by(|&a, &b| crate::losses::cmp_values(margins[a], margins[b]));
        assert!(idx.windows(2).all(|w| g[w[0]] <= g[w[1]]), "{g:?}");
    }

    #[test]
    fn rejects_more_than_two_classes() {
        let z = Tensor::new(&[[0.0f64, 1.0, 2.0]], &Device::Cpu).unwrap();
        let y = Tensor::new(&[1u32], &Device::Cpu).unwrap();
        let e = EnsLoss { params: Params::default(), rng: Mutex::new(Stream::new(0, Purpose::Loss, 0)) }
            .forward(&Prediction::new(z), &Target::Classes(y))
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("binary only"), "{e}");
    }
}
