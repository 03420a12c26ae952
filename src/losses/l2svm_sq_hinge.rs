//! L2-SVM output layer: one-vs-rest squared hinge loss on the logits.
//!
//! ```text
//! t_k = +1 if k = y else −1,   ℓ(z, y) = Σ_k max(0, 1 − t_k·z_k)²
//! ```
//! Conventions: the reference (AFAgarap/cnn-svm, TF) averages the squared hinge over all N·C
//! entries, multiplies it by the SVM constant C and adds `mean(W_out²)`; lossbench sums over
//! classes (the catalog's form; a factor C of scale) and leaves weight penalties to
//! regularizers.
//!
//! # Shapes
//! - logits `[n, c]`, labels `[n]` → `[n]`
//!
//! Reference: Agarap, *A Neural Network Architecture Combining Gated Recurrent Unit (GRU) and
//! Support Vector Machine (SVM) for Intrusion Detection*, arXiv:1709.03082 (S185); Tang,
//! *Deep Learning using Linear Support Vector Machines*, arXiv:1306.0239; AFAgarap/cnn-svm
//! `model/cnn_svm.py` [code, checked].

use super::{classification_inputs, one_hot, Loss, LossInfo, NoParams, Prop};
use crate::error::Result;
use crate::registry::parse_params;
use crate::task::{Family, Prediction, Target};
use candle_core::{Tensor, D};
use std::sync::Arc;

pub static INFO: LossInfo = LossInfo {
    name: "l2svm_sq_hinge",
    family: Family::Classification,
    summary: "L2-SVM output layer: one-vs-rest squared hinge Σ_k max(0, 1 − t_k z_k)²",
    formula: "ℓ = Σ_k max(0, 1 − t_k·z_k)²,  t_k = +1 if k = y else −1",
    reference: "Agarap, arXiv:1709.03082 (S185); Tang, arXiv:1306.0239; AFAgarap/cnn-svm model/cnn_svm.py [code]",
    params: &[],
    props: &[Prop::Convex, Prop::NonNegative],
    build,
};

pub struct L2SvmSqHinge;

fn build(value: &serde_json::Value) -> crate::registry::Built<dyn Loss> {
    let (_, canonical) = parse_params::<NoParams>(value)?;
    Ok((Arc::new(L2SvmSqHinge), canonical))
}

impl Loss for L2SvmSqHinge {
    fn forward(&self, pred: &Prediction, target: &Target) -> Result<Tensor> {
        let (z, y) = classification_inputs(pred, target, "l2svm_sq_hinge")?;
        let t = ((one_hot(y, z.dim(1)?, z.dtype())? * 2.0)? - 1.0)?;
        Ok((1.0 - (t * z)?)?.relu()?.sqr()?.sum(D::Minus1)?)
    }
}
