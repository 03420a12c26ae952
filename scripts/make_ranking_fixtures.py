#!/usr/bin/env python3
"""Reference values for lossbench's ranking losses, in float64.

Writes tests/fixtures/losses-ranking.json in the format of losses.json: for each loss and input
case, the batch loss and its gradient with respect to the scores. The references are allRank's
code and IR-Benchmark's formulas, transcribed in scripts/ranking_references.py (provenance
there). `cargo test` (tests/loss_fixtures.rs) runs every case through `lossbench losses eval`.
The losses are batch-level (means over pairs, positives or lists), so per_example is null.
Run from the repo root:

    python3 -m venv .venv && .venv/bin/pip install -r scripts/requirements.txt
    .venv/bin/python scripts/make_ranking_fixtures.py
"""
import json
import pathlib
import sys

import torch

sys.path.insert(0, str(pathlib.Path(__file__).parent))
import ranking_references as refs  # noqa: E402

torch.set_default_dtype(torch.float64)
OUT = pathlib.Path("tests/fixtures/losses-ranking.json")


def graded_lists():
    """(label, scores, relevance) batches of graded lists: full, padded at the end with
    variable lengths, and with a list that has no relevant item."""
    g = torch.Generator().manual_seed(7)
    s = torch.randn(4, 6, generator=g) * 1.5
    r = torch.randint(0, 5, (4, 6), generator=g).double()
    yield "full lists", s, r
    s = torch.randn(5, 7, generator=g)
    r = torch.randint(0, 5, (5, 7), generator=g).double()
    for q, length in enumerate([7, 4, 5, 2, 6]):
        r[q, length:] = -1.0
    yield "padded lists of lengths 7 4 5 2 6", s, r
    s = torch.randn(4, 5, generator=g) * 2.0
    r = torch.tensor([[0, 0, 0, 0, 0], [3, 0, 1, 2, -1], [0, 0, 0, -1, -1], [1, 4, 0, 2, 2]]).double()
    yield "lists without a relevant item", s, r


def recommendation_lists():
    """(label, scores, relevance) batches shaped like recsys_synth's training lists: a positive
    first, then sampled negatives; cosine-range scores."""
    g = torch.Generator().manual_seed(11)
    s = torch.rand(6, 5, generator=g) * 2.0 - 1.0
    r = torch.zeros(6, 5)
    r[:, 0] = 1.0
    yield "one positive, four negatives", s, r
    s = torch.rand(4, 6, generator=g) * 2.0 - 1.0
    r = torch.tensor([[1, 0, 0, 0, 0, -1], [1, 1, 0, 0, 0, 0], [2, 0, 1, 0, -1, -1], [1, 0, 0, 0, 0, 0]]).double()
    yield "several positives and padding", s, r
    s = torch.rand(3, 4, generator=g) * 2.0 - 1.0
    r = torch.tensor([[0, 0, 0, 0], [1, 0, 0, 0], [1, 0, 0, -1]]).double()
    yield "a list without a positive", s, r


LIST_SETTINGS = {
    "ranknet": [
        ({}, lambda s, r: refs.rankNet(s, r)),
        ({"weight": "diff"}, lambda s, r: refs.rankNet(s, r, weight_by_diff=True)),
        ({"weight": "diff_pow"}, lambda s, r: refs.rankNet(s, r, weight_by_diff_powed=True)),
    ],
    "listnet": [({}, lambda s, r: refs.listNet(s, r))],
    "approx_ndcg": [
        ({}, lambda s, r: refs.approxNDCGLoss(s, r)),
        ({"alpha": 2.5}, lambda s, r: refs.approxNDCGLoss(s, r, alpha=2.5)),
    ],
    "neural_ndcg": [
        ({}, lambda s, r: refs.neuralNDCG(s, r)),
        ({"temperature": 0.5, "k": 3}, lambda s, r: refs.neuralNDCG(s, r, temperature=0.5, k=3)),
        ({"powered_relevancies": False}, lambda s, r: refs.neuralNDCG(s, r, powered_relevancies=False)),
    ],
    "neural_ndcg_transposed": [
        ({}, lambda s, r: refs.neuralNDCG_transposed(s, r)),
        ({"temperature": 0.5, "k": 3}, lambda s, r: refs.neuralNDCG_transposed(s, r, temperature=0.5, k=3)),
        ({"powered_relevancies": False}, lambda s, r: refs.neuralNDCG_transposed(s, r, powered_relevancies=False)),
        ({"max_iter": 5, "tol": 1e-3}, lambda s, r: refs.neuralNDCG_transposed(s, r, max_iter=5, tol=1e-3)),
    ],
}

REC_SETTINGS = {
    "softmax_rec": [
        ({}, lambda s, r: refs.softmax_rec(s, r)),
        ({"tau": 0.2}, lambda s, r: refs.softmax_rec(s, r, tau=0.2)),
        ({"tau": 0.2, "include_positive": False}, lambda s, r: refs.softmax_rec(s, r, tau=0.2, include_positive=False)),
    ],
    "bpr": [({}, lambda s, r: refs.bpr(s, r))],
    "psl": [
        ({"tau": 2.0, "activation": a, "method": m, "tau_star": ts}, (lambda a, m, ts: lambda s, r: refs.psl(s, r, 2.0, ts, a, m))(a, m, ts))
        for a in ["tanh", "atan", "relu"]
        for m in [1, 2]
        for ts in [1.0, 0.5]
    ] + [({}, lambda s, r: refs.psl(s, r))],
}

cases = []


def add_case(loss, params, label, s, r, fn):
    v = s.clone().requires_grad_(True)
    value = fn(v, r)
    value.backward()
    cases.append(
        {
            "loss": loss,
            "params": params,
            "case": label,
            "inputs": {"scores": s.tolist(), "relevance": r.tolist()},
            "mean": value.item(),
            "per_example": None,
            "grads": {"scores": v.grad.tolist()},
        }
    )


for name, settings in LIST_SETTINGS.items():
    for params, fn in settings:
        for label, s, r in graded_lists():
            add_case(name, params, label, s, r, fn)
for name, settings in REC_SETTINGS.items():
    for params, fn in settings:
        for label, s, r in recommendation_lists():
            add_case(name, params, label, s, r, fn)
# The list losses on recommendation lists too (one positive among negatives).
for name in ["ranknet", "listnet", "approx_ndcg", "neural_ndcg", "neural_ndcg_transposed"]:
    params, fn = LIST_SETTINGS[name][0]
    for label, s, r in recommendation_lists():
        if "without" not in label:
            add_case(name, params, "recommendation: " + label, s, r, fn)

OUT.write_text(
    json.dumps({"generator": "scripts/make_ranking_fixtures.py", "torch": torch.__version__.split("+")[0], "dtype": "float64", "cases": cases}, indent=1)
    + "\n"
)
print(f"{len(cases)} cases -> {OUT}")
