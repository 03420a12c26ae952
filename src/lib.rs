//! lossbench — does a loss function from a paper really beat cross-entropy, and on which tasks?
//!
//! A recipe (YAML) names tasks, losses, optimizers and seeds; [`recipe`] parses and resolves it
//! into a [`recipe::Plan`] of runs, [`train`] executes each run into a folder of files
//! ([`run`]), and [`compare`] turns any set of run folders into comparison tables.
//!
//! ```text
//! recipe.yaml ─parse/resolve─> Plan ─train─> results/<recipe>/<task>/<loss>/<opt>/seed-<n>/ ─compare─> tables
//! ```

pub mod bench;
pub mod claims;
pub mod cli;
pub mod compare;
pub mod data;
pub mod device;
pub mod error;
pub mod families;
pub mod files;
pub mod landscape;
pub mod listing;
pub mod losses;
pub mod memory;
pub mod metrics;
pub mod models;
pub mod optim;
pub mod plot;
pub mod recipe;
pub mod registry;
pub mod regularizers;
pub mod rng;
pub mod run;
pub mod runs;
pub mod stats;
pub mod sweep;
pub mod task;
pub mod train;

pub use error::{Error, Result};
