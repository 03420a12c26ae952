//! Modular arithmetic `(a, b) ↦ a ∘ b mod p` over all pairs (grokking, catalog §7.4.1).
//!
//! A random `train_frac` of all pairs is the train split, the rest the test split (S135's and
//! S080's protocol). Encodings: `onehot` gives `[onehot(a); onehot(b)] ∈ R^{2p}` (S135's MLP
//! input), `tokens` gives the two token ids for the `embed_mlp` model. `div` skips `b = 0` and
//! needs a prime `p`.

use super::{DatasetInfo, InputKind, Labels, RawData, Source, Table};
use crate::error::{Error, Result};
use crate::registry::{check_range, ParamDoc, Validate};
use crate::rng::{Purpose, Stream};
use crate::task::TaskKind;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    Add,
    Sub,
    Mul,
    Div,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Encoding {
    Onehot,
    Tokens,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    pub p: usize,
    pub op: Op,
    pub train_frac: f64,
    pub encoding: Encoding,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_seed: Option<u64>,
}

impl Default for Params {
    fn default() -> Self {
        Params { p: 97, op: Op::Add, train_frac: 0.4, encoding: Encoding::Onehot, data_seed: None }
    }
}

fn is_prime(p: usize) -> bool {
    p >= 2 && (2..).take_while(|d| d * d <= p).all(|d| !p.is_multiple_of(d))
}

fn pow_mod(mut base: usize, mut exp: usize, p: usize) -> usize {
    let mut acc = 1;
    base %= p;
    while exp > 0 {
        if exp & 1 == 1 {
            acc = acc * base % p;
        }
        base = base * base % p;
        exp >>= 1;
    }
    acc
}

impl Validate for Params {
    fn validate(&self) -> Result<()> {
        check_range("p", self.p as f64, 2.0, 2000.0)?;
        check_range("train_frac", self.train_frac, 0.01, 0.99)?;
        let width = match self.encoding {
            Encoding::Onehot => 2.0 * self.p as f64,
            Encoding::Tokens => 2.0,
        };
        super::check_size((self.p * self.p) as f64, width)?;
        if self.op == Op::Div && !is_prime(self.p) {
            return Err(Error::input(format!("op `div` needs a prime `p`; {} is not prime", self.p)));
        }
        Ok(())
    }
}

impl Source for Params {
    fn kind(&self) -> TaskKind {
        TaskKind::Classification { classes: self.p }
    }
    fn load(&self, seed: u64) -> Result<RawData> {
        let p = self.p;
        let mut pairs = Vec::with_capacity(p * p);
        for a in 0..p {
            for b in 0..p {
                let label = match self.op {
                    Op::Add => (a + b) % p,
                    Op::Sub => (a + p - b) % p,
                    Op::Mul => a * b % p,
                    Op::Div if b == 0 => continue,
                    Op::Div => a * pow_mod(b, p - 2, p) % p,
                };
                pairs.push((a, b, label as u32));
            }
        }
        let (d, input) = match self.encoding {
            Encoding::Onehot => (2 * p, InputKind::Dense { features: 2 * p }),
            Encoding::Tokens => (2, InputKind::Tokens { vocab: p, len: 2 }),
        };
        let mut x = vec![0f32; pairs.len() * d];
        for (i, &(a, b, _)) in pairs.iter().enumerate() {
            let row = &mut x[i * d..(i + 1) * d];
            match self.encoding {
                Encoding::Onehot => {
                    row[a] = 1.0;
                    row[p + b] = 1.0;
                }
                Encoding::Tokens => {
                    row[0] = a as f32;
                    row[1] = b as f32;
                }
            }
        }
        let y = pairs.iter().map(|t| t.2).collect();
        let mut order = Stream::new(self.data_seed.unwrap_or(seed), Purpose::Split, 0).permutation(pairs.len());
        let n_train = ((self.train_frac * pairs.len() as f64).round() as usize).clamp(1, pairs.len() - 1);
        let test = order.split_off(n_train);
        Ok(RawData {
            input,
            fixed_split: Some((order, test)),
            standardize_by_default: false,
            ..RawData::dense(self.kind(), Table { x, d, y: Labels::Classes(y) })
        })
    }
}

pub static INFO: DatasetInfo = DatasetInfo {
    name: "modular_arith",
    summary: "all pairs (a, b) mod p labelled a∘b mod p; random train fraction (grokking)",
    family: "classification",
    reference: "catalog §7.4.1 (S080 Power et al. grokking; S135 softmax collapse)",
    params: &[
        ParamDoc { name: "p", meaning: "modulus (number of classes)", range: "2..2000 (prime for div)", default: "97" },
        ParamDoc { name: "op", meaning: "operation", range: "add | sub | mul | div", default: "add" },
        ParamDoc { name: "train_frac", meaning: "fraction of all pairs used for training", range: "0.01..0.99", default: "0.4" },
        ParamDoc { name: "encoding", meaning: "input encoding", range: "onehot (2p features) | tokens (for embed_mlp)", default: "onehot" },
        ParamDoc { name: "data_seed", meaning: "fix the split across run seeds", range: "u64", default: "run seed" },
    ],
    build: super::build_generator::<Params>,
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn division_inverts_multiplication() {
        let params = Params { p: 7, op: Op::Div, train_frac: 0.5, encoding: Encoding::Tokens, data_seed: None };
        let raw = params.load(0).unwrap();
        let Labels::Classes(y) = &raw.rows.y else { unreachable!() };
        for (i, label) in y.iter().enumerate() {
            let (a, b) = (raw.rows.x[2 * i] as usize, raw.rows.x[2 * i + 1] as usize);
            assert_eq!(*label as usize * b % 7, a);
        }
        assert_eq!(y.len(), 7 * 6);
    }
}
