//! Learning-rate schedules: a multiplier of the optimizer's base `lr` per step, after an
//! optional linear warm-up. Schedules compose with every optimizer.
//!
//! ```text
//! warm-up (step < W):   f = (step + 1) / W
//! constant:             f = 1
//! cosine:               f = m + (1 − m)·½(1 + cos(π·(step − W)/(T − W)))     (m = min_factor)
//! step:                 f = gamma^⌊epoch / every⌋
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
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
