//! AdaFace: a margin softmax whose margin adapts to each row's feature norm, a proxy of the
//! image quality (Kim, Jain & Liu, *AdaFace: Quality Adaptive Margin for Face Recognition*,
//! CVPR 2022, S058).
//!
//! ```text
//! kernel W [C, D] (the loss's own parameters; init U(−1, 1), rows scaled to unit norm)
//! cos_ik = clamp(ê_i · ŵ_k, −1 + 1e-3, 1 − 1e-3)
//! n_i = clip(‖f_i‖, 0.001, 100), detached, f the unnormalised embedding
//! μ ← t_α·mean(n) + (1 − t_α)·μ,  σ ← t_α·std(n) + (1 − t_α)·σ   (n − 1 in std; μ₀ = 20, σ₀ = 100;
//!                                                                   updated before use, each step)
//! ĝ_i = clip(h·(n_i − μ)/(σ + 1e-3), −1, 1)
//! target logit only: θ' = clip(acos(cos_iy) − m·ĝ_i, 1e-3, π − 1e-3),  cos'_iy = cos θ' − (m + m·ĝ_i)
//! ℓ_i = −log softmax(s·cos'_i)_y
//! ```
//! The norm statistics are the loss's state: each run starts at (μ₀, σ₀) and each training
//! step updates them (a step that evaluates the loss twice, as SAM, updates them twice, as the
//! reference head would). Evaluation's `loss` row uses them without updating. `losses eval`
//! starts from the parameters `batch_mean`, `batch_std` and applies one update, as the first
//! training step does. A batch of one row has no standard deviation (the reference gives NaN);
//! lossbench keeps σ unchanged then.
//!
//! Reference: mk-minchul/AdaFace @c60eaa7 `head.py::AdaFace` (and `net.py`: the norm of the
//! backbone output before normalisation) [code, read]. Defaults: m = 0.4, h = 0.333, s = 64
//! (the class, its training scripts and README), t_α = 0.01 (`config.py`; the class's own
//! default is 1). `config.py`'s m = 0.5, h = 0 (which makes AdaFace CosFace) are not used by
//! the published runs. The gradient reaches the embeddings only through `ê` (the norm path is
//! detached, as in the reference), so the finite-difference check does not apply when h > 0.
//!
//! # Shapes
//! - embeddings `[n, D]` (normalised by the family, the raw ones in `Prediction::embedding`),
//!   labels `[n]` below C → `[n]`

use super::centres::{self, Centres, Init};
use super::pairs::embedding_inputs;
use super::{host_labels, log_p_y, log_softmax, one_hot, Loss, LossInfo, Prop, RunContext};
use crate::error::{Error, Result};
use crate::families::metric_learning::{l2_normalize, row_norms};
use crate::registry::{check_range, parse_params, ParamDoc, Validate};
use crate::task::{Family, Prediction, Target};
use candle_core::{DType, Tensor, Var};
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex};

pub static INFO: LossInfo = LossInfo {
    name: "adaface",
    family: Family::MetricLearning,
    summary: "margin softmax whose angular and additive margins follow each row's feature norm relative to a running mean (S058)",
    formula: "ℓ_i = −log softmax(s·cos')_y,  cos'_y = cos(clip(θ_y − m·ĝ_i)) − m(1 + ĝ_i),  ĝ_i = clip(h·(‖f_i‖ − μ)/(σ + 1e-3), −1, 1)",
    reference:
        "Kim, Jain & Liu, AdaFace: Quality Adaptive Margin for Face Recognition, CVPR 2022 (S058); mk-minchul/AdaFace head.py [code]",
    params: &[
        ParamDoc { name: "m", meaning: "margin", range: "0–1", default: "0.4" },
        ParamDoc { name: "h", meaning: "concentration of the norm-adaptive term", range: "0–10", default: "0.333" },
        ParamDoc { name: "s", meaning: "logit scale", range: "1–256", default: "64" },
        ParamDoc { name: "t_alpha", meaning: "momentum of the norm statistics", range: "0–1", default: "0.01" },
        ParamDoc { name: "batch_mean", meaning: "initial running mean μ₀ of the feature norms", range: "0–1e6", default: "20" },
        ParamDoc { name: "batch_std", meaning: "initial running std σ₀ of the feature norms", range: "0–1e6", default: "100" },
        ParamDoc {
            name: "centres",
            meaning: "fixed kernel [C][D] (losses eval only; a run trains its own)",
            range: "list of lists",
            default: "none",
        },
    ],
    props: &[Prop::NonNegative, Prop::Piecewise, Prop::DetachedFactors, Prop::OwnsParameters],
    build,
};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    pub m: f64,
    pub h: f64,
    pub s: f64,
    pub t_alpha: f64,
    pub batch_mean: f64,
    pub batch_std: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub centres: Option<Vec<Vec<f64>>>,
}

impl Default for Params {
    fn default() -> Self {
        Params { m: 0.4, h: 0.333, s: 64.0, t_alpha: 0.01, batch_mean: 20.0, batch_std: 100.0, centres: None }
    }
}

impl Validate for Params {
    fn validate(&self) -> Result<()> {
        check_range("m", self.m, 0.0, 1.0)?;
        check_range("h", self.h, 0.0, 10.0)?;
        check_range("s", self.s, 1.0, 256.0)?;
        check_range("t_alpha", self.t_alpha, 0.0, 1.0)?;
        check_range("batch_mean", self.batch_mean, 0.0, 1e6)?;
        check_range("batch_std", self.batch_std, 0.0, 1e6)?;
        centres::validate(&self.centres)
    }
}

pub struct AdaFace {
    params: Params,
    centres: Centres,
    /// Running mean and std of the feature norms.
    stats: Mutex<(f64, f64)>,
}

fn build(value: &serde_json::Value) -> crate::registry::Built<dyn Loss> {
    let (params, canonical) = parse_params::<Params>(value)?;
    let centres = Centres::fixed(params.centres.clone());
    let stats = Mutex::new((params.batch_mean, params.batch_std));
    Ok((Arc::new(AdaFace { params, centres, stats }), canonical))
}

impl AdaFace {
    /// The clipped, detached feature norms `[n, 1]` and the statistics to use: updated by
    /// this batch (`update`) or as they stand.
    fn norms_and_stats(&self, pred: &Prediction, update: bool) -> Result<(Tensor, f64, f64)> {
        let raw = pred.embedding.as_ref().unwrap_or(&pred.out);
        let norms = row_norms(raw)?.clamp(0.001, 100.0)?.detach();
        let mut stats = self.stats.lock().map_err(|_| Error::runtime("poisoned adaface statistics lock"))?;
        if update {
            let host = norms.to_dtype(DType::F64)?.flatten_all()?.to_vec1::<f64>()?;
            let (mean, std) = crate::stats::mean_std(&host);
            let t = self.params.t_alpha;
            stats.0 = t * mean.unwrap_or(stats.0) + (1.0 - t) * stats.0;
            if let Some(std) = std {
                stats.1 = t * std + (1.0 - t) * stats.1;
            }
        }
        Ok((norms, stats.0, stats.1))
    }

    fn per_example(&self, pred: &Prediction, target: &Target, update: bool) -> Result<Tensor> {
        let (e, y) = embedding_inputs(pred, target, "adaface")?;
        let w = l2_normalize(&self.centres.tensor(e, "adaface")?)?;
        let classes = w.dim(0)?;
        centres::check_labels(&host_labels(y)?, classes, "adaface")?;
        let (norms, mean, std) = self.norms_and_stats(pred, update)?;
        let p = &self.params;
        let g = (((norms - mean)? / (std + 1e-3))? * p.h)?.clamp(-1.0, 1.0)?; // [n, 1], detached
        let cos = e.matmul(&w.t()?)?.clamp(-1.0 + 1e-3, 1.0 - 1e-3)?;
        let onehot = one_hot(y, classes, e.dtype())?;
        let cos_y = (&cos * &onehot)?.sum_keepdim(1)?;
        let angles: Vec<f64> = g.to_dtype(DType::F64)?.flatten_all()?.to_vec1::<f64>()?.iter().map(|g| p.m * g).collect();
        let target_cos = (shifted_cos(&cos_y, &angles)? - ((g * p.m)? + p.m)?)?;
        let logits = ((cos.broadcast_mul(&(1.0 - &onehot)?)? + onehot.broadcast_mul(&target_cos)?)? * p.s)?;
        Ok(log_p_y(&log_softmax(&logits)?, y)?.neg()?)
    }
}

/// `cos(clip(acos(c) − a, 1e-3, π − 1e-3))` for target cosines `c [n, 1]` and detached
/// angles `a` (host, one per row): `c·cos a + √(1 − c²)·sin a` where the clip is inactive (the
/// clip decided from the values), the clipped constant (zero gradient, as `torch.clip`) where
/// it is active.
fn shifted_cos(c: &Tensor, a: &[f64]) -> Result<Tensor> {
    let host = c.to_dtype(DType::F64)?.flatten_all()?.to_vec1::<f64>()?;
    let (lo, hi) = (1e-3, std::f64::consts::PI - 1e-3);
    let mut inside = Vec::with_capacity(a.len());
    let mut constant = Vec::with_capacity(a.len());
    for (ci, ai) in host.iter().zip(a) {
        let theta = ci.acos() - ai;
        inside.push(if (lo..=hi).contains(&theta) { 1.0 } else { 0.0 });
        constant.push(if theta < lo {
            lo.cos()
        } else if theta > hi {
            hi.cos()
        } else {
            0.0
        });
    }
    let col = |v: Vec<f64>| Tensor::from_vec(v, (a.len(), 1), c.device()).and_then(|t| t.to_dtype(c.dtype()));
    let (cos_a, sin_a) = (col(a.iter().map(|v| v.cos()).collect())?, col(a.iter().map(|v| v.sin()).collect())?);
    let rotated = ((c * cos_a)? + ((1.0 - c.sqr()?)?.sqrt()? * sin_a)?)?;
    Ok(((rotated * col(inside)?)? + col(constant)?)?)
}

impl Loss for AdaFace {
    fn forward(&self, pred: &Prediction, target: &Target) -> Result<Tensor> {
        self.per_example(pred, target, true)
    }

    fn monitor(&self, pred: &Prediction, target: &Target) -> Result<Tensor> {
        self.per_example(pred, target, false)
    }

    fn for_run(&self, run: &RunContext) -> Option<Arc<dyn Loss>> {
        let centres = Centres::for_run(run, Init::UnitUniform, 0xada)?;
        let stats = Mutex::new((self.params.batch_mean, self.params.batch_std));
        Some(Arc::new(AdaFace { params: self.params.clone(), centres, stats }))
    }

    fn vars(&self) -> Vec<Var> {
        self.centres.vars()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::losses::testing::{mean_loss_in, prediction, random_batch};

    /// With h = 0 the margin does not depend on the (detached) norms, so the finite-difference
    /// check applies to the embeddings too; t_alpha = 0 keeps the statistics still.
    #[test]
    fn finite_differences_match_autograd_where_the_norm_path_is_inactive() {
        let built = build(&serde_json::json!({"h": 0.0, "t_alpha": 0.0})).unwrap().0;
        let loss = built.for_run(&RunContext::cpu(0, 8, 3, Some(6))).unwrap();
        let (z, target) = random_batch(Family::MetricLearning, 6, 3, 2, 2.0);
        let per = loss.forward(&prediction(Family::MetricLearning, z.as_tensor()), &target).unwrap();
        let grads = per.mean_all().unwrap().backward().unwrap();
        let analytic = grads.get(z.as_tensor()).unwrap().flatten_all().unwrap().to_vec1::<f64>().unwrap();
        let base = z.as_tensor().flatten_all().unwrap().to_vec1::<f64>().unwrap();
        for (i, a) in analytic.iter().enumerate() {
            let at = |d: f64| {
                let mut v = base.clone();
                v[i] += d;
                let t = Tensor::from_vec(v, z.as_tensor().shape(), z.device()).unwrap();
                mean_loss_in(Family::MetricLearning, loss.as_ref(), &t, &target)
            };
            let numeric = (at(1e-6) - at(-1e-6)) / 2e-6;
            assert!((numeric - a).abs() < 1e-6 + 1e-5 * numeric.abs(), "coord {i}: fd {numeric} vs autograd {a}");
        }
    }

    #[test]
    fn training_steps_move_the_norm_statistics_and_evaluation_does_not() {
        let loss = build(&serde_json::json!({"t_alpha": 0.5})).unwrap().0.for_run(&RunContext::cpu(0, 8, 3, Some(6))).unwrap();
        let (z, target) = random_batch(Family::MetricLearning, 6, 3, 3, 2.0);
        let pred = prediction(Family::MetricLearning, z.as_tensor());
        let first = loss.monitor(&pred, &target).unwrap().to_vec1::<f64>().unwrap();
        assert_eq!(loss.monitor(&pred, &target).unwrap().to_vec1::<f64>().unwrap(), first);
        loss.forward(&pred, &target).unwrap();
        assert_ne!(loss.monitor(&pred, &target).unwrap().to_vec1::<f64>().unwrap(), first);
    }
}
