#!/usr/bin/env python3
"""Reference values and gradients of lossbench's penalty regularizers, from PyTorch in float64.

A fixed ReLU MLP 4-6-5-3 (weights at "init" and, after a perturbation, at "weights"), a batch
of 9 examples with labels 0,1,2,0,1,2,…; for each case the penalty R at "weights" and its
gradient with respect to every parameter, computed here with torch autograd (and
torch.linalg.svdvals, torch.sort, torch.lgamma) from the formulas and authors' code cited in
each Rust module. tests/regularizer_fixtures.rs replays them. Parameters are listed in
lossbench's order (sorted by name): l0.bias, l0.weight, l1.bias, l1.weight, l2.bias, l2.weight.
Run from the repo root:

    .venv/bin/python scripts/make_regularizer_fixtures.py
"""
import json
import math
import pathlib

import torch

D = torch.float64
g = torch.Generator().manual_seed(11)
WIDTHS = [4, 6, 5, 3]
N = 9
X = torch.randn(N, WIDTHS[0], generator=g, dtype=D)
Y = torch.tensor([i % 3 for i in range(N)])
INIT = []
for i, (a, b) in enumerate(zip(WIDTHS[:-1], WIDTHS[1:])):
    INIT.append(torch.randn(b, generator=g, dtype=D) * 0.3)  # l{i}.bias
    INIT.append(torch.randn(b, a, generator=g, dtype=D) / math.sqrt(a))  # l{i}.weight
WEIGHTS = [p + 0.2 * torch.randn(p.shape, generator=g, dtype=D) for p in INIT]


def forward(params):
    h = X
    layers = [(params[2 * i + 1], params[2 * i]) for i in range(len(WIDTHS) - 1)]
    for i, (w, b) in enumerate(layers):
        if i == len(layers) - 1:
            return h @ w.T + b, h, layers
        h = torch.relu(h @ w.T + b)


def weight_decay_l2(params):
    return 0.5 * sum((p**2).sum() for p in params)


def l2_init_reg(params):
    return sum(((p - p0) ** 2).sum() for p, p0 in zip(params, INIT))


def wasserstein_init_reg(params):
    return sum(((torch.sort(p.flatten())[0] - torch.sort(p0.flatten())[0]) ** 2).mean() for p, p0 in zip(params, INIT))


def spectral_reg(params, k=2.0):
    _, _, layers = forward(params)
    total = 0
    for w, b in layers:
        sigma = torch.linalg.svdvals(torch.cat([w, b[:, None]], dim=1))[0]
        total = total + (sigma**k - 1) ** 2
    return total


def orthogonal_reg(params):
    _, _, layers = forward(params)
    total = 0
    for w, _ in layers[:-1]:
        wn = w / torch.sqrt((w**2).sum(dim=1, keepdim=True) + 1e-24)
        total = total + ((wn @ wn.T - torch.eye(w.shape[0], dtype=D)) ** 2).sum()
    return total


def gg_prior(params, beta=1.5):
    _, _, layers = forward(params)
    ratio = math.exp(0.5 * (math.lgamma(1 / beta) - math.lgamma(3 / beta)))
    total = 0
    for w, _ in layers:
        with torch.no_grad():
            alpha = w.flatten().std(unbiased=False) * ratio
        total = total + (torch.abs(w / alpha) ** beta).sum()
    return total


def entropy_reg(params, t=0.5):
    z, _, _ = forward(params)
    pbar = torch.softmax(z / t, dim=1).mean(dim=0)
    return (pbar * torch.log(pbar)).sum() + math.log(z.shape[1])


def nc_lt_reg(params, between=1.0):
    z, h, _ = forward(params)
    classes = sorted(set(Y.tolist()))
    means = torch.stack([h[Y == c].mean(dim=0) for c in classes])
    glob = means.mean(dim=0, keepdim=True)
    centred = means - glob
    within = ((h - means[Y]) ** 2).sum(dim=1).mean()
    spread = (centred**2).sum(dim=1).mean()
    r_w = within / (spread + 1e-12)
    unit = centred / torch.sqrt((centred**2).sum(dim=1, keepdim=True) + 1e-24)
    cos = unit @ unit.T
    k = len(classes)
    off = 1 - torch.eye(k, dtype=D)
    r_b = (((cos + 1 / (z.shape[1] - 1)) ** 2) * off).sum() / (k * (k - 1))
    return r_w + between * r_b


def rationale_invariance(params):
    """liangchen527/RIDG RIDG._train_step, first step (bank = batch mean), transcribed."""
    z, features, layers = forward(params)
    weight = layers[-1][0]
    num_classes = z.shape[1]
    rational = torch.zeros(num_classes, N, features.shape[1], dtype=D)
    for i in range(num_classes):
        rational[i] = weight[i] * features
    bank = torch.zeros(num_classes, num_classes, features.shape[1], dtype=D)
    loss = 0
    for c in torch.unique(Y):
        rational_mean = rational[:, Y == c].mean(dim=1)
        bank[c] = rational_mean
        loss = loss + ((rational[:, Y == c] - bank[c].unsqueeze(1).detach()) ** 2).sum(dim=2).mean()
    return loss


CASES = [
    ("weight_decay_l2", {}, weight_decay_l2),
    ("l2_init_reg", {}, l2_init_reg),
    ("wasserstein_init_reg", {}, wasserstein_init_reg),
    ("spectral_reg", {}, spectral_reg),
    ("spectral_reg", {"exponent": 1.0}, lambda p: spectral_reg(p, 1.0)),
    ("orthogonal_reg", {}, orthogonal_reg),
    ("gg_prior", {}, gg_prior),
    ("gg_prior", {"beta": 1.0}, lambda p: gg_prior(p, 1.0)),
    ("entropy_reg", {"temperature": 0.5}, entropy_reg),
    ("nc_lt_reg", {}, nc_lt_reg),
    ("nc_lt_reg", {"between": 3.0}, lambda p: nc_lt_reg(p, 3.0)),
    ("rationale_invariance", {}, rationale_invariance),
]


def main():
    cases = []
    for name, params, fn in CASES:
        ps = [p.clone().requires_grad_(True) for p in WEIGHTS]
        value = fn(ps)
        grads = torch.autograd.grad(value, ps, allow_unused=True)
        cases.append(
            {
                "name": name,
                "params": params,
                "value": value.item(),
                "grads": [(gr if gr is not None else torch.zeros_like(p)).flatten().tolist() for gr, p in zip(grads, ps)],
            }
        )
    out = {
        "generator": "scripts/make_regularizer_fixtures.py",
        "torch": torch.__version__,
        "widths": WIDTHS,
        "x": X.tolist(),
        "y": Y.tolist(),
        "init": [p.flatten().tolist() for p in INIT],
        "weights": [p.flatten().tolist() for p in WEIGHTS],
        "cases": cases,
    }
    path = pathlib.Path("tests/fixtures/regularizers.json")
    path.write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {len(cases)} cases to {path}")


if __name__ == "__main__":
    main()
