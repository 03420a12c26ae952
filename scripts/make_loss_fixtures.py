#!/usr/bin/env python3
"""Reference values for lossbench's losses, computed with PyTorch in float64.

Writes tests/fixtures/losses.json: for each loss and each input case, the mean loss, the
per-example losses and the gradient of the mean loss with respect to each float input.
`cargo test` (tests/loss_fixtures.rs) runs every case through the same code path as
`lossbench losses eval` in f32 and compares. Run from the repo root:

    python3 -m venv .venv && .venv/bin/pip install -r scripts/requirements.txt
    .venv/bin/python scripts/make_loss_fixtures.py

Independent implementations used:
  cross_entropy  torch.nn.functional.cross_entropy(label_smoothing=s)
  focal          the focal formula (Lin et al. 2017) in torch autograd, with the modulator
                 (1 - p_y)^gamma, p_y = exp(log_softmax(z)_y); detach_modulator detaches p_t as
                 in HanxunH/Active-Passive-Losses loss.py::FocalLoss
  mse, mae       torch.nn.functional.mse_loss / l1_loss (reduction='none', mean over the last dim)
  huber          torch.nn.functional.huber_loss(delta=d)
"""
import json
import pathlib

import torch
import torch.nn.functional as F

torch.manual_seed(0)
D = torch.float64


def focal(z, y, gamma, detach):
    logp = F.log_softmax(z, dim=1).gather(1, y[:, None])[:, 0]
    pt = logp.exp()
    if detach:
        pt = pt.detach()
    return -((1 - pt) ** gamma) * logp


def per_example(loss, params, inputs):
    if loss == "cross_entropy":
        return F.cross_entropy(inputs["logits"], inputs["labels"], reduction="none",
                               label_smoothing=params.get("smoothing", 0.0))
    if loss == "focal":
        return focal(inputs["logits"], inputs["labels"], params.get("gamma", 2.0),
                     params.get("detach_modulator", False))
    p, t = inputs["pred"], inputs["target"]
    if p.dim() == 1:
        p, t = p[:, None], t[:, None]
    if loss == "mse":
        return F.mse_loss(p, t, reduction="none").mean(-1)
    if loss == "mae":
        return F.l1_loss(p, t, reduction="none").mean(-1)
    if loss == "huber":
        return F.huber_loss(p, t, reduction="none", delta=params.get("delta", 1.0)).mean(-1)
    raise ValueError(loss)


def classification_cases():
    g = torch.Generator().manual_seed(1)
    yield "ordinary", torch.randn(6, 5, generator=g, dtype=D) * 2, torch.tensor([0, 1, 2, 3, 4, 0])
    yield "extreme_logits", torch.tensor([[1e4, -1e4, 0.0], [-1e4, 1e4, 0.0], [0.0, 0.0, 1e4]], dtype=D), torch.tensor([0, 2, 1])
    yield "ties", torch.zeros(4, 3, dtype=D), torch.tensor([0, 1, 2, 0])
    yield "binary", torch.randn(5, 2, generator=g, dtype=D), torch.tensor([0, 1, 1, 0, 1])
    yield "single_example", torch.tensor([[0.3, -0.2, 1.5, 0.0]], dtype=D), torch.tensor([2])


def regression_cases():
    g = torch.Generator().manual_seed(2)
    yield "ordinary", torch.randn(6, 3, generator=g, dtype=D), torch.randn(6, 3, generator=g, dtype=D)
    yield "vector", torch.randn(5, generator=g, dtype=D), torch.randn(5, generator=g, dtype=D)
    yield "large_residuals", torch.tensor([[1e3, -1e3], [0.5, 40.0]], dtype=D), torch.tensor([[-1e3, 2.0], [0.25, -3.0]], dtype=D)


LOSSES = [
    ("cross_entropy", {}),
    ("cross_entropy", {"smoothing": 0.1}),
    ("focal", {"gamma": 2.0}),
    ("focal", {"gamma": 0.5}),
    ("focal", {"gamma": 2.0, "detach_modulator": True}),
    ("mse", {}),
    ("mae", {}),
    ("huber", {"delta": 1.0}),
    ("huber", {"delta": 0.5}),
]
CLASSIFICATION = {"cross_entropy", "focal"}


def tolist(t):
    return t.detach().tolist()


def main():
    cases = []
    for loss, params in LOSSES:
        if loss in CLASSIFICATION:
            for name, z, y in classification_cases():
                z = z.clone().requires_grad_(True)
                inputs = {"logits": z, "labels": y}
                per = per_example(loss, params, inputs)
                per.mean().backward()
                case = {"loss": loss, "params": params, "case": name,
                        "inputs": {"logits": tolist(z), "labels": y.tolist()},
                        "mean": per.mean().item(), "per_example": tolist(per),
                        "grads": {"logits": tolist(z.grad)}}
                if torch.isnan(z.grad).any():
                    # The plain formula's gradient is undefined here (0^(gamma-1) for gamma < 1
                    # when 1 - p_y underflows to 0); lossbench clamps and stays finite, so only
                    # the values are compared.
                    case["grads"] = {}
                    case["note"] = "reference gradient is NaN; values only"
                cases.append(case)
        else:
            for name, p, t in regression_cases():
                p = p.clone().requires_grad_(True)
                per = per_example(loss, params, {"pred": p, "target": t})
                per.mean().backward()
                cases.append({"loss": loss, "params": params, "case": name,
                              "inputs": {"pred": tolist(p), "target": tolist(t)},
                              "mean": per.mean().item(), "per_example": tolist(per),
                              "grads": {"pred": tolist(p.grad)}})
    out = {"generator": "scripts/make_loss_fixtures.py", "torch": torch.__version__, "dtype": "float64", "cases": cases}
    path = pathlib.Path("tests/fixtures/losses.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=1, allow_nan=False) + "\n")
    print(f"wrote {path}: {len(cases)} cases")


if __name__ == "__main__":
    main()
