//! Per-example terms of the Active–Passive family (Ma et al., ICML 2020), written once and used
//! by the standalone losses and their `α·active + β·passive` combinations. Every clamp and
//! detached factor follows HanxunH/Active-Passive-Losses `loss.py` (checked line by line):
//!
//! - `p` is clamped to [1e-7, 1] in GCE, RCE and NGCE, not in MAE, NCE or NFL;
//! - RCE's `log 0` is avoided by clamping the one-hot target to [1e-4, 1], so
//!   `RCE = −log(1e-4)·Σ_{k≠y} clamp(p_k, 1e-7, 1)`;
//! - NFL detaches every `(1 − p)^γ` weight (`logpt.data.exp()`), in the numerator and the
//!   normaliser, while the normaliser's `log p_k` keeps its gradient.

use super::{log_p_y, log_softmax, one_hot};
use crate::error::Result;
use crate::registry::{check_range, Validate};
use candle_core::{Tensor, D};
use serde::{Deserialize, Serialize};

/// Parameters of a standalone term (mae_prob, rce, nce, nmae, nrce): its scale.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScaleParams {
    pub scale: f64,
}

impl Default for ScaleParams {
    fn default() -> Self {
        ScaleParams { scale: 1.0 }
    }
}

impl Validate for ScaleParams {
    fn validate(&self) -> Result<()> {
        check_range("scale", self.scale, 0.0, 1000000.0)
    }
}

/// Parameters of `α·active + β·passive` (nce_mae, nce_rce).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PairParams {
    pub alpha: f64,
    pub beta: f64,
}

impl Default for PairParams {
    fn default() -> Self {
        PairParams { alpha: 1.0, beta: 1.0 }
    }
}

impl Validate for PairParams {
    fn validate(&self) -> Result<()> {
        check_range("alpha", self.alpha, 0.0, 1000000.0)?;
        check_range("beta", self.beta, 0.0, 1000000.0)
    }
}

/// Parameters of `α·NFL + β·passive` (nfl_mae, nfl_rce).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NflPairParams {
    pub alpha: f64,
    pub beta: f64,
    pub gamma: f64,
}

impl Default for NflPairParams {
    fn default() -> Self {
        NflPairParams { alpha: 1.0, beta: 1.0, gamma: 0.5 }
    }
}

impl Validate for NflPairParams {
    fn validate(&self) -> Result<()> {
        check_range("alpha", self.alpha, 0.0, 1000000.0)?;
        check_range("beta", self.beta, 0.0, 1000000.0)?;
        check_range("gamma", self.gamma, 0.0, 10.0)
    }
}

/// Parameters of `α·NGCE + β·passive` (ngce_mae, ngce_rce).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NgcePairParams {
    pub alpha: f64,
    pub beta: f64,
    pub q: f64,
}

impl Default for NgcePairParams {
    fn default() -> Self {
        NgcePairParams { alpha: 1.0, beta: 1.0, q: 0.7 }
    }
}

impl Validate for NgcePairParams {
    fn validate(&self) -> Result<()> {
        check_range("alpha", self.alpha, 0.0, 1000000.0)?;
        check_range("beta", self.beta, 0.0, 1000000.0)?;
        check_range("q", self.q, 0.001, 1.0)
    }
}

/// `−log(1e-4)`: RCE's constant from the clamped one-hot target.
pub const RCE_A: f64 = 9.210_340_371_976_182;

/// `1 − p_y` (APL's "reduced MAE"; the L1 distance to the one-hot target is twice this).
pub fn mae(z: &Tensor, y: &Tensor) -> Result<Tensor> {
    let p = log_softmax(z)?.exp()?;
    super::one_minus_p_y(&p, y)
}

/// `(1 − clamp(p_y)^q)/q`.
pub fn gce(z: &Tensor, y: &Tensor, q: f64) -> Result<Tensor> {
    let p = log_softmax(z)?.exp()?.clamp(1e-7, 1.0)?;
    let p_y = log_p_y(&p, y)?;
    Ok(((1.0 - p_y.powf(q)?)? / q)?)
}

/// `−Σ_k clamp(p_k, 1e-7, 1)·log clamp(e_yk, 1e-4, 1)`.
pub fn rce(z: &Tensor, y: &Tensor) -> Result<Tensor> {
    let p = log_softmax(z)?.exp()?.clamp(1e-7, 1.0)?;
    let others = (1.0 - one_hot(y, z.dim(1)?, z.dtype())?)?;
    Ok(((p * others)?.sum(D::Minus1)? * RCE_A)?)
}

/// `(−log p_y)/(−Σ_k log p_k)`; the normaliser is not detached.
pub fn nce(z: &Tensor, y: &Tensor) -> Result<Tensor> {
    let log_p = log_softmax(z)?;
    Ok(log_p_y(&log_p, y)?.div(&log_p.sum(D::Minus1)?)?)
}

/// `−sg[(1 − p_y)^γ]·log p_y / Σ_k −sg[(1 − p_k)^γ]·log p_k`.
pub fn nfl(z: &Tensor, y: &Tensor, gamma: f64) -> Result<Tensor> {
    let log_p = log_softmax(z)?;
    let weights = (1.0 - log_p.exp()?)?.clamp(0.0, 1.0)?.powf(gamma)?.detach();
    let terms = (weights * &log_p)?.neg()?;
    Ok(log_p_y(&terms, y)?.div(&terms.sum(D::Minus1)?)?)
}

/// `(1 − p_y^q)/(C − Σ_k p_k^q)` with `p` clamped to [1e-7, 1].
pub fn ngce(z: &Tensor, y: &Tensor, q: f64) -> Result<Tensor> {
    let c = z.dim(1)? as f64;
    let pq = log_softmax(z)?.exp()?.clamp(1e-7, 1.0)?.powf(q)?;
    let numerator = (1.0 - log_p_y(&pq, y)?)?;
    let denominator = (c - pq.sum(D::Minus1)?)?;
    Ok(numerator.div(&denominator)?)
}

/// Plain cross-entropy `−log p_y`.
pub fn ce(z: &Tensor, y: &Tensor) -> Result<Tensor> {
    Ok(log_p_y(&log_softmax(z)?, y)?.neg()?)
}
