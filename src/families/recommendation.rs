//! Recommendation from implicit feedback (catalog §2.2 F8): a ranking-family task whose rows are
//! (user, item) positives. Training turns each positive into a list — the positive, then
//! `negatives` items drawn uniformly among those that are not the user's training positives
//! (so removed positives, the false negatives, can be drawn) — with relevance `[1, 0, …, 0]`,
//! which the ranking losses take as they take any list. Evaluation ranks every item for each
//! user with a positive in the split: the split's positives have relevance 1, the user's
//! training positives are left out (relevance −1, the usual filtered ranking) on the other
//! splits, every other item has 0; the `loss` row is the loss on lists of each split positive
//! and a fixed draw of negatives (the same at every evaluation).

use super::inputs::Object;
use super::{rows, Epoch, EvalContext, EvalInputs, HostLabels, InputNames, Split, TaskFamily};
use crate::data::transforms::Prepared;
use crate::data::Table;
use crate::error::{Error, Result};
use crate::metrics::{HostTarget, Outputs};
use crate::rng::{Purpose, Stream};
use crate::run::MetricRow;
use crate::task::{Family, Target};
use candle_core::{DType, Device, Tensor};
use std::sync::Mutex;

pub struct Recommendation {
    pub users: usize,
    pub items: usize,
    pub negatives: usize,
    /// Each user's training positives, sorted (set when the train split is built, first).
    train_positives: Mutex<Vec<Vec<u32>>>,
}

impl Recommendation {
    pub fn new(users: usize, items: usize, negatives: usize) -> Self {
        Recommendation { users, items, negatives, train_positives: Mutex::new(Vec::new()) }
    }

    fn positives(&self) -> Result<std::sync::MutexGuard<'_, Vec<Vec<u32>>>> {
        self.train_positives.lock().map_err(|_| Error::runtime("poisoned train-positives lock"))
    }

    /// Lists `[user, positive, negatives…]` (ids as floats) and their relevance `[1, 0, …]`
    /// for the given pairs, negatives drawn from `rng` among the user's non-positives.
    fn lists(&self, pairs: &[(u32, u32)], rng: &mut Stream, dtype: DType, device: &Device) -> Result<(Tensor, Target)> {
        let known = self.positives()?;
        let width = 2 + self.negatives;
        let mut x = Vec::with_capacity(pairs.len() * width);
        for &(user, item) in pairs {
            x.extend([user as f32, item as f32]);
            let own = known.get(user as usize).map(Vec::as_slice).unwrap_or(&[]);
            for _ in 0..self.negatives {
                let negative = loop {
                    let j = rng.below(self.items as u64) as u32;
                    if own.binary_search(&j).is_err() {
                        break j;
                    }
                };
                x.push(negative as f32);
            }
        }
        let n = pairs.len();
        let r: Vec<f32> = (0..n * (width - 1)).map(|e| if e % (width - 1) == 0 { 1.0 } else { 0.0 }).collect();
        let target = Target::Values(Tensor::from_vec(r, (n, width - 1), device)?.to_dtype(dtype)?);
        Ok((Tensor::from_vec(x, (n, width), device)?, target))
    }
}

/// The (user, item) pairs of a split's host copy.
fn pairs(split: &Split) -> Result<&[(u32, u32)]> {
    match &split.host {
        HostLabels::Interactions(p) => Ok(p),
        _ => Err(Error::runtime("recommendation split without (user, item) pairs")),
    }
}

impl TaskFamily for Recommendation {
    fn family(&self) -> Family {
        Family::Ranking
    }

    fn input_names(&self) -> InputNames {
        super::ranking::Ranking.input_names()
    }

    fn default_metrics(&self) -> &'static [&'static str] {
        &["ndcg_at_k", "recall_at_k_rec"]
    }

    /// The pairs, ids as floats `[n, 2]`; the train split's positives are kept per user.
    fn split(&self, name: &'static str, table: &Table, _prepared: &Prepared, dtype: DType, device: &Device) -> Result<Split> {
        let n = table.len();
        let pairs: Vec<(u32, u32)> = table.x.chunks_exact(2).map(|p| (p[0] as u32, p[1] as u32)).collect();
        if name == "train" {
            let mut known = vec![Vec::new(); self.users];
            for &(u, i) in &pairs {
                known.get_mut(u as usize).ok_or_else(|| Error::runtime(format!("user id {u} beyond {} users", self.users)))?.push(i);
            }
            known.iter_mut().for_each(|v| v.sort_unstable());
            *self.positives()? = known;
        }
        let x = Tensor::from_vec(table.x.clone(), (n, 2), device)?;
        let target = rows::target(&table.y, n, dtype, device)?;
        Ok(Split { name, x, target, host: HostLabels::Interactions(pairs), len: n })
    }

    /// Shuffled positives, each with its negatives drawn for this epoch.
    fn epoch(&self, train: &Split, seed: u64, epoch: usize, batch: usize) -> Result<Epoch> {
        let order = Stream::new(seed, Purpose::Shuffle, epoch as u64).permutation(train.len);
        let all = pairs(train)?;
        let picked: Vec<(u32, u32)> = order.iter().map(|&i| all[i]).collect();
        let mut rng = Stream::new(seed, Purpose::Negatives, epoch as u64);
        let dtype = train.target.tensor().dtype();
        let (x, target) = self.lists(&picked, &mut rng, dtype, train.x.device())?;
        let batch = batch.max(1);
        let batches = (0..train.len.div_ceil(batch)).map(|b| b * batch..((b + 1) * batch).min(train.len)).collect();
        Ok(Epoch { order, x, target, batches })
    }

    fn rejects(&self, r: &crate::regularizers::RegularizerInfo) -> Option<&'static str> {
        super::ranking::Ranking.rejects(r)
    }

    fn eval_inputs(&self, loss: &str, obj: &Object, dtype: DType) -> Result<EvalInputs> {
        super::ranking::Ranking.eval_inputs(loss, obj, dtype)
    }

    fn evaluate(&self, ctx: &EvalContext, split: &Split, epoch: usize, out: &mut Vec<MetricRow>) -> Result<()> {
        let split_pairs = pairs(split)?;
        // The loss on the split's positives, each with a fixed draw of negatives.
        let axis = match split.name {
            "train" => 0,
            "val" => 1,
            _ => 2,
        };
        let mut rng = Stream::new(ctx.spec.seed, Purpose::Negatives, (1 << 40) | axis);
        let (x, target) = self.lists(split_pairs, &mut rng, split.target.tensor().dtype(), split.x.device())?;
        let lists = Split { name: split.name, x, target, host: HostLabels::Values(Vec::new()), len: split.len };
        rows::forward_split(ctx, self, &lists, epoch, out)?;
        let (scores, relevance) = self.rank_all(ctx, split, split_pairs)?;
        let host = Outputs::new(&scores, self.items, HostTarget::Values(&relevance));
        rows::metric_rows(ctx, split, epoch, &host, out);
        Ok(())
    }
}

impl Recommendation {
    /// Every item's score for each user with a positive in the split, `[u, items]`, and the
    /// relevance the metrics rank by.
    fn rank_all(&self, ctx: &EvalContext, split: &Split, split_pairs: &[(u32, u32)]) -> Result<(Vec<f64>, Vec<f64>)> {
        let mut by_user: std::collections::BTreeMap<u32, Vec<u32>> = Default::default();
        for &(u, i) in split_pairs {
            by_user.entry(u).or_default().push(i);
        }
        let users: Vec<u32> = by_user.keys().copied().collect();
        let known = self.positives()?;
        let mut relevance = Vec::with_capacity(users.len() * self.items);
        for u in &users {
            let mut row = vec![0.0; self.items];
            if split.name != "train" {
                known.get(*u as usize).into_iter().flatten().for_each(|&i| row[i as usize] = -1.0);
            }
            by_user[u].iter().for_each(|&i| row[i as usize] = 1.0);
            relevance.extend(row);
        }
        drop(known);
        let mut scores = Vec::with_capacity(relevance.len());
        // Users per forward pass: the evaluation chunk, sized from the model's activations per
        // row (an all-items row for `dot_embed`).
        for chunk in users.chunks(ctx.chunk.max(1)) {
            let x: Vec<f32> = chunk.iter().flat_map(|&u| std::iter::once(u as f32).chain((0..self.items).map(|i| i as f32))).collect();
            let x = Tensor::from_vec(x, (chunk.len(), self.items + 1), split.x.device())?;
            scores.extend(ctx.model.forward(&x, None)?.to_dtype(DType::F64)?.flatten_all()?.to_vec1::<f64>()?);
        }
        Ok((scores, relevance))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn train_split(family: &Recommendation, pairs: &[(u32, u32)]) -> Split {
        let x: Vec<f32> = pairs.iter().flat_map(|&(u, i)| [u as f32, i as f32]).collect();
        let table = Table { x, d: 2, y: crate::data::Labels::Values { data: vec![1.0; pairs.len()], k: 1 } };
        let raw = crate::data::RawData::dense(crate::task::TaskKind::Recommendation { users: 3, items: 12, negatives: 5 }, table.clone());
        let prepared = crate::data::transforms::prepare(raw, &Default::default(), 0).unwrap();
        family.split("train", &table, &prepared, DType::F32, &Device::Cpu).unwrap()
    }

    #[test]
    fn training_lists_hold_the_positive_then_negatives_that_are_not_training_positives() {
        let family = Recommendation::new(3, 12, 5);
        let pairs = [(0, 1), (0, 2), (1, 3), (2, 4), (2, 5), (2, 6)];
        let train = train_split(&family, &pairs);
        let epoch = family.epoch(&train, 7, 1, 4).unwrap();
        assert_eq!(epoch.batches.len(), 2);
        let x = epoch.x.to_vec2::<f32>().unwrap();
        let r = epoch.target.tensor().to_vec2::<f32>().unwrap();
        for (pos, row) in x.iter().enumerate() {
            let (user, item) = pairs[epoch.order[pos]];
            assert_eq!((row[0] as u32, row[1] as u32), (user, item), "the list follows the order");
            let own: Vec<u32> = pairs.iter().filter(|p| p.0 == user).map(|p| p.1).collect();
            assert!(row[2..].iter().all(|&j| !own.contains(&(j as u32)) && (j as usize) < 12), "{row:?} vs {own:?}");
            assert_eq!(r[pos], vec![1.0, 0.0, 0.0, 0.0, 0.0, 0.0]);
        }
        assert_eq!(family.epoch(&train, 7, 1, 4).unwrap().x.to_vec2::<f32>().unwrap(), x, "same seed and epoch, same draws");
        assert_ne!(family.epoch(&train, 7, 2, 4).unwrap().x.to_vec2::<f32>().unwrap(), x);
    }
}
