//! Hessian-vector products by finite differences of first-order gradients.
//!
//! Candle has no second-order autodiff (huggingface/candle#2462), so every Hessian-type
//! quantity in lossbench — gradient regularisation (`gr_fd`), GAM's decomposition, sharpness
//! figures — goes through [`evaluate_at`] (gradients at a displaced point, weights restored
//! afterwards, also on error) and [`hvp`]:
//!
//! ```text
//! H·v ≈ (∇L(θ + h·v) − ∇L(θ − h·v)) / (2h)      (central difference, error O(h²·‖∇³L‖))
//! ```

use super::Evaluation;
use crate::error::Result;
use candle_core::{Tensor, Var};

/// Evaluate at `θ + scale·direction` (per variable; `None` leaves it in place) and restore θ.
pub fn evaluate_at(
    vars: &[Var],
    direction: &[Option<Tensor>],
    scale: f64,
    evaluate: &mut dyn FnMut() -> Result<Evaluation>,
) -> Result<Evaluation> {
    let saved: Vec<Tensor> = vars.iter().map(|v| v.as_tensor().copy()).collect::<candle_core::Result<_>>()?;
    for (v, d) in vars.iter().zip(direction) {
        if let Some(d) = d {
            v.set(&(v.as_tensor() + (d * scale)?)?)?;
        }
    }
    let result = evaluate();
    for (v, s) in vars.iter().zip(&saved) {
        v.set(s)?;
    }
    result
}

/// `H·v` at the current weights by a central difference with step `h` (per variable; a missing
/// gradient counts as zero).
pub fn hvp(vars: &[Var], v: &[Tensor], h: f64, evaluate: &mut dyn FnMut() -> Result<Evaluation>) -> Result<Vec<Tensor>> {
    let direction: Vec<Option<Tensor>> = v.iter().cloned().map(Some).collect();
    let plus = evaluate_at(vars, &direction, h, evaluate)?;
    let minus = evaluate_at(vars, &direction, -h, evaluate)?;
    let mut out = Vec::with_capacity(vars.len());
    for var in vars {
        let t = var.as_tensor();
        let gp = plus.grads.get(t).cloned().unwrap_or(t.zeros_like()?);
        let gm = minus.grads.get(t).cloned().unwrap_or(t.zeros_like()?);
        out.push(((gp - gm)? / (2.0 * h))?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    /// On `f(θ) = ½θᵀAθ + bᵀθ + ¼Σθ⁴`, H = A + 3·diag(θ²): the central difference matches the
    /// analytic Hessian to O(h²), and is exact for the quadratic part.
    #[test]
    fn matches_the_analytic_hessian() {
        let dev = Device::Cpu;
        let a = [[4.0f64, 1.0, 0.5], [1.0, 3.0, -1.0], [0.5, -1.0, 2.0]];
        let at = Tensor::new(&a, &dev).unwrap();
        let b = Tensor::new(&[0.3f64, -0.2, 0.1], &dev).unwrap();
        let theta = [0.7f64, -0.4, 1.1];
        let var = Var::from_vec(theta.to_vec(), 3, &dev).unwrap();
        let mut f = || -> Result<Evaluation> {
            let t = var.as_tensor();
            let quad = (t.unsqueeze(0)?.matmul(&at)?.squeeze(0)? * t)?.sum_all()? * 0.5;
            let value = ((quad? + (t * &b)?.sum_all()?)? + (t.powf(4.0)?.sum_all()? * 0.25)?)?;
            Ok(Evaluation { loss: value.to_scalar::<f64>()?, grads: value.backward()? })
        };
        let v = [1.0f64, -2.0, 0.5];
        let hv = hvp(std::slice::from_ref(&var), &[Tensor::new(&v, &dev).unwrap()], 1e-4, &mut f).unwrap();
        let hv = hv[0].to_vec1::<f64>().unwrap();
        for i in 0..3 {
            let exact: f64 = (0..3).map(|j| a[i][j] * v[j]).sum::<f64>() + 3.0 * theta[i] * theta[i] * v[i];
            assert!((hv[i] - exact).abs() < 1e-7 * (1.0 + exact.abs()), "row {i}: {} vs {exact}", hv[i]);
        }
        assert_eq!(var.as_tensor().to_vec1::<f64>().unwrap(), theta.to_vec(), "weights restored");
    }
}
