//! Regularizers: the [`Regularizer`] trait, [`RegularizerInfo`] (docs as data) and the
//! [`REGULARIZERS`] registry.
//!
//! A regularizer acts on a run in one of four ways ([`Kind`]):
//!
//! * **penalty** — a scalar `R(θ, batch)` added to the reduced task loss as `weight·R`
//!   (weight_decay_l2, l2_init_reg, spectral_reg, vat, entropy_reg, …);
//! * **loss transform** — a function of the reduced task loss (flooding);
//! * **forward** — a change to how the task loss is computed (mixup mixes inputs and targets;
//!   multi_sample_dropout averages the loss over several dropout samples of the penultimate
//!   features);
//! * **gradient** — extra gradient evaluations combined into the update direction (gr_fd);
//! * **reweight** — weights on the per-example losses (the training procedures group_dro and
//!   drw, which act on the loss's reduction rather than on the update).
//!
//! The training objective of one step is therefore
//! `transform(mean_i w_i·ℓ_forward(x_i, y_i)) + Σ_r weight_r·R_r`, with gradient-kind regularizers
//! wrapping its evaluation. Every regularizer's logged value (the unweighted penalty, or the
//! quantity a gradient-kind one regularizes) is recorded per epoch as the train-split metric
//! `reg_<label>`. Decoupled weight decay stays in the optimizer (`adamw`).
//!
//! In a recipe, `regularizers:` is a list of components `{name, weight, …}` at the top level
//! (every run), in a task (that task's runs) or in a loss entry (that entry's runs, so
//! "cross_entropy" and "cross_entropy + flooding" are two rows of one comparison).

pub mod drw;
pub mod entropy_reg;
pub mod flooding;
pub mod gg_prior;
pub mod gr_fd;
pub mod group_dro;
pub mod irrelevant_weight_decay;
pub mod l2_init_reg;
pub mod mesa;
pub mod mixup;
pub mod multi_sample_dropout;
pub mod nc_lt_reg;
pub mod orthogonal_reg;
pub mod rationale_invariance;
pub mod saf;
pub mod spectral_reg;
pub mod tpsgd;
pub mod useful;
pub mod vat;
pub mod wasserstein_init_reg;
pub mod weight_decay_l2;

use crate::error::{Error, Result};
use crate::models::Model;
use crate::optim::Evaluation;
use crate::registry::{Named, ParamDoc};
use crate::rng::Stream;
use crate::task::{Family, Prediction, Target};
use candle_core::{Tensor, Var};

/// How a regularizer enters the training objective.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `weight·R` added to the reduced task loss.
    Penalty,
    /// A function of the reduced task loss.
    LossTransform,
    /// Changes how the task loss is computed from the batch.
    Forward,
    /// Combines extra gradient evaluations into the update direction.
    Gradient,
    /// Weights the per-example losses (training procedures: group_dro, drw).
    Reweight,
    /// Changes the run itself (useful: a first training phase decides the training set).
    Procedure,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Penalty => "penalty",
            Kind::LossTransform => "loss transform",
            Kind::Forward => "forward",
            Kind::Gradient => "gradient",
            Kind::Reweight => "reweight",
            Kind::Procedure => "procedure",
        }
    }
}

/// A registry entry: documentation and a builder.
pub struct RegularizerInfo {
    pub name: &'static str,
    pub kind: Kind,
    /// The task families it applies to (empty: every family).
    pub families: &'static [Family],
    pub summary: &'static str,
    pub formula: &'static str,
    pub reference: &'static str,
    pub params: &'static [ParamDoc],
    pub build: fn(&serde_json::Value) -> crate::registry::Built<dyn Regularizer>,
}

impl Named for RegularizerInfo {
    fn name(&self) -> &'static str {
        self.name
    }
}

pub static REGULARIZERS: &[&RegularizerInfo] = &[
    &drw::INFO,
    &entropy_reg::INFO,
    &flooding::INFO,
    &gg_prior::INFO,
    &gr_fd::INFO,
    &group_dro::INFO,
    &irrelevant_weight_decay::INFO,
    &l2_init_reg::INFO,
    &mesa::INFO,
    &mixup::INFO,
    &multi_sample_dropout::INFO,
    &nc_lt_reg::INFO,
    &orthogonal_reg::INFO,
    &rationale_invariance::INFO,
    &saf::INFO,
    &spectral_reg::INFO,
    &tpsgd::INFO,
    &useful::INFO,
    &vat::INFO,
    &wasserstein_init_reg::INFO,
    &weight_decay_l2::INFO,
];

/// What a regularizer sees when a run starts (after the model's weights are initialised).
pub struct Start<'a> {
    pub model: &'a dyn Model,
    pub seed: u64,
    /// Examples per class in the train split (classification).
    pub class_counts: Option<Vec<usize>>,
    /// Epochs of the run.
    pub epochs: usize,
    /// Rows of the train split (the ids in `Prediction::ids` are below it).
    pub n_train: usize,
    /// The group of each split's rows, when the dataset has groups (`group_dro`).
    pub groups: Option<&'a crate::data::transforms::SplitGroups>,
}

/// A parsed regularizer entry; [`Regularizer::start`] makes the per-run state.
pub trait Regularizer: Send + Sync {
    fn start(&self, run: &Start) -> Result<Box<dyn Active>>;
}

/// One training batch, at one evaluation of the objective.
pub struct Batch<'a> {
    pub model: &'a dyn Model,
    /// The inputs the model saw (after mixing, if any).
    pub x: &'a Tensor,
    pub pred: &'a Prediction,
    pub target: &'a Target,
    /// Optimizer step (0-based). Several evaluations may share a step (SAM-type optimizers):
    /// state that should move once per step (memory banks, power-iteration vectors) moves on
    /// the first evaluation of a step only.
    pub step: usize,
    /// Epoch (0-based).
    pub epoch: usize,
    /// A stream for this regularizer and step: the same numbers at every evaluation of a step.
    pub rng: &'a mut Stream,
}

/// A mixed batch: inputs `λ·x + (1 − λ)·x[perm]` and the pairing of targets.
pub struct Mix {
    pub x: Tensor,
    /// Row `i` is mixed with row `perm[i]`.
    pub perm: Tensor,
    pub lambda: f64,
}

/// Computes per-example task losses for given outputs and targets.
pub type TaskLoss<'a> = &'a dyn Fn(&Prediction, &Target) -> Result<Tensor>;

/// A regularizer's state within one run. Every hook defaults to "no effect".
pub trait Active: Send {
    /// The coefficient of a penalty-kind regularizer.
    fn weight(&self) -> f64 {
        1.0
    }
    /// The unweighted penalty `R` for this batch (a scalar tensor).
    fn penalty(&mut self, _batch: &mut Batch) -> Result<Option<Tensor>> {
        Ok(None)
    }
    /// Transform the reduced task loss (a scalar tensor).
    fn transform_loss(&mut self, loss: Tensor) -> Result<Tensor> {
        Ok(loss)
    }
    /// Mix the batch's inputs (at most one regularizer of a run does).
    fn mix(&mut self, _x: &Tensor, _rng: &mut Stream) -> Result<Option<Mix>> {
        Ok(None)
    }
    /// Replace the per-example task loss (multi_sample_dropout, tpsgd); `x` is the batch's
    /// input. `None`: the plain loss.
    #[allow(clippy::too_many_arguments)]
    fn task_loss(
        &mut self,
        _model: &dyn Model,
        _x: &Tensor,
        _pred: &Prediction,
        _target: &Target,
        _loss: TaskLoss,
        _rng: &mut Stream,
    ) -> Result<Option<Tensor>> {
        Ok(None)
    }
    /// Per-example weights `[n]` multiplying the task losses before the mean (group_dro, drw).
    /// `epoch` is 0-based.
    fn weights(&mut self, _per: &Tensor, _target: &Target, _rows: &[usize], _step: usize, _epoch: usize) -> Result<Option<Tensor>> {
        Ok(None)
    }
    /// Whether [`Active::observe`] should be called (it costs a copy of the weights per step).
    fn observes(&self) -> bool {
        false
    }
    /// The weights and gradients (of every model variable, in `Model::vars` order) of the
    /// first whole-batch evaluation of a step, before the update.
    fn observe(&mut self, _weights: &[Tensor], _grads: &[Tensor]) -> Result<()> {
        Ok(())
    }
    /// After each optimizer step.
    fn after_step(&mut self, _vars: &[Var]) -> Result<()> {
        Ok(())
    }
    /// After epoch `epoch` (1-based) has finished.
    fn end_epoch(&mut self, _epoch: usize, _vars: &[Var]) -> Result<()> {
        Ok(())
    }
    /// Wrap one evaluation of loss and gradients (gr_fd); `None`: not a gradient regularizer.
    fn gradient(&mut self, _evaluate: &mut dyn FnMut() -> Result<Evaluation>, _vars: &[Var]) -> Result<Option<Evaluation>> {
        Ok(None)
    }
    /// The value logged for the last evaluation (the unweighted penalty or the regularized
    /// quantity), if any.
    fn logged(&self) -> Option<f64> {
        None
    }
    /// Set the logged value from outside (the trainer reports procedure outcomes this way).
    fn set_logged(&mut self, _value: f64) {}
}

/// A resolved regularizer of a run: its label, registry entry and parsed spec.
pub struct Resolved {
    pub label: String,
    pub info: &'static RegularizerInfo,
    pub spec: std::sync::Arc<dyn Regularizer>,
    pub config: serde_json::Value,
}

/// Most regularizers one run may have (each gets its own random-stream axes).
pub const MAX_PER_RUN: usize = 32;

/// Check that a list of regularizers fits a run: the families match, at most one mixes the
/// inputs, at most one replaces the task loss, at most one wraps the gradient.
pub fn check_combination(list: &[&Resolved], family: Family) -> Result<()> {
    if list.len() > MAX_PER_RUN {
        return Err(Error::input(format!("{} regularizers in one run; at most {MAX_PER_RUN} are allowed", list.len())));
    }
    for r in list {
        if let Some(why) = crate::families::of(family).rejects(r.info) {
            return Err(Error::input(format!("regularizer `{}` does not fit {family} tasks: {why}", r.info.name)));
        }
        if !r.info.families.is_empty() && !r.info.families.contains(&family) {
            let allowed: Vec<String> = r.info.families.iter().map(|f| f.to_string()).collect();
            return Err(Error::input(format!(
                "regularizer `{}` applies to {} tasks, not {} tasks",
                r.info.name,
                allowed.join(" or "),
                family
            )));
        }
    }
    for (what, names) in [
        ("mix the inputs", &["mixup"][..]),
        ("replace the task loss", &["multi_sample_dropout", "tpsgd"][..]),
        ("wrap the gradient", &["gr_fd"][..]),
        ("reweight the examples", &["drw", "group_dro"][..]),
        ("retrain the run", &["useful"][..]),
    ] {
        let hits: Vec<&str> = list.iter().filter(|r| names.contains(&r.info.name)).map(|r| r.label.as_str()).collect();
        if hits.len() > 1 {
            return Err(Error::input(format!("regularizers {} all {what}; a run can have only one of them", hits.join(", "))));
        }
    }
    let mut labels: Vec<&str> = list.iter().map(|r| r.label.as_str()).collect();
    labels.sort();
    if let Some(w) = labels.windows(2).find(|w| w[0] == w[1]) {
        return Err(Error::input(format!("regularizer label `{}` is used twice in one run; give the entries distinct `label:`s", w[0])));
    }
    Ok(())
}

/// Parse the parameters of a regularizer whose only parameter is its `weight` (range 0–10,
/// `default` when absent). Returns the weight and the canonical JSON `{"weight": w}`.
pub(crate) fn parse_weight(value: &serde_json::Value, default: f64) -> Result<(f64, serde_json::Value)> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Raw {
        weight: Option<f64>,
    }
    let value = if value.is_null() { serde_json::json!({}) } else { value.clone() };
    let raw: Raw = serde_json::from_value(value).map_err(crate::registry::serde_input_error)?;
    let weight = raw.weight.unwrap_or(default);
    crate::registry::check_range("weight", weight, 0.0, 10.0)?;
    Ok((weight, serde_json::json!({ "weight": weight })))
}

/// `Σ_l` over the weight matrices (2-D parameters) of a model.
pub(crate) fn weight_matrices(model: &dyn Model) -> Vec<Tensor> {
    model.linear_layers().into_iter().map(|(w, _)| w).collect()
}

/// A scalar zero tensor of `like`'s dtype and device.
pub(crate) fn scalar_zero(like: &Tensor) -> Result<Tensor> {
    Ok(Tensor::zeros((), like.dtype(), like.device())?)
}

/// Check that the model has linear layers, for regularizers that act on them.
pub(crate) fn need_layers(model: &dyn Model, name: &str) -> Result<Vec<(Tensor, Option<Tensor>)>> {
    let layers = model.linear_layers();
    if layers.is_empty() {
        return Err(Error::input(format!("regularizer `{name}` needs a model with linear layers (mlp, linear, embed_mlp)")));
    }
    Ok(layers)
}

/// `build` of a regularizer whose `Params` is itself the `Regularizer`: parse, validate, canonicalise.
pub(crate) fn build_params<P>(value: &serde_json::Value) -> crate::registry::Built<dyn Regularizer>
where
    P: Regularizer + serde::de::DeserializeOwned + serde::Serialize + crate::registry::Validate + 'static,
{
    let (params, canonical) = crate::registry::parse_params::<P>(value)?;
    Ok((std::sync::Arc::new(params), canonical))
}

#[cfg(test)]
pub(crate) mod testing {
    //! A tiny f64 MLP and batch for regularizer tests.
    use super::*;
    use crate::models::Init;
    use candle_core::{DType, Device};

    pub fn model(hidden: &[usize], d: usize, c: usize) -> Box<dyn Model> {
        let (spec, _) = (crate::models::mlp::INFO.build)(&serde_json::json!({"hidden": hidden})).unwrap();
        let init = Init { seed: 3, dtype: DType::F64, device: Device::Cpu };
        spec.instantiate(crate::data::InputKind::Dense { features: d }, c, &init).unwrap()
    }

    pub fn inputs(n: usize, d: usize, seed: u64) -> Tensor {
        let mut s = Stream::new(seed, crate::rng::Purpose::Data, 0);
        let v: Vec<f64> = (0..n * d).map(|_| s.normal()).collect();
        Tensor::from_vec(v, (n, d), &Device::Cpu).unwrap()
    }

    pub fn classes(n: usize, c: usize) -> Target {
        let y: Vec<u32> = (0..n).map(|i| (i % c) as u32).collect();
        Target::Classes(Tensor::from_vec(y, n, &Device::Cpu).unwrap())
    }

    /// Build a regularizer from JSON params and start it on `model`.
    pub fn start(name: &str, params: serde_json::Value, model: &dyn Model) -> Box<dyn Active> {
        let info = REGULARIZERS.iter().find(|i| i.name == name).unwrap();
        let (spec, _) = (info.build)(&params).unwrap();
        spec.start(&Start { model, seed: 0, class_counts: Some(vec![4, 2, 1]), epochs: 10, n_train: 16, groups: None }).unwrap()
    }

    /// The penalty of `active` on a batch, as a tensor (graph kept).
    pub fn penalty(active: &mut dyn Active, model: &dyn Model, x: &Tensor, target: &Target, step: usize) -> Tensor {
        let (out, embedding) = model.forward_with_embedding(x, None).unwrap();
        let pred = Prediction { out, ids: None, embedding };
        let mut rng = Stream::new(0, crate::rng::Purpose::Regularizer, step as u64);
        let mut batch = Batch { model, x, pred: &pred, target, step, epoch: 0, rng: &mut rng };
        active.penalty(&mut batch).unwrap().unwrap()
    }

    /// Central finite-difference check of ∂R/∂θ for every parameter of `model`, where
    /// `value` evaluates R at the current weights (state frozen between calls).
    pub fn check_gradient(model: &dyn Model, value: &mut dyn FnMut() -> Tensor, rtol: f64) {
        let r = value();
        let grads = r.backward().unwrap();
        for var in model.vars() {
            let Some(g) = grads.get(var.as_tensor()) else { continue };
            let g = g.flatten_all().unwrap().to_vec1::<f64>().unwrap();
            let base = var.as_tensor().flatten_all().unwrap().to_vec1::<f64>().unwrap();
            let shape = var.as_tensor().shape().clone();
            for i in (0..base.len()).step_by((base.len() / 7).max(1)) {
                let h = 1e-6;
                let mut plus = base.clone();
                plus[i] += h;
                var.set(&Tensor::from_vec(plus, shape.clone(), &Device::Cpu).unwrap()).unwrap();
                let fp = value().to_scalar::<f64>().unwrap();
                let mut minus = base.clone();
                minus[i] -= h;
                var.set(&Tensor::from_vec(minus, shape.clone(), &Device::Cpu).unwrap()).unwrap();
                let fm = value().to_scalar::<f64>().unwrap();
                var.set(&Tensor::from_vec(base.clone(), shape.clone(), &Device::Cpu).unwrap()).unwrap();
                let fd = (fp - fm) / (2.0 * h);
                assert!((fd - g[i]).abs() <= rtol * (1.0 + fd.abs()), "element {i}: autograd {} vs finite difference {fd}", g[i]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_sorted_unique() {
        crate::registry::check_sorted_unique(REGULARIZERS).unwrap();
    }

    #[test]
    fn unknown_parameters_are_rejected_and_defaults_build() {
        for info in REGULARIZERS {
            assert!((info.build)(&serde_json::json!({})).is_ok(), "{} does not build with defaults", info.name);
            let err = (info.build)(&serde_json::json!({"no_such_param": 1})).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(err.contains("no_such_param"), "{}: {err}", info.name);
        }
    }
}
