//! Penalty regularizers against PyTorch: values and gradients with respect to every parameter
//! of a fixed 4-6-5-3 ReLU MLP, from `scripts/make_regularizer_fixtures.py`
//! (`tests/fixtures/regularizers.json`), in f64 at relative tolerance 1e-7.
//!
//! `spectral_reg` estimates σ_max by one power-iteration step per optimizer step; it is run for
//! 300 steps here and compared with PyTorch's exact `svdvals` (whose gradient u₁v₁ᵀ is what the
//! converged iteration gives).

use candle_core::{DType, Device, Tensor};
use lossbench::models::{Init, Model};
use lossbench::regularizers::{Batch, Start, REGULARIZERS};
use lossbench::rng::{Purpose, Stream};
use lossbench::task::{Prediction, Target};

#[derive(serde::Deserialize)]
struct Case {
    name: String,
    params: serde_json::Value,
    value: f64,
    grads: Vec<Vec<f64>>,
}

#[derive(serde::Deserialize)]
struct Fixture {
    widths: Vec<usize>,
    x: Vec<Vec<f64>>,
    y: Vec<u32>,
    init: Vec<Vec<f64>>,
    weights: Vec<Vec<f64>>,
    cases: Vec<Case>,
}

fn set(model: &dyn Model, values: &[Vec<f64>]) {
    for (v, data) in model.vars().iter().zip(values) {
        let shape = v.as_tensor().shape().clone();
        v.set(&Tensor::from_vec(data.clone(), shape, &Device::Cpu).unwrap()).unwrap();
    }
}

fn close(a: f64, b: f64, rtol: f64) -> bool {
    (a - b).abs() <= rtol * (1.0 + b.abs())
}

#[test]
fn penalties_and_gradients_match_pytorch() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/regularizers.json")).unwrap();
    let fx: Fixture = serde_json::from_str(&text).unwrap();
    let dev = Device::Cpu;
    let n = fx.x.len();
    let x = Tensor::from_vec(fx.x.concat(), (n, fx.widths[0]), &dev).unwrap();
    let target = Target::Classes(Tensor::from_vec(fx.y.clone(), n, &dev).unwrap());
    let hidden: Vec<usize> = fx.widths[1..fx.widths.len() - 1].to_vec();
    let (spec, _) = (lossbench::models::mlp::INFO.build)(&serde_json::json!({ "hidden": hidden })).unwrap();
    let init = Init { seed: 0, dtype: DType::F64, device: dev.clone() };
    let mut checked = 0;
    for case in &fx.cases {
        let model =
            spec.instantiate(lossbench::data::InputKind::Dense { features: fx.widths[0] }, *fx.widths.last().unwrap(), &init).unwrap();
        set(model.as_ref(), &fx.init);
        let info = REGULARIZERS.iter().find(|r| r.name == case.name).unwrap_or_else(|| panic!("no regularizer `{}`", case.name));
        let (reg, _) = (info.build)(&case.params).unwrap();
        let mut active =
            reg.start(&Start { model: model.as_ref(), seed: 0, class_counts: None, epochs: 1, n_train: n, groups: None }).unwrap();
        set(model.as_ref(), &fx.weights);
        let steps = if case.name == "spectral_reg" { 300 } else { 1 };
        let mut penalty = None;
        for step in 0..steps {
            let (out, embedding) = model.forward_with_embedding(&x, None).unwrap();
            let pred = Prediction { out, ids: None, embedding };
            let mut rng = Stream::new(0, Purpose::Regularizer, step as u64);
            let mut batch = Batch { model: model.as_ref(), x: &x, pred: &pred, target: &target, step, epoch: 0, rng: &mut rng };
            penalty = active.penalty(&mut batch).unwrap();
        }
        let r = penalty.unwrap();
        let value = r.to_scalar::<f64>().unwrap();
        let label = format!("{} {}", case.name, case.params);
        assert!(close(value, case.value, 1e-7), "{label}: R = {value}, PyTorch {}", case.value);
        let grads = r.backward().unwrap();
        for (i, (var, expect)) in model.vars().iter().zip(&case.grads).enumerate() {
            let got = match grads.get(var.as_tensor()) {
                Some(g) => g.flatten_all().unwrap().to_vec1::<f64>().unwrap(),
                None => vec![0.0; expect.len()],
            };
            for (j, (a, b)) in got.iter().zip(expect).enumerate() {
                assert!(close(*a, *b, 1e-7), "{label}: ∂R/∂param{i}[{j}] = {a}, PyTorch {b}");
            }
        }
        checked += 1;
    }
    assert_eq!(checked, 12);
}
