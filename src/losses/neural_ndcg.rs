//! NeuralNDCG and NeuralNDCG-transposed (S028: Pobrotyn & Białobrzeski, *NeuralNDCG: Direct
//! Optimisation of a Ranking Metric via Differentiable Relaxation of Sorting*, 2021): NDCG
//! with the sort replaced by NeuralSort's relaxed permutation matrix, made doubly stochastic by
//! Sinkhorn scaling — allRank's deterministic variant, masks and truncation as its code.
//!
//! ```text
//! per list, n' real items (padding last):  A_ij = |s_i − s_j| (real pairs, else 0),  B_i = Σ_j A_ij
//! c_k = n' + 1 − 2k for ranks k = 1..n', 0 beyond;  P̂[k, i] = softmax_i((c_k·s_i − B_i)/τ)
//!   (entries of a padding row or column: −∞, of both: 1 before the softmax)
//! Sinkhorn: pad entries 0 (both padding: 1); ≤ max_iter times: divide by column sums, then by
//!   row sums (each clamped at 1e-10); stop once every row and column sum of the batch is
//!   within tol of 1; pad entries 0 again
//! neural_ndcg:            NDCG_q = Σ_{k ≤ K} (P̂ g)_k d_k / (IDCG@K + 1e-10)
//! neural_ndcg_transposed: NDCG_q = Σ_i g_i (P̂ᵀ d)_i / (IDCG@K + 1e-10),  d zero beyond K
//! g = 2^r − 1 (powered_relevancies) or r, 0 on padding;  d_k = 1/log2(k + 1)
//! ℓ = −mean of NDCG_q over the lists with IDCG > 0 (0 if none)
//! ```
//! # Shapes
//! - scores `[Q, L]`, relevance `[Q, L]` (−1 = padding) → `[Q]`: `−NDCG_q·Q/m` on the `m`
//!   lists with a relevant item, 0 on the others (batch mean = ℓ)
//!
//! Reference: allegro/allRank `allrank/models/losses/neuralNDCG.py::{neuralNDCG,
//! neuralNDCG_transposed}`, `loss_utils.py::{deterministic_neural_sort, sinkhorn_scaling}`
//! [code]; defaults of its reproducibility config (temperature 1, k = full list, powered
//! relevancies). The stochastic (Gumbel) variant is not implemented. One deviation: allRank's
//! transposed variant normalises by the powered IDCG even with `powered_relevancies: false`;
//! we use the IDCG of the gains used, as the paper defines NDCG (the default, powered, is
//! unaffected). Like allRank's, the relaxed sort reads padding by item position, so padding
//! belongs at the end of a list (where `ltr_synth` and allRank put it).

use super::neural_sort;
use super::ranking::{abs_pairwise, discounts, gains, ideal_dcg, inputs, real};
use super::{Loss, LossInfo};
use crate::error::{Error, Result};
use crate::registry::{check_range, parse_params, ParamDoc, Validate};
use crate::task::{Family, Prediction, Target};
use candle_core::{DType, Tensor, D};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

const PARAMS: &[ParamDoc] = &[
    ParamDoc { name: "temperature", meaning: "NeuralSort temperature τ (allRank's name)", range: "0 < τ ≤ 1000", default: "1.0" },
    ParamDoc { name: "k", meaning: "rank at which NDCG is truncated", range: "≥ 1 (null: the whole list)", default: "null" },
    ParamDoc { name: "powered_relevancies", meaning: "gains 2^r − 1 (true) or r (false)", range: "true | false", default: "true" },
    ParamDoc { name: "max_iter", meaning: "most Sinkhorn iterations", range: "1..1000", default: "50" },
    ParamDoc {
        name: "tol",
        meaning: "Sinkhorn stops when every row and column sum is within tol of 1",
        range: "0 < tol ≤ 0.1",
        default: "1e-6",
    },
];

pub static NEURAL_NDCG: LossInfo = LossInfo {
    name: "neural_ndcg",
    family: Family::Ranking,
    summary: "NeuralNDCG: minus NDCG of the lists sorted by NeuralSort's relaxed permutation (Sinkhorn-scaled)",
    formula: "ℓ = −mean_q Σ_{k≤K} (P̂ g)_k / log2(k + 1) / IDCG@K,  P̂ = Sinkhorn(NeuralSort_τ(s))",
    reference: "S028 (Pobrotyn & Białobrzeski 2021, arXiv:2102.07831); allegro/allRank losses/neuralNDCG.py::neuralNDCG [code]",
    params: PARAMS,
    props: &[],
    build: build_plain,
};

pub static NEURAL_NDCG_TRANSPOSED: LossInfo = LossInfo {
    name: "neural_ndcg_transposed",
    family: Family::Ranking,
    summary: "NeuralNDCG-transposed: minus NDCG with each item's expected discount under the relaxed permutation",
    formula: "ℓ = −mean_q Σ_i g_i (P̂ᵀ d)_i / IDCG@K,  d_k = 1/log2(k + 1) for k ≤ K, else 0",
    reference: "S028 (Pobrotyn & Białobrzeski 2021, arXiv:2102.07831); allegro/allRank losses/neuralNDCG.py::neuralNDCG_transposed [code]",
    params: PARAMS,
    props: &[],
    build: build_transposed,
};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    pub temperature: f64,
    pub k: Option<usize>,
    pub powered_relevancies: bool,
    pub max_iter: usize,
    pub tol: f64,
}

impl Default for Params {
    fn default() -> Self {
        Params { temperature: 1.0, k: None, powered_relevancies: true, max_iter: 50, tol: 1e-6 }
    }
}

impl Validate for Params {
    fn validate(&self) -> Result<()> {
        check_range("temperature", self.temperature, 1e-9, 1000.0)?;
        check_range("max_iter", self.max_iter as f64, 1.0, 1000.0)?;
        check_range("tol", self.tol, 1e-15, 0.1)?;
        if self.k == Some(0) {
            return Err(Error::input("parameter `k` = 0: NDCG needs at least one rank (null: the whole list)"));
        }
        Ok(())
    }
}

pub struct NeuralNdcg {
    params: Params,
    transposed: bool,
}

fn build_plain(value: &serde_json::Value) -> crate::registry::Built<dyn Loss> {
    let (params, canonical) = parse_params::<Params>(value)?;
    Ok((Arc::new(NeuralNdcg { params, transposed: false }), canonical))
}

fn build_transposed(value: &serde_json::Value) -> crate::registry::Built<dyn Loss> {
    let (params, canonical) = parse_params::<Params>(value)?;
    Ok((Arc::new(NeuralNdcg { params, transposed: true }), canonical))
}

/// The host masks of a batch: items both real, both padding, and NeuralSort's rank factors.
struct Masks {
    both_real: Tensor,
    both_pad: Tensor,
    /// `[Q, L]`: `n' + 1 − 2k` at ranks `k = 1..n'`, 0 beyond.
    scaling: Tensor,
}

impl Masks {
    fn of(r: &Tensor) -> Result<Masks> {
        let m = real(r)?;
        let pad = (1.0 - &m)?;
        let outer = |a: &Tensor| -> Result<Tensor> { Ok(a.unsqueeze(2)?.broadcast_mul(&a.unsqueeze(1)?)?) };
        let counts = m.to_dtype(DType::F64)?.sum(D::Minus1)?.to_vec1::<f64>()?;
        let l = r.dim(1)?;
        let scaling: Vec<f64> =
            counts.iter().flat_map(|&n| (0..l).map(move |k| if (k as f64) < n { n + 1.0 - 2.0 * (k + 1) as f64 } else { 0.0 })).collect();
        let scaling = Tensor::from_vec(scaling, (counts.len(), l), r.device())?.to_dtype(r.dtype())?;
        Ok(Masks { both_real: outer(&m)?, both_pad: outer(&pad)?, scaling })
    }
}

/// allRank's `deterministic_neural_sort`: `P̂[q, k, i]`, rows summing to 1.
fn neural_sort(s: &Tensor, r: &Tensor, masks: &Masks, tau: f64) -> Result<Tensor> {
    let a = (abs_pairwise(s)? * &masks.both_real)?;
    let b = a.sum(D::Minus1)?; // [Q, L] (i)
    let s0 = (s * real(r)?)?;
    let c = masks.scaling.unsqueeze(2)?.broadcast_mul(&s0.unsqueeze(1)?)?; // [Q, k, i]
    let p_max = c.broadcast_sub(&b.unsqueeze(1)?)?;
    // Real pairs keep their value, padding pairs 1, mixed pairs −∞ (exactly 0 after the softmax).
    let filled = ((&p_max * &masks.both_real)? + &masks.both_pad)?;
    let logits = super::ranking::shut_where_zero(&filled, &(&masks.both_real + &masks.both_pad)?)?;
    Ok(candle_nn::ops::softmax(&(logits / tau)?, D::Minus1)?)
}

/// allRank's `sinkhorn_scaling` of `[Q, L, L]` matrices.
fn sinkhorn(p: &Tensor, masks: &Masks, max_iter: usize, tol: f64) -> Result<Tensor> {
    let mut mat = ((p * &masks.both_real)? + &masks.both_pad)?;
    for _ in 0..max_iter {
        mat = mat.broadcast_div(&mat.sum_keepdim(1)?.clamp(1e-10, f64::INFINITY)?)?;
        mat = mat.broadcast_div(&mat.sum_keepdim(2)?.clamp(1e-10, f64::INFINITY)?)?;
        let off = |dim: usize| -> Result<f64> {
            Ok(mat.detach().sum(dim)?.affine(1.0, -1.0)?.abs()?.max_all()?.to_dtype(DType::F64)?.to_scalar::<f64>()?)
        };
        if off(2)? < tol && off(1)? < tol {
            break;
        }
    }
    Ok((mat * &masks.both_real)?)
}

impl Loss for NeuralNdcg {
    /// The fused op's (the CPU's) lists in f64, three `[L, L]` matrices each, and one list's
    /// Sinkhorn iterations kept for its backward, two matrices per iteration. (The autograd
    /// path other devices take holds about 8 values per pair per iteration.)
    fn step_bytes(&self, batch: usize, items: usize, _dtype_bytes: f64) -> f64 {
        let matrix = (items as f64).powi(2) * 8.0;
        batch as f64 * matrix * 3.0 + 2.0 * self.params.max_iter as f64 * matrix
    }

    /// The fused op on the CPU ([`super::neural_sort`]), autograd elsewhere.
    fn forward(&self, pred: &Prediction, target: &Target) -> Result<Tensor> {
        let name = if self.transposed { "neural_ndcg_transposed" } else { "neural_ndcg" };
        let (s, r) = inputs(pred, target, name)?;
        if !neural_sort::applies(s) {
            return self.autograd(s, r);
        }
        let p = &self.params;
        let k = p.k.unwrap_or(r.dim(1)?).min(r.dim(1)?);
        let setting =
            neural_sort::Setting { temperature: p.temperature, k, powered: p.powered_relevancies, max_iter: p.max_iter, tol: p.tol };
        neural_sort::per_list(s, r, setting)
    }
}

impl NeuralNdcg {
    /// allRank's computation in tensor ops.
    fn autograd(&self, s: &Tensor, r: &Tensor) -> Result<Tensor> {
        let (q, l) = (r.dim(0)?, r.dim(1)?);
        let p = &self.params;
        let k = p.k.unwrap_or(l).min(l);
        let masks = Masks::of(r)?;
        let perm = sinkhorn(&neural_sort(s, r, &masks, p.temperature)?, &masks, p.max_iter, p.tol)?;
        let g = gains(r, p.powered_relevancies)?;
        let d = discounts(l, k, r)?;
        let dcg = if self.transposed {
            // Expected discount of item i: Σ_k P̂[k, i] d_k.
            let expected = perm.transpose(1, 2)?.contiguous()?.broadcast_matmul(&d.reshape((l, 1))?)?.squeeze(2)?;
            (g * expected)?.sum(D::Minus1)?
        } else {
            // Expected gain at rank k: Σ_i P̂[k, i] g_i.
            let sorted = perm.matmul(&g.unsqueeze(2)?)?.squeeze(2)?;
            sorted.broadcast_mul(&d.unsqueeze(0)?)?.sum(D::Minus1)?
        };
        let idcg = ideal_dcg(r, k, p.powered_relevancies)?;
        let has = idcg.gt(0.0)?.to_dtype(r.dtype())?;
        let ndcg = ((dcg / (idcg + 1e-10)?)? * &has)?;
        let lists = super::ranking::count(&has)?;
        Ok(if lists > 0.0 { (ndcg * (-(q as f64) / lists))? } else { ndcg.zeros_like()? })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::losses::ranking::batch;
    use candle_core::{Device, Var};

    /// The fused op against the tensor-op version, values and gradients in f64, on random
    /// lists with padding, without relevant items, ties, truncation and a short Sinkhorn.
    #[test]
    fn fused_op_matches_autograd() {
        let mut rng = crate::rng::Stream::new(5, crate::rng::Purpose::Data, 0);
        let settings = [
            Params::default(),
            Params { temperature: 0.3, k: Some(3), ..Params::default() },
            Params { powered_relevancies: false, max_iter: 4, tol: 1e-3, ..Params::default() },
        ];
        for (case, params) in settings.iter().enumerate() {
            let (q, l) = (6, 7);
            let mut s: Vec<f64> = (0..q * l).map(|_| 2.0 * rng.normal()).collect();
            s[1] = s[2]; // a tie
            let r: Vec<f64> = (0..q * l)
                .map(|e| {
                    if e / l == 4 {
                        0.0
                    } else if e % l >= l - (e / l) % 3 {
                        -1.0
                    } else {
                        rng.below(5) as f64
                    }
                })
                .collect();
            let rt = Target::Values(Tensor::from_vec(r, (q, l), &Device::Cpu).unwrap());
            for transposed in [false, true] {
                let loss = NeuralNdcg { params: params.clone(), transposed };
                let run = |fused: bool| {
                    let v = Var::from_vec(s.clone(), (q, l), &Device::Cpu).unwrap();
                    let per = if fused {
                        loss.forward(&Prediction::new(v.as_tensor().clone()), &rt).unwrap()
                    } else {
                        loss.autograd(v.as_tensor(), rt.tensor()).unwrap()
                    };
                    let g = per.mean_all().unwrap().backward().unwrap().get(v.as_tensor()).unwrap().flatten_all().unwrap();
                    (per.to_vec1::<f64>().unwrap(), g.to_vec1::<f64>().unwrap())
                };
                let ((fv, fg), (av, ag)) = (run(true), run(false));
                for (a, b) in fv.iter().zip(&av).chain(fg.iter().zip(&ag)) {
                    assert!((a - b).abs() <= 1e-9 * (1.0 + b.abs()), "case {case} transposed {transposed}: {fv:?} {fg:?} vs {av:?} {ag:?}");
                }
            }
        }
    }

    fn loss(transposed: bool, temperature: f64) -> NeuralNdcg {
        NeuralNdcg { params: Params { temperature, ..Params::default() }, transposed }
    }

    #[test]
    fn at_low_temperature_both_variants_give_the_exact_ndcg() {
        // Sorted by score: items 1, 0, 2 (grades 1, 2, 0); item 3 is padding.
        let (pred, target) = batch(&[&[1.0, 2.0, 0.0, 5.0]], &[&[2.0, 1.0, 0.0, -1.0]]);
        let dcg = 1.0 / 2f64.log2() + 3.0 / 3f64.log2();
        let idcg = 3.0 / 2f64.log2() + 1.0 / 3f64.log2();
        for transposed in [false, true] {
            let per = loss(transposed, 1e-3).forward(&pred, &target).unwrap().to_vec1::<f64>().unwrap();
            assert!((per[0] + dcg / idcg).abs() < 1e-6, "transposed {transposed}: {per:?} vs {}", -dcg / idcg);
        }
    }

    #[test]
    fn lists_without_a_relevant_item_are_left_out_of_the_mean() {
        let (pred, target) = batch(&[&[1.0, 2.0, 0.0], &[0.3, 0.1, 0.2]], &[&[2.0, 1.0, 0.0], &[0.0, 0.0, -1.0]]);
        let per = loss(false, 1e-3).forward(&pred, &target).unwrap().to_vec1::<f64>().unwrap();
        assert_eq!(per[1], 0.0);
        let (one, t1) = batch(&[&[1.0, 2.0, 0.0]], &[&[2.0, 1.0, 0.0]]);
        let alone = loss(false, 1e-3).forward(&one, &t1).unwrap().to_vec1::<f64>().unwrap();
        assert!(((per[0] + per[1]) / 2.0 - alone[0]).abs() < 1e-12, "mean over the one list with IDCG > 0");
    }
}
