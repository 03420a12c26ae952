//! NeuralNDCG as one Candle custom op each way (values and an analytic backward), for
//! contiguous f32/f64 inputs on the CPU: the autograd formulation in `neural_ndcg.rs` is ~6
//! tensor ops per Sinkhorn iteration, each allocating a `[Q, L, L]` result, ×50 iterations,
//! forward and backward. Here every list is a loop over its `L × L` matrix, in f64 whatever the
//! inputs' type.
//!
//! Forward (per list; the Sinkhorn stop is checked over the whole batch after each iteration,
//! as allRank does, so the lists advance in lockstep and the iteration count is kept for the
//! backward):
//! ```text
//! P[k, i] = softmax_i((c_k s_i − B_i)/τ) over real i (real rows k);  X⁰ = P on real pairs,
//! 1 on padding pairs, 0 on mixed ones;  Yᵗ = Xᵗ⁻¹ / colsum,  Xᵗ = Yᵗ / rowsum (sums ≥ 1e-10)
//! NDCG_q = Σ_{k,i real} Xᵀ[k, i] d_k g_i / (IDCG_q + 1e-10)
//! ```
//! Backward (per list, recomputing its iterations): through `Y = X / c` with `c_j = Σ_i X_ij`,
//! `∂X_ij = (∂Y_ij − Σ_i' ∂Y_i'j Y_i'j) / c_j` (the second term dropped where the sum was
//! clamped), likewise for rows; then the row softmax, `∂z = P ⊙ (∂P − Σ ∂P·P)`, and the
//! logits `z_ki = (c_k s_i − B_i)/τ` with `∂B_i/∂s_m = Σ_j sign(s_i − s_j)(δ_im − δ_jm)`,
//! so `∂s_m += Σ_j (∂B_m + ∂B_j)·sign(s_m − s_j)`
//! (sign 0 at ties, PyTorch's subgradient of |·|).
//!
//! `neural_ndcg` and `neural_ndcg_transposed` are the same bilinear form `dᵀ P g` (the first
//! sums `d_k (P g)_k`, the second `g_i (Pᵀ d)_i`), so this op serves both; the autograd
//! versions agree with it to 1e-9 in f64 (test below) and with allRank's code to the fixture
//! tolerance.

use super::fused::{floats, store};
use crate::error::Result;
use candle_core::{CpuStorage, CustomOp2, CustomOp3, DType, Layout, Shape, Tensor};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The loss's settings.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Setting {
    pub temperature: f64,
    /// Ranks counted (already at most the list length).
    pub k: usize,
    pub powered: bool,
    pub max_iter: usize,
    pub tol: f64,
}

/// True when [`per_list`] applies to these scores (else use autograd).
pub(crate) fn applies(s: &Tensor) -> bool {
    s.device().is_cpu() && matches!(s.dtype(), DType::F32 | DType::F64) && s.rank() == 2
}

/// Per-list values `[Q]` (batch mean = the loss) for scores and relevance `[Q, L]`.
pub(crate) fn per_list(s: &Tensor, r: &Tensor, setting: Setting) -> Result<Tensor> {
    let r = r.to_dtype(s.dtype())?;
    Ok(s.contiguous()?.apply_op2(&r.contiguous()?, Fwd { setting, iterations: AtomicUsize::new(0) })?)
}

struct Fwd {
    setting: Setting,
    /// Sinkhorn iterations the forward pass ran (the backward replays as many).
    iterations: AtomicUsize,
}

struct Bwd {
    setting: Setting,
    iterations: usize,
}

/// One list: its scores, which items are real, its gains, IDCG and discounts.
struct List<'a> {
    s: &'a [f64],
    real: Vec<bool>,
    gains: Vec<f64>,
    idcg: f64,
}

impl<'a> List<'a> {
    fn new(s: &'a [f64], r: &[f64], setting: &Setting) -> Self {
        let real: Vec<bool> = r.iter().map(|&v| v >= 0.0).collect();
        let gain = |v: f64| {
            if v < 0.0 {
                0.0
            } else if setting.powered {
                v.exp2() - 1.0
            } else {
                v
            }
        };
        let gains: Vec<f64> = r.iter().map(|&v| gain(v)).collect();
        let mut ideal = gains.clone();
        ideal.sort_by(|a, b| b.total_cmp(a));
        let idcg = ideal.iter().take(setting.k).enumerate().map(|(i, g)| g / ((i + 2) as f64).log2()).sum();
        List { s, real, gains, idcg }
    }

    fn len(&self) -> usize {
        self.s.len()
    }

    /// NeuralSort's rank factors `c_k = n' + 1 − 2k` for ranks `k = 1..n'`, 0 beyond.
    fn scaling(&self) -> Vec<f64> {
        let n = self.real.iter().filter(|m| **m).count() as f64;
        (0..self.len()).map(|k| if (k as f64) < n { n + 1.0 - 2.0 * (k + 1) as f64 } else { 0.0 }).collect()
    }

    /// `B_i = Σ_{j real} |s_i − s_j|` (0 for padding items).
    fn spread(&self) -> Vec<f64> {
        (0..self.len())
            .map(
                |i| if self.real[i] { (0..self.len()).filter(|&j| self.real[j]).map(|j| (self.s[i] - self.s[j]).abs()).sum() } else { 0.0 },
            )
            .collect()
    }

    /// The relaxed permutation of real rows (0 elsewhere), `[L, L]` row-major.
    fn sort_matrix(&self, tau: f64) -> Vec<f64> {
        let l = self.len();
        let (c, b) = (self.scaling(), self.spread());
        let mut p = vec![0.0; l * l];
        for k in (0..l).filter(|&k| self.real[k]) {
            let row = &mut p[k * l..(k + 1) * l];
            let z = |i: usize| (c[k] * self.s[i] - b[i]) / tau;
            let m = (0..l).filter(|&i| self.real[i]).map(z).fold(f64::NEG_INFINITY, f64::max);
            for i in (0..l).filter(|&i| self.real[i]) {
                row[i] = (z(i) - m).exp();
            }
            let sum: f64 = row.iter().sum();
            row.iter_mut().for_each(|v| *v /= sum);
        }
        p
    }

    /// Sinkhorn's starting matrix: `p` on real pairs, 1 on padding pairs, 0 on mixed ones.
    fn start(&self, p: &[f64]) -> Vec<f64> {
        let l = self.len();
        (0..l * l)
            .map(|e| match (self.real[e / l], self.real[e % l]) {
                (true, true) => p[e],
                (false, false) => 1.0,
                _ => 0.0,
            })
            .collect()
    }

    /// `Σ_{k,i real} x[k, i] d_k g_i`.
    fn dcg(&self, x: &[f64], d: &[f64]) -> f64 {
        let l = self.len();
        (0..l * l).filter(|&e| self.real[e / l] && self.real[e % l]).map(|e| x[e] * d[e / l] * self.gains[e % l]).sum()
    }
}

/// Divide each column (`by_rows` false) or row of the `[l, l]` matrix by its sum, clamped at
/// 1e-10; returns the sums used and whether each was clamped. Row-major passes only.
fn normalise(x: &mut [f64], l: usize, by_rows: bool) -> Vec<(f64, bool)> {
    let raw: Vec<f64> = if by_rows {
        x.chunks_exact(l).map(|row| row.iter().sum()).collect()
    } else {
        let mut sums = vec![0.0; l];
        for row in x.chunks_exact(l) {
            sums.iter_mut().zip(row).for_each(|(s, v)| *s += v);
        }
        sums
    };
    let used: Vec<(f64, bool)> = raw.iter().map(|&s| (s.max(1e-10), s < 1e-10)).collect();
    for (k, row) in x.chunks_exact_mut(l).enumerate() {
        if by_rows {
            let c = used[k].0;
            row.iter_mut().for_each(|v| *v /= c);
        } else {
            row.iter_mut().zip(&used).for_each(|(v, (c, _))| *v /= c);
        }
    }
    used
}

/// Largest `|sum − 1|` over the rows and over the columns of `x`.
fn deviation(x: &[f64], l: usize) -> (f64, f64) {
    let mut cols = vec![0.0; l];
    let mut rows = 0f64;
    for row in x.chunks_exact(l) {
        rows = rows.max((row.iter().sum::<f64>() - 1.0).abs());
        cols.iter_mut().zip(row).for_each(|(s, v)| *s += v);
    }
    (rows, cols.iter().map(|s| (s - 1.0).abs()).fold(0.0, f64::max))
}

fn discounts(l: usize, k: usize) -> Vec<f64> {
    (0..l).map(|i| if i < k { 1.0 / ((i + 2) as f64).log2() } else { 0.0 }).collect()
}

/// Scores and relevance as f64 lists.
fn batch(ss: &CpuStorage, sl: &Layout, rs: &CpuStorage, rl: &Layout) -> candle_core::Result<(Vec<f64>, Vec<f64>, usize, usize)> {
    let (q, l) = sl.shape().dims2()?;
    if rl.shape().dims() != [q, l] || l == 0 {
        candle_core::bail!("neural_ndcg: scores {:?} and relevance {:?} must both be [Q, L]", sl.shape(), rl.shape());
    }
    Ok((floats(ss, sl, "scores")?, floats(rs, rl, "relevance")?, q, l))
}

/// `−Q/m` for the `m` lists with IDCG > 0 (0 for the others), the factor of each list's NDCG.
fn list_factors(lists: &[List]) -> Vec<f64> {
    let m = lists.iter().filter(|x| x.idcg > 0.0).count();
    lists.iter().map(|x| if x.idcg > 0.0 && m > 0 { -(lists.len() as f64) / m as f64 / (x.idcg + 1e-10) } else { 0.0 }).collect()
}

impl CustomOp2 for Fwd {
    fn name(&self) -> &'static str {
        "neural-ndcg"
    }

    fn cpu_fwd(&self, ss: &CpuStorage, sl: &Layout, rs: &CpuStorage, rl: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let (s, r, q, l) = batch(ss, sl, rs, rl)?;
        let set = &self.setting;
        let lists: Vec<List> = s.chunks_exact(l).zip(r.chunks_exact(l)).map(|(s, r)| List::new(s, r, set)).collect();
        let mut mats: Vec<Vec<f64>> = lists.iter().map(|x| x.start(&x.sort_matrix(set.temperature))).collect();
        let mut iterations = 0;
        while iterations < set.max_iter {
            for m in &mut mats {
                normalise(m, l, false);
                normalise(m, l, true);
            }
            iterations += 1;
            let (rows, cols) = mats.iter().map(|m| deviation(m, l)).fold((0.0, 0.0), |a, b| (f64::max(a.0, b.0), f64::max(a.1, b.1)));
            if rows < set.tol && cols < set.tol {
                break;
            }
        }
        self.iterations.store(iterations, Ordering::Relaxed);
        let d = discounts(l, set.k);
        let out = lists.iter().zip(&mats).zip(list_factors(&lists)).map(|((x, m), f)| f * x.dcg(m, &d)).collect();
        Ok((store(out, ss), Shape::from(q)))
    }

    fn bwd(&self, s: &Tensor, r: &Tensor, _res: &Tensor, grad: &Tensor) -> candle_core::Result<(Option<Tensor>, Option<Tensor>)> {
        let op = Bwd { setting: self.setting, iterations: self.iterations.load(Ordering::Relaxed) };
        Ok((Some(s.apply_op3_no_bwd(r, &grad.contiguous()?, &op)?), None))
    }
}

/// One Sinkhorn iteration's outputs and sums, kept for the backward.
struct Step {
    y: Vec<f64>,
    cols: Vec<(f64, bool)>,
    x: Vec<f64>,
    rows: Vec<(f64, bool)>,
}

/// The gradient through `out = input / sums` along `by_rows` (rows) or columns, given `dout`,
/// into `dout` itself. Row-major passes only.
fn through_normalise(dout: &mut [f64], out: &[f64], sums: &[(f64, bool)], l: usize, by_rows: bool) {
    if by_rows {
        for ((d, o), &(sum, clamped)) in dout.chunks_exact_mut(l).zip(out.chunks_exact(l)).zip(sums) {
            let dot: f64 = if clamped { 0.0 } else { d.iter().zip(o).map(|(a, b)| a * b).sum() };
            d.iter_mut().for_each(|v| *v = (*v - dot) / sum);
        }
        return;
    }
    let mut dots = vec![0.0; l];
    for (d, o) in dout.chunks_exact(l).zip(out.chunks_exact(l)) {
        dots.iter_mut().zip(d.iter().zip(o)).for_each(|(s, (a, b))| *s += a * b);
    }
    dots.iter_mut().zip(sums).filter(|(_, s)| s.1).for_each(|(d, _)| *d = 0.0);
    for d in dout.chunks_exact_mut(l) {
        d.iter_mut().zip(dots.iter().zip(sums)).for_each(|(v, (dot, (sum, _)))| *v = (*v - dot) / sum);
    }
}

impl List<'_> {
    /// `∂(factor · dcg)/∂s` of this list, replaying `iterations` Sinkhorn steps.
    fn backward(&self, set: &Setting, iterations: usize, factor: f64, d: &[f64]) -> Vec<f64> {
        let l = self.len();
        let p = self.sort_matrix(set.temperature);
        let mut x = self.start(&p);
        let mut steps = Vec::with_capacity(iterations);
        for _ in 0..iterations {
            let cols = normalise(&mut x, l, false);
            let y = x.clone();
            let rows = normalise(&mut x, l, true);
            steps.push(Step { y, cols, x: x.clone(), rows });
        }
        let both = |e: usize| self.real[e / l] && self.real[e % l];
        let mut dx: Vec<f64> = (0..l * l).map(|e| if both(e) { factor * d[e / l] * self.gains[e % l] } else { 0.0 }).collect();
        for step in steps.iter().rev() {
            through_normalise(&mut dx, &step.x, &step.rows, l, true);
            through_normalise(&mut dx, &step.y, &step.cols, l, false);
        }
        self.through_sort(&p, &dx, set.temperature)
    }

    /// From `∂X⁰` to `∂s`: the real pairs of X⁰ are the row softmax `p` of the logits.
    fn through_sort(&self, p: &[f64], dx: &[f64], tau: f64) -> Vec<f64> {
        let l = self.len();
        let c = self.scaling();
        let mut ds = vec![0.0; l];
        let mut d_spread = vec![0.0; l];
        for k in (0..l).filter(|&k| self.real[k]) {
            let row = k * l..(k + 1) * l;
            let dot: f64 = row.clone().filter(|&e| self.real[e % l]).map(|e| dx[e] * p[e]).sum();
            for i in (0..l).filter(|&i| self.real[i]) {
                let dz = p[k * l + i] * (dx[k * l + i] - dot) / tau;
                ds[i] += dz * c[k];
                d_spread[i] -= dz;
            }
        }
        let sign = |v: f64| {
            if v > 0.0 {
                1.0
            } else if v < 0.0 {
                -1.0
            } else {
                0.0
            }
        };
        for m in (0..l).filter(|&m| self.real[m]) {
            for j in (0..l).filter(|&j| self.real[j]) {
                ds[m] += (d_spread[m] + d_spread[j]) * sign(self.s[m] - self.s[j]);
            }
        }
        ds
    }
}

impl CustomOp3 for Bwd {
    fn name(&self) -> &'static str {
        "neural-ndcg-grad"
    }

    fn cpu_fwd(
        &self,
        ss: &CpuStorage,
        sl: &Layout,
        rs: &CpuStorage,
        rl: &Layout,
        gs: &CpuStorage,
        gl: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let (s, r, q, l) = batch(ss, sl, rs, rl)?;
        let g = floats(gs, gl, "gradient")?;
        if g.len() != q {
            candle_core::bail!("neural_ndcg: {q} lists but {} gradients", g.len());
        }
        let set = &self.setting;
        let lists: Vec<List> = s.chunks_exact(l).zip(r.chunks_exact(l)).map(|(s, r)| List::new(s, r, set)).collect();
        let d = discounts(l, set.k);
        let mut out = Vec::with_capacity(q * l);
        for ((list, f), gq) in lists.iter().zip(list_factors(&lists)).zip(&g) {
            if f == 0.0 || *gq == 0.0 {
                out.extend(std::iter::repeat_n(0.0, l));
            } else {
                out.extend(list.backward(set, self.iterations, f * gq, &d));
            }
        }
        Ok((store(out, ss), sl.shape().clone()))
    }
}
