//! Losses: the [`Loss`] trait, [`LossInfo`] (docs as data) and the [`LOSSES`] registry.
//!
//! Every loss returns **per-example** values `[n]`; the trainer takes the mean. Log-space
//! formulations (log_softmax with a max shift) keep logits of ±1e4 finite. Each loss file
//! reads top to bottom: module doc (formula, shapes, paper) → `INFO` → `Params` → forward →
//! tests; the registry-wide tests at the bottom of this file check every entry the same way
//! (finite-difference gradients in f64, shapes, extreme inputs, unknown parameters), and
//! `tests/loss_fixtures.rs` checks values and gradients against PyTorch.

pub mod adaface;
pub mod adv_comp_sum;
pub mod aldr_kl;
pub mod approx_ndcg;
pub mod auc_pairwise;
pub mod bce;
pub mod bce_reweighted;
pub mod bpr;
pub(crate) mod centres;
pub mod comp_sum;
pub mod contrastive;
pub mod cross_entropy;
pub mod dual_focal;
pub mod ensloss;
pub mod episodic;
pub mod eval;
pub mod focal;
pub(crate) mod fused;
pub mod gce;
pub mod ge2e;
pub mod gol;
pub mod harmonic;
pub mod huber;
pub mod hybrid_multilabel;
pub mod i_con;
pub mod l2svm_sq_hinge;
pub mod ldam;
pub mod ldr_kl;
pub mod listnet;
pub mod mae;
pub mod mae_prob;
pub mod mean_field;
pub mod metrix;
pub mod mse;
pub mod mse_spherical;
pub mod nce;
pub mod nce_mae;
pub mod nce_rce;
pub mod neural_ndcg;
pub(crate) mod neural_sort;
pub mod nfl;
pub mod nfl_mae;
pub mod nfl_rce;
pub mod ngce;
pub mod ngce_mae;
pub mod ngce_rce;
pub mod nmae;
pub mod nrce;
pub mod one_vs_rest;
pub(crate) mod pairs;
pub mod partial_fc;
pub mod poly1;
pub mod poly1_focal;
pub mod psl;
pub(crate) mod ranking;
pub mod ranknet;
pub mod rce;
pub mod sce;
pub mod score;
pub mod softmax_rec;
pub mod sovr;
pub mod sparse_softmax_topk;
pub mod sparsemax_loss;
pub mod sparsemax_multilabel;
pub mod stablemax_ce;
pub mod terms;
pub mod triplet;
pub mod vs_loss;
pub mod z_loss_spherical;

use crate::error::{Error, Result};
use crate::registry::{Named, ParamDoc};
use crate::task::{Family, Prediction, Target};
use candle_core::{DType, Tensor, D};

/// A loss function: per-example values for a batch.
pub trait Loss: Send + Sync {
    /// Per-example losses `[n]`.
    fn forward(&self, pred: &Prediction, target: &Target) -> Result<Tensor>;

    /// The value logged as the `loss` metric at evaluation. Default: `forward`. Losses whose
    /// value is only a gradient carrier (ensloss) log a meaningful surrogate instead, and
    /// evaluation must not consume their training randomness.
    fn monitor(&self, pred: &Prediction, target: &Target) -> Result<Tensor> {
        self.forward(pred, target)
    }

    /// The training loss when the model and the batch inputs are at hand (for losses that
    /// search over inputs, such as `adv_comp_sum`). Default: `forward`.
    fn forward_with_model(&self, pred: &Prediction, target: &Target, _access: &ModelAccess) -> Result<Tensor> {
        self.forward(pred, target)
    }

    /// Why this loss, with its parameters, cannot train on task `task` of kind `kind` (resolve
    /// leaves the pair out, or fails when no task fits). Default: it fits.
    fn misfit(&self, _task: &str, _kind: &crate::task::TaskKind) -> Option<String> {
        None
    }

    /// A fresh instance for one run, for losses with randomness or per-example state of their
    /// own (seeded from the run seed, so runs stay reproducible). Default: the shared instance.
    fn for_run(&self, _run: &RunContext) -> Option<std::sync::Arc<dyn Loss>> {
        None
    }

    /// Bytes a training step of `batch` rows with `outputs` model outputs each holds in the
    /// loss beyond the model's activations (terms per item pair of a ranking list, Sinkhorn's
    /// iterations), in a run of `dtype_bytes`-byte values; resolve checks it against the memory
    /// budget. Default: nothing beyond the per-row values (0).
    fn step_bytes(&self, _batch: usize, _outputs: usize, _dtype_bytes: f64) -> f64 {
        0.0
    }

    /// Trainable parameters the loss owns (GE2E's w and b, class centres), in a fixed order:
    /// they join the run's optimizer after the model's and are saved after the model's weights.
    /// A loss with parameters creates them in [`Loss::for_run`], from the run's seed. Default:
    /// none.
    fn vars(&self) -> Vec<candle_core::Var> {
        Vec::new()
    }
}

/// The model and the batch inputs, for losses that evaluate the model at other inputs.
pub struct ModelAccess<'a> {
    pub model: &'a dyn crate::models::Model,
    /// The batch inputs `[n, d]` the prediction was computed from.
    pub x: &'a Tensor,
}

/// What a loss may need to know about the run it is used in.
#[derive(Debug, Clone)]
pub struct RunContext {
    pub seed: u64,
    /// Rows in the train split (the range of `Prediction::ids`).
    pub n_train: usize,
    /// Width of the model's output (classes, or the embedding dimension).
    pub outputs: usize,
    /// Classes of the task, when it has classes.
    pub classes: Option<usize>,
    /// Where and in which precision the run's tensors live (for the loss's own parameters).
    pub dtype: DType,
    pub device: candle_core::Device,
}

impl RunContext {
    /// A context for tests and tools: CPU, f64.
    pub fn cpu(seed: u64, n_train: usize, outputs: usize, classes: Option<usize>) -> Self {
        RunContext { seed, n_train, outputs, classes, dtype: DType::F64, device: candle_core::Device::Cpu }
    }
}

/// A declared property of a loss; the registry tests check each one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Prop {
    /// Convex in the model output.
    Convex,
    /// Non-negative for every input.
    NonNegative,
    /// Has points where the gradient jumps (|r| = `at` for residual losses); the
    /// finite-difference check keeps away from them.
    Kink { at: f64 },
    /// Symmetric in the sense of Ghosh et al. (2017): `Σ_k ℓ(z, k)` is the same for every `z`
    /// (noise-tolerant under symmetric label noise).
    Symmetric,
    /// Some factors are detached on purpose (as in the reference code), so autograd's gradient
    /// is not the derivative of the value; the finite-difference check does not apply, and the
    /// gradients are checked against the reference fixtures instead.
    DetachedFactors,
    /// Needs per-class training counts (`class_counts`); `train` fills them in from the run's
    /// train split when the recipe does not give them.
    NeedsClassCounts,
    /// Only meaningful on the logits of a model with `head: harmonic`; resolve pairs it with
    /// such tasks only.
    NeedsHarmonicHead,
    /// Binary classification only (two classes).
    Binary,
    /// Needs the model and the inputs (`forward_with_model`); `losses eval` cannot run it.
    NeedsModel,
    /// Uses the model's embeddings (`Prediction::embedding`; `embeddings` in `losses eval`).
    NeedsEmbeddings,
    /// The gradient is piecewise (a selection such as top-k or a clamp switches); the
    /// finite-difference check skips points within `1e-3` of a switch only by chance.
    Piecewise,
    /// Owns trainable parameters, created per run by `for_run` (the registry tests use a
    /// run's instance).
    OwnsParameters,
    /// Draws from the run's stream at each training step (Metrix's λ and pair type); the
    /// registry tests fix the draws (`lam`, `pair_type`).
    Stochastic,
    /// A batch is a few-shot episode (the first `shots` rows of each class its support); the
    /// registry tests give `shots: 1` and batches whose classes have two rows or more.
    Episode,
    /// Holds a term per triplet of the batch (`batch³` values); resolve checks that they fit
    /// the memory budget at the recipe's batch size.
    CubicInBatch,
}

/// A registry entry: everything `lossbench losses show NAME` prints, and how to build it.
pub struct LossInfo {
    pub name: &'static str,
    pub family: Family,
    pub summary: &'static str,
    /// The definition, in plain text.
    pub formula: &'static str,
    /// Paper and reference implementation, with the provenance tag of catalog §1.2.
    pub reference: &'static str,
    pub params: &'static [ParamDoc],
    pub props: &'static [Prop],
    pub build: fn(&serde_json::Value) -> crate::registry::Built<dyn Loss>,
}

impl Named for LossInfo {
    fn name(&self) -> &'static str {
        self.name
    }
}

/// Every loss, sorted by name.
pub static LOSSES: &[&LossInfo] = &[
    &adaface::INFO,
    &adv_comp_sum::INFO,
    &aldr_kl::INFO,
    &approx_ndcg::INFO,
    &auc_pairwise::INFO,
    &bce::INFO,
    &bce_reweighted::INFO,
    &bpr::INFO,
    &comp_sum::INFO,
    &contrastive::INFO,
    &cross_entropy::INFO,
    &dual_focal::INFO,
    &ensloss::INFO,
    &focal::INFO,
    &gce::INFO,
    &ge2e::CONTRAST,
    &ge2e::SOFTMAX,
    &gol::INFO,
    &harmonic::INFO,
    &huber::INFO,
    &hybrid_multilabel::INFO,
    &i_con::INFO,
    &episodic::ICNN,
    &l2svm_sq_hinge::INFO,
    &ldam::INFO,
    &ldr_kl::INFO,
    &listnet::INFO,
    &mae::INFO,
    &mae_prob::INFO,
    &mean_field::CONTRASTIVE,
    &mean_field::CWMS,
    &metrix::INFO,
    &mse::INFO,
    &mse_spherical::INFO,
    &nce::INFO,
    &nce_mae::INFO,
    &nce_rce::INFO,
    &neural_ndcg::NEURAL_NDCG,
    &neural_ndcg::NEURAL_NDCG_TRANSPOSED,
    &nfl::INFO,
    &nfl_mae::INFO,
    &nfl_rce::INFO,
    &ngce::INFO,
    &ngce_mae::INFO,
    &ngce_rce::INFO,
    &nmae::INFO,
    &nrce::INFO,
    &one_vs_rest::INFO,
    &partial_fc::INFO,
    &poly1::INFO,
    &poly1_focal::INFO,
    &episodic::PROTO_TRIPLET,
    &episodic::PROTOTYPICAL,
    &psl::INFO,
    &ranknet::INFO,
    &rce::INFO,
    &sce::INFO,
    &score::INFO,
    &softmax_rec::INFO,
    &sovr::INFO,
    &sparse_softmax_topk::INFO,
    &sparsemax_loss::INFO,
    &sparsemax_multilabel::INFO,
    &stablemax_ce::INFO,
    &triplet::INFO,
    &vs_loss::INFO,
    &z_loss_spherical::INFO,
];

/// Look up a loss by name, suggesting the closest name on a typo.
pub fn lookup_loss(name: &str) -> Result<&'static LossInfo> {
    crate::registry::lookup("loss", "losses", LOSSES, name)
}

/// Logits and class ids from a classification batch, or an error naming the mismatch.
pub(crate) fn classification_inputs<'a>(pred: &'a Prediction, target: &'a Target, loss: &str) -> Result<(&'a Tensor, &'a Tensor)> {
    match target {
        Target::Classes(y) => {
            let z = &pred.out;
            if z.rank() != 2 || y.rank() != 1 || z.dim(0)? != y.dim(0)? {
                return Err(Error::input(format!(
                    "loss `{loss}` expects logits [N, C] and labels [N]; got {:?} and {:?}",
                    z.dims(),
                    y.dims()
                )));
            }
            Ok((z, y))
        }
        Target::Values(_) => Err(Error::input(format!("loss `{loss}` needs class labels, got real-valued targets"))),
    }
}

/// Logits `[n, k]` and 0/1 targets `[n, k]` of a multi-label batch.
pub(crate) fn multilabel_inputs<'a>(pred: &'a Prediction, target: &'a Target, loss: &str) -> Result<(&'a Tensor, &'a Tensor)> {
    match target {
        Target::Values(t) if t.rank() == 2 && pred.out.dims() == t.dims() => Ok((&pred.out, t)),
        Target::Values(t) => Err(Error::input(format!(
            "loss `{loss}` expects logits [N, K] and targets [N, K]; got {:?} and {:?}",
            pred.out.dims(),
            t.dims()
        ))),
        Target::Classes(_) => Err(Error::input(format!("loss `{loss}` needs multi-label 0/1 targets, got class labels"))),
    }
}

/// Predictions and targets of a regression batch, both `[n, k]`.
pub(crate) fn regression_inputs<'a>(pred: &'a Prediction, target: &'a Target, loss: &str) -> Result<(Tensor, Tensor)> {
    match target {
        Target::Values(t) => {
            let as_2d = |x: &Tensor| -> Result<Tensor> { Ok(if x.rank() == 1 { x.unsqueeze(1)? } else { x.clone() }) };
            let (p, t) = (as_2d(&pred.out)?, as_2d(t)?);
            if p.dims() != t.dims() || p.rank() != 2 {
                return Err(Error::input(format!(
                    "loss `{loss}` expects pred and target of the same shape [N] or [N, D]; got {:?} and {:?}",
                    pred.out.dims(),
                    target.tensor().dims()
                )));
            }
            Ok((p, t))
        }
        Target::Classes(_) => Err(Error::input(format!("loss `{loss}` needs real-valued targets, got class labels"))),
    }
}

/// `log p_y` for each row: gather of log_softmax along the class dimension.
pub(crate) fn log_p_y(log_p: &Tensor, y: &Tensor) -> Result<Tensor> {
    Ok(log_p.gather(&y.unsqueeze(1)?.contiguous()?, 1)?.squeeze(1)?)
}

/// One-hot `[n, c]` in `dtype` from class ids `[n]`.
pub(crate) fn one_hot(y: &Tensor, classes: usize, dtype: DType) -> Result<Tensor> {
    let range = Tensor::arange(0u32, classes as u32, y.device())?;
    Ok(y.unsqueeze(1)?.broadcast_eq(&range.unsqueeze(0)?)?.to_dtype(dtype)?)
}

/// Log-softmax over classes (max-shifted).
pub(crate) fn log_softmax(z: &Tensor) -> Result<Tensor> {
    Ok(candle_nn::ops::log_softmax(z, D::Minus1)?)
}

/// `log(1 + exp(x))` without overflow, as `m + log(exp(−m) + exp(x − m))` with the detached
/// shift `m = max(x, 0)`: its gradient is exactly σ(x) everywhere, including x = 0 (no reliance
/// on the subgradients Candle picks for relu and abs at 0).
pub(crate) fn softplus(x: &Tensor) -> Result<Tensor> {
    let m = x.relu()?.detach();
    Ok((&m + (m.neg()?.exp()? + (x - &m)?.exp()?)?.log()?)?)
}

/// `|x|` with subgradient 0 at 0, as PyTorch (Candle's `abs` uses +1 there).
pub(crate) fn abs0(x: &Tensor) -> Result<Tensor> {
    let sign = (x.gt(0.0)?.to_dtype(x.dtype())? - x.lt(0.0)?.to_dtype(x.dtype())?)?.detach();
    Ok((x * sign)?)
}

/// `exp(x) − 1`, accurate for small `|x|` (a 4-term series below 1e-2, where `exp(x) − 1`
/// would cancel), elementwise.
pub(crate) fn expm1(x: &Tensor) -> Result<Tensor> {
    let small = x.abs()?.lt(1e-2)?;
    // Evaluate the series on a clamped copy so the unused branch stays finite.
    let xs = x.clamp(-1e-2, 1e-2)?;
    let x2 = xs.sqr()?;
    let series = (((&xs + (&x2 * 0.5)?)? + ((&x2 * &xs)? / 6.0)?)? + (x2.sqr()? / 24.0)?)?;
    let direct = (x.exp()? - 1.0)?;
    Ok(small.where_cond(&series, &direct)?)
}

/// `1 − p_y` as `Σ_{k≠y} p_k`, which keeps its precision when `p_y → 1`.
pub(crate) fn one_minus_p_y(p: &Tensor, y: &Tensor) -> Result<Tensor> {
    let others = (1.0 - one_hot(y, p.dim(1)?, p.dtype())?)?;
    Ok((p * others)?.sum(D::Minus1)?)
}

/// A host copy of a `[n, c]` tensor, detached, as f64 rows.
pub(crate) fn host_rows(z: &Tensor) -> Result<Vec<Vec<f64>>> {
    Ok(z.detach().to_dtype(DType::F64)?.to_vec2::<f64>()?)
}

/// Order of two host values for the selections losses make (top-k, margin ranks): like
/// PyTorch's sort, −0.0 and +0.0 tie, so the lower index stays first; NaN sorts last.
pub(crate) fn cmp_values(a: f64, b: f64) -> std::cmp::Ordering {
    a.partial_cmp(&b).unwrap_or_else(|| a.is_nan().cmp(&b.is_nan()))
}

/// A host copy of class ids.
pub(crate) fn host_labels(y: &Tensor) -> Result<Vec<u32>> {
    Ok(y.to_vec1::<u32>()?)
}

/// Check an optional `class_counts` parameter: every count at least 1.
pub(crate) fn validate_counts(counts: &Option<Vec<usize>>) -> Result<()> {
    if let Some(c) = counts {
        if c.len() < 2 || c.contains(&0) {
            return Err(Error::input(format!("parameter `class_counts` = {c:?}: needs one count ≥ 1 per class (at least 2 classes)")));
        }
    }
    Ok(())
}

/// The class counts of a loss that needs them, checked against the number of classes.
pub(crate) fn class_counts_for<'a>(loss: &str, counts: &'a Option<Vec<usize>>, classes: usize) -> Result<&'a [usize]> {
    match counts {
        None => Err(Error::input(format!(
            "loss `{loss}` needs `class_counts` (training fills them in from the train split; with `losses eval` pass --set class_counts=[n0,n1,…])"
        ))),
        Some(c) if c.len() != classes => Err(Error::input(format!(
            "loss `{loss}`: `class_counts` has {} entries but the logits have {classes} classes",
            c.len()
        ))),
        Some(c) => Ok(c),
    }
}

pub use crate::registry::NoParams;

#[cfg(test)]
pub(crate) mod testing {
    //! Helpers shared by the loss tests.
    use super::*;
    use crate::rng::{Purpose, Stream};
    use candle_core::{Device, Var};

    /// Random inputs for a loss family, in f64: (prediction var, target).
    pub fn random_batch(family: Family, n: usize, c: usize, seed: u64, scale: f64) -> (Var, Target) {
        let mut rng = Stream::new(seed, Purpose::Data, 99);
        let dev = Device::Cpu;
        let z: Vec<f64> = (0..n * c).map(|_| scale * rng.normal()).collect();
        let var = Var::from_vec(z, (n, c), &dev).unwrap();
        let target = match family {
            Family::Classification => {
                let y: Vec<u32> = (0..n).map(|_| rng.below(c as u64) as u32).collect();
                Target::Classes(Tensor::from_vec(y, n, &dev).unwrap())
            }
            Family::Regression => {
                let t: Vec<f64> = (0..n * c).map(|_| scale * rng.normal()).collect();
                Target::Values(Tensor::from_vec(t, (n, c), &dev).unwrap())
            }
            Family::MultiLabel => {
                // Every row and every label column gets at least one positive and one negative.
                let t: Vec<f64> =
                    (0..n * c).map(|i| if (i / c + i % c).is_multiple_of(2) || rng.uniform() < 0.3 { 1.0 } else { 0.0 }).collect();
                Target::Values(Tensor::from_vec(t, (n, c), &dev).unwrap())
            }
            Family::MetricLearning => {
                // `c` is the embedding dimension; classes repeat so that positive and negative
                // pairs both exist, and every class has two rows or more (episodes).
                let y: Vec<u32> = (0..n).map(|i| (i % (n / 2).clamp(1, 3)) as u32).collect();
                Target::Classes(Tensor::from_vec(y, n, &dev).unwrap())
            }
            Family::Ranking => {
                // `n` lists of `c` items: grades 0–2, positives and negatives in most lists,
                // padding at the end of every other list.
                let r: Vec<f64> = (0..n * c)
                    .map(|k| {
                        let (i, j) = (k / c, k % c);
                        if j == c - 1 && i % 2 == 1 {
                            -1.0
                        } else {
                            ((i + 2 * j) % 3) as f64
                        }
                    })
                    .collect();
                Target::Values(Tensor::from_vec(r, (n, c), &dev).unwrap())
            }
        };
        (var, target)
    }

    /// What the loss is given for model outputs `z`: the family's prediction (metric learning
    /// normalises the embeddings), as in training and `losses eval`.
    pub fn prediction(family: Family, z: &Tensor) -> Prediction {
        crate::families::of(family).prediction(z.clone(), None, None).unwrap()
    }

    /// A loss with default parameters, plus `class_counts` for `c` classes when it needs them,
    /// and fixed embeddings when it needs those.
    pub fn build_for_classes(info: &LossInfo, c: usize) -> std::sync::Arc<dyn Loss> {
        build_in(info, c, DType::F64)
    }

    /// As [`build_for_classes`], with a loss's own parameters (if it has any) in `dtype`; `c`
    /// is also the embedding dimension of metric-learning batches (6 classes).
    pub fn build_in(info: &LossInfo, c: usize, dtype: DType) -> std::sync::Arc<dyn Loss> {
        let params = if info.props.contains(&Prop::NeedsClassCounts) {
            serde_json::json!({"class_counts": (0..c).map(|k| 100usize >> k).collect::<Vec<_>>()})
        } else if info.props.contains(&Prop::Episode) {
            serde_json::json!({"shots": 1})
        } else if info.props.contains(&Prop::Stochastic) {
            serde_json::json!({"lam": 0.3, "pair_type": "posneg"})
        } else {
            serde_json::Value::Null
        };
        let mut loss = (info.build)(&params).unwrap().0;
        if info.props.contains(&Prop::OwnsParameters) {
            let run = RunContext { dtype, ..RunContext::cpu(0, 8, c, Some(6)) };
            loss = loss.for_run(&run).expect("a loss with parameters creates them for a run");
        }
        if info.props.contains(&Prop::NeedsEmbeddings) {
            std::sync::Arc::new(WithEmbedding(loss))
        } else if info.props.contains(&Prop::NeedsModel) {
            std::sync::Arc::new(WithModel(loss))
        } else {
            loss
        }
    }

    /// Supplies a fixed linear model on fixed 3-d inputs to a loss that needs the model.
    pub struct WithModel(pub std::sync::Arc<dyn Loss>);

    impl Loss for WithModel {
        fn forward(&self, pred: &Prediction, target: &Target) -> Result<Tensor> {
            use crate::models::{Activation, Head};
            let (n, c) = (pred.out.dim(0)?, pred.out.dim(1)?);
            let dev = pred.out.device();
            let w = Tensor::from_vec((0..c * 3).map(|i| ((i * 31) % 7) as f64 / 3.0 - 1.0).collect::<Vec<_>>(), (c, 3), dev)?
                .to_dtype(pred.out.dtype())?;
            let x = Tensor::from_vec((0..n * 3).map(|i| ((i * 17) % 11) as f64 / 5.0 - 1.0).collect::<Vec<_>>(), (n, 3), dev)?
                .to_dtype(pred.out.dtype())?;
            let model = crate::models::mlp::Mlp {
                layers: vec![candle_nn::Linear::new(w, None)],
                vars: Vec::new(),
                activation: Activation::Relu,
                dropout: 0.0,
                head: Head::Linear,
            };
            self.0.forward_with_model(pred, target, &ModelAccess { model: &model, x: &x })
        }
    }

    /// Supplies deterministic 3-d embeddings to a loss that needs them.
    pub struct WithEmbedding(pub std::sync::Arc<dyn Loss>);

    impl Loss for WithEmbedding {
        fn forward(&self, pred: &Prediction, target: &Target) -> Result<Tensor> {
            let n = pred.out.dim(0)?;
            let values: Vec<f64> = (0..n * 3).map(|i| ((i * 7919) % 13) as f64 / 6.0 - 1.0).collect();
            let e = Tensor::from_vec(values, (n, 3), pred.out.device())?.to_dtype(pred.out.dtype())?;
            let mut with = pred.clone();
            with.embedding = Some(e);
            self.0.forward(&with, target)
        }
    }

    /// Mean loss as f64.
    pub fn mean_loss(loss: &dyn Loss, z: &Tensor, target: &Target) -> f64 {
        mean_loss_in(Family::Classification, loss, z, target)
    }

    /// Mean loss as f64, for model outputs `z` of a task of `family`.
    pub fn mean_loss_in(family: Family, loss: &dyn Loss, z: &Tensor, target: &Target) -> f64 {
        let per = loss.forward(&prediction(family, z), target).unwrap();
        per.mean_all().unwrap().to_dtype(DType::F64).unwrap().to_scalar::<f64>().unwrap()
    }
}

#[cfg(test)]
mod tests {
    use super::testing::*;
    use super::*;
    use crate::registry::check_sorted_unique;
    use candle_core::{Device, Var};

    #[test]
    fn registry_sorted_unique_and_documented() {
        check_sorted_unique(LOSSES).unwrap();
        for info in LOSSES {
            assert!(!info.summary.is_empty() && !info.formula.is_empty() && !info.reference.is_empty(), "{}", info.name);
            let (_, canonical) = (info.build)(&serde_json::Value::Null).unwrap();
            // Defaults round-trip: building from the canonical params gives the same params.
            let (_, again) = (info.build)(&canonical).unwrap();
            assert_eq!(canonical, again, "{}", info.name);
            // `class_counts` and `noise` have no default (training supplies them), nor have the
            // `losses eval` inputs `centres`, `sampled`, `lam` and `pair_type`, so they are absent here.
            for p in
                info.params.iter().filter(|p| !matches!(p.name, "class_counts" | "noise" | "centres" | "sampled" | "lam" | "pair_type"))
            {
                assert!(canonical.get(p.name).is_some(), "{}: documented param `{}` not in Params", info.name, p.name);
            }
        }
    }

    #[test]
    fn unknown_parameter_is_rejected_with_the_allowed_names() {
        for info in LOSSES {
            let err = match (info.build)(&serde_json::json!({"definitely_not_a_param": 1})) {
                Ok(_) => panic!("{} accepted an unknown parameter", info.name),
                Err(e) => e.to_string(),
            };
            assert!(err.contains("unknown field `definitely_not_a_param`"), "{}: {err}", info.name);
        }
    }

    #[test]
    fn per_example_shape_and_finite_at_extreme_inputs() {
        for info in LOSSES {
            let classes = if info.props.contains(&Prop::Binary) { 2 } else { 4 };
            let loss = build_in(info, classes, DType::F32);
            for scale in [1.0, 1e4] {
                let (var, target) = random_batch(info.family, 6, classes, 1, scale);
                let z = var.as_tensor().to_dtype(DType::F32).unwrap();
                let zv = Var::from_tensor(&z).unwrap();
                let target = match target {
                    Target::Values(t) => Target::Values(t.to_dtype(DType::F32).unwrap()),
                    t => t,
                };
                let per = loss.forward(&prediction(info.family, zv.as_tensor()), &target).unwrap();
                assert_eq!(per.dims(), &[6], "{}", info.name);
                let values = per.to_vec1::<f32>().unwrap();
                assert!(values.iter().all(|v| v.is_finite()), "{} at scale {scale}: {values:?}", info.name);
                if info.props.contains(&Prop::NonNegative) {
                    assert!(values.iter().all(|v| *v >= 0.0), "{}: {values:?}", info.name);
                }
                let grads = per.mean_all().unwrap().backward().unwrap();
                let g = grads
                    .get(zv.as_tensor())
                    .unwrap_or_else(|| panic!("{}: no gradient reaches the inputs", info.name))
                    .flatten_all()
                    .unwrap()
                    .to_vec1::<f32>()
                    .unwrap();
                assert!(g.iter().all(|v| v.is_finite()), "{} grad at scale {scale}: {g:?}", info.name);
            }
        }
    }

    /// Central finite differences in f64 against autograd, away from declared kinks.
    #[test]
    fn finite_difference_gradients_match_autograd() {
        for info in LOSSES {
            if info.props.contains(&Prop::DetachedFactors) {
                continue;
            }
            let loss = build_for_classes(info, 3);
            for seed in 0..3 {
                let (var, target) = random_batch(info.family, 5, 3, seed, 2.0);
                let kinks: Vec<f64> = info.props.iter().filter_map(|p| if let Prop::Kink { at } = p { Some(*at) } else { None }).collect();
                if !kinks.is_empty() {
                    // Residual losses: skip batches with a residual within 1e-3 of a kink.
                    let r = (var.as_tensor() - target.tensor()).unwrap().abs().unwrap().flatten_all().unwrap().to_vec1::<f64>().unwrap();
                    if r.iter().any(|r| kinks.iter().any(|k| (r - k).abs() < 1e-3)) {
                        continue;
                    }
                }
                let per = loss.forward(&prediction(info.family, var.as_tensor()), &target).unwrap();
                let grads = per.mean_all().unwrap().backward().unwrap();
                let analytic = grads
                    .get(var.as_tensor())
                    .unwrap_or_else(|| panic!("{}: no gradient reaches the inputs", info.name))
                    .flatten_all()
                    .unwrap()
                    .to_vec1::<f64>()
                    .unwrap();
                let base = var.as_tensor().flatten_all().unwrap().to_vec1::<f64>().unwrap();
                let h = 1e-6;
                for i in 0..base.len() {
                    let at = |delta: f64| {
                        let mut v = base.clone();
                        v[i] += delta;
                        let t = Tensor::from_vec(v, var.as_tensor().shape(), &Device::Cpu).unwrap();
                        mean_loss_in(info.family, loss.as_ref(), &t, &target)
                    };
                    let numeric = (at(h) - at(-h)) / (2.0 * h);
                    let tol = 1e-6 + 1e-5 * numeric.abs();
                    assert!(
                        (numeric - analytic[i]).abs() < tol,
                        "{} seed {seed} coord {i}: fd {numeric} vs autograd {}",
                        info.name,
                        analytic[i]
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod own_parameters {
    //! Gradients with respect to a loss's own parameters (class centres, GE2E's w and b).
    use super::testing::{mean_loss_in, random_batch};
    use super::*;

    /// Central finite differences in f64 against autograd, for every parameter entry. AdaFace
    /// runs with t_alpha = 0 (its norm statistics would otherwise move at every evaluation).
    #[test]
    fn finite_difference_gradients_of_a_loss_own_parameters_match_autograd() {
        for info in LOSSES.iter().filter(|i| i.props.contains(&Prop::OwnsParameters)) {
            let params = if info.name == "adaface" { serde_json::json!({"t_alpha": 0.0}) } else { serde_json::Value::Null };
            let loss = (info.build)(&params).unwrap().0.for_run(&RunContext::cpu(0, 8, 3, Some(6))).unwrap();
            let (z, target) = random_batch(Family::MetricLearning, 6, 3, 1, 2.0);
            let mean = || mean_loss_in(Family::MetricLearning, loss.as_ref(), z.as_tensor(), &target);
            let per = loss.forward(&testing::prediction(Family::MetricLearning, z.as_tensor()), &target).unwrap();
            let grads = per.mean_all().unwrap().backward().unwrap();
            for var in loss.vars() {
                let analytic = grads.get(var.as_tensor()).unwrap().flatten_all().unwrap().to_vec1::<f64>().unwrap();
                let base = var.as_tensor().flatten_all().unwrap().to_vec1::<f64>().unwrap();
                let at = |i: usize, delta: f64| {
                    let mut v = base.clone();
                    v[i] += delta;
                    var.set(&Tensor::from_vec(v, var.as_tensor().shape(), var.device()).unwrap()).unwrap();
                    let value = mean();
                    var.set(&Tensor::from_vec(base.clone(), var.as_tensor().shape(), var.device()).unwrap()).unwrap();
                    value
                };
                let h = 1e-6;
                for (i, a) in analytic.iter().enumerate() {
                    let numeric = (at(i, h) - at(i, -h)) / (2.0 * h);
                    assert!(
                        (numeric - a).abs() < 1e-6 + 1e-5 * numeric.abs(),
                        "{} parameter entry {i}: fd {numeric} vs autograd {a}",
                        info.name
                    );
                }
                assert!(analytic.iter().any(|a| *a != 0.0), "{}: no gradient reaches its parameters", info.name);
            }
        }
    }
}

#[cfg(test)]
mod identities {
    //! Limits and special cases that tie losses to each other (catalog §4.1–4.2).
    use super::testing::{mean_loss, random_batch};
    use super::*;
    use candle_core::Device;

    fn loss(name: &str, params: serde_json::Value) -> std::sync::Arc<dyn Loss> {
        (lookup_loss(name).unwrap().build)(&params).unwrap().0
    }

    fn same(a: (&str, serde_json::Value), b: (&str, serde_json::Value), scale_b: f64, tol: f64) {
        for seed in 0..3 {
            let (var, target) = random_batch(Family::Classification, 7, 5, seed, 2.5);
            let x = mean_loss(loss(a.0, a.1.clone()).as_ref(), var.as_tensor(), &target);
            let y = scale_b * mean_loss(loss(b.0, b.1.clone()).as_ref(), var.as_tensor(), &target);
            assert!((x - y).abs() <= tol * (1.0 + y.abs()), "{} {} = {x} but {scale_b}·{} {} = {y}", a.0, a.1, b.0, b.1);
        }
    }

    #[test]
    fn special_cases_reduce_to_cross_entropy() {
        let ce = ("cross_entropy", serde_json::json!({}));
        same(("focal", serde_json::json!({"gamma": 0.0})), ce.clone(), 1.0, 1e-12);
        same(("poly1", serde_json::json!({"epsilon": 0.0})), ce.clone(), 1.0, 1e-12);
        same(("comp_sum", serde_json::json!({"tau": 1.0})), ce.clone(), 1.0, 1e-12);
        same(("dual_focal", serde_json::json!({"gamma": 0.0})), ce.clone(), 1.0, 1e-12);
        same(("sparse_softmax_topk", serde_json::json!({"k": 5})), ce.clone(), 1.0, 1e-12);
        same(("poly1_focal", serde_json::json!({"epsilon": 0.0, "gamma": 2.0})), ("focal", serde_json::json!({"gamma": 2.0})), 1.0, 1e-12);
        same(("sce", serde_json::json!({"alpha": 1.0, "beta": 0.0})), ce, 1.0, 1e-12);
    }

    #[test]
    fn comp_sum_passes_through_gce_and_mae() {
        same(("comp_sum", serde_json::json!({"tau": 2.0})), ("mae_prob", serde_json::json!({})), 1.0, 1e-10);
        // τ = 1 + q is GCE with q (GCE's 1e-7 clamp is inactive at these logits).
        same(("comp_sum", serde_json::json!({"tau": 1.7})), ("gce", serde_json::json!({"q": 0.7})), 1.0, 1e-10);
        // τ → 1 from either side approaches cross-entropy.
        same(("comp_sum", serde_json::json!({"tau": 1.0 + 1e-7})), ("cross_entropy", serde_json::json!({})), 1.0, 1e-5);
        same(("comp_sum", serde_json::json!({"tau": 1.0 - 1e-7})), ("cross_entropy", serde_json::json!({})), 1.0, 1e-5);
    }

    #[test]
    fn gce_limits() {
        same(("gce", serde_json::json!({"q": 1.0})), ("mae_prob", serde_json::json!({})), 1.0, 1e-10);
        same(("gce", serde_json::json!({"q": 1e-3})), ("cross_entropy", serde_json::json!({})), 1.0, 5e-3);
    }

    #[test]
    fn rce_is_a_multiple_of_mae_and_combinations_add_up() {
        same(("rce", serde_json::json!({})), ("mae_prob", serde_json::json!({})), terms::RCE_A, 1e-9);
        same(("nmae", serde_json::json!({})), ("mae_prob", serde_json::json!({})), 1.0 / 8.0, 1e-12);
        same(("nrce", serde_json::json!({})), ("rce", serde_json::json!({})), 1.0, 1e-12); // (C − 1)/4 = 1 for C = 5
        same(("nce_rce", serde_json::json!({"alpha": 1.0, "beta": 0.0})), ("nce", serde_json::json!({})), 1.0, 1e-12);
        same(("nfl_mae", serde_json::json!({"alpha": 0.0, "beta": 1.0})), ("mae_prob", serde_json::json!({})), 1.0, 1e-12);
        same(("nfl", serde_json::json!({"gamma": 0.0})), ("nce", serde_json::json!({})), 1.0, 1e-12);
        same(("ngce_rce", serde_json::json!({"alpha": 2.0, "beta": 0.0})), ("ngce", serde_json::json!({"scale": 2.0})), 1.0, 1e-12);
    }

    #[test]
    fn ldr_kl_limits_are_max_and_mean_margin() {
        // λ → 0: max_k d_k; λ → ∞: mean_k d_k, with d_k = c·1[k≠y] + z̃_k − z̃_y.
        let z = Tensor::new(&[[0.5f64, -1.0, 2.0, 0.0]], &Device::Cpu).unwrap();
        let y = Tensor::new(&[1u32], &Device::Cpu).unwrap();
        let sp: Vec<f64> = [0.5f64, -1.0, 2.0, 0.0].iter().map(|v| (1.0 + v.exp()).ln()).collect();
        let m = sp.iter().sum::<f64>() / 4.0;
        let c = 0.3;
        let d: Vec<f64> = sp.iter().enumerate().map(|(k, s)| if k == 1 { 0.0 } else { c + (s - sp[1]) / m }).collect();
        let max = d.iter().cloned().fold(f64::MIN, f64::max);
        let mean = d.iter().sum::<f64>() / 4.0;
        let at = |lambda: f64| {
            let l = loss("ldr_kl", serde_json::json!({"lambda": lambda, "margin": c}));
            l.forward(&Prediction::new(z.clone()), &Target::Classes(y.clone())).unwrap().to_vec1::<f64>().unwrap()[0]
        };
        assert!((at(1e-3) - max).abs() < 5e-3, "{} vs max {max}", at(1e-3));
        assert!((at(1000.0) - mean).abs() < 1e-3, "{} vs mean {mean}", at(1000.0));
    }

    /// Symmetric losses: Σ_k ℓ(z, k) is the same for every z.
    #[test]
    fn declared_symmetric_losses_are_symmetric() {
        for info in LOSSES.iter().filter(|i| i.props.contains(&Prop::Symmetric)) {
            let c = 4;
            let l = testing::build_for_classes(info, c);
            let mut totals = Vec::new();
            for seed in 0..4 {
                let (var, _) = random_batch(Family::Classification, 3, c, seed, 1.5);
                let mut total = 0.0;
                for k in 0..c as u32 {
                    let y = Tensor::new(&[k, k, k], &Device::Cpu).unwrap();
                    let per = l.forward(&Prediction::new(var.as_tensor().clone()), &Target::Classes(y)).unwrap();
                    total += per.sum_all().unwrap().to_scalar::<f64>().unwrap();
                }
                totals.push(total);
            }
            for t in &totals {
                assert!((t - totals[0]).abs() < 1e-6 * totals[0].abs().max(1.0), "{}: Σ_k ℓ(z, k) varies: {totals:?}", info.name);
            }
        }
    }
}
