//! Gumbel optimised loss: a per-class binary cross-entropy with the Gumbel CDF as activation.
//!
//! ```text
//! z ← clamp(z, −4, 10),   p_k = exp(−exp(−z_k))                    (Gumbel activation, per class)
//! ℓ(z, y) = (1/C)·Σ_k BCE(p_k, e_yk)
//!         = (1/C)·[ exp(−z_y) + Σ_{k≠y} −log(1 − exp(−exp(−z_k))) ]
//! ```
//! Both log terms use stable forms (`−log p = e^{−z}`, `1 − p = −expm1(−e^{−z})`). Logits are
//! clamped to [−4, 10] before the activation, so outside that range the gradient is zero, as in
//! the reference. The reference also clamps the *batch-mean* loss to [0, 20]; lossbench clamps
//! each example's loss at 20 instead (the trainer takes the mean), which coincides whenever no
//! example exceeds 20. Prediction: arg-max of `z` (the activation is monotone).
//!
//! # Shapes
//! - logits `[n, c]`, labels `[n]` → `[n]`
//!
//! Reference: Alexandridis et al., *Long-tailed Instance Segmentation using Gumbel Optimized
//! Loss*, ECCV 2022, arXiv:2207.10936 (S187); `gumbel_ce.py::binary_cross_entropy, GumbelCE`
//! (kostas1515/AGLU; GOL's droploss.py/eql.py use the same activation and clamp) [code, checked].

use super::{classification_inputs, expm1, one_hot, Loss, LossInfo, NoParams, Prop};
use crate::error::Result;
use crate::registry::parse_params;
use crate::task::{Family, Prediction, Target};
use candle_core::{Tensor, D};
use std::sync::Arc;

pub static INFO: LossInfo = LossInfo {
    name: "gol",
    family: Family::Classification,
    summary: "Gumbel optimised loss: per-class BCE with the Gumbel CDF exp(−exp(−z)) as activation",
    formula: "ℓ = mean_k BCE(exp(−exp(−clamp(z_k, −4, 10))), e_yk)",
    reference: "Alexandridis et al., Gumbel Optimized Loss, ECCV 2022, arXiv:2207.10936 (S187); gumbel_ce.py GumbelCE [code]",
    params: &[],
    props: &[Prop::NonNegative, Prop::Piecewise],
    build,
};

pub struct Gol;

fn build(value: &serde_json::Value) -> crate::registry::Built<dyn Loss> {
    let (_, canonical) = parse_params::<NoParams>(value)?;
    Ok((Arc::new(Gol), canonical))
}

impl Loss for Gol {
    fn forward(&self, pred: &Prediction, target: &Target) -> Result<Tensor> {
        let (z, y) = classification_inputs(pred, target, "gol")?;
        let e = one_hot(y, z.dim(1)?, z.dtype())?;
        let u = z.clamp(-4.0, 10.0)?.neg()?.exp()?; // e^{−z} = −log p
        let neg_log_one_minus_p = expm1(&u.neg()?)?.neg()?.log()?.neg()?;
        let per_class = ((&e * &u)? + ((1.0 - &e)? * neg_log_one_minus_p)?)?;
        Ok(per_class.mean(D::Minus1)?.clamp(0.0, 20.0)?)
    }
}
