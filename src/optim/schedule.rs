//! Learning-rate schedules: a multiplier of the optimizer's base `lr` per step, after an
//! optional linear warm-up. Schedules compose with every optimizer.
//!
//! ```text
//! warm-up (step < W):   f = (step + 1) / W
//! constant:             f = 1
//! cosine:               f = m + (1 − m)·½(1 + cos(π·(step − W)/(T − W)))     (m = min_factor)
//! step:                 f = gamma^⌊epoch / every⌋
//! one_cycle:            cosine from 1/div up to 1 over the first pct_start of the steps, then
//!                       cosine down to 1/(div·final_div) (torch.optim.lr_scheduler.OneCycleLR,
//!                       anneal_strategy "cos", three_phase false; the base lr is max_lr)
//! ```

use crate::error::{Error, Result};
use crate::registry::check_range;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case", tag = "name", deny_unknown_fields)]
pub enum Schedule {
    #[default]
    Constant,
    Cosine {
        #[serde(default)]
        min_factor: f64,
    },
    Step {
        every: usize,
        #[serde(default = "default_gamma")]
        gamma: f64,
    },
    OneCycle {
        #[serde(default = "default_pct_start")]
        pct_start: f64,
        #[serde(default = "default_div")]
        div_factor: f64,
        #[serde(default = "default_final_div")]
        final_div_factor: f64,
    },
}

fn default_pct_start() -> f64 {
    0.3
}

fn default_div() -> f64 {
    25.0
}

fn default_final_div() -> f64 {
    1e4
}

/// PyTorch's `_annealing_cos`: from `start` (pct 0) to `end` (pct 1) along half a cosine.
fn annealing_cos(start: f64, end: f64, pct: f64) -> f64 {
    end + (start - end) / 2.0 * ((std::f64::consts::PI * pct).cos() + 1.0)
}

fn default_gamma() -> f64 {
    0.1
}

impl Schedule {
    pub fn validate(&self) -> Result<()> {
        match self {
            Schedule::Constant => Ok(()),
            Schedule::Cosine { min_factor } => check_range("schedule.min_factor", *min_factor, 0.0, 1.0),
            Schedule::Step { every, gamma } => {
                if *every == 0 {
                    return Err(Error::input("parameter `schedule.every` = 0 is out of range; allowed: every ≥ 1 (epochs)"));
                }
                check_range("schedule.gamma", *gamma, 0.0, 1.0)
            }
            Schedule::OneCycle { pct_start, div_factor, final_div_factor } => {
                check_range("schedule.pct_start", *pct_start, 0.0, 1.0)?;
                check_range("schedule.div_factor", *div_factor, 1.0, 1e12)?;
                check_range("schedule.final_div_factor", *final_div_factor, 1.0, 1e12)
            }
        }
    }

    /// Multiplier of the base learning rate at optimizer step `step` (0-based), in epoch
    /// `epoch` (0-based), with `total` steps in the run and `warmup` warm-up steps.
    pub fn factor(&self, step: usize, epoch: usize, total: usize, warmup: usize) -> f64 {
        if step < warmup {
            return (step + 1) as f64 / warmup as f64;
        }
        match self {
            Schedule::Constant => 1.0,
            Schedule::Cosine { min_factor } => {
                let span = total.saturating_sub(warmup).max(1) as f64;
                let t = (step - warmup) as f64 / span;
                min_factor + (1.0 - min_factor) * 0.5 * (1.0 + (std::f64::consts::PI * t).cos())
            }
            Schedule::Step { every, gamma } => gamma.powi((epoch / every) as i32),
            Schedule::OneCycle { pct_start, div_factor, final_div_factor } => {
                let total = total.saturating_sub(warmup) as f64;
                let s = (step - warmup) as f64;
                let initial = 1.0 / div_factor;
                let min = initial / final_div_factor;
                let up_end = pct_start * total - 1.0;
                let down_end = total - 1.0;
                if s <= up_end {
                    annealing_cos(initial, 1.0, if up_end > 0.0 { s / up_end } else { 1.0 })
                } else {
                    let span = down_end - up_end;
                    annealing_cos(1.0, min, if span > 0.0 { (s - up_end) / span } else { 1.0 })
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values from `torch.optim.lr_scheduler.OneCycleLR(max_lr=0.1, total_steps=20)` (lr / max_lr
    /// at each of the 20 optimizer steps; PyTorch 2.15, defaults pct_start 0.3, div 25, final 1e4).
    #[test]
    fn one_cycle_matches_pytorch() {
        let torch = [
            0.040000000000000036,
            0.13167184270002533,
            0.37167184270002523,
            0.6683281572999746,
            0.9083281572999747,
            1.0,
            0.9874640062350873,
            0.9504846320134738,
            0.89091617757105,
            0.8117456539497631,
            0.7169430017913009,
            0.6112620219362893,
            0.500002,
            0.3887419780637107,
            0.2830609982086992,
            0.188258346050237,
            0.10908782242895003,
            0.049519367986526286,
            0.012539993764912554,
            4e-06,
        ];
        let s = Schedule::OneCycle { pct_start: 0.3, div_factor: 25.0, final_div_factor: 1e4 };
        s.validate().unwrap();
        for (step, expect) in torch.iter().enumerate() {
            let f = s.factor(step, 0, 20, 0);
            assert!((f - expect).abs() < 1e-12, "step {step}: {f} vs {expect}");
        }
    }

    #[test]
    fn factors() {
        assert_eq!(Schedule::Constant.factor(5, 0, 10, 0), 1.0);
        assert_eq!(Schedule::Constant.factor(1, 0, 10, 4), 0.5);
        let c = Schedule::Cosine { min_factor: 0.0 };
        assert!((c.factor(0, 0, 100, 0) - 1.0).abs() < 1e-12);
        assert!((c.factor(50, 0, 100, 0) - 0.5).abs() < 1e-12);
        assert!(c.factor(99, 0, 100, 0) < 1e-3);
        let s = Schedule::Step { every: 10, gamma: 0.1 };
        assert!((s.factor(0, 25, 0, 0) - 0.01).abs() < 1e-12);
    }
}
