//! Losses: the [`Loss`] trait, [`LossInfo`] (docs as data) and the [`LOSSES`] registry.
//!
//! Every loss returns **per-example** values `[n]`; the trainer takes the mean. Log-space
//! formulations (log_softmax with a max shift) keep logits of ±1e4 finite. Each loss file
//! reads top to bottom: module doc (formula, shapes, paper) → `INFO` → `Params` → forward →
//! tests; the registry-wide tests at the bottom of this file check every entry the same way
//! (finite-difference gradients in f64, shapes, extreme inputs, unknown parameters), and
//! `tests/loss_fixtures.rs` checks values and gradients against PyTorch.

pub mod cross_entropy;
pub mod eval;
pub mod focal;
pub mod huber;
pub mod mae;
pub mod mse;

use crate::error::{Error, Result};
use crate::registry::{Named, ParamDoc};
use crate::task::{Family, Prediction, Target};
use candle_core::{DType, Tensor, D};

/// A loss function: per-example values for a batch.
pub trait Loss: Send + Sync {
    /// Per-example losses `[n]`.
    fn forward(&self, pred: &Prediction, target: &Target) -> Result<Tensor>;
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
pub static LOSSES: &[&LossInfo] = &[&cross_entropy::INFO, &focal::INFO, &huber::INFO, &mae::INFO, &mse::INFO];

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
        };
        (var, target)
    }

    /// Mean loss as f64.
    pub fn mean_loss(loss: &dyn Loss, z: &Tensor, target: &Target) -> f64 {
        let per = loss.forward(&Prediction { out: z.clone() }, target).unwrap();
        per.mean_all().unwrap().to_dtype(DType::F64).unwrap().to_scalar::<f64>().unwrap()
    }
}

#[cfg(test)]
mod tests {
    use super::testing::*;
    use super::*;
    use crate::registry::check_sorted_unique;
    use candle_core::{Device, Var};

    fn build_default(info: &LossInfo) -> std::sync::Arc<dyn Loss> {
        (info.build)(&serde_json::Value::Null).unwrap().0
    }

    #[test]
    fn registry_sorted_unique_and_documented() {
        check_sorted_unique(LOSSES).unwrap();
        for info in LOSSES {
            assert!(
                !info.summary.is_empty() && !info.formula.is_empty() && !info.reference.is_empty(),
                "{}",
                info.name
            );
            let (_, canonical) = (info.build)(&serde_json::Value::Null).unwrap();
            // Defaults round-trip: building from the canonical params gives the same params.
            let (_, again) = (info.build)(&canonical).unwrap();
            assert_eq!(canonical, again, "{}", info.name);
            for p in info.params {
                assert!(
                    canonical.get(p.name).is_some(),
                    "{}: documented param `{}` not in Params",
                    info.name,
                    p.name
                );
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
            let loss = build_default(info);
            for scale in [1.0, 1e4] {
                let (var, target) = random_batch(info.family, 6, 4, 1, scale);
                let z = var.as_tensor().to_dtype(DType::F32).unwrap();
                let zv = Var::from_tensor(&z).unwrap();
                let target = match target {
                    Target::Values(t) => Target::Values(t.to_dtype(DType::F32).unwrap()),
                    t => t,
                };
                let per = loss
                    .forward(
                        &Prediction {
                            out: zv.as_tensor().clone(),
                        },
                        &target,
                    )
                    .unwrap();
                assert_eq!(per.dims(), &[6], "{}", info.name);
                let values = per.to_vec1::<f32>().unwrap();
                assert!(values.iter().all(|v| v.is_finite()), "{} at scale {scale}: {values:?}", info.name);
                if info.props.contains(&Prop::NonNegative) {
                    assert!(values.iter().all(|v| *v >= 0.0), "{}: {values:?}", info.name);
                }
                let grads = per.mean_all().unwrap().backward().unwrap();
                let g = grads.get(zv.as_tensor()).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
                assert!(g.iter().all(|v| v.is_finite()), "{} grad at scale {scale}: {g:?}", info.name);
            }
        }
    }

    /// Central finite differences in f64 against autograd, away from declared kinks.
    #[test]
    fn finite_difference_gradients_match_autograd() {
        for info in LOSSES {
            let loss = build_default(info);
            for seed in 0..3 {
                let (var, target) = random_batch(info.family, 5, 3, seed, 2.0);
                let kinks: Vec<f64> = info
                    .props
                    .iter()
                    .filter_map(|p| if let Prop::Kink { at } = p { Some(*at) } else { None })
                    .collect();
                if !kinks.is_empty() {
                    // Residual losses: skip batches with a residual within 1e-3 of a kink.
                    let r = (var.as_tensor() - target.tensor())
                        .unwrap()
                        .abs()
                        .unwrap()
                        .flatten_all()
                        .unwrap()
                        .to_vec1::<f64>()
                        .unwrap();
                    if r.iter().any(|r| kinks.iter().any(|k| (r - k).abs() < 1e-3)) {
                        continue;
                    }
                }
                let per = loss
                    .forward(
                        &Prediction {
                            out: var.as_tensor().clone(),
                        },
                        &target,
                    )
                    .unwrap();
                let grads = per.mean_all().unwrap().backward().unwrap();
                let analytic = grads.get(var.as_tensor()).unwrap().flatten_all().unwrap().to_vec1::<f64>().unwrap();
                let base = var.as_tensor().flatten_all().unwrap().to_vec1::<f64>().unwrap();
                let h = 1e-6;
                for i in 0..base.len() {
                    let at = |delta: f64| {
                        let mut v = base.clone();
                        v[i] += delta;
                        let t = Tensor::from_vec(v, var.as_tensor().shape(), &Device::Cpu).unwrap();
                        mean_loss(loss.as_ref(), &t, &target)
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
