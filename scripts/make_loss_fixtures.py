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
  sparsemax_loss entmax.sparsemax_loss
  APL family     the classes of HanxunH/Active-Passive-Losses loss.py, transcribed per example
  dual_focal     Linwei94/ICML2023-DualFocalLoss dual_focal_loss.py (per example)
  stablemax_ce   the authors' utils.py (s, log_stablemax, float64)
  ldr_kl         LDRLoss_V1 of the LDR paper's loss.py (per example)
  aldr_kl        ALDRLoss_V1 of the same file, first visit of every example (ids = 0..N)
  gol            gumbel_ce.py binary_cross_entropy (kostas1515/AGLU, same as GOL's)
  bce            torch.nn.functional.binary_cross_entropy_with_logits (mean over labels)
  bce_reweighted, auc_pairwise
                 the catalog formulas as explicit loops over labels and pairs (batch values)
  sparsemax_multilabel
                 TensorFlow contrib's sparsemax_loss formula with entmax.sparsemax
  hybrid_multilabel
                 the catalog's reconstruction, with HobbitLong/SupContrast's SupConLoss
  others         the catalog formula in torch autograd (poly1, poly1_focal, z_loss_spherical,
                 mse_spherical, sparse_softmax_topk, comp_sum, one_vs_rest via
                 binary_cross_entropy_with_logits, l2svm_sq_hinge)
"""
import json
import pathlib

import math

import torch
import torch.nn.functional as F
from entmax import sparsemax as entmax_sparsemax
from entmax import sparsemax_loss as entmax_sparsemax_loss

torch.manual_seed(0)
D = torch.float64


def focal(z, y, gamma, detach):
    logp = F.log_softmax(z, dim=1).gather(1, y[:, None])[:, 0]
    pt = logp.exp()
    if detach:
        pt = pt.detach()
    return -((1 - pt) ** gamma) * logp


def onehot(y, c):
    return F.one_hot(y, c).to(D)


# --- Active-Passive family, transcribed from HanxunH/Active-Passive-Losses loss.py (per example) ---
def apl_mae(z, y):
    return 1.0 - torch.sum(onehot(y, z.shape[1]) * F.softmax(z, dim=1), dim=1)


def apl_gce(z, y, q):
    pred = torch.clamp(F.softmax(z, dim=1), min=1e-7, max=1.0)
    return (1.0 - torch.pow(torch.sum(onehot(y, z.shape[1]) * pred, dim=1), q)) / q


def apl_rce(z, y):
    pred = torch.clamp(F.softmax(z, dim=1), min=1e-7, max=1.0)
    oh = torch.clamp(onehot(y, z.shape[1]), min=1e-4, max=1.0)
    return -1 * torch.sum(pred * torch.log(oh), dim=1)


def apl_nce(z, y):
    pred = F.log_softmax(z, dim=1)
    return -1 * torch.sum(onehot(y, z.shape[1]) * pred, dim=1) / (-pred.sum(dim=1))


def apl_nfl(z, y, gamma):
    logpt = F.log_softmax(z, dim=1)
    normalizor = torch.sum(-1 * (1 - logpt.data.exp()) ** gamma * logpt, dim=1)
    logpt = logpt.gather(1, y.view(-1, 1)).view(-1)
    pt = logpt.data.exp()
    return -1 * (1 - pt) ** gamma * logpt / normalizor


def apl_ngce(z, y, q):
    pred = torch.clamp(F.softmax(z, dim=1), min=1e-7, max=1.0)
    num = 1.0 - torch.pow(torch.sum(onehot(y, z.shape[1]) * pred, dim=1), q)
    den = z.shape[1] - pred.pow(q).sum(dim=1)
    return num / den


# --- other authors' code / formulas ---
def dual_focal(z, y, gamma):
    # Linwei94/ICML2023-DualFocalLoss dual_focal_loss.py, per example (the class sums).
    logp_k = F.log_softmax(z, dim=1)
    softmax_logits = logp_k.exp()
    logp_k = logp_k.gather(1, y.view(-1, 1)).view(-1)
    p_k = logp_k.exp()
    p_j_mask = torch.lt(softmax_logits, p_k.reshape(p_k.shape[0], 1)) * 1
    p_j = torch.topk(p_j_mask * softmax_logits, 1)[0].squeeze(1)
    return -1 * (1 - p_k + p_j) ** gamma * logp_k


def stablemax_s(x, epsilon=1e-30):
    return torch.where(x < 0, 1 / (1 - x + epsilon), x + 1)


def stablemax_ce(z, y):
    # utils.py of the authors' repo (EIFY fork, db479be): computed in float64.
    s_x = stablemax_s(z.to(torch.float64))
    logprobs = torch.log(s_x / torch.sum(s_x, dim=-1, keepdim=True))
    return -torch.gather(logprobs, index=y[:, None], dim=-1)[:, 0]


def ldr_kl(z, y, lam, margin):
    # LDRLoss_V1 (threshold = margin, Lambda = lam), per example.
    y_true = onehot(y, z.shape[1])
    y_pred = F.softplus(z)
    y_pred = y_pred / torch.mean(y_pred, dim=1, keepdim=True)
    diff = margin * (1 - y_true) + (y_pred - torch.sum(y_pred * y_true, dim=1, keepdim=True))
    diff = diff / lam
    max_diff = torch.max(diff, dim=1, keepdim=True).values.detach()
    return (lam * (torch.log(torch.mean(torch.exp(diff - max_diff), dim=1, keepdim=True)) + max_diff))[:, 0]


def gol(z, y):
    # gumbel_ce.py binary_cross_entropy: clamp, Gumbel CDF, BCE; mean over classes; clamp [0, 20].
    pred = torch.clamp(z, min=-4, max=10)
    pestim = 1 / (torch.exp(torch.exp(-pred)))
    loss = F.binary_cross_entropy(pestim, onehot(y, z.shape[1]), reduction="none").mean(1)
    return torch.clamp(loss, min=0, max=20)


def sparse_softmax_topk(z, y, k):
    c = z.shape[1]
    if k >= c:
        return F.cross_entropy(z, y, reduction="none")
    keep = torch.zeros_like(z, dtype=torch.bool)
    keep.scatter_(1, torch.topk(z.detach(), k, dim=1).indices, True)
    keep.scatter_(1, y[:, None], True)
    masked = torch.where(keep, z, torch.full_like(z, -math.inf))
    return torch.logsumexp(masked, dim=1) - z.gather(1, y[:, None])[:, 0]


def z_loss_spherical(z, y, a, b):
    mu = z.mean(1, keepdim=True)
    sigma = torch.sqrt(((z - mu) ** 2).mean(1, keepdim=True) + 1e-12)
    zy = ((z - mu) / sigma).gather(1, y[:, None])[:, 0]
    return F.softplus(a * (b - zy)) / a


def comp_sum(z, y, tau):
    p_y = F.softmax(z, dim=1).gather(1, y[:, None])[:, 0]
    if tau == 1.0:
        return F.cross_entropy(z, y, reduction="none")
    return (p_y ** (tau - 1.0) - 1.0) / (1.0 - tau)


def ldam(z, y, counts, max_m, s):
    # val-iisc/Saddle-LongTail losses.py::LDAMLoss (CPU tensors instead of .cuda()).
    m_list = 1.0 / torch.sqrt(torch.sqrt(torch.tensor(counts, dtype=D)))
    m_list = m_list * (max_m / torch.max(m_list))
    index = F.one_hot(y, z.shape[1]).bool()
    x_m = z - m_list[y].view(-1, 1)
    output = torch.where(index, x_m, z)
    return F.cross_entropy(s * output, y, reduction="none")


def vs_loss(z, y, counts, gamma, tau):
    # val-iisc/Saddle-LongTail losses.py::VSLoss
    counts = torch.tensor(counts, dtype=D)
    cls_probs = counts / counts.sum()
    temp = (1.0 / counts) ** gamma
    temp = temp / torch.min(temp)
    return F.cross_entropy(z / temp + tau * torch.log(cls_probs), y, reduction="none")


def sovr(z, y, fraction):
    c = z.shape[1]
    zy = z.gather(1, y[:, None])[:, 0]
    others = z.detach().masked_fill(F.one_hot(y, c).bool(), -math.inf).max(1).values
    margin = (zy.detach() - others).tolist()
    order = sorted(range(len(margin)), key=lambda i: (margin[i], i))
    k = int(math.floor(fraction * len(margin) + 0.5))
    use = torch.zeros(len(margin), dtype=D)
    use[order[:k]] = 1.0
    ovr = F.binary_cross_entropy_with_logits(z, onehot(y, c), reduction="none").sum(1)
    return use * ovr + (1 - use) * F.cross_entropy(z, y, reduction="none")


# --- multi-label ---
def bce_reweighted(z, y):
    n, k = z.shape
    n_pos = y.sum(0)
    n_neg = n - n_pos
    total = torch.zeros((), dtype=D)
    for j in range(k):
        pos = y[:, j] == 1
        if n_pos[j] > 0:
            total = total + F.softplus(-z[pos, j]).sum() / n_pos[j]
        if n_neg[j] > 0:
            total = total + F.softplus(z[~pos, j]).sum() / n_neg[j]
    return total / k


def auc_pairwise(z, y, surrogate):
    n, k = z.shape
    phi = (lambda u: F.softplus(-u)) if surrogate == "logistic" else (lambda u: torch.relu(1 - u) ** 2)
    total = torch.zeros((), dtype=D)
    for j in range(k):
        pos = [i for i in range(n) if y[i, j] == 1]
        neg = [i for i in range(n) if y[i, j] == 0]
        if not pos or not neg:
            continue
        pair_sum = sum(phi(z[i, j] - z[m, j]) for i in pos for m in neg)
        total = total + pair_sum / (len(pos) * len(neg))
    return total / k


def sparsemax_multilabel(z, y):
    # TensorFlow contrib sparsemax_loss, labels normalised to a distribution; per example.
    q = y / y.sum(1, keepdim=True)
    shifted = z - z.mean(1, keepdim=True)
    p = entmax_sparsemax(z, dim=1)
    support = (p > 0).to(D)
    sum_s = support * p * (shifted - 0.5 * p)
    q_part = q * (0.5 * q - shifted)
    return (sum_s + q_part).sum(1)


class SupConLoss(torch.nn.Module):
    # HobbitLong/SupContrast losses.py::SupConLoss (contrast_mode='all'), with the mask given
    # and the division guarded as in its current version; float64, CPU.
    def __init__(self, temperature=0.07, base_temperature=0.07):
        super().__init__()
        self.temperature = temperature
        self.base_temperature = base_temperature

    def forward(self, features, mask):
        batch_size = features.shape[0]
        contrast_count = features.shape[1]
        contrast_feature = torch.cat(torch.unbind(features, dim=1), dim=0)
        anchor_feature, anchor_count = contrast_feature, contrast_count
        anchor_dot_contrast = torch.div(torch.matmul(anchor_feature, contrast_feature.T), self.temperature)
        logits_max, _ = torch.max(anchor_dot_contrast, dim=1, keepdim=True)
        logits = anchor_dot_contrast - logits_max.detach()
        mask = mask.repeat(anchor_count, contrast_count)
        logits_mask = torch.scatter(torch.ones_like(mask), 1, torch.arange(batch_size * anchor_count).view(-1, 1), 0)
        mask = mask * logits_mask
        exp_logits = torch.exp(logits) * logits_mask
        log_prob = logits - torch.log(exp_logits.sum(1, keepdim=True))
        mask_pos_pairs = mask.sum(1)
        mask_pos_pairs = torch.where(mask_pos_pairs < 1e-6, torch.ones_like(mask_pos_pairs), mask_pos_pairs)
        mean_log_prob_pos = (mask * log_prob).sum(1) / mask_pos_pairs
        loss = -(self.temperature / self.base_temperature) * mean_log_prob_pos
        return loss.view(anchor_count, batch_size)[0]  # per anchor (the class takes the mean)


def hybrid_multilabel(z, y, e, lam1, lam2, tau):
    n, k = z.shape
    n_pos = y.sum(0)
    w = torch.where(n_pos > 0, n / (k * n_pos.clamp(min=1e-30)), torch.zeros_like(n_pos))
    bce = (w * y * F.softplus(-z) + (1 - y) * F.softplus(z)).mean(1)
    s = torch.sigmoid(z)
    cooc = (((s.T @ s) - (y.T @ y)) / n).pow(2).sum()
    mask = ((y @ y.T) > 0).to(D)
    feats = F.normalize(e, dim=1)[:, None, :]
    sc = SupConLoss(temperature=tau, base_temperature=tau)(feats, mask)
    return bce + lam1 * cooc + lam2 * sc


MULTILABEL_BATCH = {"bce_reweighted", "auc_pairwise"}


def multilabel_cases():
    g = torch.Generator().manual_seed(4)
    y = torch.tensor([[1, 0, 0, 1], [0, 1, 0, 0], [1, 1, 0, 0], [0, 0, 1, 1], [1, 0, 0, 0], [0, 1, 1, 0]], dtype=D)
    yield "ordinary", torch.randn(6, 4, generator=g, dtype=D) * 2, y
    yield "extreme_logits", torch.tensor([[1e4, -1e4, 0.0], [-1e4, 1e4, 5.0], [0.0, -1e4, 1e4]], dtype=D), torch.tensor([[1, 0, 1], [0, 1, 0], [1, 0, 0]], dtype=D)
    yield "ties", torch.zeros(3, 4, dtype=D), torch.tensor([[1, 0, 1, 0], [0, 1, 1, 0], [1, 1, 1, 0]], dtype=D)
    yield "label_all_positive", torch.randn(4, 3, generator=g, dtype=D), torch.tensor([[1, 1, 0], [1, 0, 0], [1, 0, 1], [1, 1, 0]], dtype=D)


def harmonic(z, y, n):
    # grow-crystals DistLayer + head: the inputs z are −log d² (the head's output), so
    # d² = exp(−z); prob = (d²/min d²)^(−n) normalised; loss = −log prob_y.
    dist_sq = torch.exp(-z)
    dist_sq = dist_sq / torch.min(dist_sq, dim=-1, keepdim=True)[0]
    prob_unnorm = dist_sq ** (-n)
    prob = prob_unnorm / torch.sum(prob_unnorm, dim=1, keepdim=True)
    return -torch.log(prob).gather(1, y[:, None])[:, 0]


def ensloss(z, y, noise, lam):
    # statmlben/ensLoss losses.py::ensLoss with torch.randn replaced by the given draws (and no
    # .to("cuda")); the binary score is the logit difference. Per example (the class means).
    output = z[:, 1] - z[:, 0]
    target = 2.0 * y.to(D) - 1.0
    s_batch = output.flatten() * target.flatten()
    rd_grad = torch.tensor(noise, dtype=D)
    rd_grad = -(torch.exp(rd_grad) if lam == 0.0 else torch.where(1.0 + lam * rd_grad > 0, 1.0 + lam * rd_grad, 0.0) ** (1.0 / lam))
    rd_grad, _ = torch.sort(rd_grad)
    rd_grad = torch.clamp(rd_grad, min=-1.0)
    g_batch = torch.zeros(len(target), dtype=D)
    _, ind_tmp = torch.sort(s_batch.detach(), stable=True)
    g_batch[ind_tmp] = rd_grad
    s_no_grad = s_batch.detach()
    pos_ind = s_no_grad > 1.0
    g_batch[pos_ind] *= 1 / s_no_grad[pos_ind]
    g_batch = g_batch.detach() - 1e-6
    return g_batch * s_batch


def binary_cases():
    g = torch.Generator().manual_seed(5)
    yield "binary_ordinary", torch.randn(8, 2, generator=g, dtype=D) * 2, torch.tensor([0, 1, 1, 0, 1, 0, 0, 1])
    yield "binary_extreme", torch.tensor([[1e4, -1e4], [-1e4, 1e4], [0.0, 3.0], [2.0, 0.0]], dtype=D), torch.tensor([0, 0, 1, 1])
    yield "binary_ties", torch.zeros(4, 2, dtype=D), torch.tensor([0, 1, 0, 1])


class ALDRLoss_V1(torch.nn.Module):
    # The paper's loss.py ALDRLoss_V1, with .cuda() removed and float64; y_true one-hot.
    def __init__(self, N, threshold=1.0, Lambda=1.0, alpha=1e0, softplus=False):
        super().__init__()
        self.threshold = threshold
        self.alpha = alpha
        self.softplus = softplus
        self.Lambda_ref = torch.tensor(Lambda, dtype=D)
        self.Lambda = torch.tensor([Lambda] * N, dtype=D).view(-1, 1)

    def forward(self, y_pred, y_true, ids):
        lambda_ref = self.Lambda_ref
        num_class = y_pred.shape[1]
        if self.softplus:
            y_pred = torch.nn.functional.softplus(y_pred)
        y_denorm = torch.norm(y_pred, dim=1, p=1.0, keepdim=True) / num_class
        y_pred = y_pred / y_denorm
        pred_prob = torch.nn.functional.softmax(y_pred / self.Lambda[ids], dim=1) + 1e-5
        pred_prob = F.normalize(pred_prob, p=1.0)
        kl_reg = torch.sum(pred_prob * torch.log(num_class * pred_prob), dim=1, keepdim=True)
        logK = torch.log(torch.tensor(num_class, dtype=D))
        lambdas = lambda_ref - lambda_ref * kl_reg / (self.alpha * logK)
        self.Lambda[ids] = lambdas.detach()
        extra_loss = -1 / 2 * self.alpha * logK / lambda_ref * (self.Lambda[ids] - lambda_ref) ** 2
        diff_logits = self.threshold * (1 - y_true) + (y_pred - torch.sum(y_pred * y_true, dim=1, keepdim=True))
        diff_logits_lam_fix = diff_logits / self.Lambda[ids]
        max_diff_fix = torch.max(diff_logits_lam_fix, dim=1, keepdim=True).values.detach()
        diff_logits_lam_fix = torch.exp(diff_logits_lam_fix - max_diff_fix)
        loss = self.Lambda[ids] * (torch.log(torch.mean(diff_logits_lam_fix, dim=1, keepdim=True)) + max_diff_fix) + extra_loss
        return loss[:, 0]  # per example (the class returns the mean)


def aldr_kl(z, y, params):
    n, c = z.shape
    loss = ALDRLoss_V1(n, threshold=params.get("margin", 0.1), Lambda=params.get("lambda", 10.0),
                       alpha=params.get("alpha", 2.0), softplus=params.get("softplus", False))
    return loss(z, onehot(y, c), torch.arange(n))


def counts_for(c):
    return [max(1, 100 >> k) for k in range(c)]


def per_example(loss, params, inputs):
    g = params.get
    if loss in MULTILABEL:
        z, y = inputs["logits"], inputs["targets"]
        n, k = z.shape
        if loss == "bce":
            return F.binary_cross_entropy_with_logits(z, y, reduction="none").mean(1)
        if loss == "sparsemax_multilabel":
            return sparsemax_multilabel(z, y)
        if loss == "hybrid_multilabel":
            return hybrid_multilabel(z, y, inputs["embeddings"], g("lambda_cooc", 0.1), g("lambda_supcon", 0.1), g("temperature", 0.1))
        raise ValueError(loss)
    if loss in CLASSIFICATION and loss not in ("cross_entropy", "focal"):
        z, y = inputs["logits"], inputs["labels"]
        c = z.shape[1]
        table = {
            "poly1": lambda: F.cross_entropy(z, y, reduction="none") + g("epsilon", 1.0) * (1 - F.softmax(z, 1).gather(1, y[:, None])[:, 0]),
            "poly1_focal": lambda: focal(z, y, g("gamma", 2.0), False) + g("epsilon", 1.0) * (1 - F.softmax(z, 1).gather(1, y[:, None])[:, 0]) ** (g("gamma", 2.0) + 1),
            "dual_focal": lambda: dual_focal(z, y, g("gamma", 2.0)),
            "z_loss_spherical": lambda: z_loss_spherical(z, y, g("a", 1.0), g("b", 5.0)),
            "mse_spherical": lambda: ((z - onehot(y, c)) ** 2).sum(1),
            "sparsemax_loss": lambda: entmax_sparsemax_loss(z, y),
            "sparse_softmax_topk": lambda: sparse_softmax_topk(z, y, g("k", 3)),
            "stablemax_ce": lambda: stablemax_ce(z, y),
            "comp_sum": lambda: comp_sum(z, y, g("tau", 1.0)),
            "ldr_kl": lambda: ldr_kl(z, y, g("lambda", 10.0), g("margin", 0.1)),
            "aldr_kl": lambda: aldr_kl(z, y, params),
            "one_vs_rest": lambda: F.binary_cross_entropy_with_logits(z, onehot(y, c), reduction="none").sum(1),
            "l2svm_sq_hinge": lambda: torch.relu(1 - (2 * onehot(y, c) - 1) * z).pow(2).sum(1),
            "gol": lambda: gol(z, y),
            "harmonic": lambda: harmonic(z, y, g("n", 1.0)),
            "ldam": lambda: ldam(z, y, g("class_counts"), g("max_m", 0.5), g("s", 30.0)),
            "vs_loss": lambda: vs_loss(z, y, g("class_counts"), g("gamma", 0.3), g("tau", 1.0)),
            "sovr": lambda: sovr(z, y, g("fraction", 0.2)),
            "mae_prob": lambda: g("scale", 1.0) * apl_mae(z, y),
            "gce": lambda: apl_gce(z, y, g("q", 0.7)),
            "rce": lambda: g("scale", 1.0) * apl_rce(z, y),
            "sce": lambda: g("alpha", 0.1) * F.cross_entropy(z, y, reduction="none") + g("beta", 1.0) * apl_rce(z, y),
            "nce": lambda: g("scale", 1.0) * apl_nce(z, y),
            "nrce": lambda: g("scale", 1.0) * (1 / 4 * (c - 1)) * apl_rce(z, y),
            "nfl": lambda: g("scale", 1.0) * apl_nfl(z, y, g("gamma", 0.5)),
            "ngce": lambda: g("scale", 1.0) * apl_ngce(z, y, g("q", 0.7)),
            "nmae": lambda: g("scale", 1.0) * (1 / (2 * (c - 1))) * apl_mae(z, y),
            "nce_rce": lambda: g("alpha", 1.0) * apl_nce(z, y) + g("beta", 1.0) * apl_rce(z, y),
            "nce_mae": lambda: g("alpha", 1.0) * apl_nce(z, y) + g("beta", 1.0) * apl_mae(z, y),
            "nfl_rce": lambda: g("alpha", 1.0) * apl_nfl(z, y, g("gamma", 0.5)) + g("beta", 1.0) * apl_rce(z, y),
            "nfl_mae": lambda: g("alpha", 1.0) * apl_nfl(z, y, g("gamma", 0.5)) + g("beta", 1.0) * apl_mae(z, y),
            "ngce_rce": lambda: g("alpha", 1.0) * apl_ngce(z, y, g("q", 0.7)) + g("beta", 1.0) * apl_rce(z, y),
            "ngce_mae": lambda: g("alpha", 1.0) * apl_ngce(z, y, g("q", 0.7)) + g("beta", 1.0) * apl_mae(z, y),
        }
        return table[loss]()
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
    # Exact zeros: PyTorch's subgradient of |r| at 0 is 0.
    yield "zero_residuals", torch.tensor([[1.0, 2.0], [0.0, -1.5]], dtype=D), torch.tensor([[1.0, 0.0], [0.0, -1.0]], dtype=D)


LOSSES = [
    ("cross_entropy", {}),
    ("cross_entropy", {"smoothing": 0.1}),
    ("focal", {"gamma": 2.0}),
    ("focal", {"gamma": 0.5}),
    ("focal", {"gamma": 2.0, "detach_modulator": True}),
    ("poly1", {}),
    ("poly1", {"epsilon": -1.0}),
    ("poly1", {"epsilon": 2.0}),
    ("poly1_focal", {}),
    ("poly1_focal", {"epsilon": -0.5, "gamma": 1.0}),
    ("dual_focal", {}),
    ("dual_focal", {"gamma": 5.0}),
    ("z_loss_spherical", {}),
    ("z_loss_spherical", {"a": 0.5, "b": 10.0}),
    ("mse_spherical", {}),
    ("sparsemax_loss", {}),
    ("sparse_softmax_topk", {}),
    ("sparse_softmax_topk", {"k": 1}),
    ("stablemax_ce", {}),
    ("comp_sum", {"tau": 0.0}),
    ("comp_sum", {"tau": 0.5}),
    ("comp_sum", {}),
    ("comp_sum", {"tau": 1.5}),
    ("comp_sum", {"tau": 2.0}),
    ("ldr_kl", {}),
    ("ldr_kl", {"lambda": 1.0, "margin": 2.0}),
    ("aldr_kl", {}),
    ("aldr_kl", {"lambda": 1.0, "margin": 1.0, "alpha": 1.5, "softplus": True}),
    ("one_vs_rest", {}),
    ("l2svm_sq_hinge", {}),
    ("gol", {}),
    ("harmonic", {}),
    ("harmonic", {"n": 3.0}),
    ("ensloss", {}),
    ("ensloss", {"lambda": 0.5}),
    ("ldam", {}),
    ("ldam", {"max_m": 1.0, "s": 1.0}),
    ("vs_loss", {}),
    ("vs_loss", {"gamma": 0.0, "tau": 1.0}),
    ("sovr", {}),
    ("sovr", {"fraction": 0.5}),
    ("mae_prob", {}),
    ("gce", {}),
    ("gce", {"q": 0.3}),
    ("rce", {}),
    ("sce", {}),
    ("sce", {"alpha": 1.0, "beta": 0.5}),
    ("nce", {}),
    ("nrce", {}),
    ("nfl", {}),
    ("nfl", {"gamma": 2.0, "scale": 2.0}),
    ("ngce", {}),
    ("nmae", {}),
    ("nce_rce", {}),
    ("nce_rce", {"alpha": 10.0, "beta": 0.1}),
    ("nce_mae", {}),
    ("nfl_rce", {}),
    ("nfl_mae", {}),
    ("ngce_rce", {}),
    ("ngce_mae", {"q": 0.5}),
    ("bce", {}),
    ("bce_reweighted", {}),
    ("auc_pairwise", {}),
    ("auc_pairwise", {"surrogate": "squared_hinge"}),
    ("sparsemax_multilabel", {}),
    ("hybrid_multilabel", {}),
    ("hybrid_multilabel", {"lambda_cooc": 1.0, "lambda_supcon": 0.5, "temperature": 0.5}),
    ("mse", {}),
    ("mae", {}),
    ("huber", {"delta": 1.0}),
    ("huber", {"delta": 0.5}),
]
CLASSIFICATION = {
    "cross_entropy", "focal", "poly1", "poly1_focal", "dual_focal", "z_loss_spherical", "mse_spherical",
    "sparsemax_loss", "sparse_softmax_topk", "stablemax_ce", "comp_sum", "ldr_kl", "one_vs_rest",
    "l2svm_sq_hinge", "gol", "mae_prob", "gce", "rce", "sce", "nce", "nrce", "nfl", "ngce", "nmae",
    "nce_rce", "nce_mae", "nfl_rce", "nfl_mae", "ngce_rce", "ngce_mae", "ldam", "vs_loss", "sovr", "harmonic", "aldr_kl",
}
NEEDS_COUNTS = {"ldam", "vs_loss"}
MULTILABEL = {"bce", "bce_reweighted", "auc_pairwise", "sparsemax_multilabel", "hybrid_multilabel"}


def tolist(t):
    return t.detach().tolist()


def adv_comp_sum_case(x, W, b, y, noise, tau, nu, radius, steps):
    """The smooth adversarial comp-sum loss with a linear model f(x) = x W^T + b (TRADES-style PGD)."""
    W = W.clone().requires_grad_(True)
    b = b.clone().requires_grad_(True)
    n, d = x.shape

    def f(inp):
        return inp @ W.T + b

    base = comp_sum(f(x), y, tau)
    z_clean = f(x)
    target = z_clean.detach()
    xp = x + 0.001 * torch.tensor(noise, dtype=D).view(n, d)
    for _ in range(steps):
        xp = xp.detach().requires_grad_(True)
        gap = ((f(xp) - target) ** 2).sum()
        (g,) = torch.autograd.grad(gap, xp)
        xp = torch.min(torch.max(xp + (radius / 4) * g.sign(), x - radius), x + radius).detach()
    smooth = torch.sqrt(((f(xp) - z_clean) ** 2).sum(1) + 1e-12)
    per = base + nu * smooth
    per.mean().backward()
    return per, W.grad, b.grad


def write_adv_comp_sum_fixture():
    g = torch.Generator().manual_seed(8)
    cases = []
    for name, params in [("default", {"tau": 1.0, "nu": 1.0, "radius": 0.1, "steps": 10}),
                         ("gce_like", {"tau": 1.5, "nu": 2.0, "radius": 0.5, "steps": 3})]:
        n, d, c = 6, 4, 3
        x = torch.randn(n, d, generator=g, dtype=D)
        W = torch.randn(c, d, generator=g, dtype=D)
        b = torch.randn(c, generator=g, dtype=D)
        y = torch.tensor([0, 1, 2, 0, 1, 2])
        noise = torch.randn(n * d, generator=g, dtype=D).tolist()
        per, gw, gb = adv_comp_sum_case(x, W, b, y, noise, **params)
        cases.append({"case": name, "params": {**params, "noise": noise}, "x": x.tolist(), "w": W.tolist(), "b": b.tolist(),
                      "labels": y.tolist(), "per_example": per.tolist(), "mean": per.mean().item(),
                      "grads": {"w": gw.tolist(), "b": gb.tolist()}})
    path = pathlib.Path("tests/fixtures/adv_comp_sum.json")
    path.write_text(json.dumps({"generator": "scripts/make_loss_fixtures.py", "torch": torch.__version__,
                                "model": "linear f(x) = x W^T + b", "cases": cases}, indent=1, allow_nan=False) + "\n")
    print(f"wrote {path}: {len(cases)} cases")


def main():
    cases = []
    skipped = []
    for loss, params in LOSSES:
        if loss == "ensloss":
            noise_gen = torch.Generator().manual_seed(6)
            for name, z, y in binary_cases():
                noise = torch.randn(z.shape[0], generator=noise_gen, dtype=D).tolist()
                case_params = {**params, "noise": noise}
                z = z.clone().requires_grad_(True)
                per = ensloss(z, y, noise, params.get("lambda", 0.0))
                per.mean().backward()
                cases.append({"loss": loss, "params": case_params, "case": name,
                              "inputs": {"logits": tolist(z), "labels": y.tolist()},
                              "mean": per.mean().item(), "per_example": tolist(per),
                              "grads": {"logits": tolist(z.grad)}})
        elif loss in CLASSIFICATION:
            for name, z, y in classification_cases():
                case_params = {**params, "class_counts": counts_for(z.shape[1])} if loss in NEEDS_COUNTS else params
                z = z.clone().requires_grad_(True)
                inputs = {"logits": z, "labels": y}
                per = per_example(loss, case_params, inputs)
                if not torch.isfinite(per).all():
                    # The reference itself overflows here (e.g. comp_sum with tau < 1 at logits of
                    # 1e4); there is nothing to compare against.
                    skipped.append(f"{loss} {case_params} {name}")
                    continue
                per.mean().backward()
                case = {"loss": loss, "params": case_params, "case": name,
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
        elif loss in MULTILABEL:
            for name, z, y in multilabel_cases():
                z = z.clone().requires_grad_(True)
                if loss in MULTILABEL_BATCH:
                    # Batch-level losses: the reference gives the batch loss L (the mean of
                    # lossbench's per-example values); per-example values are not compared.
                    fn = bce_reweighted if loss == "bce_reweighted" else (lambda a, b: auc_pairwise(a, b, params.get("surrogate", "logistic")))
                    total = fn(z, y)
                    total.backward()
                    cases.append({"loss": loss, "params": params, "case": name,
                                  "inputs": {"logits": tolist(z), "targets": tolist(y)},
                                  "mean": total.item(), "grads": {"logits": tolist(z.grad)}})
                    continue
                inputs = {"logits": z, "targets": y}
                if loss == "hybrid_multilabel":
                    eg = torch.Generator().manual_seed(7)
                    inputs["embeddings"] = torch.randn(z.shape[0], 5, generator=eg, dtype=D).requires_grad_(True)
                per = per_example(loss, params, inputs)
                per.mean().backward()
                case = {"loss": loss, "params": params, "case": name,
                        "inputs": {k: tolist(v) for k, v in inputs.items()},
                        "mean": per.mean().item(), "per_example": tolist(per),
                        "grads": {"logits": tolist(z.grad)}}
                if "embeddings" in inputs:
                    case["grads"]["embeddings"] = tolist(inputs["embeddings"].grad)
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
    write_adv_comp_sum_fixture()
    out = {"generator": "scripts/make_loss_fixtures.py", "torch": torch.__version__, "dtype": "float64", "cases": cases}
    path = pathlib.Path("tests/fixtures/losses.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=1, allow_nan=False) + "\n")
    print(f"wrote {path}: {len(cases)} cases; skipped (reference not finite): {len(skipped)}")
    for s in skipped:
        print("  skipped", s)


if __name__ == "__main__":
    main()
