#!/usr/bin/env python3
"""Reference values for lossbench's statistics (src/stats.rs), from SciPy and statsmodels.

Writes tests/fixtures/stats.json with
* wilcoxon: scipy.stats.wilcoxon(d) with its defaults (statistic, p-value) on differences with
  and without ties and zeros, n from 1 to 30 (exact, permutation and normal regimes);
* friedman: scipy.stats.friedmanchisquare over blocks x treatments tables, with ties;
* holm: statsmodels.stats.multitest.multipletests(p, method="holm") adjusted p-values;
* nemenyi_q: studentized_range.ppf(1 - alpha, k, inf) / sqrt(2) for k = 2..100;
* bootstrap: scipy.stats.bootstrap percentile 95 % CI of the mean (100 000 resamples), which
  lossbench's own seeded bootstrap must approach.
Run from the repo root:

    .venv/bin/python scripts/make_stats_fixtures.py
"""
import json
import pathlib

import numpy as np
import scipy
from scipy import stats
from statsmodels.stats.multitest import multipletests

rng = np.random.default_rng(20261129)


def wilcoxon_cases():
    cases = []
    for n in list(range(1, 16)) + [20, 25, 30]:
        for variant in ("plain", "ties", "zeros"):
            d = np.round(rng.normal(0.3, 1.0, n), 3)
            if variant == "ties" and n >= 3:
                d[1] = d[0]
                d[2] = -d[0]
            if variant == "zeros" and n >= 2:
                d[0] = 0.0
            if np.all(d == 0):
                continue
            res = stats.wilcoxon(d)
            cases.append({"d": d.tolist(), "statistic": float(res.statistic), "pvalue": float(res.pvalue)})
    # Accuracy-like differences on a test set of 269 examples: many exact ties.
    for n in (3, 5, 10, 20):
        d = rng.integers(-3, 4, n) / 269.0
        if np.all(d == 0):
            continue
        res = stats.wilcoxon(d)
        cases.append({"d": d.tolist(), "statistic": float(res.statistic), "pvalue": float(res.pvalue)})
    return cases


def friedman_cases():
    cases = []
    for blocks, k in ((2, 3), (4, 3), (5, 4), (8, 6), (12, 5)):
        table = np.round(rng.normal(0.8, 0.05, (blocks, k)), 2)  # rounding makes ties
        res = stats.friedmanchisquare(*[table[:, j] for j in range(k)])
        cases.append({"table": table.tolist(), "statistic": float(res.statistic), "pvalue": float(res.pvalue)})
    return cases


def holm_cases():
    cases = []
    for m in (1, 2, 5, 12):
        p = rng.uniform(0, 0.2, m)
        cases.append({"p": p.tolist(), "adjusted": multipletests(p, method="holm")[1].tolist()})
    return cases


def bootstrap_cases():
    cases = []
    for n in (3, 5, 10):
        x = np.round(rng.normal(0.01, 0.02, n), 4)
        res = stats.bootstrap((x,), np.mean, n_resamples=100_000, method="percentile", rng=np.random.default_rng(1))
        cases.append({"x": x.tolist(), "low": float(res.confidence_interval.low), "high": float(res.confidence_interval.high)})
    return cases


def main():
    out = {
        "generator": "scripts/make_stats_fixtures.py",
        "scipy": scipy.__version__,
        "wilcoxon": wilcoxon_cases(),
        "friedman": friedman_cases(),
        "holm": holm_cases(),
        "nemenyi_q": {
            "0.05": [stats.studentized_range.ppf(0.95, k, np.inf) / np.sqrt(2) for k in range(2, 101)],
            "0.10": [stats.studentized_range.ppf(0.90, k, np.inf) / np.sqrt(2) for k in range(2, 101)],
        },
        "bootstrap": bootstrap_cases(),
    }
    path = pathlib.Path("tests/fixtures/stats.json")
    path.write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {path}: {len(out['wilcoxon'])} wilcoxon, {len(out['friedman'])} friedman, {len(out['holm'])} holm cases")


if __name__ == "__main__":
    main()
