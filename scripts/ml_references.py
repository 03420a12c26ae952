"""Transcriptions in float64 PyTorch of the authors' code for lossbench's metric-learning
losses that pytorch-metric-learning does not have; scripts/make_metric_learning_fixtures.py
imports them. Each section keeps the authors' lines (provenance in its docstring); only device
moves, globals and argparse are replaced by arguments.

  mean-field  st-tech/mft-in-dml @7a6aab15ea892058fc6c16fe2edb358546781565 code/loss/
  AdaFace     mk-minchul/AdaFace @c60eaa786a42c03444f3df7096dbaf9d57ae010d head.py, net.py
  I-Con       ShadeAlsha/ICon @afbf34f33e10bd3ddccb99aa48bf30e35ad37a72 distributions/graph.py,
              distributions/distance.py, playground/divergences.py
  SCoRe       amajee11us/SCoRe @2075ed73fc390510da75d11fa91b0465a0a3fe98 objectives/combinatorial/,
              objectives/utils.py (the exp kernel from the 2023 objectives/graph_cut.py)
  Metrix      billpsomas/metrix @b6797035fd82baf46ad89f8856721ae01afdf4f0 train.py, mixup/utils.py,
              mixup/losses.py (embedding level)
  ICNN        maumruiz/FSL-Loss @249405f50421a2cf097a8ab4046db9cb32811164 algorithms/icnn_loss.py,
              models/protonet.py, util/metric.py
"""


# ============================================================================
# mean-field
# ============================================================================
"""Float64 PyTorch transcription of the authors' mean-field DML losses.

Source: github.com/st-tech/mft-in-dml @ 7a6aab15ea892058fc6c16fe2edb358546781565
  code/loss/base_mean_field_loss.py
  code/loss/mean_field_contrastive_loss.py
  code/loss/mean_field_classwise_multisimilarity_loss.py

Layout: W is [D, C] (embedding_size x num_classes), exactly as the authors'
`torch.nn.Parameter(torch.Tensor(embedding_size, num_classes))`, init N(0, 1),
normalised per COLUMN (dim=0) on every forward.  `emb` are RAW embeddings
[n, D]; they are L2-normalised per row here (F.normalize, eps=1e-12), as the
authors do.  Labels must be integers in [0, C).

Both functions return (loss, per_example) where per_example.mean() == loss
(up to rounding).  See the attribution notes in each docstring.
"""
import torch
import torch.nn.functional as F


# ---------------------------------------------------------------- base helpers
def _scale_embeddings(emb, eps=1e-12):            # BaseMeanFieldLoss.scale_embeddings
    return F.normalize(emb, dim=1, eps=eps)


def _target_mask(emb, labels, num_classes):       # BaseMeanFieldLoss.get_target_mask
    n = labels.size(0)
    mask = torch.zeros(n, num_classes, dtype=emb.dtype, device=emb.device)
    mask[torch.arange(n), labels] = 1
    return mask


def _distance_from_class_vec(emb_n, W):           # 1 - ê @ ŵ, shape [n, C]
    return 1 - emb_n @ F.normalize(W, dim=0)


def _class_distance_matrix(W):                    # 1 - ŵᵀŵ, shape [C, C]
    W_scaled = F.normalize(W, dim=0)
    return 1 - W_scaled.t() @ W_scaled


# ------------------------------------------------------ MeanFieldContrastiveLoss
def mean_field_contrastive(emb, labels, W, pos_margin=0.02, neg_margin=0.3,
                           mf_reg=None, mf_power=2, return_per_example=False):
    """Authors' defaults: pos_margin=0.02, neg_margin=0.3 (train.py argparse),
    mf_power=2 (hard-coded in train.py); mf_reg has NO default (required flag).
    Here mf_reg=None raises like the authors' code would (None * tensor).

    loss = mean_i sum_{c in all C} [relu(d_ic - m_pos)*1[c=y_i] + relu(m_neg - d_ic)*1[c!=y_i]]
         + mf_reg * mean_c sum_{c'} (relu(m_neg - D_cc') * (1 - I_cc'))**mf_power

    per-example: l_i = sum_c [...] + reg  (the class-level regulariser is added
    in full to every example, so mean_i l_i = loss exactly).
    """
    if mf_reg is None:
        raise TypeError("mf_reg is required (authors' argparse has no default)")
    C = W.shape[1]
    emb_n = _scale_embeddings(emb)
    # get_loss
    mask = _target_mask(emb_n, labels, C)
    d = _distance_from_class_vec(emb_n, W)
    pos = F.relu(d - pos_margin) * mask
    neg = F.relu(neg_margin - d) * (1 - mask)
    per_row = torch.sum(pos + neg, dim=1)
    loss = torch.mean(per_row)
    # get_reg
    class_matrix = _class_distance_matrix(W)
    eye = torch.eye(C, dtype=W.dtype, device=W.device)
    reg = mf_reg * torch.mean(torch.sum(
        torch.pow(F.relu(neg_margin - class_matrix) * (1 - eye), mf_power), dim=1))
    total = loss + reg
    if return_per_example:
        return total, per_row + reg
    return total


# ----------------------------------------- MeanFieldClassWiseMultiSimilarityLoss
def mean_field_cwms(emb, labels, W, alpha=0.01, beta=80.0, base=0.8,
                    mf_reg=None, mf_power=2, return_per_example=False):
    """Authors' defaults: alpha=0.01, beta=80, base(--mrg)=0.8, mf_power=2;
    README uses --mf-reg 0 for every MeanFieldClassWiseMultiSimilarity run.
    beta=None -> beta=alpha (authors' constructor).

    With s_ic = cos(ê_i, ŵ_c), n_c = #examples of class c in batch (clamped >= 1),
    K = #distinct labels in batch:
      P_c  = (1/n_c) sum_{i:y_i=c} exp(-alpha (s_ic - base))
      N_ck = (1/n_c) sum_{i:y_i=c} exp( beta (s_ik - base))      (0 if c absent)
      loss = sum_c log(1 + P_c) / (alpha K)
           + sum_{c != k} log(1 + N_ck + N_kc) / (2 beta K)
      reg  = mf_reg * mean_c sum_{c'} (softplus_beta(s^W_cc' - base) * (1 - I))**mf_power
    with softplus_beta(x) = (1/beta) log(1 + exp(beta x)) (torch threshold=20).

    per-example attribution (not unique; the loss is a sum of log-of-class-means,
    not a mean of per-example terms):
      class term T_c = log(1+P_c)/(alpha K) + sum_{k != c} w_ck log(1+N_ck+N_kc)/(beta K),
        w_ck = 1/2 if k is present in the batch, 1 if k is absent
        (each unordered pair's term goes half to each present class, all of it
         to the single present class otherwise);  sum_{c present} T_c = loss;
      l_i = (n / n_{y_i}) * T_{y_i} + reg,  so mean_i l_i = loss + reg.
    """
    if mf_reg is None:
        raise TypeError("mf_reg is required (authors' argparse has no default)")
    if beta is None:
        beta = alpha
    C = W.shape[1]
    # get_loss
    emb_n = _scale_embeddings(emb)
    num_classes_in_batch = torch.unique(labels).shape[0]
    d = _distance_from_class_vec(emb_n, W)                       # [n, C]
    target_mask = _target_mask(emb_n, labels, C)                  # [n, C]
    eye = torch.eye(n=C, dtype=emb.dtype, device=emb.device)      # [C, C]
    target_mask_normalized = target_mask / torch.maximum(
        torch.sum(target_mask, dim=0), torch.ones(1, dtype=emb.dtype, device=emb.device))
    pos_logit = torch.exp(alpha * (d + base - 1))                 # = exp(-alpha (s - base))
    neg_logit = torch.exp(-beta * (d + base - 1))                 # = exp( beta (s - base))
    pos = target_mask_normalized.T @ pos_logit                    # [C, C]
    neg = target_mask_normalized.T @ neg_logit                    # [C, C]
    neg = neg + neg.T
    pos_terms = torch.log(1 + pos * eye)                          # only diagonal nonzero
    neg_terms = torch.log(1 + neg * (1 - eye))                    # symmetric
    loss = torch.sum(pos_terms) / (alpha * num_classes_in_batch) + \
        torch.sum(neg_terms) / (2 * beta * num_classes_in_batch)
    # get_reg
    class_matrix = _class_distance_matrix(W)
    reg = mf_reg * torch.mean(torch.sum(torch.pow(
        F.softplus(1 - base - class_matrix, beta=beta, threshold=20) * (1 - eye),
        mf_power), dim=1))
    total = loss + reg
    if not return_per_example:
        return total
    # ---- per-example attribution (see docstring)
    n = labels.size(0)
    counts = torch.sum(target_mask, dim=0)                         # [C]
    present = (counts > 0).to(emb.dtype)
    w = 1 - 0.5 * present.unsqueeze(0)                             # w_ck: 0.5 if k present else 1
    T = torch.diagonal(pos_terms) / (alpha * num_classes_in_batch) + \
        torch.sum(w * neg_terms, dim=1) / (beta * num_classes_in_batch)   # [C]
    per_ex = (n / counts[labels]) * T[labels] + reg
    return total, per_ex


# ------------------------------------------------------------- W initialisation
def init_W(embedding_size, num_classes, generator=None, dtype=torch.float64):
    """Authors: torch.nn.init.normal_(torch.Tensor(D, C)) -> N(0, 1), layout [D, C]."""
    return torch.randn(embedding_size, num_classes, generator=generator, dtype=dtype)


# ============================================================================
# adaface
# ============================================================================
"""Float64 transcription of mk-minchul/AdaFace head.py::AdaFace (+ l2_norm, net.py norm).

Source: github.com/mk-minchul/AdaFace @ c60eaa786a42c03444f3df7096dbaf9d57ae010d
        head.py blob 374c3e63 (AdaFace class unchanged since initial commit 9cb98164)
        net.py::Backbone.forward (norm = ||x||_2 keepdim, output = x / norm)
        train_val.py::Trainer.training_step (CrossEntropyLoss(), mean reduction)

Functional form: state (batch_mean, batch_std) is passed in and returned.
Per-example CE is returned (reduction='none'); the repo uses the mean of it.
"""
import math

import torch
import torch.nn.functional as F

# Defaults of the class AdaFace.__init__ (head.py)
CLASS_DEFAULTS = dict(m=0.4, h=0.333, s=64.0, t_alpha=1.0)
# argparse defaults in config.py (NB: h=0.0 there!)
CONFIG_DEFAULTS = dict(m=0.5, h=0.0, s=64.0, t_alpha=0.01)
# What the released training scripts / README usage actually use
# (scripts/run_ir{50,101}_ms1mv2.sh pass --m 0.4 --h 0.333; t_alpha from config = 0.01;
#  README usage example: m=0.4, h=0.333, s=64., t_alpha=0.01)
PRACTICAL_DEFAULTS = dict(m=0.4, h=0.333, s=64.0, t_alpha=0.01)

EPS = 1e-3  # self.eps in AdaFace


def l2_norm(input, axis=1):
    # head.py::l2_norm -- no epsilon
    norm = torch.norm(input, 2, axis, True)
    output = torch.div(input, norm)
    return output


def init_kernel(embedding_size, classnum, generator=None, dtype=torch.float64):
    # self.kernel.data.uniform_(-1, 1).renorm_(2,1,1e-5).mul_(1e5)
    k = torch.empty(embedding_size, classnum, dtype=dtype)
    k.uniform_(-1, 1, generator=generator)
    k.renorm_(2, 1, 1e-5).mul_(1e5)  # each column (dim-1 slice) -> ~unit L2 norm
    return k


def adaface_logits(raw_emb, labels, kernel, batch_mean=20.0, batch_std=100.0,
                   m=0.4, h=0.333, s=64.0, t_alpha=1.0):
    """Returns (scaled_cosine_m [n, C], new_batch_mean, new_batch_std)."""
    raw_emb = raw_emb.to(torch.float64)
    kernel = kernel.to(torch.float64)
    batch_mean = torch.as_tensor(batch_mean, dtype=torch.float64).reshape(1)
    batch_std = torch.as_tensor(batch_std, dtype=torch.float64).reshape(1)
    eps = EPS

    # net.py::Backbone.forward: norm = torch.norm(x, 2, 1, True); output = torch.div(x, norm)
    norms = torch.norm(raw_emb, 2, 1, True)          # [n, 1], NOT detached here
    embbedings = torch.div(raw_emb, norms)           # gradient flows through normalisation

    # ---- head.py::AdaFace.forward ----
    kernel_norm = l2_norm(kernel, axis=0)
    cosine = torch.mm(embbedings, kernel_norm)
    cosine = cosine.clamp(-1 + eps, 1 - eps)  # for stability

    safe_norms = torch.clip(norms, min=0.001, max=100)  # for stability
    safe_norms = safe_norms.clone().detach()

    # update batchmean batchstd  (BEFORE use, same step)
    with torch.no_grad():
        mean = safe_norms.mean().detach()
        std = safe_norms.std().detach()  # unbiased (N-1); NaN for n == 1
        batch_mean = mean * t_alpha + (1 - t_alpha) * batch_mean
        batch_std = std * t_alpha + (1 - t_alpha) * batch_std

    margin_scaler = (safe_norms - batch_mean) / (batch_std + eps)  # [n, 1]
    margin_scaler = margin_scaler * h
    margin_scaler = torch.clip(margin_scaler, -1, 1)

    # g_angular
    m_arc = torch.zeros(labels.size()[0], cosine.size()[1], device=cosine.device, dtype=cosine.dtype)
    m_arc.scatter_(1, labels.reshape(-1, 1), 1.0)
    g_angular = m * margin_scaler * -1
    m_arc = m_arc * g_angular
    theta = cosine.acos()
    theta_m = torch.clip(theta + m_arc, min=eps, max=math.pi - eps)
    cosine = theta_m.cos()

    # g_additive
    m_cos = torch.zeros(labels.size()[0], cosine.size()[1], device=cosine.device, dtype=cosine.dtype)
    m_cos.scatter_(1, labels.reshape(-1, 1), 1.0)
    g_add = m + (m * margin_scaler)
    m_cos = m_cos * g_add
    cosine = cosine - m_cos

    # scale
    scaled_cosine_m = cosine * s
    return scaled_cosine_m, batch_mean, batch_std


def adaface(raw_emb, labels, kernel, batch_mean=20.0, batch_std=100.0,
            m=0.4, h=0.333, s=64.0, t_alpha=1.0):
    """raw_emb [n, D] unnormalised features; kernel [D, C] (head layout); labels [n] int64.

    Returns (per_example_ce [n], new_batch_mean [1], new_batch_std [1]).
    The repo's loss is per_example_ce.mean() (nn.CrossEntropyLoss()).
    t_alpha default 1.0 = class default; the repo trains with 0.01 (config.py / README).
    """
    logits, bm, bs = adaface_logits(raw_emb, labels, kernel, batch_mean, batch_std, m, h, s, t_alpha)
    ce = F.cross_entropy(logits, labels, reduction='none')
    return ce, bm, bs



# ============================================================================
# icnn
# ============================================================================
"""Float64 PyTorch transcription of the authors' ICNN / Proto-Triplet code.

Source (authors' repository for "SuSana Distancia is all you need", Mendez-Ruiz et al.):
  github.com/maumruiz/FSL-Loss  @ 249405f50421a2cf097a8ab4046db9cb32811164 (HEAD, 2022-01-07)
    algorithms/icnn_loss.py   (modified_score, proto_triplet_loss, get_icnn_loss)
    models/protonet.py        (prototypes, logits)
    util/metric.py            (euclidean_dist = SQUARED Euclidean)
    dataloader/samplers.py    (FewShotSampler: class-major support, then class-major query)
    train.py                  (labels, loss selection)
  Identical code also in github.com/maumruiz/FewShot-KidneyStones
    pro-fewshot/algorithms/icnn_loss.py @ 0e40969d1d10ac01f712fa833832cece98fd80ee ("proto triplet loss").

The authors' lines are kept as-is; the only changes are:
  * `.cuda()` removed (device taken from the inputs), global `glob.*` feature stash
    replaced by explicit arguments, `args.*` replaced by explicit arguments;
  * float64 is whatever the caller passes (use .double()).
Reference-only file (for cross-checking lossbench); not part of any build.
"""
import torch
import torch.nn.functional as F


# ----------------------------------------------------------------------------
# util/metric.py
# ----------------------------------------------------------------------------
def euclidean_dist(x, y):
    n = x.shape[0]
    m = y.shape[0]
    d = x.shape[1]
    assert d == y.shape[1]

    x = x.unsqueeze(1).expand(n, m, d)
    y = y.unsqueeze(0).expand(n, m, d)

    # logits = -((x - y)**2).sum(dim=2)
    dist = torch.pow(x - y, 2).sum(2)
    return dist


# ----------------------------------------------------------------------------
# algorithms/icnn_loss.py (verbatim apart from .cuda()/globals)
# ----------------------------------------------------------------------------
def distance_matrix(x, y=None, p=2):
    y = x if type(y) == type(None) else y

    n = x.size(0)
    m = y.size(0)
    d = x.size(1)

    x = x.unsqueeze(1).expand(n, m, d)
    y = y.unsqueeze(0).expand(n, m, d)

    dist = torch.pow(x - y, p).sum(2)

    return dist


def nearest_neighbors(X, y=None, k=3, p=2):
    eps = 0.000001
    dist = (distance_matrix(X, y, p=p) + eps) ** (1/2)
    knn = dist.topk(k, largest=False)
    return knn.values, knn.indices


def modified_score(origin, y_orig, target=None, y_targ=None, k=4, ipc=None):
    target = origin if type(target) == type(None) else target
    y_targ = y_orig if type(y_targ) == type(None) else y_targ
    k = target.shape[0] - 2 if k+2 >= target.shape[0] else k
    ipc = k+1 if type(ipc) == type(None) else ipc
    eps = 0.0000001

    distances, indices = nearest_neighbors(origin, target, k=ipc+1)
    distances = distances[:,1:]
    indices = indices[:,1:]

    # class by neighbor
    classes = y_targ[indices]
    yMatrix = y_orig.repeat(ipc,1).T
    scMatrix = (yMatrix == classes)*1 # Same class matrix [1 same class, 0 diff class]
    dcMatrix = (scMatrix)*(-1)+1 # Different class matrix [negation of scMatrix]

    ### Lambda Computation ###

    # Same class distance
    dt = distances.T
    dcnd = distances*dcMatrix
    nn_dc = (dcnd + torch.where(dcnd.eq(0.), float('inf'), 0.)).min(axis=1).values
    nd = dt / (nn_dc + eps)
    nd = nd[:k, :]
    nd = nd / torch.stack((torch.ones_like(nd[0]), nd.max(axis=0).values)).max(axis=0).values # Normalize with max(max_from_row, 1.0)
    nd = nd.T

    scMatrix = scMatrix[:, :k]
    scnd = nd*scMatrix

    scCounts = scMatrix.sum(axis=1)
    scndsum = scnd.sum(axis=1) / (scCounts + eps)
    sclamb = 1 - (scndsum.sum() / (torch.count_nonzero(scCounts) + eps))

    dcnd = dcnd[:, :k]
    dcMatrix = dcMatrix[:, :k]

    # Different class distance
    dcnd = dcnd / (dcnd.max() + eps)
    dcop = -1 if torch.all(dcMatrix == 0) else 0
    dcCounts = dcMatrix.sum(axis=1)
    dcndsum = dcnd.sum(axis=1) / (dcCounts + eps)
    dclamb = dcndsum.sum() / (torch.count_nonzero(dcCounts) + eps)
    dclamb = torch.abs(dclamb + dcop)

    lambr = (sclamb + dclamb) / 2

    ## Omega Calculation ###
    # varsc = torch.var(scnd)
    # vardf = torch.var(dcnd)
    # omega = 1 - (varsc+vardf)

    ### Gamma computation
    gamma = torch.sum(torch.sum(scMatrix, axis=1) / k) / (y_orig.shape[0]) if k+2 < target.shape[0] else 1.0

    # return (lambr + gamma + omega) / 3
    return (lambr + gamma) / 2


def proto_triplet_loss(queries, y_qry, protos, y_protos, way=5, margin=0.5, _reduction='mean'):
    # `_reduction` is NOT in the authors' code (they always take the mean);
    # 'none' returns the per-query vector that the authors' mean is taken over.
    distances, indices = nearest_neighbors(queries, protos, k=way)
    classes = y_protos[indices]
    yMatrix = y_qry.repeat(way,1).T
    scMatrix = (yMatrix == classes)*1
    dcMatrix = (scMatrix)*(-1)+1

    scd = distances*scMatrix
    scp = scd.max(axis=1).values

    dcd = distances*dcMatrix
    dcd += torch.where(dcd.eq(0.), float('inf'), 0.)
    dcp = dcd.min(axis=1).values


    dists = torch.stack((scp - dcp + margin, torch.zeros_like(scp)), axis=1)
    if _reduction == 'none':
        return torch.max(dists, axis=1).values
    return torch.mean(torch.max(dists, axis=1).values)


def get_icnn_loss(losses, logits, way, qry_labels, supp_fts, query_fts, prototypes,
                  shot, query, query_protos=False, k=4, margin=0.5):
    """Authors' get_icnn_loss(args, logits, way, qry_labels) with args/globals made explicit:
    losses = args.losses (comma-separated string; membership tested by *substring*),
    shot = args.shot, query = args.query (queries per class), query_protos = args.query_protos,
    supp_fts/query_fts/prototypes = glob.supp_fts/glob.query_fts/glob.prototypes.
    k, margin: NOT parameters in the authors' code (they always use modified_score's k=4 and
    proto_triplet_loss's margin=0.5); added here, defaults reproduce the authors exactly."""
    dev = supp_fts.device
    loss = 0

    if 'cross' in losses:
        loss = F.cross_entropy(logits, qry_labels)

    if 'suppicnn' in losses:
        supp_labels = torch.arange(0, way, 1/shot).type(torch.int).to(dev)
        supp_score = modified_score(supp_fts, supp_labels, k=k)
        loss += (-torch.log(supp_score))

    if 'queryicnn' in losses:
        if query_protos:
            proto_labels = torch.arange(0, way).type(torch.int).to(dev)
            query_score = modified_score(query_fts, qry_labels, prototypes, proto_labels, k=k)
        else:
            supp_labels = torch.arange(0, way, 1/shot).type(torch.int).to(dev)
            query_score = modified_score(query_fts, qry_labels, supp_fts, supp_labels, k=k)
        loss += (-torch.log(query_score))

    if 'fullicnn' in losses:
        features = torch.cat((supp_fts, query_fts))
        supp_labels = torch.arange(0, way, 1/shot).type(torch.int).to(dev)
        labels = torch.cat((supp_labels, qry_labels))
        ipc = shot+query
        score = modified_score(features, labels, k=k, ipc=ipc)

        loss += (-torch.log(score))

    if 'prototriplet' in losses:
        proto_labels = torch.arange(0, way).type(torch.int).to(dev)
        loss += proto_triplet_loss(query_fts, qry_labels, prototypes, proto_labels, way, margin=margin)

    count = len(losses.split(','))
    loss = loss / count

    return loss


# ----------------------------------------------------------------------------
# models/protonet.py
# ----------------------------------------------------------------------------
def compute_prototypes(support, k, n):
    # Reshape so the first dimension indexes by class then take the mean
    # along that dimension to generate the "prototypes" for each class
    class_prototypes = support.reshape(k, n, -1).mean(dim=1)
    return class_prototypes


def protonet_logits(supp_fts, query_fts, way, shot, temperature=1.0):
    prototypes = compute_prototypes(supp_fts, way, shot)
    logits = -euclidean_dist(query_fts, prototypes) / temperature
    return logits, prototypes


# ----------------------------------------------------------------------------
# Convenience API (lossbench-facing). Labels must be 0..W-1. The authors' code
# never passes labels for the support: it *assumes* the FewShotSampler layout
# (support class-major: [c0]*shot, [c1]*shot, ...; prototypes indexed 0..W-1).
# We stable-sort the support by label to obtain that layout, which is exactly
# what the authors' reshape(way, shot, -1) needs. Queries keep their order
# (every term uses qry_labels explicitly, so query order only matters for ties).
# ----------------------------------------------------------------------------
def _episode(support, support_y, query, query_y):
    support_y = torch.as_tensor(support_y).long()
    query_y = torch.as_tensor(query_y).long()
    way = int(support_y.max().item()) + 1
    assert torch.equal(torch.unique(support_y), torch.arange(way)), "support labels must be 0..W-1"
    counts = torch.bincount(support_y, minlength=way)
    assert bool((counts == counts[0]).all()), "balanced support required (reshape(way, shot, -1))"
    shot = int(counts[0].item())
    order = torch.argsort(support_y, stable=True)
    supp_fts = support[order]
    assert torch.equal(support_y[order], torch.arange(way).repeat_interleave(shot))
    nq = query.shape[0]
    query_per_class = nq // way  # args.query; only used by 'fullicnn' as ipc = shot + query
    return supp_fts, query_y.to(support.device), way, shot, query_per_class


def prototypical_ce(support, support_y, query, query_y, temperature=1.0):
    """Per-query CE of the authors' ProtoNet baseline: logits = -||q - c_k||^2 / T
    (squared Euclidean, no sqrt, no eps, T = args.temperature = 1 by default).
    Authors use F.cross_entropy(logits, label) = mean of this vector."""
    supp_fts, qy, way, shot, _ = _episode(support, support_y, query, query_y)
    logits, _ = protonet_logits(supp_fts, query, way, shot, temperature)
    return F.cross_entropy(logits, qy, reduction='none')


def proto_triplet(support, support_y, query, query_y, margin=0.5, reduction='mean'):
    """Authors' proto_triplet_loss: SCALAR (mean over queries) by default, as in their code.
    reduction='none' gives the per-query hinge vector (not exposed by the authors)."""
    supp_fts, qy, way, shot, _ = _episode(support, support_y, query, query_y)
    prototypes = compute_prototypes(supp_fts, way, shot)
    proto_labels = torch.arange(0, way).type(torch.int).to(support.device)
    return proto_triplet_loss(query, qy, prototypes, proto_labels, way, margin=margin,
                              _reduction=reduction)


def icnn_score(X, y, k=4, ipc=None):
    """Authors' modified_score(origin=X, y_orig=y) with target = origin."""
    return modified_score(X, torch.as_tensor(y), k=k, ipc=ipc)


def icnn_loss(support, support_y, query, query_y, variant='suppicnn', k=4,
              query_protos=False, margin=0.5, temperature=1.0):
    """Authors' get_icnn_loss. `variant` is their args.losses string, e.g.
    'suppicnn', 'queryicnn', 'fullicnn', 'prototriplet', 'cross,fullicnn',
    'cross,prototriplet,fullicnn' (paper's loss #12). query_protos = their --query_protos.
    k: the authors never pass k (always modified_score's default 4); margin: never passed
    (always 0.5). Both are exposed here for experiments; defaults = authors'."""
    supp_fts, qy, way, shot, qpc = _episode(support, support_y, query, query_y)
    logits, prototypes = protonet_logits(supp_fts, query, way, shot, temperature)
    return get_icnn_loss(variant, logits, way, qy, supp_fts, query, prototypes,
                         shot, qpc, query_protos, k=k, margin=margin)


# ----------------------------------------------------------------------------
# Self-test: 3-way 5-shot 5-query, D = 8, float64
# ----------------------------------------------------------------------------

# ============================================================================
# I-Con
# ============================================================================
"""
float64 PyTorch transcription of the I-Con supervised (SupCon-like) instance
(Alshammari, Hershey, Feldmann, Freeman, Hamilton, ICLR 2025), from the authors' code:

  repo   ShadeAlsha/ICon
  commit afbf34f33e10bd3ddccb99aa48bf30e35ad37a72   (HEAD, 2026-02-18)
  files  distributions/graph.py::Label            (supervisory p)
         distributions/distance.py::Gaussian, DistanceKernel (learned q)
         distributions/base.py::Kernel, LeakKernel (debiasing: (1-α)K + α/n)
         playground/divergences.py::kl_divergence  (the loss actually used by Model)
         model/kernel_model.py::Model._compute_loss
         playground/playground_config.py  (icon_mode="supervised" preset, temperature=0.5)
         README.md  ("Supervised Contrastive Learning" example: Label + Gaussian(sigma=0.4))

What the code computes (preset icon_mode="supervised"):
  p(j|i) = 1[y_j = y_i, j≠i] / (n_{y_i} - 1)            Label(mask_diagonal=True), row-normalised
                                                        (eps = 0 -> a row with no positive is 0/0 = NaN)
  q(j|i) = softmax_{j≠i}( -(1 - cos(z_i,z_j)) / (2σ²) ) Gaussian(metric="cosine", mask_diagonal=True),
                                                        diagonal distance set to +inf, log_softmax
         = softmax_{j≠i}( cos(z_i,z_j) / τ ),  τ = 2σ²   (σ = temperature = 0.5 -> τ = 0.5)
  loss   = (1/N) Σ_i Σ_{j: p_ij > 1e-10} -p_ij log q_ij  (cross-entropy; KL minus the constant H(p);
                                                        NaN rows fail the p>1e-10 test -> contribute 0,
                                                        but N still counts them)
README SupCon example instead: Label(input_key="label") and Gaussian(sigma=0.4) with their defaults,
  i.e. mask_diagonal=False on both and metric="euclidean" (squared distance) on a unit-sphere mapper:
  p(j|i) = 1[y_j=y_i]/n_{y_i} (j = i included), q = softmax_j( -(2-2cos)/(2σ²) ) = softmax_j(cos/σ²)
  over all j incl. j = i, so τ = σ² = 0.16.   -> variant="readme".
Debiasing in code: Kernel.leak(α) = LeakKernel: (1-α) K + α / n with n = K.size(1) = N (uniform over
  ALL columns, j = i included).  Combined with a diagonal-masked q (log q_ii = -inf) this gives +inf;
  so the code form is only usable with variant="readme".  The catalog form (1-α)p + α/(N-1) over j≠i
  is offered as debias="others" (default for the masked variant).
"""
import math
import torch
import torch.nn.functional as F


def i_con_supervised(emb_raw, labels, tau=0.5, alpha=0.0, variant="preset", debias=None,
                     return_per_anchor=False, kl=False, p_eps=1e-10):
    """
    emb_raw [N, D] (unnormalised), labels [N].
    tau      effective temperature on cosine similarity (preset: τ = 2σ², code default σ=0.5 -> 0.5;
             readme: τ = σ², README example σ=0.4 -> 0.16).
    alpha    debiasing weight α (0 = off; the "supervised" preset has no debiasing).
    variant  "preset": diagonal masked in p and q (playground icon_mode="supervised")
             "readme": diagonal kept in p and q (README SupCon example)
    debias   "others": p̃ = (1-α)p + α/(N-1) on j≠i (catalog form; valid for both variants)
             "all":    p̃ = (1-α)p + α/N on all j (authors' LeakKernel); +inf with variant="preset"
             default: "others" for preset, "all" for readme.
    kl       add Σ p̃ log p̃ (true KL instead of the code's cross-entropy).
    Returns the scalar loss (and the per-anchor vector ℓ_i with loss = Σ_i ℓ_i / N).
    """
    N = emb_raw.shape[0]
    z = F.normalize(emb_raw, p=2, dim=1)
    cos = z @ z.T
    eye = torch.eye(N, dtype=torch.bool, device=emb_raw.device)
    y = labels.reshape(-1)
    same = (y[:, None] == y[None, :]).to(z.dtype)
    mask_diag = variant == "preset"
    if variant not in ("preset", "readme"):
        raise ValueError(variant)
    if debias is None:
        debias = "others" if mask_diag else "all"

    # ---- learned q (log-space, as Model uses log_icon_loss=True) ----
    logits = cos / tau
    if mask_diag:
        logits = logits.masked_fill(eye, float("-inf"))
    log_q = F.log_softmax(logits, dim=1)

    # ---- supervisory p ----
    if mask_diag:
        same = same.masked_fill(eye, 0.0)
    rs = same.sum(1, keepdim=True)
    has_pos = (rs.squeeze(1) > 0)
    p = same / rs.clamp_min(1.0)                 # code: same / (rs + 0) -> NaN rows when rs = 0
    if alpha > 0:
        if debias == "others":
            u = (~eye).to(z.dtype) / (N - 1)
        elif debias == "all":
            u = torch.full_like(p, 1.0 / N)
        else:
            raise ValueError(debias)
        p = (1 - alpha) * p + alpha * u
    # rows without a positive are NaN in the code and are dropped by the p > eps filter
    p = p * has_pos[:, None].to(z.dtype)

    keep = p > p_eps
    safe_logq = torch.where(keep, log_q, torch.zeros_like(log_q))
    ce = -(p * safe_logq).sum(1)                  # Σ over kept entries (log q = -inf only where p = 0
                                                  #  unless debias="all" with a masked diagonal)
    if alpha > 0 and debias == "all" and mask_diag:
        ce = ce + torch.where(has_pos, torch.full_like(ce, float("inf")), torch.zeros_like(ce))
    if kl:
        ce = ce + torch.where(keep, p * torch.log(torch.where(keep, p, torch.ones_like(p))),
                              torch.zeros_like(p)).sum(1)
    loss = ce.sum() / N
    return (loss, ce) if return_per_anchor else loss


def sigma_to_tau(sigma, variant="preset"):
    """code σ -> effective cosine temperature."""
    return 2 * sigma ** 2 if variant == "preset" else sigma ** 2


# ----------------------------------------------------------------------------------------

# ============================================================================
# SCoRe
# ============================================================================
"""
float64 PyTorch transcription of the SCoRe combinatorial losses
(Majee, Kothawade, Killamsetty, Iyer, ICML 2024), from the authors' code:

  repo   amajee11us/SCoRe
  commit 2075ed73fc390510da75d11fa91b0465a0a3fe98   (HEAD, 2024-07-24)
  files  objectives/combinatorial/GC.py      (class GraphCut)
         objectives/combinatorial/FL.py      (class FacilityLocation)
         objectives/combinatorial/logdet.py  (class LogDet)
         objectives/utils.py                 (similarity_kernel, soft_max)
         train_stage1.py                     (how the criteria are built)
  older  commit 52b085a^ (= 8e08083.., 2023) objectives/graph_cut.py,
         objectives/facility_location.py  -> kernel='exp' variants below
         (the same exp(s/τ) form is in SCoRe_Det/fsdet/modeling/contrastive_loss.py)

Interface: emb_raw [n, D] (unnormalised), labels [n].  The authors' code takes
[bsz, n_views, D] features and flattens them view-major into a [n_views*bsz, D]
"contrast_feature" with labels tiled; every loss below is *exactly* the same
function of that flattened matrix, so pass the concatenated views (and the
tiled labels) as emb_raw / labels.  The network in the authors' pipeline
already L2-normalises (networks/resnet_big.py: F.normalize(head(feat))), so we
normalise emb_raw first.

train_stage1.py defaults: --temp 0.07 -> temperature = base_temperature = 0.07,
so the "(temperature / base_temperature)" factor is 1 by default.
  'gc'     -> GraphCut(metric='cosSim', lamda=1.0, temperature=opt.temp, is_cf=False)
  'fl'     -> FacilityLocation(metric='cosSim', lamda=1.0, temperature=opt.temp)
  'LogDet' -> LogDet(metric='cosSim', temperature=opt.temp)   (is_cf=True default)
"""
import torch
import torch.nn.functional as F


def _prep(emb_raw, labels):
    z = F.normalize(emb_raw, p=2, dim=1)          # network output is L2-normalised
    y = labels.reshape(-1, 1)
    pos = (y == y.T).to(z.dtype)                   # mask (incl. diagonal)
    neg = 1.0 - pos
    eye = torch.eye(z.shape[0], dtype=z.dtype, device=z.device)
    pos = pos * (1 - eye)                          # mask.fill_diagonal_(0)
    neg = neg * (1 - eye)                          # mask_neg.fill_diagonal_(0) (already 0)
    return z, pos, neg, eye


def score_graph_cut(emb_raw, labels, lam=1.0, temperature=0.07, base_temperature=0.07,
                    variant="sf", kernel="cos", drop_anchors_without_pos=False,
                    return_per_anchor=False):
    """Graph-cut SCoRe loss.

    kernel='cos' (HEAD objectives/combinatorial/GC.py): s_ij = cos(z_i, z_j), raw, no exp,
        no temperature inside.
      variant 'sf' (is_cf=False, used by train_stage1 'gc'):
          l_i = -(τ/τ_b) * log( λ Σ_{j∈P(i)} s_ij / Σ_{j∈N(i)} s_ij )
          -> NaN whenever the ratio is <= 0 (cosines can be negative!)
      variant 'cf' (is_cf=True):
          l_i = (τ/τ_b) * λ Σ_{j∈N(i)} s_ij / |P(i)|
    kernel='exp' (2023 objectives/graph_cut.py, also SCoRe_Det GraphCut):
        e_ij = exp(s_ij/τ - sg(max_k s_ik/τ)) * [j≠i]   (max over all k incl. k=i)
      'sf': l_i = -(τ/τ_b) * log( λ Σ_P e_ij / Σ_N e_ij )      (shift cancels)
      'cf': l_i = (τ/τ_b) * λ Σ_N e_ij / |P(i)|               (shift does NOT cancel;
                                                            detached -> value/grad differ)
    L = mean_i l_i (code: loss.view(anchor_count, batch_size).mean()).
    P(i) = same-label j≠i, N(i) = different-label j.  An anchor with |P(i)| = 0 gives
    +inf/NaN in the authors' code (they always have ≥2 views so this never happens);
    drop_anchors_without_pos=True averages only over anchors with |P(i)| ≥ 1 (our addition).
    """
    z, pos, neg, eye = _prep(emb_raw, labels)
    s = z @ z.T
    scale = temperature / base_temperature
    if kernel == "cos":
        k = s
    elif kernel == "exp":
        logits = s / temperature
        logits = logits - logits.max(dim=1, keepdim=True).values.detach()
        k = torch.exp(logits) * (1 - eye)
    else:
        raise ValueError(kernel)
    if variant == "sf":
        l = torch.log((lam * (k * pos)).sum(1) / (k * neg).sum(1))
        per = -scale * l
    elif variant == "cf":
        l = torch.div(-lam * (k * neg).sum(1), pos.sum(1))
        per = -scale * l
    else:
        raise ValueError(variant)
    if drop_anchors_without_pos:
        keep = pos.sum(1) > 0
        loss = per[keep].mean()
    else:
        loss = per.mean()
    return (loss, per) if return_per_anchor else loss


def _soft_max_axis0(m):
    """objectives/utils.py::soft_max(similarity_matrix, axis=0): log-sum-exp over rows."""
    mx = torch.max(m, 0, keepdim=True).values
    return (mx + torch.log(torch.sum(torch.exp(m - mx), 0, keepdim=True))).squeeze(0)


def score_facility_location(emb_raw, labels, lam=1.0, temperature=0.07, base_temperature=0.07,
                            kernel="cos", return_per_anchor=False):
    """Facility-location SCoRe loss.

    kernel='cos' (HEAD objectives/combinatorial/FL.py, used by train_stage1 'fl'):
        K = N ⊙ S   (S = cosines; masked entries become 0, NOT -inf, so every masked
                     entry adds exp(0)=1 inside the log-sum-exp)
        l_j = λ (τ/τ_b) * log Σ_i exp(K_ij)          (soft-max over axis 0)
        L  = mean_j l_j
      (S and N are symmetric, so axis 0 vs 1 does not matter.)
    kernel='exp' (2023 objectives/facility_location.py; SCoRe_Det FacilityLocation;
                  λ is accepted but NOT used by that code):
        l_i = (τ/τ_b) * [ log Σ_{j∈N(i)} exp(s_ij/τ) - sg(max_k s_ik/τ) ]
        L  = mean_i l_i     (-inf if an anchor has no negative)
    """
    z, pos, neg, eye = _prep(emb_raw, labels)
    s = z @ z.T
    scale = temperature / base_temperature
    if kernel == "cos":
        per = lam * _soft_max_axis0(neg * s) * scale
    elif kernel == "exp":
        logits = s / temperature
        logits = logits - logits.max(dim=1, keepdim=True).values.detach()
        e = torch.exp(logits) * (1 - eye)
        per = scale * torch.log((e * neg).sum(1))
    else:
        raise ValueError(kernel)
    loss = per.mean()
    return (loss, per) if return_per_anchor else loss


def score_log_det(emb_raw, labels, delta=0.5, variant="cf", temperature=0.07,
                  base_temperature=0.07, return_terms=False):
    """Log-det SCoRe loss (HEAD objectives/combinatorial/logdet.py).

    S = Z Zᵀ (raw dot products of the L2-normalised features -> cosines; no temperature,
    no exp).  A_c = indices with label c.  δ = 0.5 is hard-coded in the code.
      variant 'cf' (is_cf=True, the default and what train_stage1 'LogDet' uses):
          L = Σ_c logdet(S_{A_c} + δI) - logdet(S_V + δI)
      variant 'sf' (is_cf=False):
          L = -(τ/τ_b) * (1/C) Σ_c logdet(S_{A_c} + δI)
    No division by the batch size in either branch.
    """
    z = F.normalize(emb_raw, p=2, dim=1)
    s = z @ z.T
    lab = labels.reshape(-1)
    terms = []
    for c in torch.unique(lab, sorted=True):
        idx = torch.nonzero(lab == c).squeeze(1)
        sc = s.index_select(0, idx).index_select(1, idx)
        terms.append(torch.logdet(sc + delta * torch.eye(sc.shape[0], dtype=s.dtype, device=s.device)))
    class_sum = torch.stack(terms).sum()
    if variant == "cf":
        ground = torch.logdet(s + delta * torch.eye(s.shape[0], dtype=s.dtype, device=s.device))
        loss = class_sum - ground
    elif variant == "sf":
        ground = None
        loss = -(temperature / base_temperature) * (class_sum / len(terms))
    else:
        raise ValueError(variant)
    return (loss, terms, ground) if return_terms else loss



# ============================================================================
# Metrix
# ============================================================================
"""
float64 PyTorch transcription of Metrix with the contrastive base loss
(Venkataramanan, Psomas, Kijak, Amsaleg, Karantzalos, Avrithis, ICLR 2022), from the authors' code:

  repo   billpsomas/metrix            commit b6797035fd82baf46ad89f8856721ae01afdf4f0 (HEAD, 2024-05-15)
         (= billpsomas/Metrix_ICLR22  commit 0f03b58a210c0583d306786c1d0713ded3d4c60b for the
            contrastive part; later commits only add multi-similarity/proxy-anchor and try/except)
  files  train.py::baseline_contrastive, embed_metrix_contrastive, feature_metrix_contrastive,
                   input_metrix_contrastive
         mixup/utils.py::mixup_data, embed_posneg_pair_mixup_for_pos_anchor,
                         embed_neg_pair_mixup_without_posanchor, feature_*  (pair construction)
         mixup/losses.py::loss_posneg_mixup                               (mixed loss)
         main.py  (ContrastiveLoss(neg_margin=0.5), LpDistance(), AvgNonZeroReducer per part,
                   --alpha 2.0, --mode feature default, batch 100 in README commands)
         net/feature_resnet.py (feature-level mixing = after layer4, before GAP+GMP / embedding / L2)
  PML    pytorch_metric_learning==1.3.0 (README): LpDistance = torch.cdist on L2-normalised inputs;
         AvgNonZeroReducer = sum(losses) / #(losses > 0) (0 if none); sub-losses summed.

Per training step (code):
  E = model(x)  (L2-normalised, is_norm=1)
  L_clean = AvgNZ_{(i,j) pos, i≠j}[relu(d_ij - 0)] + AvgNZ_{(i,j) neg}[relu(0.5 - d_ij)]
  pair_type ~ Uniform{posneg, ancneg}            (train.py: layer_mix = random.randint(0, 1))
  λ ~ Beta(α, α), α = 2.0, ONE scalar per step   (mixup_data / np.random.beta)
  posneg: for every positive pair (a, p) [PML get_all_pairs_indices order] and every negative n of a:
          x̃ = λ·x_{p1(a)} + (1-λ)·x_n  where p1(a) is the FIRST positive of a (code quirk:
          `pos[index_pos][0]`), i.e. triplets (a, p1(a), n) repeated |P(a)| times.
  ancneg: only anchors a with NO positive in the batch; for every negative n of a:
          x̃ = λ·x_a + (1-λ)·x_n.
  d_k = ‖ normalize(f(anchor_k)) - normalize(f(x̃_k)) ‖₂     (LpDistance normalises the mix again)
  L_mix = AvgNZ_k[ λ·relu(d_k - 0) ] + AvgNZ_k[ (1-λ)·relu(0.5 - d_k) ]
        (soft label ỹ = λ = λ·1[y_mix1=y_a] + (1-λ)·1[y_mix2=y_a] for both pair types)
  L = L_clean + w·L_mix,  w = 0.4  (0.3 only for Metrix/embed with ancneg; input top_k=1 hardest
      negative per positive pair / per anchor; embed & feature use all negatives)

Interface here:
  metrix_contrastive(emb_raw_clean, labels, lam, emb_raw_mixed=None, triplets=None,
                     pair_type="posneg", weight=None, ...)
    - emb_raw_mixed None  -> Metrix/embed: mixes L2-normalised clean embeddings internally.
    - emb_raw_mixed [M,D] -> Metrix/input or /feature: embeddings of the mixed examples computed by
      the network; `triplets` = (anchor_idx, mix1_idx, mix2_idx) [M each] that produced them
      (x̃_k = λ·x[mix1_k] + (1-λ)·x[mix2_k]); get them from metrix_triplets().
"""
import itertools
import numpy as np
import torch
import torch.nn.functional as F


# ------------------------------------------------------------------ pair construction (code)
def all_pairs_indices(labels):
    """PML lmu.get_all_pairs_indices: (a1, p, a2, n) in row-major torch.where order."""
    m = labels.reshape(-1, 1) == labels.reshape(1, -1)
    diffs = ~m
    m = m.clone(); m.fill_diagonal_(False)
    a1, p = torch.where(m)
    a2, n = torch.where(diffs)
    return a1, p, a2, n


def metrix_triplets(labels, pair_type="posneg", first_pos_quirk=True):
    """(anchor_idx, mix1_idx, mix2_idx) exactly as mixup/utils.py embed_/feature_* build them.
    first_pos_quirk=False uses the pair's own positive (one triplet per (a, p, n)) instead."""
    a1, pos, a2, neg = all_pairs_indices(labels)
    A, M1, M2 = [], [], []
    if pair_type == "posneg":
        for k in range(len(a1)):
            a = a1[k]
            idxs = torch.where(a2 == a)[0]
            p = pos[torch.where(a1 == a)[0][0]] if first_pos_quirk else pos[k]
            A.append(a2[idxs]); M2.append(neg[idxs]); M1.append(p.repeat(len(idxs)))
    elif pair_type == "ancneg":
        has_pos = set(a1.tolist())
        for a in torch.unique(a2).tolist():
            if a in has_pos:
                continue
            idxs = torch.where(a2 == a)[0]
            A.append(a2[idxs]); M1.append(a2[idxs]); M2.append(neg[idxs])
    else:
        raise ValueError(pair_type)
    if not A:
        e = torch.zeros(0, dtype=torch.long)
        return e, e, e
    return torch.cat(A), torch.cat(M1), torch.cat(M2)


# ------------------------------------------------------------------ losses
def _avg_nonzero(x):
    """PML AvgNonZeroReducer (ThresholdReducer(0)): sum / #(x > 0); 0 if none."""
    cnt = (x > 0).sum()
    return x.sum() / cnt if cnt > 0 else x.sum() * 0.0


def _pdist_rows(a, b):
    return torch.linalg.vector_norm(a - b, dim=1)


def contrastive_clean(emb_raw, labels, pos_margin=0.0, neg_margin=0.5, return_parts=False):
    """PML ContrastiveLoss(pos_margin=0, neg_margin=0.5) + LpDistance + AvgNonZeroReducer."""
    z = F.normalize(emb_raw, p=2, dim=1)
    d = torch.cdist(z, z, p=2)
    a1, p, a2, n = all_pairs_indices(labels)
    lp = F.relu(d[a1, p] - pos_margin)
    ln = F.relu(neg_margin - d[a2, n])
    pos_l, neg_l = _avg_nonzero(lp), _avg_nonzero(ln)
    return (pos_l + neg_l, pos_l, neg_l) if return_parts else pos_l + neg_l


def metrix_mixed_term(anchor_emb, mixed_emb, ytilde, pos_margin=0.0, neg_margin=0.5):
    """mixup/losses.py::loss_posneg_mixup + AvgNonZero reducers (pos and neg separately, summed).
    The code hard-codes margins 0.0 and 0.5 and uses the scalar λ as ỹ."""
    d = _pdist_rows(F.normalize(anchor_emb, dim=1), F.normalize(mixed_emb, dim=1))
    lp = ytilde * F.relu(d - pos_margin)
    ln = (1 - ytilde) * F.relu(neg_margin - d)
    return _avg_nonzero(lp) + _avg_nonzero(ln), _avg_nonzero(lp), _avg_nonzero(ln)


def metrix_contrastive(emb_raw_clean, labels, lam, emb_raw_mixed=None, triplets=None,
                       pair_type="posneg", weight=None, pos_margin=0.0, neg_margin=0.5,
                       first_pos_quirk=True, include_clean=True, return_parts=False):
    """L = L_clean + w · L_mix  (see module docstring).  lam: python float (one per step)."""
    if triplets is None:
        triplets = metrix_triplets(labels, pair_type, first_pos_quirk)
    anc, m1, m2 = triplets
    z = F.normalize(emb_raw_clean, p=2, dim=1)          # the network's l2_norm output
    if emb_raw_mixed is None:                           # Metrix/embed
        mixed = lam * z[m1] + (1 - lam) * z[m2]
        if weight is None:
            weight = 0.3 if pair_type == "ancneg" else 0.4
    else:                                               # Metrix/input or /feature
        mixed = emb_raw_mixed
        if weight is None:
            weight = 0.4
    y = labels.reshape(-1)
    # general soft label; equals lam for both code pair types
    ytilde = lam * (y[m1] == y[anc]).to(z.dtype) + (1 - lam) * (y[m2] == y[anc]).to(z.dtype)
    if len(anc) == 0:
        l_mix = lp = ln = z.sum() * 0.0                 # the authors' code crashes here instead
    else:
        l_mix, lp, ln = metrix_mixed_term(z[anc], mixed, ytilde, pos_margin, neg_margin)
    l_clean = contrastive_clean(emb_raw_clean, labels, pos_margin, neg_margin) if include_clean else 0.0
    loss = l_clean + weight * l_mix
    if return_parts:
        return loss, dict(clean=l_clean, mix=l_mix, mix_pos=lp, mix_neg=ln, weight=weight,
                          n_mixed=len(anc))
    return loss


def sample_step(rng, alpha=2.0):
    """What train.py draws per step: pair type and λ."""
    pair_type = ["posneg", "ancneg"][rng.randint(0, 1)]
    lam = float(np.random.beta(alpha, alpha))
    return pair_type, lam


def utilization(query_emb, train_emb, normalize=True):
    """[paper, from memory — NOT in the authors' released code]:
    u(Q) = (1/|Q|) Σ_{q∈Q} min_{x∈X} ‖f(q) - f(x)‖  (mean distance of each test embedding to its
    nearest training embedding; lower = test classes fall in better-used regions)."""
    q = F.normalize(query_emb, dim=1) if normalize else query_emb
    x = F.normalize(train_emb, dim=1) if normalize else train_emb
    return torch.cdist(q, x).min(dim=1).values.mean()


# ----------------------------------------------------------------------------------------