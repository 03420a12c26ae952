//! Class centres that a loss owns and trains (partial_fc's class centres, AdaFace's kernel,
//! the mean-field class vectors): `[C, D]`, one row per class of the task. A run creates them
//! from its seed (`for_run`); `losses eval`, which has no run, takes them as the parameter
//! `centres` (a list of C rows of D numbers).

use super::RunContext;
use crate::error::{Error, Result};
use crate::rng::{Purpose, Stream};
use candle_core::{Tensor, Var};

/// How a run's centres start.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Init {
    /// Independent N(0, std²) entries.
    Normal(f64),
    /// Entries U(−1, 1), each row then scaled to unit norm (AdaFace's
    /// `uniform_(-1, 1).renorm_(2, 1, 1e-5).mul_(1e5)`).
    UnitUniform,
}

pub(crate) struct Centres {
    /// The run's centres; `None` outside a run.
    var: Option<Var>,
    /// The `centres` parameter (`losses eval`).
    fixed: Option<Vec<Vec<f64>>>,
}

/// The `centres` parameter: at least two rows of one length, at most `MAX_CLASSES` rows.
pub(crate) fn validate(rows: &Option<Vec<Vec<f64>>>) -> Result<()> {
    if let Some(c) = rows {
        let d = c.first().map(Vec::len).unwrap_or(0);
        if c.len() < 2 || d == 0 || c.iter().any(|r| r.len() != d) || c.len() > crate::data::MAX_CLASSES {
            return Err(Error::input("parameter `centres` must be a list of at least 2 equal-length rows [C][D]"));
        }
        if c.iter().flatten().any(|v| !v.is_finite()) {
            return Err(Error::input("parameter `centres` holds a value that is not a finite number"));
        }
    }
    Ok(())
}

impl Centres {
    pub fn fixed(rows: Option<Vec<Vec<f64>>>) -> Self {
        Centres { var: None, fixed: rows }
    }

    /// A run's centres `[classes, outputs]` drawn from stream `axis` of the run's seed; `None`
    /// when the task has no classes.
    pub fn for_run(run: &RunContext, init: Init, axis: u64) -> Option<Self> {
        let (c, d) = (run.classes?, run.outputs);
        let mut rng = Stream::new(run.seed, Purpose::Loss, axis);
        let values: Vec<f64> = match init {
            Init::Normal(std) => (0..c * d).map(|_| std * rng.normal()).collect(),
            Init::UnitUniform => {
                let mut v: Vec<f64> = (0..c * d).map(|_| rng.uniform_in(-1.0, 1.0)).collect();
                crate::families::metric_learning::l2_normalize_host(&mut v, d);
                v
            }
        };
        let var =
            Tensor::from_vec(values, (c, d), &run.device).and_then(|t| t.to_dtype(run.dtype)).and_then(|t| Var::from_tensor(&t)).ok()?;
        Some(Centres { var: Some(var), fixed: None })
    }

    /// The centres `[C, D]` in the dtype and on the device of `like` (embeddings `[n, D]`);
    /// an error naming `loss` when there are none or their width is not the embeddings'.
    pub fn tensor(&self, like: &Tensor, loss: &str) -> Result<Tensor> {
        let w = match (&self.var, &self.fixed) {
            (Some(v), _) => v.as_tensor().clone(),
            (None, Some(rows)) => {
                let flat: Vec<f64> = rows.iter().flatten().copied().collect();
                Tensor::from_vec(flat, (rows.len(), rows[0].len()), like.device())?.to_dtype(like.dtype())?
            }
            (None, None) => {
                return Err(Error::input(format!(
                    "loss `{loss}` trains its own class centres in a run; in `losses eval` give them as --set centres=[[…], …]"
                )))
            }
        };
        if w.dim(1)? != like.dim(1)? {
            return Err(Error::input(format!("{loss}: centres are {}-d, embeddings {}-d", w.dim(1)?, like.dim(1)?)));
        }
        Ok(w)
    }

    pub fn vars(&self) -> Vec<Var> {
        self.var.iter().cloned().collect()
    }
}

/// Class ids below the number of centres, or an error naming `loss`.
pub(crate) fn check_labels(labels: &[u32], classes: usize, loss: &str) -> Result<()> {
    match labels.iter().find(|&&l| l as usize >= classes) {
        Some(bad) => Err(Error::input(format!("{loss}: label {bad} but only {classes} class centres"))),
        None => Ok(()),
    }
}
