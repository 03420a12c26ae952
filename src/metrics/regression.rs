//! Regression metrics (catalog §8.4), in the original target units.

use super::{metric_entry, Metric, MetricInfo, Outputs};
use crate::task::Family;

pub struct Mse;
impl Metric for Mse {
    fn compute(&self, o: &Outputs) -> f64 {
        let t = o.values();
        o.out.iter().zip(t).map(|(p, t)| (p - t).powi(2)).sum::<f64>() / t.len().max(1) as f64
    }
}
metric_entry!(MSE, Mse, build_mse, Family::Regression, "mse", false, "mean squared error over all outputs");

pub struct Mae;
impl Metric for Mae {
    fn compute(&self, o: &Outputs) -> f64 {
        let t = o.values();
        o.out.iter().zip(t).map(|(p, t)| (p - t).abs()).sum::<f64>() / t.len().max(1) as f64
    }
}
metric_entry!(MAE, Mae, build_mae, Family::Regression, "mae", false, "mean absolute error over all outputs");

/// Coefficient of determination, averaged over outputs (sklearn's `uniform_average`).
pub struct RSquared;
impl Metric for RSquared {
    fn compute(&self, o: &Outputs) -> f64 {
        let t = o.values();
        let k = o.width.max(1);
        let n = t.len() / k;
        let mut total = 0.0;
        for j in 0..k {
            let mean = (0..n).map(|i| t[i * k + j]).sum::<f64>() / n.max(1) as f64;
            let ss_tot: f64 = (0..n).map(|i| (t[i * k + j] - mean).powi(2)).sum();
            let ss_res: f64 = (0..n).map(|i| (t[i * k + j] - o.out[i * k + j]).powi(2)).sum();
            total += if ss_tot > 0.0 {
                1.0 - ss_res / ss_tot
            } else if ss_res == 0.0 {
                1.0
            } else {
                0.0
            };
        }
        total / k as f64
    }
}
metric_entry!(R2, RSquared, build_r2, Family::Regression, "r2", true, "coefficient of determination 1 − SS_res/SS_tot, mean over outputs");

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::HostTarget;

    #[test]
    fn hand_values() {
        let out = [1.0, 2.0, 4.0];
        let t = [1.0, 3.0, 5.0];
        let o = Outputs::new(&out, 1, HostTarget::Values(&t));
        assert!((Mse.compute(&o) - 2.0 / 3.0).abs() < 1e-12);
        assert!((Mae.compute(&o) - 2.0 / 3.0).abs() < 1e-12);
        // mean t = 3, SS_tot = 8, SS_res = 2 → 0.75.
        assert!((RSquared.compute(&o) - 0.75).abs() < 1e-12);
    }
}
