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
  mean_field_*, adaface, prototypical, proto_triplet, icnn, i_con_supervised,
               score_submodular, metrix
               the authors' code transcribed in scripts/ml_references.py (provenance there);
               class vectors / kernels are given as `centres` [C][D] (the authors' [D, C]
               transposed); episodes list each class's support rows before its queries
PML's losses return the batch value only, so their per_example is null; GE2E's per-embedding
losses are per example (rows given class by class), and `mean` is their mean.
"""
import json
import pathlib
import sys

import pytorch_metric_learning
import torch
from pytorch_metric_learning import losses
from pytorch_metric_learning.utils import loss_and_miner_utils as lmu

sys.path.insert(0, str(pathlib.Path(__file__).parent))
import ml_references as refs  # noqa: E402

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


def mean_field_cases():
    g = torch.Generator().manual_seed(13)
    centres = torch.randn(10, 6, generator=g)
    e = torch.randn(16, 6, generator=g) * 2
    y = torch.tensor([0, 0, 0, 1, 1, 2, 2, 2, 2, 5, 5, 7, 7, 7, 9, 9])
    yield "10 classes, 6 in the batch", centres, e, y
    yield "4 classes, all present", torch.randn(4, 3, generator=g), torch.randn(8, 3, generator=g), torch.arange(4).repeat(2)


MEAN_FIELD_SETTINGS = {
    "mean_field_contrastive": [{}, {"pos_margin": 0.2, "neg_margin": 0.6, "mf_reg": 0.5, "mf_power": 3.0}],
    "mean_field_cwms": [{}, {"mf_reg": 1.0}, {"alpha": 2.0, "beta": 50.0, "base": 0.5, "mf_reg": 0.3, "mf_power": 1.5}],
}
MEAN_FIELD_DEFAULTS = {
    "mean_field_contrastive": {"pos_margin": 0.02, "neg_margin": 0.3, "mf_reg": 1.0, "mf_power": 2.0},
    "mean_field_cwms": {"alpha": 0.01, "beta": 80.0, "base": 0.8, "mf_reg": 0.0, "mf_power": 2.0},
}


def mean_field(name, params, e, y, centres):
    kw = {**MEAN_FIELD_DEFAULTS[name], **params}
    fn = refs.mean_field_contrastive if name == "mean_field_contrastive" else refs.mean_field_cwms
    _, per = fn(e, y, centres.t(), return_per_example=True, **kw)
    return per


def adaface_cases():
    g = torch.Generator().manual_seed(17)
    kernel = refs.init_kernel(6, 8, generator=g)
    # Norms spread over 2–60 so that the margin scaler varies and sometimes clips.
    e = torch.randn(12, 6, generator=g) * torch.exp(torch.randn(12, 1, generator=g)) * 10
    y = torch.tensor([0, 1, 2, 3, 4, 5, 6, 7, 0, 1, 2, 3])
    yield "defaults", {}, kernel, e, y
    yield "state mid-training", {"batch_mean": 12.0, "batch_std": 6.0, "t_alpha": 0.5}, kernel, e, y
    yield "h = 1, m = 0.5, s = 30", {"h": 1.0, "m": 0.5, "s": 30.0, "batch_mean": 15.0, "batch_std": 10.0}, kernel, e, y
    yield "h = 0 (CosFace)", {"h": 0.0}, kernel, e, y


def adaface(params, e, y, kernel):
    kw = {"m": 0.4, "h": 0.333, "s": 64.0, "t_alpha": 0.01, "batch_mean": 20.0, "batch_std": 100.0, **params}
    ce, _, _ = refs.adaface(e, y, kernel, **kw)
    return ce


def episodes():
    g = torch.Generator().manual_seed(19)
    for way, shot, query, d, sep in [(3, 5, 5, 8, 1.0), (5, 1, 3, 6, 1.5), (3, 2, 4, 4, 4.0)]:
        mu = torch.randn(way, d, generator=g) * sep
        ys, yq = torch.arange(way).repeat_interleave(shot), torch.arange(way).repeat_interleave(query)
        support = mu[ys] + torch.randn(way * shot, d, generator=g)
        queries = mu[yq] + torch.randn(way * query, d, generator=g)
        yield f"{way}-way {shot}-shot {query}-query, D={d}", shot, support, ys, queries, yq


EPISODE_SETTINGS = {
    "prototypical": [({}, "cross"), ({"temperature": 4.0}, "cross")],
    "proto_triplet": [({}, "prototriplet"), ({"margin": 1.0}, "prototriplet"), ({"cross_entropy": True}, "cross,prototriplet")],
    "icnn": [
        ({}, "fullicnn"),
        ({"terms": ["support"]}, "suppicnn"),
        ({"terms": ["query"]}, "queryicnn"),
        ({"terms": ["query"], "query_protos": True}, "queryicnn"),
        ({"terms": ["full"], "cross_entropy": True}, "cross,fullicnn"),
        ({"terms": ["proto_triplet", "full"], "cross_entropy": True}, "cross,prototriplet,fullicnn"),
        ({"terms": ["support"], "k": 2}, "suppicnn"),
    ],
}


def episodic(params, variant, shot, v, ys, yq):
    s, q = v[: len(ys)], v[len(ys):]
    if variant == "cross":
        value = refs.prototypical_ce(s, ys, q, yq, temperature=params.get("temperature", 1.0)).mean()
    else:
        value = refs.icnn_loss(s, ys, q, yq, variant, k=params.get("k", 4), query_protos=params.get("query_protos", False),
                               margin=params.get("margin", 0.5), temperature=params.get("temperature", 1.0))
    return value


for params in [{}, {"tau": 0.1}, {"tau": 0.2, "alpha": 0.3}]:
    for label, e, y in batches():
        kw = {"tau": 0.5, "alpha": 0.0, **params}
        add_case("i_con_supervised", params, label, e, y,
                 lambda v: refs.i_con_supervised(v, y, variant="preset", debias="others", return_per_anchor=True, **kw)[1])
def score_batches():
    """Batches where every class has two rows or more (the reference is infinite otherwise);
    the last one offset so that every cosine is positive (the cos kernel's log-ratio exists)."""
    g = torch.Generator().manual_seed(23)
    yield "12x5, 3 classes", torch.randn(12, 5, generator=g), torch.tensor([0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2])
    yield "16x8, P×K 4×4", torch.randn(16, 8, generator=g) * 3, torch.arange(4).repeat_interleave(4)
    yield "10x4 offset, positive cosines", torch.randn(10, 4, generator=g) + 3, torch.tensor([5, 5, 5, 9, 9, 1, 1, 7, 7, 7])


SCORE_SETTINGS = [
    {},
    {"variant": "cf"},
    {"lambda": 0.5, "temperature": 0.5},
    {"kernel": "cos"},
    {"kernel": "cos", "variant": "cf", "lambda": 2.0},
    {"objective": "facility_location"},
    {"objective": "facility_location", "lambda": 0.5},
]


def score(params, v, y):
    kw = {"lam": params.get("lambda", 1.0), "temperature": params.get("temperature", 0.07),
          "base_temperature": params.get("temperature", 0.07)}
    if params.get("objective") == "facility_location":
        return refs.score_facility_location(v, y, kernel="cos", return_per_anchor=True, **kw)[1]
    return refs.score_graph_cut(v, y, variant=params.get("variant", "sf"), kernel=params.get("kernel", "exp"),
                                return_per_anchor=True, **kw)[1]


METRIX_SETTINGS = [
    {"lam": 0.3, "pair_type": "posneg"},
    {"lam": 0.7, "pair_type": "ancneg"},
    {"lam": 0.55, "pair_type": "posneg", "weight": 1.0},
    {"lam": 0.2, "pair_type": "ancneg", "weight_ancneg": 2.0},
]


def metrix(params, v, y):
    kind = params["pair_type"]
    weight = params.get("weight", 0.4) if kind == "posneg" else params.get("weight_ancneg", 0.3)
    return refs.metrix_contrastive(v, y, params["lam"], pair_type=kind, weight=weight)


for params in METRIX_SETTINGS:
    for label, e, y in batches():
        add_case("metrix", params, label, e, y, lambda v: metrix(params, v, y))
for params in SCORE_SETTINGS:
    for label, e, y in score_batches():
        if params.get("kernel") == "cos" and params.get("variant", "sf") == "sf" and "offset" not in label:
            continue
        add_case("score_submodular", params, label, e, y, lambda v: score(params, v, y))
for label, centres, e, y in mean_field_cases():
    for name, settings in MEAN_FIELD_SETTINGS.items():
        for params in settings:
            full = {**params, "centres": centres.tolist()}
            add_case(name, full, label, e, y, lambda v: mean_field(name, params, v, y, centres))
for label, params, kernel, e, y in adaface_cases():
    add_case("adaface", {**params, "centres": kernel.t().tolist()}, label, e, y, lambda v: adaface(params, v, y, kernel))
for label, shot, support, ys, queries, yq in episodes():
    e, y = torch.cat([support, queries]), torch.cat([ys, yq])
    # Class ids need not be 0..W−1: shift them (the losses number the classes in id order).
    for name, settings in EPISODE_SETTINGS.items():
        for params, variant in settings:
            add_case(name, {**params, "shots": shot}, label, e, y * 3 + 2, lambda v: episodic(params, variant, shot, v, ys, yq))
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
