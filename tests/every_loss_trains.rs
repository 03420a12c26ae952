//! Every loss in the registry trains for a few steps on a task of its kind, without error and
//! with a finite training loss.

use candle_core::Device;
use lossbench::losses::{Prop, LOSSES};
use lossbench::recipe::{resolve, Overrides};
use lossbench::run::Status;
use lossbench::task::Family;
use lossbench::train::train_run;

fn task_for(info: &lossbench::losses::LossInfo) -> &'static str {
    match info.family {
        Family::Classification if info.props.contains(&Prop::Binary) => "{name: two_moons, n: 120}",
        Family::Classification => "{name: blobs, n: 200, classes: 4, dim: 5}",
        Family::Regression => "{name: diabetes}",
        Family::MultiLabel => "{name: multilabel_synth, n: 200, dim: 6, labels: 4, min_rate: 0.1}",
        Family::MetricLearning if info.props.contains(&Prop::Episode) => {
            "{name: blobs_many, n: 400, classes: 20, dim: 5, embedding: 8, per_class: 8}"
        }
        Family::MetricLearning => "{name: blobs_many, n: 400, classes: 20, dim: 5, embedding: 8}",
        Family::Ranking => "{name: ltr_synth, queries: 60, items: 8, min_items: 4, features: 4}",
    }
}

/// The model of a task of the loss's family.
fn model_for(info: &lossbench::losses::LossInfo) -> String {
    let head = if info.props.contains(&Prop::NeedsHarmonicHead) { ", head: harmonic" } else { "" };
    match info.family {
        Family::Ranking => "{name: item_mlp, hidden: [8]}".to_string(),
        _ => format!("{{name: mlp, hidden: [8]{head}}}"),
    }
}

#[test]
fn every_loss_trains_a_few_steps() {
    for info in LOSSES {
        let recipe = format!(
            "train: {{epochs: 2, batch_size: 32}}\ntasks:\n  - name: t\n    dataset: {}\n    model: {}\nlosses: [{}]\n",
            task_for(info),
            model_for(info),
            info.name
        );
        let plan = resolve(&recipe, std::path::Path::new("inline.yaml"), &Overrides { device: "cpu".into(), ..Default::default() })
            .unwrap_or_else(|e| panic!("{}: {e}", info.name));
        assert_eq!(plan.runs.len(), 1, "{}", info.name);
        let result = train_run(&plan.runs[0], &Device::Cpu, "cpu", &|_| {}).unwrap_or_else(|e| panic!("{}: {e}", info.name));
        assert_eq!(result.record.status, Status::Finished, "{}", info.name);
        assert_eq!(result.record.epochs_completed, 2, "{}", info.name);
        let train_loss = result.rows.iter().rev().find(|r| r.split == "train" && r.metric == "loss").unwrap().value;
        assert!(train_loss.is_finite(), "{}: train loss {train_loss}", info.name);
    }
}
