//! Coherent-gradient estimators around any base optimizer (S157): suppress weak gradient
//! directions — those supported by few examples — before the update.
//!
//! ```text
//! m3:          the batch cut into 3 micro-batches;  G = coordinate-wise median(g¹, g², g³)
//!              (median of three = Σ − max − min)
//! winsorized:  per-example gradients G_i of the batch-mean loss (G_i = ∇ℓ_i / n);
//!              per coordinate j: [l_j, h_j] = the c-th and (100 − c)-th percentiles of G_·j
//!              (nearest rank: index round(c/100·(n − 1)), ties to even, as numpy 'nearest');
//!              G_j = Σ_i clip(G_ij, l_j, h_j)
//! base step with G
//! ```
//! The authors' M3 takes the median of the gradients of three consecutive mini-batches at the
//! same weights (one update per three batches); splitting one batch into three is the same
//! estimator at a third of the batch size per gradient. Winsorized GD loops over the batch's
//! examples (one backward pass each). The loss reported is the batch mean. Batches with fewer
//! rows than the estimator needs (3 for m3) use the plain gradient.
//!
//! Reference: Chatterjee & Zielinski, *On the Generalization Mystery in Deep Learning* /
//! *Weak and Strong Gradient Directions: Explaining Memorization, Generalization, and Hardness
//! of Examples at Scale*, arXiv:2003.07422 (S157); google-research `coherent_gradients`:
//! `weak_and_strong/optimizers/m3.py` (median of a ring buffer of 3 gradients) and
//! `iclr_2020_paper/utils.py` (winsorize_sum with `np.percentile(…, interpolation='nearest')`,
//! c = `winsorize_pct`, default 10) [code].

use super::{base_step, build_wrapped, grads_of, part_range, with_grads, Evaluation, Objective, Optimizer, OptimizerInfo, OptimizerSpec};
use crate::error::Result;
use crate::registry::{check_range, ParamDoc, Validate};
use candle_core::{DType, Tensor, Var};
use serde::{Deserialize, Serialize};

pub static INFO: OptimizerInfo = OptimizerInfo {
    name: "coherent_gd",
    summary: "coherent-gradient estimators (median of 3 micro-batches, or winsorized per-example gradients) around any base",
    update: "m3: G = median(g¹, g², g³);  winsorized: G_j = Σ_i clip(G_ij, pct_c, pct_{100−c});  base step with G",
    reference: "Chatterjee & Zielinski, arXiv:2003.07422 (S157); google-research coherent_gradients [code]",
    params: &[
        ParamDoc { name: "estimator", meaning: "gradient estimator", range: "m3 | winsorized", default: "m3" },
        ParamDoc { name: "c", meaning: "winsorized: percentile c clipped on each side", range: "0 ≤ c < 50", default: "10.0" },
        ParamDoc { name: "base", meaning: "the base optimizer", range: "{name: sgd, lr: …}", default: "{name: sgd, lr: 0.1}" },
    ],
    build,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Estimator {
    M3,
    Winsorized,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    pub estimator: Estimator,
    pub c: f64,
}

impl Default for Params {
    fn default() -> Self {
        Params { estimator: Estimator::M3, c: 10.0 }
    }
}

impl Validate for Params {
    fn validate(&self) -> Result<()> {
        check_range("c", self.c, 0.0, 49.999)
    }
}

fn build(value: &serde_json::Value) -> crate::registry::Built<dyn OptimizerSpec> {
    build_wrapped::<Params>(value, serde_json::json!({"name": "sgd", "lr": 0.1}), |p, vars, base, _ctx| {
        Box::new(CoherentGd { params: p.clone(), vars, base })
    })
}

pub struct CoherentGd {
    params: Params,
    vars: Vec<Var>,
    base: Box<dyn Optimizer>,
}

fn host(t: &Tensor) -> Result<Vec<f64>> {
    Ok(t.flatten_all()?.to_dtype(DType::F64)?.to_vec1::<f64>()?)
}

fn like(values: Vec<f64>, t: &Tensor) -> Result<Tensor> {
    Ok(Tensor::from_vec(values, t.shape(), t.device())?.to_dtype(t.dtype())?)
}

/// Evaluate micro-batches `0..k` of the objective: the size-weighted mean loss, the gradients
/// per part (per variable, on the host) and one evaluation to carry the result.
/// Host gradients of each micro-batch: `[part][variable][element]`.
type PartGrads = Vec<Vec<Vec<f64>>>;

fn parts(objective: &mut dyn Objective, vars: &[Var], k: usize) -> Result<(f64, PartGrads, Evaluation)> {
    let n = objective.rows();
    let mut loss = 0.0;
    let mut grads = Vec::with_capacity(k);
    let mut carrier = None;
    for i in 0..k {
        let (lo, hi) = part_range(i, k, n);
        let e = objective.eval_part(i, k)?;
        loss += e.loss * (hi - lo) as f64 / n as f64;
        grads.push(grads_of(vars, &e.grads)?.iter().map(host).collect::<Result<Vec<_>>>()?);
        carrier = Some(e);
    }
    let carrier = carrier.ok_or_else(|| crate::error::Error::runtime("coherent_gd: empty batch"))?;
    Ok((loss, grads, carrier))
}

/// numpy `np.percentile(sorted, q, interpolation='nearest')` on sorted values.
fn nearest_percentile(sorted: &[f64], q: f64) -> f64 {
    let pos = (q / 100.0 * (sorted.len() - 1) as f64).round_ties_even() as usize;
    sorted[pos.min(sorted.len() - 1)]
}

impl Optimizer for CoherentGd {
    fn step(&mut self, objective: &mut dyn Objective, lr: f64) -> Result<f64> {
        let n = objective.rows();
        let needed = match self.params.estimator {
            Estimator::M3 => 3,
            Estimator::Winsorized => 2,
        };
        if n < needed {
            let e = objective.eval()?;
            let loss = e.loss;
            base_step(self.base.as_mut(), e, lr, "coherent_gd")?;
            return Ok(loss);
        }
        let (loss, per, carrier) = match self.params.estimator {
            Estimator::M3 => parts(objective, &self.vars, 3)?,
            Estimator::Winsorized => parts(objective, &self.vars, n)?,
        };
        let k = per.len();
        let mut combined = Vec::with_capacity(self.vars.len());
        for (j, v) in self.vars.iter().enumerate() {
            let len = per[0][j].len();
            let mut out = vec![0f64; len];
            let mut column = vec![0f64; k];
            for (x, o) in out.iter_mut().enumerate() {
                for (i, c) in column.iter_mut().enumerate() {
                    *c = per[i][j][x];
                }
                *o = match self.params.estimator {
                    Estimator::M3 => {
                        let (a, b, c) = (column[0], column[1], column[2]);
                        a + b + c - a.max(b).max(c) - a.min(b).min(c)
                    }
                    Estimator::Winsorized => {
                        // Per-example gradients of the batch-mean loss: ∇ℓ_i / n.
                        column.iter_mut().for_each(|c| *c /= k as f64);
                        let mut sorted = column.clone();
                        sorted.sort_by(f64::total_cmp);
                        let lo = nearest_percentile(&sorted, self.params.c);
                        let hi = nearest_percentile(&sorted, 100.0 - self.params.c);
                        column.iter().map(|c| c.clamp(lo, hi)).sum()
                    }
                };
            }
            combined.push(like(out, v.as_tensor())?);
        }
        let e = with_grads(Evaluation { loss, grads: carrier.grads }, &self.vars, combined);
        base_step(self.base.as_mut(), e, lr, "coherent_gd")?;
        Ok(loss)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::testing::LeastSquares;
    use crate::optim::Context;

    fn step(params: serde_json::Value) -> Vec<f64> {
        let (spec, _) = build(&params).unwrap();
        let mut problem = LeastSquares::new();
        let mut opt = spec.instantiate(vec![problem.w.clone()], &Context::default()).unwrap();
        opt.step(&mut problem, 0.1).unwrap();
        problem.w.as_tensor().to_vec1::<f64>().unwrap()
    }

    /// m3 is the coordinate-wise median of the three micro-batch gradients; winsorized with
    /// c = 0 is the plain batch gradient, and with c > 0 clips each coordinate's extremes
    /// (checked by hand with nearest-rank percentiles on the 6 per-example gradients).
    #[test]
    fn estimators_match_hand_computation() {
        let p = LeastSquares::new();
        let w0 = p.w.as_tensor().to_vec1::<f64>().unwrap();
        let parts: Vec<Vec<f64>> = [(0, 2), (2, 4), (4, 6)].iter().map(|&(a, b)| p.grad(a, b)).collect();
        let got = step(serde_json::json!({"estimator": "m3"}));
        for j in 0..3 {
            let mut col = [parts[0][j], parts[1][j], parts[2][j]];
            col.sort_by(f64::total_cmp);
            assert!((got[j] - (w0[j] - 0.1 * col[1])).abs() < 1e-12);
        }
        let full = p.grad(0, 6);
        let got = step(serde_json::json!({"estimator": "winsorized", "c": 0.0}));
        for j in 0..3 {
            assert!((got[j] - (w0[j] - 0.1 * full[j])).abs() < 1e-12);
        }
        let examples: Vec<Vec<f64>> = (0..6).map(|i| p.grad(i, i + 1)).collect();
        let got = step(serde_json::json!({"estimator": "winsorized", "c": 20.0}));
        for j in 0..3 {
            // n = 6: index round(0.2·5) = 1 and round(0.8·5) = 4: clip to the 2nd smallest and 2nd largest.
            let mut col: Vec<f64> = examples.iter().map(|g| g[j] / 6.0).collect();
            let mut sorted = col.clone();
            sorted.sort_by(f64::total_cmp);
            col.iter_mut().for_each(|c| *c = c.clamp(sorted[1], sorted[4]));
            let update: f64 = col.iter().sum();
            assert!((got[j] - (w0[j] - 0.1 * update)).abs() < 1e-12, "{got:?}");
        }
    }
}
