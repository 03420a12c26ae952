"""Reference implementations of the ranking losses, for scripts/make_ranking_fixtures.py.

allRank (allegro/allRank, Apache-2.0): the functions below are transcribed from
allrank/models/losses/{rankNet,listNet,approxNDCG,neuralNDCG,loss_utils}.py and
allrank/models/metrics.py::dcg at the repository's main branch, line for line, with three
changes that do not alter the arithmetic: the float32 literals (torch.ones/scaling/discounts
dtypes) take the inputs' dtype, so the fixtures are float64 throughout and the bench twin
(benches/torch_twin.py) float32 as allRank; the device is always the CPU; the
stochastic NeuralSort branch is left out (lossbench implements the deterministic variant).
One deliberate change, noted where it is: neuralNDCG_transposed with
powered_relevancies=False normalises by the IDCG of the unpowered gains (allRank normalises by
the powered IDCG in both branches; lossbench follows the paper's NDCG, see its doc comment).

IR-Benchmark (Tiny-Snow/IR-Benchmark, GPL-3.0): the formulas of optim_Softmax.py, optim_BPR.py
and optim_PSL.py `cal_loss`, rewritten here (not copied) on precomputed scores of a list whose
positives have relevance > 0 and negatives relevance 0.
"""
from itertools import product

import numpy as np
import torch
from torch.nn import BCEWithLogitsLoss
import torch.nn.functional as F

PADDED_Y_VALUE = -1
DEFAULT_EPS = 1e-10


# allrank/models/losses/rankNet.py
def rankNet(y_pred, y_true, padded_value_indicator=PADDED_Y_VALUE, weight_by_diff=False, weight_by_diff_powed=False):
    y_pred = y_pred.clone()
    y_true = y_true.clone()
    mask = y_true == padded_value_indicator
    y_pred[mask] = float('-inf')
    y_true[mask] = float('-inf')
    document_pairs_candidates = list(product(range(y_true.shape[1]), repeat=2))
    pairs_true = y_true[:, document_pairs_candidates]
    selected_pred = y_pred[:, document_pairs_candidates]
    true_diffs = pairs_true[:, :, 0] - pairs_true[:, :, 1]
    pred_diffs = selected_pred[:, :, 0] - selected_pred[:, :, 1]
    the_mask = (true_diffs > 0) & (~torch.isinf(true_diffs))
    pred_diffs = pred_diffs[the_mask]
    weight = None
    if weight_by_diff:
        abs_diff = torch.abs(true_diffs)
        weight = abs_diff[the_mask]
    elif weight_by_diff_powed:
        true_pow_diffs = torch.pow(pairs_true[:, :, 0], 2) - torch.pow(pairs_true[:, :, 1], 2)
        abs_diff = torch.abs(true_pow_diffs)
        weight = abs_diff[the_mask]
    true_diffs = (true_diffs > 0).type(y_pred.dtype)
    true_diffs = true_diffs[the_mask]
    return BCEWithLogitsLoss(weight=weight)(pred_diffs, true_diffs)


# allrank/models/losses/listNet.py
def listNet(y_pred, y_true, eps=DEFAULT_EPS, padded_value_indicator=PADDED_Y_VALUE):
    y_pred = y_pred.clone()
    y_true = y_true.clone()
    mask = y_true == padded_value_indicator
    y_pred[mask] = float('-inf')
    y_true[mask] = float('-inf')
    preds_smax = F.softmax(y_pred, dim=1)
    true_smax = F.softmax(y_true, dim=1)
    preds_smax = preds_smax + eps
    preds_log = torch.log(preds_smax)
    return torch.mean(-torch.sum(true_smax * preds_log, dim=1))


# allrank/models/losses/approxNDCG.py
def approxNDCGLoss(y_pred, y_true, eps=DEFAULT_EPS, padded_value_indicator=PADDED_Y_VALUE, alpha=1.):
    y_pred = y_pred.clone()
    y_true = y_true.clone()
    padded_mask = y_true == padded_value_indicator
    y_pred[padded_mask] = float("-inf")
    y_true[padded_mask] = float("-inf")
    y_pred_sorted, indices_pred = y_pred.sort(descending=True, dim=-1)
    y_true_sorted, _ = y_true.sort(descending=True, dim=-1)
    true_sorted_by_preds = torch.gather(y_true, dim=1, index=indices_pred)
    true_diffs = true_sorted_by_preds[:, :, None] - true_sorted_by_preds[:, None, :]
    padded_pairs_mask = torch.isfinite(true_diffs)
    padded_pairs_mask.diagonal(dim1=-2, dim2=-1).zero_()
    true_sorted_by_preds.clamp_(min=0.)
    y_true_sorted.clamp_(min=0.)
    pos_idxs = torch.arange(1, y_pred.shape[1] + 1)
    D = torch.log2(1. + pos_idxs.to(y_pred.dtype))[None, :]
    maxDCGs = torch.sum((torch.pow(2, y_true_sorted) - 1) / D, dim=-1).clamp(min=eps)
    G = (torch.pow(2, true_sorted_by_preds) - 1) / maxDCGs[:, None]
    scores_diffs = (y_pred_sorted[:, :, None] - y_pred_sorted[:, None, :])
    scores_diffs[~padded_pairs_mask] = 0.
    approx_pos = 1. + torch.sum(padded_pairs_mask.to(y_pred.dtype) * (torch.sigmoid(-alpha * scores_diffs).clamp(min=eps)), dim=-1)
    approx_D = torch.log2(1. + approx_pos)
    approx_NDCG = torch.sum((G / approx_D), dim=-1)
    return -torch.mean(approx_NDCG)


# allrank/models/metrics.py
def _true_sorted_by_preds(y_pred, y_true, padding_indicator=PADDED_Y_VALUE):
    mask = y_true == padding_indicator
    y_pred[mask] = float('-inf')
    y_true[mask] = 0.0
    _, indices = y_pred.sort(descending=True, dim=-1)
    return torch.gather(y_true, dim=1, index=indices)


def dcg(y_pred, y_true, ats=None, gain_function=lambda x: torch.pow(2, x) - 1, padding_indicator=PADDED_Y_VALUE):
    y_true = y_true.clone()
    y_pred = y_pred.clone()
    actual_length = y_true.shape[1]
    if ats is None:
        ats = [actual_length]
    ats = [min(at, actual_length) for at in ats]
    true_sorted_by_preds = _true_sorted_by_preds(y_pred, y_true, padding_indicator)
    discounts = (torch.tensor(1) / torch.log2(torch.arange(true_sorted_by_preds.shape[1], dtype=y_true.dtype) + 2.0))
    gains = gain_function(true_sorted_by_preds)
    discounted_gains = (gains * discounts)[:, :np.max(ats)]
    cum_dcg = torch.cumsum(discounted_gains, dim=1)
    ats_tensor = torch.tensor(ats, dtype=torch.long) - torch.tensor(1)
    return cum_dcg[:, ats_tensor]


# allrank/models/losses/loss_utils.py
def sinkhorn_scaling(mat, mask=None, tol=1e-6, max_iter=50):
    if mask is not None:
        mat = mat.masked_fill(mask[:, None, :] | mask[:, :, None], 0.0)
        mat = mat.masked_fill(mask[:, None, :] & mask[:, :, None], 1.0)
    for _ in range(max_iter):
        mat = mat / mat.sum(dim=1, keepdim=True).clamp(min=DEFAULT_EPS)
        mat = mat / mat.sum(dim=2, keepdim=True).clamp(min=DEFAULT_EPS)
        if torch.max(torch.abs(mat.sum(dim=2) - 1.)) < tol and torch.max(torch.abs(mat.sum(dim=1) - 1.)) < tol:
            break
    if mask is not None:
        mat = mat.masked_fill(mask[:, None, :] | mask[:, :, None], 0.0)
    return mat


def deterministic_neural_sort(s, tau, mask):
    n = s.size()[1]
    one = torch.ones((n, 1), dtype=s.dtype)
    s = s.masked_fill(mask[:, :, None], -1e8)
    A_s = torch.abs(s - s.permute(0, 2, 1))
    A_s = A_s.masked_fill(mask[:, :, None] | mask[:, None, :], 0.0)
    B = torch.matmul(A_s, torch.matmul(one, torch.transpose(one, 0, 1)))
    temp = [n - m + 1 - 2 * (torch.arange(n - m) + 1) for m in mask.squeeze(-1).sum(dim=1)]
    temp = [t.type(s.dtype) for t in temp]
    temp = [torch.cat((t, torch.zeros(n - len(t), dtype=s.dtype))) for t in temp]
    scaling = torch.stack(temp).type(s.dtype)
    s = s.masked_fill(mask[:, :, None], 0.0)
    C = torch.matmul(s, scaling.unsqueeze(-2))
    P_max = (C - B).permute(0, 2, 1)
    P_max = P_max.masked_fill(mask[:, :, None] | mask[:, None, :], -np.inf)
    P_max = P_max.masked_fill(mask[:, :, None] & mask[:, None, :], 1.0)
    sm = torch.nn.Softmax(-1)
    return sm(P_max / tau)


# allrank/models/losses/neuralNDCG.py (deterministic branch)
def neuralNDCG(y_pred, y_true, padded_value_indicator=PADDED_Y_VALUE, temperature=1., powered_relevancies=True, k=None):
    if k is None:
        k = y_true.shape[1]
    mask = (y_true == padded_value_indicator)
    P_hat = deterministic_neural_sort(y_pred.unsqueeze(-1), tau=temperature, mask=mask).unsqueeze(0)
    P_hat = sinkhorn_scaling(P_hat.view(P_hat.shape[0] * P_hat.shape[1], P_hat.shape[2], P_hat.shape[3]),
                             mask.repeat_interleave(P_hat.shape[0], dim=0), tol=1e-6, max_iter=50)
    P_hat = P_hat.view(int(P_hat.shape[0] / y_pred.shape[0]), y_pred.shape[0], P_hat.shape[1], P_hat.shape[2])
    P_hat = P_hat.masked_fill(mask[None, :, :, None] | mask[None, :, None, :], 0.)
    y_true_masked = y_true.masked_fill(mask, 0.).unsqueeze(-1).unsqueeze(0)
    if powered_relevancies:
        y_true_masked = torch.pow(2., y_true_masked) - 1.
    ground_truth = torch.matmul(P_hat, y_true_masked).squeeze(-1)
    discounts = (torch.tensor(1.) / torch.log2(torch.arange(y_true.shape[-1], dtype=y_pred.dtype) + 2.))
    discounted_gains = ground_truth * discounts
    if powered_relevancies:
        idcg = dcg(y_true, y_true, ats=[k]).permute(1, 0)
    else:
        idcg = dcg(y_true, y_true, ats=[k], gain_function=lambda x: x).permute(1, 0)
    discounted_gains = discounted_gains[:, :, :k]
    ndcg = discounted_gains.sum(dim=-1) / (idcg + DEFAULT_EPS)
    idcg_mask = idcg == 0.
    ndcg = ndcg.masked_fill(idcg_mask.repeat(ndcg.shape[0], 1), 0.)
    if idcg_mask.all():
        return torch.tensor(0.)
    mean_ndcg = ndcg.sum() / ((~idcg_mask).sum() * ndcg.shape[0])
    return -1. * mean_ndcg


def neuralNDCG_transposed(y_pred, y_true, padded_value_indicator=PADDED_Y_VALUE, temperature=1.,
                          powered_relevancies=True, k=None, max_iter=50, tol=1e-6):
    if k is None:
        k = y_true.shape[1]
    mask = (y_true == padded_value_indicator)
    P_hat = deterministic_neural_sort(y_pred.unsqueeze(-1), tau=temperature, mask=mask).unsqueeze(0)
    P_hat_masked = sinkhorn_scaling(P_hat.view(P_hat.shape[0] * y_pred.shape[0], y_pred.shape[1], y_pred.shape[1]),
                                    mask.repeat_interleave(P_hat.shape[0], dim=0), tol=tol, max_iter=max_iter)
    P_hat_masked = P_hat_masked.view(P_hat.shape[0], y_pred.shape[0], y_pred.shape[1], y_pred.shape[1])
    discounts = (torch.tensor(1) / torch.log2(torch.arange(y_true.shape[-1], dtype=y_pred.dtype) + 2.))
    discounts[k:] = 0.
    discounts = discounts[None, None, :, None]
    discounts = torch.matmul(P_hat_masked.permute(0, 1, 3, 2), discounts).squeeze(-1)
    if powered_relevancies:
        gains = torch.pow(2., y_true) - 1
        discounted_gains = gains.unsqueeze(0) * discounts
        idcg = dcg(y_true, y_true, ats=[k]).squeeze()
    else:
        gains = y_true
        discounted_gains = gains.unsqueeze(0) * discounts
        # Changed (see the module doc): allRank uses the powered IDCG here too.
        idcg = dcg(y_true, y_true, ats=[k], gain_function=lambda x: x).squeeze()
    ndcg = discounted_gains.sum(dim=2) / (idcg + DEFAULT_EPS)
    idcg_mask = idcg == 0.
    ndcg = ndcg.masked_fill(idcg_mask, 0.)
    if idcg_mask.all():
        return torch.tensor(0.)
    mean_ndcg = ndcg.sum() / ((~idcg_mask).sum() * ndcg.shape[0])
    return -1. * mean_ndcg


# IR-Benchmark's formulas on a list's scores: positives r > 0, negatives r = 0.
def _pos_neg(y_true):
    return y_true > 0, y_true == 0


def softmax_rec(scores, y_true, tau=1.0, include_positive=True):
    pos, neg = _pos_neg(y_true)
    losses = []
    for q in range(scores.shape[0]):
        for i in torch.nonzero(pos[q]).flatten():
            d = (scores[q][neg[q]] - scores[q, i]) / tau  # optim_Softmax.py: d = neg - pos
            if include_positive:
                d = torch.cat([d, torch.zeros(1, dtype=d.dtype)])
            losses.append(torch.logsumexp(d, dim=0))
    return torch.stack(losses).mean()


def bpr(scores, y_true):
    pos, neg = _pos_neg(y_true)
    terms = []
    for q in range(scores.shape[0]):
        for i in torch.nonzero(pos[q]).flatten():
            terms.append(F.softplus(scores[q][neg[q]] - scores[q, i]))  # optim_BPR.py: softplus(neg - pos)
    return torch.cat(terms).mean()


PSL_SIGMA = {
    "tanh": lambda x: torch.log(torch.tanh(x) + 1),
    "relu": lambda x: torch.log(F.relu(x + 1)),
    "atan": lambda x: torch.log(torch.atan(x) + 1),
}


def psl(scores, y_true, tau=1.0, tau_star=1.0, activation="tanh", method=1):
    pos, neg = _pos_neg(y_true)
    sigma = PSL_SIGMA[activation]
    rows = []
    for q in range(scores.shape[0]):
        for i in torch.nonzero(pos[q]).flatten():
            rows.append((scores[q][neg[q]] - scores[q, i]) / tau)  # optim_PSL.py: d = neg/τ − pos/τ
    if method == 1:
        return torch.stack([torch.logsumexp(sigma(d) / tau_star, dim=0) for d in rows]).mean()
    return torch.log(torch.cat([torch.exp(sigma(d) / tau_star) for d in rows]).mean())
