//! Datasets with more than rows and labels: groups (`spurious_synth`, read by `group_dro` and
//! `worst_group_acc`) and semi-supervised training (the `labelled` transform, whose unlabelled
//! rows the task loss never reads).

use candle_core::Device;
use lossbench::recipe::{resolve, Overrides};
use lossbench::run::Status;
use lossbench::train::{train_run, RunResult};

fn train(recipe: &str) -> RunResult {
    let plan = resolve(recipe, std::path::Path::new("inline.yaml"), &Overrides { device: "cpu".into(), ..Default::default() })
        .unwrap_or_else(|e| panic!("{e}"));
    train_run(&plan.runs[0], &Device::Cpu, "cpu", &|_| {}).unwrap()
}

/// group_dro on a dataset with groups weighs the groups (the largest weight it logs moves
/// away from the uniform 1/4 of spurious_synth's four groups, not 1/2 of its two classes), and
/// every split gets its worst-group accuracy; the metric on a dataset without groups is an
/// input error that names the field.
#[test]
fn group_dro_uses_the_datasets_groups_and_worst_group_accuracy_reads_them() {
    let recipe = "train: {epochs: 3, batch_size: 64}\ntasks:\n  - name: t\n    dataset: {name: spurious_synth, n: 400, n_val: 100, n_test: 400}\n    model: {name: mlp, hidden: [16]}\n    metrics: [accuracy, worst_group_acc]\nlosses: [{name: cross_entropy, regularizers: [{name: group_dro, step_size: 1.0}]}]\noptimizers: [{name: sgd, lr: 0.1}]\n";
    let result = train(recipe);
    assert_eq!(result.record.status, Status::Finished);
    let last = |split: &str, metric: &str| result.rows.iter().rev().find(|r| r.split == split && r.metric == metric).map(|r| r.value);
    for split in ["train", "val", "test"] {
        let (worst, acc) = (last(split, "worst_group_acc").unwrap(), last(split, "accuracy").unwrap());
        assert!(worst.is_finite() && worst <= acc + 1e-12, "{split}: worst {worst}, accuracy {acc}");
    }
    let q_max = result.rows.iter().rev().find(|r| r.metric == "reg_group_dro").unwrap().value;
    assert!(q_max > 0.25 && q_max < 1.0, "largest group weight {q_max}");
    let blobs = recipe.replace("{name: spurious_synth, n: 400, n_val: 100, n_test: 400}", "{name: blobs, n: 200, classes: 3, dim: 4}");
    let e = resolve(&blobs, std::path::Path::new("inline.yaml"), &Overrides::default()).err().unwrap().to_string();
    assert!(e.contains("metrics[1]") && e.contains("worst_group_acc") && e.contains("spurious_synth"), "{e}");
}

fn semi_supervised(labelled: &str, regularizers: &str) -> RunResult {
    train(&format!(
        "train: {{epochs: 3, batch_size: 32}}\ntasks:\n  - name: t\n    dataset: {{name: blobs, n: 300, classes: 3, dim: 4{labelled}}}\n    model: {{name: mlp, hidden: [8]}}\nlosses: [{{name: cross_entropy, regularizers: [{regularizers}]}}]\noptimizers: [{{name: sgd, lr: 0.1}}]\n"
    ))
}

fn metrics(r: &RunResult) -> Vec<(usize, String, String, u64)> {
    r.rows.iter().map(|m| (m.epoch, m.split.to_string(), m.metric.clone(), m.value.to_bits())).collect()
}

/// Every row labelled is the plain run, bit for bit (the mask is 1 everywhere); a few labels
/// per class change the run and are recorded; with VAT the unlabelled rows still matter.
#[test]
fn the_task_loss_reads_only_the_labelled_rows() {
    let plain = semi_supervised("", "");
    let all = semi_supervised(", labelled: {per_class: 100000}", "");
    assert_eq!(metrics(&plain), metrics(&all));
    let few = semi_supervised(", labelled: {per_class: 5}", "");
    assert_eq!(few.record.status, Status::Finished);
    assert_eq!(few.record.data.labelled_train, Some(15));
    assert_ne!(metrics(&plain), metrics(&few));
    let vat = semi_supervised(", labelled: {per_class: 5}", "vat");
    assert_ne!(metrics(&few), metrics(&vat));
    let regression = "train: {epochs: 1}\ntasks:\n  - name: t\n    dataset: {name: diabetes, labelled: {per_class: 5}}\n    model: {name: mlp, hidden: [4]}\nlosses: [mse]\noptimizers: [sgd]\n";
    let e = resolve(regression, std::path::Path::new("inline.yaml"), &Overrides::default()).err().unwrap().to_string();
    assert!(e.contains("labelled needs a classification dataset"), "{e}");
}
