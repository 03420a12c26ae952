//! `group_dro` — group distributionally robust optimisation (S114): minimise the worst-group
//! loss through an online mixture `q` over groups, updated by exponentiated gradient ascent.
//!
//! ```text
//! per step:  ℓ_g = mean of the batch's losses in group g   (0 for a group absent from the batch)
//!            ℓ̃_g = ℓ_g + C/√n_g                             (generalisation adjustment; n_g = train count)
//!            q_g ← q_g·exp(η_q·ℓ̃_g),  q ← q / Σ q              (q₀ uniform)
//!            L   = Σ_g q_g·ℓ_g
//! ```
//! The groups are the dataset's own where it has them (`spurious_synth`: class × spurious
//! attribute, as the paper's Waterbirds/CelebA groups), the classes of the task otherwise
//! (class-level DRO). `L` is produced as per-example weights `w_i = n·q_{g_i}/n_{g_i}^{batch}`,
//! so `mean_i w_i ℓ_i = Σ_g q_g ℓ_g`. `q` moves once per optimizer step; its largest entry is
//! logged. The paper's central point — strong L2 or early stopping is needed for the worst group
//! to benefit — is a matter of the recipe (weight decay, best-on-validation selection).
//! Reference: Sagawa, Koh, Hashimoto & Liang, *Distributionally Robust Neural Networks for Group
//! Shifts*, ICLR 2020 (S114); kohpangwei/group_DRO `loss.py::LossComputer.compute_robust_loss`
//! (adjustment, exp update, normalisation, robust loss `group_loss @ adv_probs`) [ref].

use super::{Active, Kind, Regularizer, RegularizerInfo, Start};
use crate::error::{Error, Result};
use crate::registry::{check_range, ParamDoc, Validate};
use crate::task::{Family, Target};
use candle_core::{DType, Tensor};
use serde::{Deserialize, Serialize};

pub static INFO: RegularizerInfo = RegularizerInfo {
    name: "group_dro",
    kind: Kind::Reweight,
    families: &[Family::Classification],
    summary: "group DRO: exponentiated-gradient weights on the worst groups' losses (the dataset's groups, else the classes)",
    formula: "q_g ← q_g·exp(η_q(ℓ_g + C/√n_g)), normalised;  L = Σ_g q_g·ℓ_g  (groups: the dataset's, else the classes)",
    reference: "Sagawa et al., Distributionally Robust Neural Networks, ICLR 2020 (S114); kohpangwei/group_DRO loss.py [ref]",
    params: &[
        ParamDoc { name: "step_size", meaning: "step size η_q of the group weights", range: "0 ≤ η_q ≤ 10", default: "0.01" },
        ParamDoc { name: "adjustment", meaning: "generalisation adjustment C", range: "0 ≤ C ≤ 100", default: "0.0" },
    ],
    build: super::build_params::<Params>,
};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    pub step_size: f64,
    pub adjustment: f64,
}

impl Default for Params {
    fn default() -> Self {
        Params { step_size: 0.01, adjustment: 0.0 }
    }
}

impl Validate for Params {
    fn validate(&self) -> Result<()> {
        check_range("step_size", self.step_size, 0.0, 10.0)?;
        check_range("adjustment", self.adjustment, 0.0, 100.0)
    }
}

impl Regularizer for Params {
    fn start(&self, run: &Start) -> Result<Box<dyn Active>> {
        if let Some(groups) = run.groups {
            let counts = (0..groups.names.len() as u32).map(|g| groups.train.iter().filter(|&&x| x == g).count()).collect();
            return Ok(Box::new(State::new(self, counts, Some(groups.train.clone()))));
        }
        let counts = run
            .class_counts
            .clone()
            .ok_or_else(|| Error::input("regularizer `group_dro` needs groups: the dataset's own (spurious_synth) or class labels"))?;
        Ok(Box::new(State::new(self, counts, None)))
    }
}

struct State {
    params: Params,
    q: Vec<f64>,
    /// Train rows per group.
    counts: Vec<usize>,
    /// The group of each train row; `None`: the groups are the classes.
    members: Option<Vec<u32>>,
    last_step: Option<usize>,
}

impl State {
    fn new(params: &Params, counts: Vec<usize>, members: Option<Vec<u32>>) -> State {
        let g = counts.len().max(1);
        State { params: params.clone(), q: vec![1.0 / g as f64; g], counts, members, last_step: None }
    }

    /// The group of each example of the batch.
    fn groups_of(&self, target: &Target, rows: &[usize]) -> Result<Vec<u32>> {
        let Some(members) = &self.members else {
            let Target::Classes(y) = target else { return Err(Error::input("regularizer `group_dro` needs class labels")) };
            return Ok(y.to_vec1::<u32>()?);
        };
        rows.iter()
            .map(|&r| members.get(r).copied().ok_or_else(|| Error::runtime(format!("group_dro: train row {r} has no group"))))
            .collect()
    }
}

impl Active for State {
    fn weights(&mut self, per: &Tensor, target: &Target, rows: &[usize], step: usize, _epoch: usize) -> Result<Option<Tensor>> {
        let y = self.groups_of(target, rows)?;
        let n = y.len();
        let g = self.q.len();
        let mut batch_count = vec![0usize; g];
        for &c in &y {
            *batch_count.get_mut(c as usize).ok_or_else(|| Error::runtime("group id beyond the group counts"))? += 1;
        }
        if self.last_step != Some(step) {
            self.last_step = Some(step);
            let losses = per.detach().to_dtype(DType::F64)?.to_vec1::<f64>()?;
            let mut group_loss = vec![0f64; g];
            for (l, &c) in losses.iter().zip(&y) {
                group_loss[c as usize] += l;
            }
            for (k, q) in self.q.iter_mut().enumerate() {
                let mean = group_loss[k] / batch_count[k].max(1) as f64;
                let adjusted = mean + self.params.adjustment / (self.counts[k].max(1) as f64).sqrt();
                *q *= (self.params.step_size * adjusted).exp();
            }
            let total: f64 = self.q.iter().sum();
            self.q.iter_mut().for_each(|q| *q /= total);
        }
        let w: Vec<f64> = y.iter().map(|&c| n as f64 * self.q[c as usize] / batch_count[c as usize] as f64).collect();
        Ok(Some(Tensor::from_vec(w, n, per.device())?.to_dtype(per.dtype())?))
    }
    /// The largest group weight (1/G when uniform, 1 when one group dominates).
    fn logged(&self) -> Option<f64> {
        self.q.iter().cloned().reduce(f64::max)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use candle_core::{Device, Tensor};

    /// One step by hand: q ∝ exp(η·ℓ_g) from uniform, and mean(w·ℓ) = Σ q_g ℓ_g. A class absent
    /// from the batch gets ℓ_g = 0 (as in LossComputer.compute_group_avg).
    #[test]
    fn weights_reproduce_the_robust_loss() {
        let model = model(&[], 2, 3);
        let mut reg = start("group_dro", serde_json::json!({"step_size": 0.5}), model.as_ref());
        let y = crate::task::Target::Classes(Tensor::from_vec(vec![0u32, 0, 1, 1, 1], 5, &Device::Cpu).unwrap());
        let per = Tensor::from_vec(vec![1.0f64, 3.0, 0.5, 0.5, 2.0], 5, &Device::Cpu).unwrap();
        let w = reg.weights(&per, &y, &[], 0, 0).unwrap().unwrap();
        let robust = (per.clone() * w).unwrap().mean_all().unwrap().to_scalar::<f64>().unwrap();
        let l = [2.0, 1.0, 0.0];
        let e: Vec<f64> = l.iter().map(|v: &f64| (0.5 * v).exp()).collect();
        let z: f64 = e.iter().sum();
        let expect: f64 = l.iter().zip(&e).map(|(l, e)| l * e / z).sum();
        assert!((robust - expect).abs() < 1e-12, "{robust} vs {expect}");
        assert!((reg.logged().unwrap() - e[0] / z).abs() < 1e-12);
        // A second call in the same step does not move q.
        let again = reg.weights(&per, &y, &[], 0, 0).unwrap().unwrap();
        assert_eq!(again.to_vec1::<f64>().unwrap(), reg.weights(&per, &y, &[], 0, 0).unwrap().unwrap().to_vec1::<f64>().unwrap());
    }

    /// With the dataset's groups, an example's group is its train row's, not its class: all
    /// examples share class 0 here, and the weights still split by group.
    #[test]
    fn the_datasets_groups_replace_the_classes() {
        let model = model(&[], 2, 3);
        let groups = crate::data::transforms::SplitGroups {
            names: vec!["a".into(), "b".into()],
            train: vec![0, 1, 1, 0, 1, 1],
            val: vec![],
            test: vec![],
        };
        let info = crate::regularizers::REGULARIZERS.iter().find(|i| i.name == "group_dro").unwrap();
        let (spec, _) = (info.build)(&serde_json::json!({"step_size": 0.5})).unwrap();
        let start = crate::regularizers::Start {
            model: model.as_ref(),
            seed: 0,
            class_counts: Some(vec![6]),
            epochs: 1,
            n_train: 6,
            groups: Some(&groups),
        };
        let mut reg = spec.start(&start).unwrap();
        let y = crate::task::Target::Classes(Tensor::from_vec(vec![0u32; 4], 4, &Device::Cpu).unwrap());
        let per = Tensor::from_vec(vec![1.0f64, 3.0, 0.5, 2.0], 4, &Device::Cpu).unwrap();
        // Rows 0, 1, 3, 4: groups a, b, a, b → ℓ_a = 0.75, ℓ_b = 2.5.
        let w = reg.weights(&per, &y, &[0, 1, 3, 4], 0, 0).unwrap().unwrap();
        let robust = (per * w).unwrap().mean_all().unwrap().to_scalar::<f64>().unwrap();
        let (ea, eb) = ((0.5f64 * 0.75).exp(), (0.5f64 * 2.5).exp());
        let expect = (0.75 * ea + 2.5 * eb) / (ea + eb);
        assert!((robust - expect).abs() < 1e-12, "{robust} vs {expect}");
        // A row beyond the train split's groups is an error, not a panic.
        assert!(reg
            .weights(&Tensor::ones(1, candle_core::DType::F64, &Device::Cpu).unwrap(), &y.narrow(0, 1).unwrap(), &[9], 1, 0)
            .is_err());
    }
}
