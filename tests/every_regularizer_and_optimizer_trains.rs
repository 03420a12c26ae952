//! Every regularizer and every optimizer in the registries trains for a few epochs inside a
//! real run (the trainer's hooks: penalties, transforms, mixing, reweighting, gradient wrapping,
//! micro-batches, observation and pruning), finishing with a finite loss; every regularizer
//! but multi_sample_dropout logs its `reg_<name>` metric; and a run is bit-identical when repeated.

use candle_core::Device;
use lossbench::optim::OPTIMIZERS;
use lossbench::recipe::{resolve, Overrides};
use lossbench::regularizers::REGULARIZERS;
use lossbench::run::Status;
use lossbench::train::train_run;

fn run(extra: &str, optimizer: &str) -> lossbench::train::RunResult {
    let recipe = format!(
        "train: {{epochs: 3, batch_size: 32}}\ntasks:\n  - name: t\n    dataset: {{name: blobs, n: 200, classes: 3, dim: 4}}\n    model: {{name: mlp, hidden: [8]}}\nlosses: [cross_entropy]\noptimizers: [{optimizer}]\n{extra}"
    );
    let plan = resolve(&recipe, std::path::Path::new("inline.yaml"), &Overrides { device: "cpu".into(), ..Default::default() })
        .unwrap_or_else(|e| panic!("{extra} {optimizer}: {e}"));
    train_run(&plan.runs[0], &Device::Cpu, "cpu", &|_| {}).unwrap_or_else(|e| panic!("{extra} {optimizer}: {e}"))
}

#[test]
fn every_regularizer_trains_and_logs() {
    for info in REGULARIZERS {
        // saf starts comparing after its `start` epoch; use an early start so the penalty acts.
        let reg = match info.name {
            "saf" => "{name: saf, epochs_back: 1, start: 0}".to_string(),
            "mesa" => "{name: mesa, start: 0}".to_string(),
            "drw" => "{name: drw, start_fraction: 0.5}".to_string(),
            "irrelevant_weight_decay" => "{name: irrelevant_weight_decay, every: 1, threshold: 0.5}".to_string(),
            name => name.to_string(),
        };
        let result = run(&format!("regularizers: [{reg}]\n"), "adamw");
        assert_eq!(result.record.status, Status::Finished, "{}", info.name);
        let loss = result.rows.iter().rev().find(|r| r.split == "train" && r.metric == "loss").unwrap().value;
        assert!(loss.is_finite(), "{}: {loss}", info.name);
        // multi_sample_dropout changes the loss itself and has no separate value to log.
        if info.name != "multi_sample_dropout" {
            assert!(result.rows.iter().any(|r| r.metric == format!("reg_{}", info.name)), "{} logs no reg_ metric", info.name);
        }
    }
}

/// Regularizers that observe gradients also work with optimizers that only evaluate
/// micro-batches (coherent_gd): irrelevant_weight_decay still finds and prunes weights.
#[test]
fn gradient_observers_work_with_micro_batch_optimizers() {
    let reg = "regularizers: [{name: irrelevant_weight_decay, every: 1, threshold: 0.5}]\n";
    let result = run(reg, "{name: coherent_gd, base: {name: adamw, lr: 0.01}}");
    let pruned = result.rows.iter().rev().find(|r| r.metric == "reg_irrelevant_weight_decay").unwrap().value;
    assert!(pruned > 0.0, "nothing pruned: the regularizer never saw a gradient");
}

#[test]
fn every_optimizer_trains_and_repeats_bit_for_bit() {
    for info in OPTIMIZERS {
        let a = run("", info.name);
        assert_eq!(a.record.status, Status::Finished, "{}", info.name);
        let loss = a.rows.iter().rev().find(|r| r.split == "train" && r.metric == "loss").unwrap().value;
        assert!(loss.is_finite(), "{}: {loss}", info.name);
        let b = run("", info.name);
        let values = |r: &lossbench::train::RunResult| r.rows.iter().map(|m| m.value.to_bits()).collect::<Vec<_>>();
        assert_eq!(values(&a), values(&b), "{} is not deterministic", info.name);
    }
}

/// USEFUL duplicates the slow-learnable rows: on blobs with 30 % symmetric label noise the
/// rows it adds are mostly the mislabelled ones (their loss stays high after a short first
/// phase), and the run records them as noisy rows of the enlarged training set.
#[test]
fn useful_upsamples_mostly_mislabelled_rows() {
    let recipe = "train: {epochs: 10, batch_size: 32}\ntasks:\n  - name: t\n    dataset: {name: blobs, n: 400, classes: 3, dim: 4, label_noise: {kind: symmetric, rate: 0.3}}\n    model: {name: mlp, hidden: [16]}\nlosses: [cross_entropy]\noptimizers: [{name: adamw, lr: 0.01}]\nregularizers: [{name: useful, separate_fraction: 0.3}]\n";
    let plan = resolve(recipe, std::path::Path::new("inline.yaml"), &Overrides { device: "cpu".into(), ..Default::default() }).unwrap();
    let result = train_run(&plan.runs[0], &Device::Cpu, "cpu", &|_| {}).unwrap();
    let added = result.rows.iter().find(|r| r.metric == "reg_useful").unwrap().value as usize;
    let n = result.record.data.n_train;
    let original = n - added;
    let noisy_added = result.record.data.noisy_train_indices.iter().filter(|&&i| i >= original).count();
    assert!(added > 0, "nothing upsampled");
    assert!(noisy_added as f64 / added as f64 > 0.6, "{noisy_added} of {added} added rows are mislabelled (30 % overall)");
}
