//! Seeded, independent random streams.
//!
//! Every random draw in lossbench comes from a [`Stream`] keyed by `(seed, purpose, axis)`:
//! the seed of the run, what the numbers are for (initial weights, data order, label noise,
//! dropout, data generation) and an index along that purpose (epoch, layer…). Streams with
//! different keys are independent ChaCha8 streams, so adding a draw in one place never shifts
//! the numbers drawn elsewhere, and every loss compared under one seed sees the same initial
//! weights, data order and corrupted labels (common random numbers). Candle's own CPU RNG
//! cannot be seeded and is never used.

use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};

/// What a stream of random numbers is used for. Each purpose gets an independent stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Synthetic data generation (depends on the dataset seed only).
    Data = 1,
    /// Train/val/test split.
    Split = 2,
    /// Label noise and long-tail sub-sampling.
    Corrupt = 3,
    /// Initial model weights.
    Init = 4,
    /// Mini-batch order.
    Shuffle = 5,
    /// Dropout masks.
    Dropout = 6,
    /// Randomness inside a loss (ensloss's random derivatives).
    Loss = 7,
    /// Randomness inside a regularizer (mixup's λ and pairing, VAT's directions, dropout samples).
    Regularizer = 8,
    /// Noise injected by an optimizer (sgld, heavy_tailed_sgd).
    Optimizer = 9,
    /// Directions and probes of analyses of a finished run (landscape, Hessian estimates).
    Analysis = 10,
    /// Negative items sampled for recommendation lists (training and the evaluation loss).
    Negatives = 11,
}

/// A deterministic random stream. Same key, same numbers, on every machine.
pub struct Stream {
    rng: ChaCha8Rng,
    spare_normal: Option<f64>,
}

impl Stream {
    pub fn new(seed: u64, purpose: Purpose, axis: u64) -> Self {
        let mut key = [0u8; 32];
        key[..8].copy_from_slice(&seed.to_le_bytes());
        key[8..16].copy_from_slice(&(purpose as u64).to_le_bytes());
        key[16..24].copy_from_slice(b"lossbnch");
        let mut rng = ChaCha8Rng::from_seed(key);
        rng.set_stream(axis);
        Stream { rng, spare_normal: None }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.rng.next_u64()
    }

    /// Uniform in [0, 1) with 53 random bits.
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in [lo, hi).
    pub fn uniform_in(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.uniform()
    }

    /// Uniform integer in [0, n), without modulo bias. `n` must be positive.
    pub fn below(&mut self, n: u64) -> u64 {
        debug_assert!(n > 0);
        let zone = u64::MAX - (u64::MAX % n);
        loop {
            let v = self.next_u64();
            if v < zone {
                return v % n;
            }
        }
    }

    /// Standard normal (Box–Muller, both values used).
    pub fn normal(&mut self) -> f64 {
        if let Some(v) = self.spare_normal.take() {
            return v;
        }
        let u1 = loop {
            let u = self.uniform();
            if u > 0.0 {
                break u;
            }
        };
        let u2 = self.uniform();
        let r = (-2.0 * u1.ln()).sqrt();
        let theta = 2.0 * std::f64::consts::PI * u2;
        self.spare_normal = Some(r * theta.sin());
        r * theta.cos()
    }

    /// A draw from `Beta(a, b)` (a, b > 0), by rand_distr.
    pub fn beta(&mut self, a: f64, b: f64) -> f64 {
        use rand_distr::Distribution;
        match rand_distr::Beta::new(a, b) {
            Ok(d) => d.sample(&mut self.rng),
            Err(_) => f64::NAN,
        }
    }

    /// A draw from `Exp(1)`, by rand_distr.
    pub fn exp1(&mut self) -> f64 {
        use rand_distr::Distribution;
        rand_distr::Exp1.sample(&mut self.rng)
    }

    /// Fisher–Yates shuffle.
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            items.swap(i, j);
        }
    }

    /// `k` of `items` without replacement, in draw order (a partial Fisher–Yates shuffle of a
    /// copy; `k` at most `items.len()`).
    pub fn choose(&mut self, items: &[usize], k: usize) -> Vec<usize> {
        let mut pool = items.to_vec();
        let k = k.min(pool.len());
        for i in 0..k {
            let j = i + self.below((pool.len() - i) as u64) as usize;
            pool.swap(i, j);
        }
        pool.truncate(k);
        pool
    }

    /// A random permutation of `0..n`.
    pub fn permutation(&mut self, n: usize) -> Vec<usize> {
        let mut idx: Vec<usize> = (0..n).collect();
        self.shuffle(&mut idx);
        idx
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_key_same_numbers_different_key_different_numbers() {
        let a: Vec<u64> = (0..4).map(|_| Stream::new(7, Purpose::Init, 0).next_u64()).collect();
        assert!(a.windows(2).all(|w| w[0] == w[1]));
        let mut s1 = Stream::new(7, Purpose::Init, 0);
        let mut s2 = Stream::new(7, Purpose::Shuffle, 0);
        let mut s3 = Stream::new(7, Purpose::Init, 1);
        let mut s4 = Stream::new(8, Purpose::Init, 0);
        let x = s1.next_u64();
        assert_ne!(x, s2.next_u64());
        assert_ne!(x, s3.next_u64());
        assert_ne!(x, s4.next_u64());
    }

    #[test]
    fn normal_has_unit_moments_and_permutation_is_a_permutation() {
        let mut s = Stream::new(1, Purpose::Data, 0);
        let xs: Vec<f64> = (0..100_000).map(|_| s.normal()).collect();
        let mean = xs.iter().sum::<f64>() / xs.len() as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / xs.len() as f64;
        assert!(mean.abs() < 0.02, "{mean}");
        assert!((var - 1.0).abs() < 0.02, "{var}");
        let mut p = s.permutation(1000);
        p.sort_unstable();
        assert_eq!(p, (0..1000).collect::<Vec<_>>());
    }
}
