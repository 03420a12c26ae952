//! `irrelevant_weight_decay` — regularisation-based pruning (S130): extra weight decay on the
//! weights that matter least for the loss, and periodic pruning of those that have shrunk.
//!
//! ```text
//! relevance ρ_j ← β·ρ_j + (1 − β)·|w_j·∂L/∂w_j|          (every step; first step: ρ = |w·g|)
//! irrelevant_j  = ρ_j below the q-quantile of its weight matrix
//! R = ½·Σ_j irrelevant_j·w_j²        (so irrelevant weights get the extra decay λ·w_j)
//! every E epochs: prune (zero and keep at zero) irrelevant weights with |w_j| < τ
//! ```
//! Applies to weight matrices (tensors with ≥ 2 dimensions), not biases. The relevance uses the
//! gradient of the step's first whole-batch evaluation, before the update. Logged: the fraction
//! of weight-matrix entries pruned so far (sparsity).
//!
//! Reference: S130 (regularisation-based pruning of irrelevant weights) [recon: the catalog's
//! abstract-level description — relevance |w·∂L/∂w| as in Molchanov et al., *Importance
//! Estimation for Neural Network Pruning*, CVPR 2019; the EMA β = 0.9, q = 0.5, λ = 1e-3,
//! τ = 1e-3 and E = 5 are our choices].

use super::{scalar_zero, Active, Batch, Kind, Regularizer, RegularizerInfo, Start};
use crate::error::Result;
use crate::registry::{check_range, ParamDoc, Validate};
use candle_core::{DType, Tensor, Var};
use serde::{Deserialize, Serialize};

pub static INFO: RegularizerInfo = RegularizerInfo {
    name: "irrelevant_weight_decay",
    kind: Kind::Penalty,
    families: &[],
    summary: "extra decay on low-relevance weights (|w·∂L/∂w| below a quantile), pruned every E epochs",
    formula: "R = ½·Σ_j [ρ_j < quantile_q(ρ)]·w_j²,  ρ = EMA |w·∂L/∂w|;  prune |w| < τ every E epochs",
    reference: "S130 [recon]; Molchanov et al., CVPR 2019 (relevance |w·g|)",
    params: &[
        ParamDoc { name: "weight", meaning: "extra decay λ on irrelevant weights", range: "0 ≤ λ ≤ 10", default: "0.001" },
        ParamDoc {
            name: "quantile",
            meaning: "q: weights below this relevance quantile are irrelevant",
            range: "0 ≤ q ≤ 1",
            default: "0.5",
        },
        ParamDoc {
            name: "threshold", meaning: "τ: irrelevant weights smaller than this are pruned", range: "0 ≤ τ ≤ 1", default: "0.001"
        },
        ParamDoc { name: "every", meaning: "E: prune after every E epochs", range: "1 ≤ E", default: "5" },
        ParamDoc { name: "beta", meaning: "EMA factor of the relevance", range: "0 ≤ β < 1", default: "0.9" },
    ],
    build: super::build_params::<Params>,
};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    pub weight: f64,
    pub quantile: f64,
    pub threshold: f64,
    pub every: usize,
    pub beta: f64,
}

impl Default for Params {
    fn default() -> Self {
        Params { weight: 1e-3, quantile: 0.5, threshold: 1e-3, every: 5, beta: 0.9 }
    }
}

impl Validate for Params {
    fn validate(&self) -> Result<()> {
        check_range("weight", self.weight, 0.0, 10.0)?;
        check_range("quantile", self.quantile, 0.0, 1.0)?;
        check_range("threshold", self.threshold, 0.0, 1.0)?;
        check_range("every", self.every as f64, 1.0, 1e9)?;
        check_range("beta", self.beta, 0.0, 0.999_999)
    }
}

impl Regularizer for Params {
    fn start(&self, run: &Start) -> Result<Box<dyn Active>> {
        let vars = run.model.vars();
        let matrices: Vec<usize> = vars.iter().enumerate().filter(|(_, v)| v.as_tensor().rank() >= 2).map(|(i, _)| i).collect();
        let sizes: Vec<usize> = matrices.iter().map(|&i| vars[i].as_tensor().elem_count()).collect();
        Ok(Box::new(State {
            params: self.clone(),
            relevance: sizes.iter().map(|_| Vec::new()).collect(),
            irrelevant: sizes.iter().map(|&n| vec![false; n]).collect(),
            pruned: sizes.iter().map(|&n| vec![false; n]).collect(),
            matrices,
            vars,
        }))
    }
}

struct State {
    params: Params,
    /// Indices (into the model's variables) of the weight matrices.
    matrices: Vec<usize>,
    vars: Vec<Var>,
    relevance: Vec<Vec<f64>>,
    irrelevant: Vec<Vec<bool>>,
    pruned: Vec<Vec<bool>>,
}

fn host(t: &Tensor) -> Result<Vec<f64>> {
    Ok(t.flatten_all()?.to_dtype(DType::F64)?.to_vec1::<f64>()?)
}

fn mask_tensor(mask: &[bool], like: &Tensor) -> Result<Tensor> {
    let m: Vec<f64> = mask.iter().map(|&b| if b { 1.0 } else { 0.0 }).collect();
    Ok(Tensor::from_vec(m, like.shape(), like.device())?.to_dtype(like.dtype())?)
}

impl State {
    fn zero_pruned(&self) -> Result<()> {
        for (k, &i) in self.matrices.iter().enumerate() {
            if !self.pruned[k].iter().any(|&p| p) {
                continue;
            }
            let v = &self.vars[i];
            let keep: Vec<bool> = self.pruned[k].iter().map(|&p| !p).collect();
            v.set(&(v.as_tensor() * mask_tensor(&keep, v.as_tensor())?)?)?;
        }
        Ok(())
    }
}

impl Active for State {
    fn weight(&self) -> f64 {
        self.params.weight
    }
    fn penalty(&mut self, batch: &mut Batch) -> Result<Option<Tensor>> {
        let mut total = scalar_zero(&batch.pred.out)?;
        for (k, &i) in self.matrices.iter().enumerate() {
            if !self.irrelevant[k].iter().any(|&b| b) {
                continue;
            }
            let w = self.vars[i].as_tensor();
            total = (total + (w.sqr()? * mask_tensor(&self.irrelevant[k], w)?)?.sum_all()?)?;
        }
        Ok(Some((total * 0.5)?))
    }
    fn observes(&self) -> bool {
        true
    }
    fn observe(&mut self, weights: &[Tensor], grads: &[Tensor]) -> Result<()> {
        for (k, &i) in self.matrices.iter().enumerate() {
            let (w, g) = (host(&weights[i])?, host(&grads[i])?);
            let now: Vec<f64> = w.iter().zip(&g).map(|(w, g)| (w * g).abs()).collect();
            let rel = &mut self.relevance[k];
            if rel.is_empty() {
                *rel = now;
            } else {
                let b = self.params.beta;
                rel.iter_mut().zip(&now).for_each(|(r, n)| *r = b * *r + (1.0 - b) * n);
            }
            let mut sorted = rel.clone();
            sorted.sort_by(f64::total_cmp);
            let cut = sorted[((self.params.quantile * sorted.len() as f64) as usize).min(sorted.len() - 1)];
            self.irrelevant[k] = rel.iter().zip(&self.pruned[k]).map(|(r, p)| *r < cut && !p).collect();
        }
        Ok(())
    }
    fn after_step(&mut self, _vars: &[Var]) -> Result<()> {
        self.zero_pruned()
    }
    fn end_epoch(&mut self, epoch: usize, _vars: &[Var]) -> Result<()> {
        if !epoch.is_multiple_of(self.params.every) {
            return Ok(());
        }
        for (k, &i) in self.matrices.iter().enumerate() {
            let w = host(self.vars[i].as_tensor())?;
            for (j, wj) in w.iter().enumerate() {
                if self.irrelevant[k][j] && wj.abs() < self.params.threshold {
                    self.pruned[k][j] = true;
                    self.irrelevant[k][j] = false;
                }
            }
        }
        self.zero_pruned()
    }
    /// Fraction of weight-matrix entries pruned.
    fn logged(&self) -> Option<f64> {
        let total: usize = self.pruned.iter().map(Vec::len).sum();
        let pruned: usize = self.pruned.iter().map(|p| p.iter().filter(|&&b| b).count()).sum();
        Some(if total == 0 { 0.0 } else { pruned as f64 / total as f64 })
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;

    /// After observing gradients, the half of each matrix with the lowest |w·g| is decayed
    /// (R = ½Σ over exactly those weights); pruning zeroes small irrelevant weights and keeps
    /// them at zero.
    #[test]
    fn decays_the_least_relevant_half_and_prunes_small_ones() {
        let model = model(&[], 2, 2);
        let x = inputs(4, 2, 1);
        let y = classes(4, 2);
        let mut reg = start("irrelevant_weight_decay", serde_json::json!({"threshold": 1.0, "every": 1}), model.as_ref());
        assert_eq!(penalty(reg.as_mut(), model.as_ref(), &x, &y, 0).to_scalar::<f64>().unwrap(), 0.0);
        let vars = model.vars();
        let weights: Vec<_> = vars.iter().map(|v| v.as_tensor().copy().unwrap()).collect();
        // Gradient 1 everywhere: relevance = |w|.
        let grads: Vec<_> = vars.iter().map(|v| v.as_tensor().ones_like().unwrap()).collect();
        reg.observe(&weights, &grads).unwrap();
        let w = vars[1].as_tensor().flatten_all().unwrap().to_vec1::<f64>().unwrap();
        let mut sorted: Vec<f64> = w.iter().map(|v| v.abs()).collect();
        sorted.sort_by(f64::total_cmp);
        let cut = sorted[2];
        let expect: f64 = w.iter().filter(|v| v.abs() < cut).map(|v| 0.5 * v * v).sum();
        let r = penalty(reg.as_mut(), model.as_ref(), &x, &y, 1).to_scalar::<f64>().unwrap();
        assert!((r - expect).abs() < 1e-12, "{r} vs {expect}");
        reg.end_epoch(1, &vars).unwrap();
        let after = vars[1].as_tensor().flatten_all().unwrap().to_vec1::<f64>().unwrap();
        assert_eq!(after.iter().filter(|v| **v == 0.0).count(), 2);
        assert_eq!(reg.logged(), Some(0.5));
        // Pruned weights stay at zero after an update.
        vars[1].set(&(vars[1].as_tensor() + 1.0).unwrap()).unwrap();
        reg.after_step(&vars).unwrap();
        let again = vars[1].as_tensor().flatten_all().unwrap().to_vec1::<f64>().unwrap();
        assert_eq!(again.iter().filter(|v| **v == 0.0).count(), 2);
    }
}
