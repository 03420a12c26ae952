//! `two_layer` — the two-layer network of the theory papers, with one scalar output:
//!
//! ```text
//! f(x) = α/√m · ( Σ_{j=1}^{m} a_j σ(w_jᵀx)  −  [centred] Σ_j a_j⁰ σ(w_j⁰ᵀx) )
//! w_j ~ N(0, ω²·I_d)  (ω = init_std, default 1/√d),  no biases
//! a_j = +1 (first half), −1 (second half), fixed     (second: fixed — S081's a_j = ±1/√m)
//! a_j ~ N(0, 1), trained                              (second: trained)
//! ```
//! The output layer is in the NTK parametrisation (the 1/√m in the forward pass, not in the
//! init), so its share of the tangent kernel is O(α²) like the first layer's, and gradient
//! descent is stable at a learning rate of order 1/α² whatever the width.
//! `centred` subtracts the network at its initial weights (θ₀, held fixed), so the output
//! starts at 0 and `α` scales it — the lazy (large α) / rich (small α) knob of S073, whose
//! learning rate goes as 1/α². The output is `f` for a regression task with one output, and
//! the logits `[−f/2, f/2]` for binary classification, so that cross-entropy is the logistic
//! loss `log(1 + exp(−y·f))` with `y = +1` for class 1 and `−1` for class 0 (S081's setting).
//! References: Xu & Gu, *Benign Overfitting and Grokking in ReLU Networks for XOR Cluster
//! Data*, ICLR 2024 (S081; catalog §7.4.3); Kumar, Bordelon, Gershman & Pehlevan, *Grokking as
//! the Transition from Lazy to Rich Training Dynamics*, ICLR 2024 (S073; catalog §7.4.4).

use super::{dense_features, Activation, Init, Model, ModelInfo, ModelSpec};
use crate::data::InputKind;
use crate::error::{Error, Result};
use crate::registry::{check_range, ParamDoc, Validate};
use crate::rng::Stream;
use candle_core::{Tensor, Var};
use serde::{Deserialize, Serialize};

/// How the output weights `a` are set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Second {
    /// `a ~ N(0, 1)`, trained with the first layer.
    #[default]
    Trained,
    /// `a_j = ±1` (half each), not trained: only the first layer learns.
    Fixed,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    pub width: usize,
    pub activation: Activation,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub init_std: Option<f64>,
    pub second: Second,
    pub alpha: f64,
    pub centred: bool,
}

impl Default for Params {
    fn default() -> Self {
        Params { width: 200, activation: Activation::Relu, init_std: None, second: Second::Trained, alpha: 1.0, centred: false }
    }
}

impl Validate for Params {
    fn validate(&self) -> Result<()> {
        check_range("width", self.width as f64, 2.0, (1u64 << 20) as f64)?;
        if let Some(s) = self.init_std {
            check_range("init_std", s, 1e-12, 100.0)?;
        }
        check_range("alpha", self.alpha, 1e-6, 1e6)
    }
}

/// The output width a task asks of a scalar network: 1 (regression) or 2 (binary logits).
fn check_outputs(outputs: usize) -> Result<()> {
    if outputs == 1 || outputs == 2 {
        return Ok(());
    }
    Err(Error::input(format!(
        "model `two_layer` has one output f: a regression target, or the logits [−f/2, f/2] of two classes; this task needs {outputs} outputs"
    )))
}

impl ModelSpec for Params {
    fn check(&self, input: InputKind) -> Result<()> {
        dense_features(input, "two_layer").map(|_| ())
    }
    fn size(&self, input: InputKind, outputs: usize) -> Result<super::ModelSize> {
        check_outputs(outputs)?;
        let d = dense_features(input, "two_layer")?;
        // Twice the weights and activations when centred (the fixed copy at θ₀).
        let copies = if self.centred { 2.0 } else { 1.0 };
        let size = super::ModelSize::of_widths(&[d, self.width, 1], 0.0, 0.0);
        Ok(super::ModelSize { weights: copies * size.weights, activations_per_row: copies * size.activations_per_row })
    }
    fn instantiate(&self, input: InputKind, outputs: usize, init: &Init) -> Result<Box<dyn Model>> {
        check_outputs(outputs)?;
        let (d, m) = (dense_features(input, "two_layer")?, self.width);
        let w = Var::from_tensor(&init.normal(&[m, d], self.init_std.unwrap_or(1.0 / (d as f64).sqrt()), 0)?)?;
        let a = match self.second {
            Second::Trained => init.normal(&[1, m], 1.0, 1)?,
            Second::Fixed => {
                let signs: Vec<f64> = (0..m).map(|j| if j < m / 2 { 1.0 } else { -1.0 }).collect();
                Tensor::from_vec(signs, (1, m), &init.device)?.to_dtype(init.dtype)?
            }
        };
        let a = match self.second {
            Second::Trained => Out::Trained(Var::from_tensor(&a)?),
            Second::Fixed => Out::Fixed(a),
        };
        // Detached copies: `copy` alone keeps the graph, and θ₀'s gradient would cancel θ's.
        let frozen = |t: &Tensor| -> Result<Tensor> { Ok(t.copy()?.detach()) };
        let start = self.centred.then(|| Ok::<_, Error>((frozen(w.as_tensor())?, frozen(a.tensor())?))).transpose()?;
        let scale = self.alpha / (m as f64).sqrt();
        Ok(Box::new(TwoLayer { w, a, start, activation: self.activation, scale, logits: outputs == 2 }))
    }
}

/// The output weights, trained or fixed.
enum Out {
    Trained(Var),
    Fixed(Tensor),
}

impl Out {
    fn tensor(&self) -> &Tensor {
        match self {
            Out::Trained(v) => v.as_tensor(),
            Out::Fixed(t) => t,
        }
    }
}

pub struct TwoLayer {
    w: Var,
    a: Out,
    /// θ₀ = (W, a) at initialisation, when centred.
    start: Option<(Tensor, Tensor)>,
    activation: Activation,
    /// α/√m.
    scale: f64,
    /// Whether the task wants two logits `[−f/2, f/2]` rather than `f`.
    logits: bool,
}

impl TwoLayer {
    /// Hidden activations `σ(x·Wᵀ)` and `f(x)` as `[n, 1]`.
    fn run(&self, x: &Tensor) -> Result<(Tensor, Tensor)> {
        let h = self.activation.apply(&super::ops::linear(x, self.w.as_tensor(), None)?)?;
        let mut f = super::ops::linear(&h, self.a.tensor(), None)?;
        if let Some((w0, a0)) = &self.start {
            let h0 = self.activation.apply(&super::ops::linear(x, w0, None)?)?;
            f = (f - super::ops::linear(&h0, a0, None)?)?;
        }
        Ok((h, (f * self.scale)?))
    }

    fn output(&self, f: Tensor) -> Result<Tensor> {
        if !self.logits {
            return Ok(f);
        }
        let half = (f * 0.5)?;
        Ok(Tensor::cat(&[&half.neg()?, &half], 1)?)
    }
}

impl Model for TwoLayer {
    fn forward(&self, x: &Tensor, _dropout: Option<&mut Stream>) -> Result<Tensor> {
        self.output(self.run(x)?.1)
    }
    fn forward_with_embedding(&self, x: &Tensor, _dropout: Option<&mut Stream>) -> Result<(Tensor, Option<Tensor>)> {
        let (h, f) = self.run(x)?;
        Ok((self.output(f)?, Some(h)))
    }
    fn vars(&self) -> Vec<Var> {
        match &self.a {
            Out::Trained(a) => vec![self.w.clone(), a.clone()],
            Out::Fixed(_) => vec![self.w.clone()],
        }
    }
    fn linear_layers(&self) -> Vec<(Tensor, Option<Tensor>)> {
        vec![(self.w.as_tensor().clone(), None), (self.a.tensor().clone(), None)]
    }
}

pub static INFO: ModelInfo = ModelInfo {
    name: "two_layer",
    summary: "f(x) = α/√m·Σ a_j σ(w_jᵀx), optionally centred at θ₀ and with a fixed ±1 output layer (S081, S073)",
    params: &[
        ParamDoc { name: "width", meaning: "hidden units m", range: "≥ 2", default: "200" },
        ParamDoc { name: "activation", meaning: "σ", range: "relu | gelu | tanh", default: "relu" },
        ParamDoc { name: "init_std", meaning: "ω of the first layer's N(0, ω²) init", range: "> 0", default: "1/√d" },
        ParamDoc {
            name: "second",
            meaning: "output weights a: trained N(0, 1), or fixed ±1 (f carries 1/√m)",
            range: "trained | fixed",
            default: "trained",
        },
        ParamDoc { name: "alpha", meaning: "output scale α", range: "> 0", default: "1" },
        ParamDoc { name: "centred", meaning: "subtract the network at its initial weights", range: "true | false", default: "false" },
    ],
    build: super::build_params::<Params>,
};

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Device};

    fn net(params: Params, outputs: usize) -> Box<dyn Model> {
        let init = Init { seed: 3, dtype: DType::F64, device: Device::Cpu };
        params.instantiate(InputKind::Dense { features: 4 }, outputs, &init).unwrap()
    }

    /// f by hand from the weights; the logits are ±f/2; a fixed output layer is ±1/√m and not
    /// trained; a centred network starts at exactly 0 and scales with α.
    #[test]
    fn output_matches_the_formula() {
        let x = Tensor::from_vec(vec![0.5f64, -1.0, 2.0, 0.25, -0.3, 0.7, 0.1, -2.0], (2, 4), &Device::Cpu).unwrap();
        let m = net(Params { width: 6, second: Second::Fixed, ..Default::default() }, 2);
        assert_eq!(m.vars().len(), 1);
        let w = m.vars()[0].as_tensor().to_vec2::<f64>().unwrap();
        let xs = x.to_vec2::<f64>().unwrap();
        let logits = m.forward(&x, None).unwrap().to_vec2::<f64>().unwrap();
        for (row, out) in xs.iter().zip(&logits) {
            let f: f64 = (0..6)
                .map(|j| {
                    let pre: f64 = row.iter().zip(&w[j]).map(|(a, b)| a * b).sum();
                    (if j < 3 { 1.0 } else { -1.0 }) / 6f64.sqrt() * pre.max(0.0)
                })
                .sum();
            assert!((out[1] - f / 2.0).abs() < 1e-12 && (out[0] + f / 2.0).abs() < 1e-12, "{out:?} vs {f}");
        }
        let centred = net(Params { width: 6, centred: true, alpha: 10.0, ..Default::default() }, 1);
        assert_eq!(centred.vars().len(), 2);
        assert!(centred.forward(&x, None).unwrap().to_vec2::<f64>().unwrap().iter().all(|r| r[0] == 0.0));
        let shifted = centred.vars()[1].as_tensor().affine(1.0, 0.5).unwrap();
        let plain = net(Params { width: 6, ..Default::default() }, 1);
        let before = plain.forward(&x, None).unwrap();
        centred.vars()[1].set(&shifted).unwrap();
        plain.vars()[1].set(&plain.vars()[1].as_tensor().affine(1.0, 0.5).unwrap()).unwrap();
        let want = ((plain.forward(&x, None).unwrap() - before).unwrap() * 10.0).unwrap().to_vec2::<f64>().unwrap();
        let got = centred.forward(&x, None).unwrap().to_vec2::<f64>().unwrap();
        assert!(want.iter().zip(&got).all(|(a, b)| (a[0] - b[0]).abs() < 1e-9), "{want:?} vs {got:?}");
        // θ₀ is held fixed: at initialisation the centred output is 0, but its gradient is not.
        let fresh = net(Params { width: 6, centred: true, ..Default::default() }, 1);
        let grads = fresh.forward(&x, None).unwrap().sum_all().unwrap().backward().unwrap();
        let g = grads.get(fresh.vars()[0].as_tensor()).unwrap().abs().unwrap().sum_all().unwrap().to_scalar::<f64>().unwrap();
        assert!(g > 0.0, "no gradient through a centred network");
        let e =
            Params::default().instantiate(InputKind::Dense { features: 4 }, 3, &Init { seed: 0, dtype: DType::F64, device: Device::Cpu });
        assert!(e.err().unwrap().to_string().contains("needs 3 outputs"));
    }
}
