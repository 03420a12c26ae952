//! `wasserstein_init_reg` — Wasserstein regularisation towards the initial weight
//! distribution (S166): per parameter tensor `l`, the squared 1-D Wasserstein-2 distance
//! between the empirical distributions of its current and initial entries,
//! `R_l = mean_i (w_(i) − w₀_(i))²` with both flattened tensors sorted, and `R = Σ_l R_l`.
//!
//! Unlike `l2_init_reg` it constrains only the distribution of each layer's weights, not which
//! weight holds which value. The sort is done on the host; its permutation is piecewise
//! constant, so `∂R/∂w_(i) = 2(w_(i) − w₀_(i))/n` (the gradient PyTorch's `torch.sort` gives).
//! Reference: Lewandowski et al., *Learning Continually by Spectral Regularization*, ICLR 2025,
//! arXiv:2406.06811 (S166), Wasserstein baseline [paper-text].

use super::{scalar_zero, Active, Batch, Kind, Regularizer, RegularizerInfo, Start};
use crate::error::Result;
use crate::registry::ParamDoc;
use candle_core::{DType, Tensor, Var};
use std::sync::Arc;

pub static INFO: RegularizerInfo = RegularizerInfo {
    name: "wasserstein_init_reg",
    kind: Kind::Penalty,
    families: &[],
    summary: "per-layer 1-D Wasserstein-2 distance to the initial weight distribution",
    formula: "R = Σ_l mean_i (sort(w_l)_i − sort(w_l⁰)_i)²",
    reference: "Lewandowski et al., ICLR 2025, arXiv:2406.06811 (S166)",
    params: &[ParamDoc { name: "weight", meaning: "coefficient λ of R", range: "0 ≤ λ ≤ 10", default: "0.0001" }],
    build,
};

/// The only parameter: the weight of the penalty.
pub struct Params {
    pub weight: f64,
}

fn build(value: &serde_json::Value) -> crate::registry::Built<dyn Regularizer> {
    let (weight, canonical) = super::parse_weight(value, 1e-4)?;
    Ok((Arc::new(Params { weight }), canonical))
}

/// Indices that sort `t`'s flattened entries ascending (ties by index: deterministic).
fn argsort(t: &Tensor) -> Result<Vec<u32>> {
    let v = t.flatten_all()?.to_dtype(DType::F64)?.to_vec1::<f64>()?;
    let mut idx: Vec<u32> = (0..v.len() as u32).collect();
    idx.sort_by(|&a, &b| v[a as usize].total_cmp(&v[b as usize]).then(a.cmp(&b)));
    Ok(idx)
}

impl Regularizer for Params {
    fn start(&self, run: &Start) -> Result<Box<dyn Active>> {
        let vars = run.model.vars();
        let mut initial = Vec::new();
        for v in &vars {
            let flat = v.as_tensor().flatten_all()?.detach();
            let idx = Tensor::from_vec(argsort(&flat)?, flat.elem_count(), flat.device())?;
            initial.push(flat.index_select(&idx, 0)?);
        }
        Ok(Box::new(State { weight: self.weight, vars, initial, last: None }))
    }
}

struct State {
    weight: f64,
    vars: Vec<Var>,
    /// Sorted initial entries per tensor.
    initial: Vec<Tensor>,
    last: Option<f64>,
}

impl Active for State {
    fn weight(&self) -> f64 {
        self.weight
    }
    fn penalty(&mut self, batch: &mut Batch) -> Result<Option<Tensor>> {
        let mut total = scalar_zero(&batch.pred.out)?;
        for (v, sorted0) in self.vars.iter().zip(&self.initial) {
            let flat = v.as_tensor().flatten_all()?;
            let idx = Tensor::from_vec(argsort(&flat)?, flat.elem_count(), flat.device())?;
            let sorted = flat.index_select(&idx, 0)?;
            total = (total + (sorted - sorted0)?.sqr()?.mean_all()?)?;
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

    /// A permutation of a layer's weights costs nothing; a shift by c costs c² per tensor.
    #[test]
    fn invariant_to_permutations_and_gradient_matches_finite_differences() {
        let model = model(&[4], 3, 2);
        let x = inputs(5, 3, 2);
        let y = classes(5, 2);
        let mut reg = start("wasserstein_init_reg", serde_json::json!({}), model.as_ref());
        let vars = model.vars();
        let w = vars[0].as_tensor().flatten_all().unwrap().to_vec1::<f64>().unwrap();
        let shape = vars[0].as_tensor().shape().clone();
        let reversed: Vec<f64> = w.iter().rev().cloned().collect();
        vars[0].set(&candle_core::Tensor::from_vec(reversed, shape, &candle_core::Device::Cpu).unwrap()).unwrap();
        assert!(penalty(reg.as_mut(), model.as_ref(), &x, &y, 0).to_scalar::<f64>().unwrap().abs() < 1e-15);
        for v in &vars {
            v.set(&(v.as_tensor() + 0.5).unwrap()).unwrap();
        }
        let r = penalty(reg.as_mut(), model.as_ref(), &x, &y, 0).to_scalar::<f64>().unwrap();
        assert!((r - 0.25 * vars.len() as f64).abs() < 1e-12, "{r}");
        for v in &vars {
            v.set(&(v.as_tensor() * 1.7).unwrap()).unwrap();
        }
        check_gradient(model.as_ref(), &mut || penalty(reg.as_mut(), model.as_ref(), &x, &y, 0), 1e-6);
    }
}
