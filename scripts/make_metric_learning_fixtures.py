#!/usr/bin/env python3
"""Reference values for lossbench's metric-learning losses, in float64.

Writes tests/fixtures/losses-metric-learning.json in the format of losses.json: for each loss
and input case, the batch loss and its gradient with respect to the raw (unnormalised)
embeddings. `cargo test` (tests/loss_fixtures.rs) runs every case through `lossbench losses
eval`, whose metric-learning family L2-normalises the embeddings before the loss exactly as
pytorch-metric-learning's LpDistance(normalize_embeddings=True) does. Run from the repo root:

    python3 -m venv .venv && .venv/bin/pip install -r scripts/requirements.txt
    .venv/bin/python scripts/make_metric_learning_fixtures.py

Independent implementations used:
  contrastive  pytorch_metric_learning.losses.ContrastiveLoss(pos_margin, neg_margin)
               (squared: true has no PML counterpart; its cases use PML's pair indices and
               AvgNonZeroReducer semantics written out in torch, with squared hinges)
  triplet      pytorch_metric_learning.losses.TripletMarginLoss(margin), all triplets
  ge2e_*       HarryVolek/PyTorch_Speaker_Verification utils.py get_centroid / get_cossim
               (transcribed loop for loop; its +1e-6 on each cosine shifts a row of S by
               w·1e-6), w = init_w, b = init_b; then cvqluu/GE2E-Loss's embed_loss_softmax
               (exact log-softmax; HarryVolek's calc_loss adds 1e-6 inside the log, which the
               paper does not) and embed_loss_contrast. cvqluu's own similarities clamp each
               cosine at 1e-6 from below, which the paper does not, so they are not used.
  partial_fc   insightface arcface_torch partial_fc_v2.py PartialFC_V2 (sample, forward) on one
               process with CombinedMarginLoss(s, 1, 0, m) (CosFace) and its cross-entropy;
               the centres are a parameter, and the sampled negatives are forced through the
               same topk over `perm` (positives 2.0, chosen negatives 1.5, others U(0, 1))
PML's losses return the batch value only, so their per_example is null; GE2E's per-embedding
losses are per example (rows given class by class), and `mean` is their mean.
"""
import json
import pathlib

import pytorch_metric_learning
import torch
from pytorch_metric_learning import losses
from pytorch_metric_learning.utils import loss_and_miner_utils as lmu

torch.set_default_dtype(torch.float64)
OUT = pathlib.Path("tests/fixtures/losses-metric-learning.json")


def avg_non_zero(x):
    nz = (x > 0).sum()
    return x[x > 0].sum() / nz if nz > 0 else x.sum() * 0


def squared_contrastive(e, y, pos_margin, neg_margin):
    d = torch.cdist(torch.nn.functional.normalize(e, dim=1), torch.nn.functional.normalize(e, dim=1))
    a1, p, a2, n = lmu.get_all_pairs_indices(y)
    pos = torch.relu(d[a1, p] - pos_margin) ** 2
    neg = torch.relu(neg_margin - d[a2, n]) ** 2
    return avg_non_zero(pos) + avg_non_zero(neg)


def harry_cossim(embeddings, centroids):
    # utils.py get_centroid / get_cossim, on (N, M, D) embeddings
    cossim = torch.zeros(embeddings.size(0), embeddings.size(1), centroids.size(0))
    for speaker_num, speaker in enumerate(embeddings):
        for utterance_num, utterance in enumerate(speaker):
            for centroid_num, centroid in enumerate(centroids):
                if speaker_num == centroid_num:
                    centroid = 0
                    for utterance_id, other in enumerate(embeddings[speaker_num]):
                        if utterance_id != utterance_num:
                            centroid = centroid + other
                    centroid = centroid / (len(embeddings[speaker_num]) - 1)
                output = torch.nn.functional.cosine_similarity(utterance, centroid, dim=0) + 1e-6
                cossim[speaker_num][utterance_num][centroid_num] = output
    return cossim


def ge2e(variant, params, e, n_classes):
    w, b = params.get("init_w", 10.0), params.get("init_b", -5.0)
    dvecs = torch.nn.functional.normalize(e, dim=1).reshape(n_classes, -1, e.shape[1])
    centroids = dvecs.mean(1)
    sim = w * harry_cossim(dvecs, centroids) + b
    N, M, _ = dvecs.shape
    per = torch.zeros(N, M)
    for j in range(N):
        for i in range(M):
            if variant == "softmax":  # cvqluu's embed_loss_softmax (exact log-softmax)
                per[j][i] = -torch.nn.functional.log_softmax(sim[j, i], 0)[j]
            else:  # embed_loss_contrast
                sig = torch.sigmoid(sim[j, i])
                per[j][i] = 1.0 - torch.sigmoid(sim[j, i, j]) + torch.max(torch.cat((sig[:j], sig[j + 1 :])))
    return per.reshape(-1)


def ge2e_batches():
    g = torch.Generator().manual_seed(11)
    yield "N=4 × M=5, D=6", torch.randn(20, 6, generator=g), 4
    yield "N=3 × M=2, D=3", torch.randn(6, 3, generator=g), 3
    yield "N=5 × M=10, D=8, scaled", torch.randn(50, 8, generator=g) * 4, 5


def partial_fc(params, e, y):
    # PartialFC_V2.sample / forward with world_size 1, then CombinedMarginLoss (CosFace).
    weight = torch.tensor(params["centres"])
    num_local = weight.shape[0]
    num_sample = int(params.get("sample_rate", 0.1) * num_local)
    labels = y.clone().view(-1, 1)
    positive = torch.unique(labels, sorted=True)
    if num_sample - positive.size(0) >= 0:
        perm = torch.rand(size=[num_local], generator=torch.Generator().manual_seed(0))
        perm[torch.tensor(params.get("sampled", []), dtype=torch.long)] = 1.5
        perm[positive] = 2.0
        index = torch.topk(perm, k=num_sample)[1].sort()[0]
    else:
        index = positive
    labels = torch.searchsorted(index, labels)
    logits = torch.nn.functional.linear(torch.nn.functional.normalize(e), torch.nn.functional.normalize(weight[index]))
    logits = logits.clamp(-1, 1)
    s, m = params.get("scale", 64.0), params.get("margin", 0.35)
    rows = torch.arange(len(y))
    target = logits[rows, labels.view(-1)] - m
    logits = logits.clone()
    logits[rows, labels.view(-1)] = target
    logits = logits * s
    return torch.nn.functional.cross_entropy(logits, labels.view(-1), reduction="none")


def partial_fc_cases():
    g = torch.Generator().manual_seed(5)
    centres = torch.randn(20, 6, generator=g)
    e = torch.randn(12, 6, generator=g)
    y = torch.tensor([0, 0, 3, 3, 7, 7, 7, 11, 11, 19, 19, 2])
    yield "20 classes, full softmax", {"sample_rate": 1.0, "centres": centres.tolist()}, e, y
    yield "r = 0.5, 4 negatives", {"sample_rate": 0.5, "centres": centres.tolist(), "sampled": [1, 9, 14, 16]}, e, y
    yield "r = 0.1 (only the batch's classes)", {"centres": centres.tolist()}, e, y
    yield "s = 30, m = 0.2", {"sample_rate": 1.0, "scale": 30.0, "margin": 0.2, "centres": centres.tolist()}, e * 5, y


def reference(name, params, e, y):
    if name == "contrastive" and params.get("squared"):
        return squared_contrastive(e, y, params.get("pos_margin", 0.0), params.get("neg_margin", 1.0))
    if name == "contrastive":
        return losses.ContrastiveLoss(**params)(e, y)
    if name == "triplet":
        return losses.TripletMarginLoss(**params)(e, y)
    raise ValueError(name)


def batches():
    g = torch.Generator().manual_seed(7)
    yield "12x5, 3 classes", torch.randn(12, 5, generator=g), torch.tensor([0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2])
    yield "16x8, P×K 4×4", torch.randn(16, 8, generator=g) * 3, torch.arange(4).repeat_interleave(4)
    yield "10x4, uneven classes", torch.randn(10, 4, generator=g), torch.tensor([5, 5, 5, 5, 9, 9, 1, 7, 7, 7])
    yield "6x3, all one class", torch.randn(6, 3, generator=g), torch.zeros(6, dtype=torch.long)
    yield "6x3, all different", torch.randn(6, 3, generator=g), torch.arange(6)


SETTINGS = {
    "contrastive": [{}, {"pos_margin": 0.2, "neg_margin": 0.8}, {"neg_margin": 1.6}, {"squared": True}],
    "triplet": [{}, {"margin": 0.2}, {"margin": 1.0}],
}

cases = []


def add_case(loss, params, label, e, y, per_example):
    """One case: `per_example(var)` gives the per-example losses, or (for PML, which reduces
    the batch itself) a 0-d batch loss with no per-example values."""
    var = e.clone().requires_grad_(True)
    values = per_example(var)
    mean = values.mean() if values.dim() > 0 else values
    (grad,) = torch.autograd.grad(mean, var, allow_unused=True)
    grad = torch.zeros_like(var) if grad is None else grad
    cases.append(
        {
            "loss": loss,
            "params": params,
            "case": label,
            "inputs": {"embeddings": e.tolist(), "labels": y.tolist()},
            "mean": mean.item(),
            "per_example": values.tolist() if values.dim() > 0 else None,
            "grads": {"embeddings": grad.tolist()},
        }
    )


for label, params, e, y in partial_fc_cases():
    add_case("partial_fc", params, label, e, y, lambda v: partial_fc(params, v, y))
for variant in ["softmax", "contrast"]:
    for params in [{}, {"init_w": 3.0, "init_b": 0.5}]:
        for label, e, n_classes in ge2e_batches():
            y = torch.arange(n_classes).repeat_interleave(e.shape[0] // n_classes)
            add_case(f"ge2e_{variant}", params, label, e, y, lambda v: ge2e(variant, params, v, n_classes))
for name, settings in SETTINGS.items():
    for params in settings:
        for label, e, y in batches():
            add_case(name, params, label, e, y, lambda v: reference(name, params, v, y))

OUT.write_text(
    json.dumps(
        {
            "generator": "scripts/make_metric_learning_fixtures.py",
            "torch": torch.__version__.split("+")[0],
            "pytorch_metric_learning": pytorch_metric_learning.__version__,
            "dtype": "float64",
            "cases": cases,
        },
        indent=1,
    )
    + "\n"
)
print(f"{len(cases)} cases -> {OUT}")
