//! `spectral_reg` — spectral regularisation for plasticity (S166): keep every layer's largest
//! singular value near 1, `R = Σ_l (σ_max([W_l | b_l])^k − 1)²`.
//!
//! `σ_max` is estimated by one step of power iteration per optimizer step with persistent,
//! detached vectors (as spectral normalisation does): `v ← normalise(Mᵀu)`, `u ← normalise(Mv)`,
//! `σ = uᵀ M v`, so `∂σ/∂M = u vᵀ`. `M = [W | b]` appends the bias as a column (Lewandowski et
//! al. regularize the weight matrix with its bias). The vectors start from the run's seeded
//! regularizer stream. Reference: Lewandowski, Bortkiewicz, Kumar, György, Schuurmans, Ostaszewski
//! & Machado, *Learning Continually by Spectral Regularization*, ICLR 2025, arXiv:2406.06811
//! (S166) [paper-text: the penalty and exponent; λ is our choice, the paper reports low
//! sensitivity]; Miyato et al., *Spectral Normalization for GANs*, ICLR 2018 (the power step).

use super::{need_layers, scalar_zero, Active, Batch, Kind, Regularizer, RegularizerInfo, Start};
use crate::error::Result;
use crate::registry::{check_range, ParamDoc, Validate};
use crate::rng::{Purpose, Stream};
use candle_core::{DType, Tensor};
use serde::{Deserialize, Serialize};

pub static INFO: RegularizerInfo = RegularizerInfo {
    name: "spectral_reg",
    kind: Kind::Penalty,
    families: &[],
    summary: "keeps each layer's top singular value near 1 (one power-iteration step per step)",
    formula: "R = Σ_l (σ_max([W_l | b_l])^k − 1)²",
    reference: "Lewandowski et al., Learning Continually by Spectral Regularization, ICLR 2025, arXiv:2406.06811 (S166)",
    params: &[
        ParamDoc { name: "weight", meaning: "coefficient λ of R", range: "0 ≤ λ ≤ 10", default: "0.0001" },
        ParamDoc { name: "exponent", meaning: "exponent k of σ_max", range: "1 ≤ k ≤ 4", default: "2.0" },
    ],
    build: super::build_params::<Params>,
};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    pub weight: f64,
    pub exponent: f64,
}

impl Default for Params {
    fn default() -> Self {
        Params { weight: 1e-4, exponent: 2.0 }
    }
}

impl Validate for Params {
    fn validate(&self) -> Result<()> {
        check_range("weight", self.weight, 0.0, 10.0)?;
        check_range("exponent", self.exponent, 1.0, 4.0)
    }
}

/// `[W | b]`: the weight matrix with the bias appended as a column.
fn augmented(w: &Tensor, b: Option<&Tensor>) -> Result<Tensor> {
    Ok(match b {
        Some(b) => Tensor::cat(&[w, &b.unsqueeze(1)?], 1)?,
        None => w.clone(),
    })
}

fn normalise(t: &Tensor) -> Result<Tensor> {
    let norm = (t.sqr()?.sum_all()? + 1e-24)?.sqrt()?;
    Ok(t.broadcast_div(&norm)?)
}

impl Regularizer for Params {
    fn start(&self, run: &Start) -> Result<Box<dyn Active>> {
        let layers = need_layers(run.model, INFO.name)?;
        let mut us = Vec::new();
        for (l, (w, _)) in layers.iter().enumerate() {
            let mut rng = Stream::new(run.seed, Purpose::Regularizer, 1_000 + l as u64);
            let u: Vec<f64> = (0..w.dim(0)?).map(|_| rng.normal()).collect();
            us.push(normalise(&Tensor::from_vec(u, w.dim(0)?, w.device())?.to_dtype(w.dtype())?)?);
        }
        Ok(Box::new(State { params: self.clone(), us, vs: Vec::new(), last_step: None, last: None }))
    }
}

struct State {
    params: Params,
    us: Vec<Tensor>,
    vs: Vec<Tensor>,
    last_step: Option<usize>,
    last: Option<f64>,
}

impl Active for State {
    fn weight(&self) -> f64 {
        self.params.weight
    }
    fn penalty(&mut self, batch: &mut Batch) -> Result<Option<Tensor>> {
        let layers = batch.model.linear_layers();
        if self.last_step != Some(batch.step) {
            let mut vs = Vec::new();
            for ((w, b), u) in layers.iter().zip(self.us.iter_mut()) {
                let m = augmented(w, b.as_ref())?.detach();
                let v = normalise(&m.t()?.matmul(&u.unsqueeze(1)?)?.squeeze(1)?)?;
                *u = normalise(&m.matmul(&v.unsqueeze(1)?)?.squeeze(1)?)?;
                vs.push(v);
            }
            self.vs = vs;
            self.last_step = Some(batch.step);
        }
        let mut total = scalar_zero(&batch.pred.out)?;
        for ((w, b), (u, v)) in layers.iter().zip(self.us.iter().zip(&self.vs)) {
            let m = augmented(w, b.as_ref())?;
            let sigma = u.unsqueeze(0)?.matmul(&m)?.matmul(&v.unsqueeze(1)?)?.squeeze(1)?.squeeze(0)?;
            let term = (sigma.powf(self.params.exponent)? - 1.0)?.sqr()?;
            total = (total + term)?;
        }
        self.last = Some(total.to_dtype(DType::F64)?.to_scalar::<f64>()?);
        Ok(Some(total))
    }
    fn logged(&self) -> Option<f64> {
        self.last
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;

    /// Power iteration converges to the top singular value of [W | b] (checked against the
    /// exact value of a matrix whose SVD is known), and the gradient at a fixed (u, v) matches
    /// finite differences.
    #[test]
    fn power_iteration_finds_sigma_max_and_gradient_matches() {
        let model = model(&[], 3, 2);
        // W = [[3, 0, 0], [0, 1, 0]], b = [0, 0]: σ_max([W | b]) = 3.
        let vars = model.vars();
        let dev = candle_core::Device::Cpu;
        // Variables are sorted by name: l0.bias, l0.weight.
        vars[1].set(&Tensor::from_vec(vec![3.0f64, 0.0, 0.0, 0.0, 1.0, 0.0], (2, 3), &dev).unwrap()).unwrap();
        vars[0].set(&Tensor::zeros(2, DType::F64, &dev).unwrap()).unwrap();
        let x = inputs(4, 3, 1);
        let y = classes(4, 2);
        let mut reg = start("spectral_reg", serde_json::json!({"exponent": 1.0}), model.as_ref());
        let mut r = 0.0;
        for step in 0..30 {
            r = penalty(reg.as_mut(), model.as_ref(), &x, &y, step).to_scalar::<f64>().unwrap();
        }
        assert!((r - 4.0).abs() < 1e-9, "(σ − 1)² = {r}, expected 4");
        let model = super::super::testing::model(&[5], 3, 2);
        let mut reg = start("spectral_reg", serde_json::json!({}), model.as_ref());
        check_gradient(model.as_ref(), &mut || penalty(reg.as_mut(), model.as_ref(), &x, &y, 0), 1e-6);
    }
}
