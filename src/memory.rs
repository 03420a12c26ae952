//! Memory: the budget a plan must fit in, and what a run is estimated to need.
//!
//! An allocation that fails aborts the process (Rust cannot recover from it), so nothing that
//! `check` accepts may be larger than the machine: resolve estimates each run's memory from
//! its sizes (data, weights and optimizer state, activations of a training batch and of an
//! evaluation chunk, the evaluation outputs) and rejects a plan over the budget, naming the
//! task and the figures, before any tensor exists. Data files are checked against the budget
//! before they are read.
//!
//! The budget is `--max-memory` when given, else the smallest of half the physical memory,
//! half the cgroup's limit, and 70 % of the address-space limit (`ulimit -v`) after a reserve
//! for the program, its threads and allocator.

use crate::error::{Error, Result};
use crate::files::human_bytes;
use std::sync::atomic::{AtomicU64, Ordering};

/// The budget set with `--max-memory` (0: not set).
static LIMIT: AtomicU64 = AtomicU64::new(0);

/// Address space kept for the program itself, its threads' stacks and allocator arenas
/// (measured: 357 MiB peak virtual size for the quickstart sweep with two jobs).
const RESERVE: f64 = 512.0 * 1024.0 * 1024.0;

/// Set the budget (`--max-memory`).
pub fn set_limit(bytes: u64) {
    LIMIT.store(bytes, Ordering::SeqCst);
}

fn physical() -> Option<f64> {
    // SAFETY: sysconf only reads system configuration.
    let (pages, size) = unsafe { (libc::sysconf(libc::_SC_PHYS_PAGES), libc::sysconf(libc::_SC_PAGESIZE)) };
    (pages > 0 && size > 0).then_some(pages as f64 * size as f64)
}

fn cgroup() -> Option<f64> {
    ["/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"]
        .iter()
        .find_map(|p| std::fs::read_to_string(p).ok()?.trim().parse::<f64>().ok())
        .filter(|v| *v < 1e18)
}

fn address_space() -> Option<f64> {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit writes into the struct we pass.
    let ok = unsafe { libc::getrlimit(libc::RLIMIT_AS, &mut limit) } == 0;
    (ok && limit.rlim_cur != libc::RLIM_INFINITY).then_some(limit.rlim_cur as f64)
}

/// The budget and where it comes from (for messages).
pub fn limit() -> (f64, String) {
    let set = LIMIT.load(Ordering::SeqCst);
    if set > 0 {
        return (set as f64, "set with --max-memory".into());
    }
    // The machine's limits do not change while lossbench runs; read them once (gathering a
    // large results folder checks the budget for every run.json).
    static DEFAULT: std::sync::OnceLock<(f64, String)> = std::sync::OnceLock::new();
    DEFAULT.get_or_init(default_limit).clone()
}

fn default_limit() -> (f64, String) {
    let mut best = (f64::INFINITY, String::new());
    let mut consider = |v: Option<f64>, why: &dyn Fn(f64) -> String, scale: f64, reserve: f64| {
        if let Some(v) = v {
            let budget = ((v - reserve) * scale).max(0.0);
            if budget < best.0 {
                best = (budget, why(v));
            }
        }
    };
    consider(physical(), &|v| format!("half of this machine's {}", human_bytes(v)), 0.5, 0.0);
    consider(cgroup(), &|v| format!("half of the cgroup's limit of {}", human_bytes(v)), 0.5, 0.0);
    consider(
        address_space(),
        &|v| format!("70 % of the address-space limit (ulimit -v) of {} after a reserve", human_bytes(v)),
        0.7,
        RESERVE,
    );
    if best.0.is_infinite() {
        best = (8.0 * 1024.0 * 1024.0 * 1024.0, "a default of 8 GiB (this machine's memory is unknown)".into());
    }
    best
}

/// Parse `--max-memory`: `512M`, `4G`, `4GiB`, `1.5g`, or bytes.
pub fn parse_size(text: &str) -> Result<u64> {
    let t = text.trim();
    let split = t.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let scale = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" | "kib" => 1024.0,
        "m" | "mb" | "mib" => 1024.0 * 1024.0,
        "g" | "gb" | "gib" => 1024.0 * 1024.0 * 1024.0,
        "t" | "tb" | "tib" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => return Err(Error::input(format!("--max-memory `{t}`: unknown unit `{unit}`; use e.g. 512M, 4G or 1.5T"))),
    };
    match num.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 && v * scale >= 1.0 && v * scale < 1e19 => Ok((v * scale) as u64),
        _ => Err(Error::input(format!("--max-memory `{t}`: expected a positive size such as 512M, 4G or 1.5T"))),
    }
}

/// What one run is estimated to need, in bytes, by part.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RunEstimate {
    /// Copies of the data a run makes: the loaded rows, the splits, the device tensors and the
    /// epoch's shuffled copy of the training split; a class-dependent noise matrix.
    pub data: f64,
    /// Weights, gradients and optimizer or regularizer state.
    pub model: f64,
    /// Activations and their gradients for a training batch.
    pub activations: f64,
    /// Activations of an evaluation chunk and the outputs of the largest split.
    pub evaluation: f64,
}

/// The sizes an estimate is computed from.
pub struct Sizes {
    pub rows: usize,
    pub features: usize,
    /// Model outputs per row (classes, labels or targets).
    pub outputs: usize,
    pub weights: f64,
    /// Activations per row summed over the model's layers (input and output included).
    pub activations_per_row: f64,
    pub batch: usize,
    pub eval_chunk: usize,
    /// Bytes per value of the run's dtype.
    pub dtype_bytes: f64,
    /// Extra data bytes (e.g. a class-dependent noise matrix).
    pub extra: f64,
}

/// Copies of the weights a run holds: weights, gradients, two moments, a perturbed or
/// reference copy (SAM-type wrappers, initial weights, EMA teachers) and slack.
const WEIGHT_COPIES: f64 = 8.0;
/// Values kept per activation in training: forward values, masks, gradients, intermediates.
const ACTIVATION_COPIES: f64 = 8.0;
/// Copies of the evaluation outputs (f64): the collected outputs with growth slack, the
/// chunk's conversions, and what metrics derive from them (probabilities, sorted scores).
const OUTPUT_COPIES: f64 = 5.0;

impl RunEstimate {
    pub fn of(s: &Sizes) -> RunEstimate {
        let cells = s.rows as f64 * s.features as f64;
        let labels = s.rows as f64 * (s.outputs as f64).max(1.0) * 4.0;
        RunEstimate {
            data: cells * (8.0 + 2.0 * s.dtype_bytes) + 4.0 * labels + s.extra,
            model: s.weights * s.dtype_bytes * WEIGHT_COPIES,
            activations: s.batch.min(s.rows) as f64 * s.activations_per_row * s.dtype_bytes * ACTIVATION_COPIES,
            evaluation: s.eval_chunk.min(s.rows) as f64 * s.activations_per_row * s.dtype_bytes * 3.0
                + s.rows as f64 * s.outputs as f64 * 8.0 * OUTPUT_COPIES,
        }
    }

    pub fn total(&self) -> f64 {
        self.data + self.model + self.activations + self.evaluation
    }

    /// `5.3 GiB (data 1.0 GiB, weights and optimizer state 3.9 GiB, …)`.
    pub fn describe(&self) -> String {
        format!(
            "{} (data {}, weights and optimizer state {}, training activations {}, evaluation {})",
            human_bytes(self.total()),
            human_bytes(self.data),
            human_bytes(self.model),
            human_bytes(self.activations),
            human_bytes(self.evaluation)
        )
    }
}

/// An error unless `bytes` fits in the budget; `what` says what needs it.
pub fn check(what: &str, bytes: f64) -> Result<()> {
    let (limit, why) = limit();
    if bytes > limit {
        return Err(Error::input(format!(
            "{what} needs about {}, over the memory limit of {} ({why}); make it smaller, or raise the limit with --max-memory",
            human_bytes(bytes),
            human_bytes(limit)
        )));
    }
    Ok(())
}

/// Rows of an evaluation chunk for a model with `activations_per_row`: the usual 8192, fewer
/// for very wide models so a chunk's activations stay within 256 MiB.
pub fn eval_chunk(activations_per_row: f64, dtype_bytes: f64) -> usize {
    const ROWS: usize = 8192;
    const BUDGET: f64 = 256.0 * 1024.0 * 1024.0;
    let fit = (BUDGET / (activations_per_row * dtype_bytes * 3.0).max(1.0)).floor() as usize;
    fit.clamp(1, ROWS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_and_budgets_hold() {
        assert_eq!(parse_size("512M").unwrap(), 512 << 20);
        assert_eq!(parse_size("4GiB").unwrap(), 4 << 30);
        assert_eq!(parse_size("1.5g").unwrap(), 3 << 29);
        assert_eq!(parse_size("1000").unwrap(), 1000);
        assert!(parse_size("-1G").is_err() && parse_size("4X").is_err() && parse_size("").is_err());
        let (limit, why) = limit();
        assert!(limit > 0.0 && !why.is_empty());
        assert_eq!(eval_chunk(100.0, 4.0), 8192);
        assert!(eval_chunk(1e8, 4.0) < 8192);
    }

    #[test]
    fn estimates_grow_with_every_size() {
        let base = Sizes {
            rows: 1000,
            features: 64,
            outputs: 10,
            weights: 1e5,
            activations_per_row: 300.0,
            batch: 64,
            eval_chunk: 8192,
            dtype_bytes: 4.0,
            extra: 0.0,
        };
        let e = RunEstimate::of(&base);
        assert!(e.total() > 0.0);
        let more_classes = RunEstimate::of(&Sizes { outputs: 100_000, ..base });
        assert!(more_classes.evaluation > 1000.0 * e.evaluation);
        assert!(e.describe().contains("weights and optimizer state"));
    }
}
