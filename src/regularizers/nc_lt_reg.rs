//! `nc_lt_reg` — inducing neural collapse under class imbalance (S179): pull penultimate
//! features towards their class means (within-class variability collapse, NC1) and push the
//! centred class means towards a simplex equiangular tight frame (NC2), so that minority
//! classes are not squeezed together ("minority collapse").
//!
//! ```text
//! μ_c = mean_{i: y_i = c} h_i  (classes present in the batch),   μ_G = mean_c μ_c
//! R_W = mean_i ‖h_i − μ_{y_i}‖² / mean_c ‖μ_c − μ_G‖²
//! R_B = mean_{c ≠ c'} (cos(μ_c − μ_G, μ_c' − μ_G) + 1/(C − 1))²
//! R   = R_W + between·R_B
//! ```
//! `C` is the number of classes of the task (the simplex ETF's angle), `μ_G` the mean of the
//! class means (balanced under imbalance). Batch statistics, no memory. Reference: S179 [recon:
//! the catalog's two-term form; the paper's exact terms were not retrieved]; Papyan, Han &
//! Donoho, *Prevalence of neural collapse*, PNAS 2020 (NC1/NC2); Fang et al., *Exploring deep
//! neural networks via layer-peeled model: minority collapse*, PNAS 2021.

use super::{Active, Batch, Kind, Regularizer, RegularizerInfo, Start};
use crate::error::{Error, Result};
use crate::registry::{check_range, ParamDoc, Validate};
use crate::task::{Family, Target};
use candle_core::{DType, Tensor};
use serde::{Deserialize, Serialize};

pub static INFO: RegularizerInfo = RegularizerInfo {
    name: "nc_lt_reg",
    kind: Kind::Penalty,
    families: &[Family::Classification],
    summary: "neural-collapse regulariser: within-class collapse + equiangular class means (for long tails)",
    formula: "R = mean_i‖h_i − μ_yi‖²/mean_c‖μ_c − μ_G‖² + between·mean_{c≠c'}(cos(μ_c−μ_G, μ_c'−μ_G) + 1/(C−1))²",
    reference: "S179 [recon]; Papyan et al., PNAS 2020; Fang et al., PNAS 2021",
    params: &[
        ParamDoc { name: "weight", meaning: "coefficient λ of R", range: "0 ≤ λ ≤ 10", default: "0.1" },
        ParamDoc {
            name: "between", meaning: "weight of the equiangular term R_B relative to R_W", range: "0 ≤ b ≤ 100", default: "1.0"
        },
    ],
    build: super::build_params::<Params>,
};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    pub weight: f64,
    pub between: f64,
}

impl Default for Params {
    fn default() -> Self {
        Params { weight: 0.1, between: 1.0 }
    }
}

impl Validate for Params {
    fn validate(&self) -> Result<()> {
        check_range("weight", self.weight, 0.0, 10.0)?;
        check_range("between", self.between, 0.0, 100.0)
    }
}

impl Regularizer for Params {
    fn start(&self, _run: &Start) -> Result<Box<dyn Active>> {
        Ok(Box::new(State { params: self.clone(), last: None }))
    }
}

/// `R_W + between·R_B` for features `h [n, D]`, labels `y` and `classes` classes.
pub fn collapse_penalty(h: &Tensor, y: &[u32], classes: usize, between: f64) -> Result<Tensor> {
    let mut present: Vec<u32> = y.to_vec();
    present.sort_unstable();
    present.dedup();
    let k = present.len();
    if k < 2 || classes < 2 {
        // One class in the batch: no between-class structure to measure.
        return Ok(Tensor::zeros((), h.dtype(), h.device())?);
    }
    let (n, _) = h.dims2()?;
    // Membership matrix [k, n] with rows scaled by 1/n_c: means = A·h.
    let mut a = vec![0f64; k * n];
    for (i, yi) in y.iter().enumerate() {
        let c = present.binary_search(yi).map_err(|_| Error::runtime("class lookup"))?;
        a[c * n + i] = 1.0;
    }
    for c in 0..k {
        let count: f64 = a[c * n..(c + 1) * n].iter().sum();
        a[c * n..(c + 1) * n].iter_mut().for_each(|v| *v /= count);
    }
    let a = Tensor::from_vec(a, (k, n), h.device())?.to_dtype(h.dtype())?;
    let means = a.matmul(h)?; // [k, D]
    let global = means.mean_keepdim(0)?; // [1, D]
    let centred = means.broadcast_sub(&global)?;
    let spread = centred.sqr()?.sum_keepdim(1)?.mean_all()?;
    let slot: Vec<u32> = y.iter().map(|yi| present.binary_search(yi).unwrap_or(0) as u32).collect();
    let slot = Tensor::from_vec(slot, n, h.device())?;
    let within = (h - means.index_select(&slot, 0)?)?.sqr()?.sum_keepdim(1)?.mean_all()?;
    let r_w = (within / (spread + 1e-12)?)?;
    let norms = (centred.sqr()?.sum_keepdim(1)? + 1e-24)?.sqrt()?;
    let unit = centred.broadcast_div(&norms)?;
    let cos = unit.matmul(&unit.t()?)?; // [k, k]
    let target = -1.0 / (classes as f64 - 1.0);
    let off = (Tensor::ones((k, k), h.dtype(), h.device())? - Tensor::eye(k, h.dtype(), h.device())?)?;
    let r_b = (((cos - target)?.sqr()? * off)?.sum_all()? / (k * (k - 1)) as f64)?;
    Ok((r_w + (r_b * between)?)?)
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
        let Some(h) = &batch.pred.embedding else {
            return Err(Error::input("regularizer `nc_lt_reg` needs a model with penultimate features (mlp, embed_mlp, linear)"));
        };
        let Target::Classes(y) = batch.target else { return Err(Error::input("regularizer `nc_lt_reg` needs class labels")) };
        let y = y.to_vec1::<u32>()?;
        let classes = batch.pred.out.dim(1)?;
        let r = collapse_penalty(h, &y, classes, self.params.between)?;
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
    use super::collapse_penalty;
    use candle_core::{Device, Tensor};

    /// Collapsed features at the vertices of a simplex ETF give R = 0; the gradient matches
    /// finite differences on a model.
    #[test]
    fn zero_at_a_collapsed_simplex_and_gradient_matches() {
        let dev = Device::Cpu;
        // Three classes at the vertices of an equilateral triangle (cos = −1/2), two copies each.
        let s = 3f64.sqrt() / 2.0;
        let v = [[1.0, 0.0], [-0.5, s], [-0.5, -s]];
        let h: Vec<f64> = [0, 1, 2, 0, 1, 2].iter().flat_map(|&c| v[c]).collect();
        let h = Tensor::from_vec(h, (6, 2), &dev).unwrap();
        let r = collapse_penalty(&h, &[0, 1, 2, 0, 1, 2], 3, 1.0).unwrap().to_scalar::<f64>().unwrap();
        assert!(r.abs() < 1e-12, "{r}");
        // Spread within classes raises R_W.
        let noisy =
            (h.clone() + Tensor::from_vec((0..12).map(|i| (i as f64 * 0.37).sin() * 0.1).collect(), (6, 2), &dev).unwrap()).unwrap();
        assert!(collapse_penalty(&noisy, &[0, 1, 2, 0, 1, 2], 3, 1.0).unwrap().to_scalar::<f64>().unwrap() > 1e-4);
        let model = model(&[5], 3, 3);
        let x = inputs(9, 3, 2);
        let y = classes(9, 3);
        let mut reg = start("nc_lt_reg", serde_json::json!({}), model.as_ref());
        check_gradient(model.as_ref(), &mut || penalty(reg.as_mut(), model.as_ref(), &x, &y, 0), 1e-6);
    }
}
