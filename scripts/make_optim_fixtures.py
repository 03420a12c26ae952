#!/usr/bin/env python3
"""Reference trajectories of lossbench's optimizers, from torch.optim in float64.

Problem: least squares f(W, b) = mean((X W^T + b - Y)^2) with X [8, 3], Y [8, 2], W [2, 3],
b [2]; fixed data and start. For each optimizer configuration, 20 steps; the parameters after
every step are written to tests/fixtures/optimizers.json, which tests/optim_fixtures.rs
replays through lossbench's optimizers (f64, relative tolerance 1e-5).

References: torch.optim (SGD, Adam, AdamW); the authors' code transcribed here for SAM
(davda54/sam), OrthoGrad (S135), GAM (xxgege/GAM), MoMo and MomoAdam (fabian-sp/MoMo), AccSGD
(rahulkidambi/AccSGD), AMP (hiyouga/AMP-Regularizer), AWP (csdongxian/AWP utils_awp.py, on the
clean batch) and M3 / winsorized GD (google-research coherent_gradients); Grams from the
authors' PyPI package. fad and gsnr_vrgd have no authors' code: their twins here are
lossbench's reconstructions written independently in torch. Micro-batches are rows
i*n//k .. (i+1)*n//k, as lossbench's optim::part_range. Run from the repo root:

    .venv/bin/python scripts/make_optim_fixtures.py
"""
import copy
import json
import pathlib

import numpy as np

import torch
from grams import Grams  # PyPI grams-pytorch 0.0.2, the authors' implementation

D = torch.float64
g = torch.Generator().manual_seed(3)
X = torch.randn(8, 3, generator=g, dtype=D)
Y = torch.randn(8, 2, generator=g, dtype=D)
W0 = torch.randn(2, 3, generator=g, dtype=D)
B0 = torch.randn(2, generator=g, dtype=D)
STEPS = 20


class SAM(torch.optim.Optimizer):
    """davda54/sam sam.py (first_step / second_step, adaptive = ASAM), unchanged in substance."""

    def __init__(self, params, base_optimizer, rho=0.05, adaptive=False, **kwargs):
        defaults = dict(rho=rho, adaptive=adaptive, **kwargs)
        super().__init__(params, defaults)
        self.base_optimizer = base_optimizer(self.param_groups, **kwargs)
        self.param_groups = self.base_optimizer.param_groups
        self.defaults.update(self.base_optimizer.defaults)

    @torch.no_grad()
    def first_step(self):
        grad_norm = self._grad_norm()
        for group in self.param_groups:
            scale = group["rho"] / (grad_norm + 1e-12)
            for p in group["params"]:
                if p.grad is None:
                    continue
                self.state[p]["old_p"] = p.data.clone()
                e_w = (torch.pow(p, 2) if group["adaptive"] else 1.0) * p.grad * scale.to(p)
                p.add_(e_w)

    @torch.no_grad()
    def second_step(self):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                p.data = self.state[p]["old_p"]
        self.base_optimizer.step()

    def _grad_norm(self):
        return torch.norm(torch.stack([
            ((torch.abs(p) if group["adaptive"] else 1.0) * p.grad).norm(p=2)
            for group in self.param_groups for p in group["params"] if p.grad is not None]), p=2)

class OrthoGrad(torch.optim.Optimizer):
    """The authors' orthograd.py OrthoGrad (S135), unchanged in substance."""

    def __init__(self, params, base_optimizer_cls=torch.optim.SGD, **base_optimizer_args):
        self.params = list(params)
        super().__init__(self.params, {})
        self.base_optimizer = base_optimizer_cls(self.params, **base_optimizer_args)

    @staticmethod
    @torch.no_grad()
    def _orthogonalize_gradients(params):
        for p in params:
            if p.grad is not None:
                w = p.view(-1)
                g = p.grad.view(-1)
                w_norm_sq = torch.dot(w, w) + 1e-30
                proj = torch.dot(w, g) / w_norm_sq
                g_orth = g - proj * w
                g_norm = g.norm(2)
                g_orth_norm = g_orth.norm(2) + 1e-30
                g_orth_scaled = g_orth * (g_norm / g_orth_norm)
                p.grad.copy_(g_orth_scaled.view_as(p.grad))

    def zero_grad(self, set_to_none=True):
        self.base_optimizer.zero_grad(set_to_none=set_to_none)

    def step(self, closure=None):
        self._orthogonalize_gradients(self.params)
        return self.base_optimizer.step(closure)


def gam_step(params, loss_fn, base, rho=0.02, norm_rho=0.2, beta1=1.0, beta2=-1.0, beta3=1.0, gamma=0.03, eps=1e-12):
    """One step of xxgege/GAM gam.py GAM.step (non-adaptive), written out on a list of params."""
    def grads():
        for p in params:
            p.grad = None
        loss = loss_fn()
        loss.backward()
        return loss.item(), [p.grad.detach().clone() for p in params]

    def norm(gs):
        return torch.sqrt(sum((g ** 2).sum() for g in gs))

    loss, g0 = grads()
    with torch.no_grad():
        scale = rho / (norm(g0) + eps)
        e0 = [g * scale for g in g0]
        for p, e in zip(params, e0):
            p.add_(e)
    _, g1 = grads()
    with torch.no_grad():
        for p, e in zip(params, e0):
            p.sub_(e)
        d = [a - b for a, b in zip(g1, g0)]
        scale = norm_rho / (norm(d) + eps)
        e12 = [x * scale for x in d]
        for p, e in zip(params, e12):
            p.add_(e)
    _, g2 = grads()
    with torch.no_grad():
        scale = rho / (norm(g2) + eps)
        e = [g * scale for g in g2]
        for p, x in zip(params, e):
            p.add_(x)
        e12 = [a + b for a, b in zip(e12, e)]
    _, g3 = grads()
    with torch.no_grad():
        pro = [a + abs(beta2) * b for a, b in zip(g0, g2)]
        G = [beta1 * a + beta3 * b for a, b in zip(g1, g3)]
        inner = sum((p * g).sum() for p, g in zip(pro, G))
        new_norm, old_norm = norm(G), norm(pro)
        cosine = inner / (new_norm * old_norm + eps)
        G = [g - gamma * (p - cosine * old_norm * g / (new_norm + eps)) for g, p in zip(G, pro)]
        for p, e in zip(params, e12):
            p.sub_(e)
    for p, g in zip(params, G):
        p.grad = g
    base.step()
    return loss


class GAMRunner:
    def __init__(self, params, base, **kw):
        self.params, self.base, self.kw = params, base, kw


class Momo(torch.optim.Optimizer):
    """fabian-sp/MoMo momo/momo.py Momo.step, transcribed (the loss is passed in)."""

    def __init__(self, params, lr=1.0, weight_decay=0, beta=0.9, lb=0, bias_correction=False, use_fstar=False):
        super().__init__(params, dict(lr=lr, weight_decay=weight_decay))
        self.beta, self.lb, self._initial_lb = beta, lb, lb
        self.bias_correction, self.use_fstar = bias_correction, use_fstar
        self._number_steps = 0

    @torch.no_grad()
    def step(self, loss):
        self._number_steps += 1
        beta = self.beta
        if self._number_steps == 1:
            self.loss_avg = 0.0 if self.bias_correction else loss.detach().clone()
        self.loss_avg = beta * self.loss_avg + (1 - beta) * loss.detach()
        rho = 1 - beta ** self._number_steps if self.bias_correction else 1
        _dot, _gamma, _norm = 0.0, 0.0, 0.0
        for group in self.param_groups:
            for p in group["params"]:
                grad = p.grad.data.detach()
                state = self.state[p]
                if self._number_steps == 1:
                    if self.bias_correction:
                        state["grad_avg"] = torch.zeros_like(p.data)
                        state["grad_dot_w"] = torch.zeros(1, dtype=p.dtype)
                    else:
                        state["grad_avg"] = grad.clone()
                        state["grad_dot_w"] = torch.sum(torch.mul(p.data, grad))
                grad_avg, grad_dot_w = state["grad_avg"], state["grad_dot_w"]
                grad_avg.mul_(beta).add_(grad, alpha=1 - beta)
                grad_dot_w.mul_(beta).add_(torch.sum(torch.mul(p.data, grad)), alpha=1 - beta)
                _dot += torch.sum(torch.mul(p.data, grad_avg))
                _gamma += grad_dot_w
                _norm += torch.sum(torch.mul(grad_avg, grad_avg))
        for group in self.param_groups:
            lr, lmbda = group["lr"], group["weight_decay"]
            if self.use_fstar:
                cap = ((1 + lr * lmbda) * self.loss_avg + _dot - (1 + lr * lmbda) * _gamma).item()
                if cap < (1 + lr * lmbda) * rho * self.lb:
                    self.lb = max(cap / (2 * (1 + lr * lmbda) * rho), self._initial_lb)
            if lmbda > 0:
                nom = (1 + lr * lmbda) * (self.loss_avg - rho * self.lb) + _dot - (1 + lr * lmbda) * _gamma
                t1 = max(nom, 0.0) / _norm
            else:
                t1 = max(self.loss_avg - rho * self.lb + _dot - _gamma, 0.0) / _norm
            t1 = float(t1)
            tau = min(lr / rho, t1)
            if self.use_fstar:
                h = float(self.loss_avg + _dot - _gamma)
                self.lb = max((h - 0.5 * tau * float(_norm)) / rho, self._initial_lb)
            for p in group["params"]:
                p.data.add_(other=self.state[p]["grad_avg"], alpha=-tau)
                if lmbda > 0:
                    p.data.div_(1 + lr * lmbda)


class NormalizedGD:
    """The catalog's normalized GD rules (S183 gradient-normalised, S112 loss-normalised)."""

    def __init__(self, params, lr, mode="gradient", c=1e-8):
        self.params, self.lr, self.mode, self.c = list(params), lr, mode, c

    def zero_grad(self):
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self, loss):
        if self.mode == "gradient":
            norm = torch.sqrt(sum((p.grad ** 2).sum() for p in self.params))
            scale = self.lr / (norm + self.c)
        else:
            scale = self.lr / loss.item()
        for p in self.params:
            p.sub_(scale * p.grad)


N_ROWS = X.shape[0]


def part(i, k, n=N_ROWS):
    """Rows of micro-batch i of k, as lossbench's optim::part_range."""
    return i * n // k, (i + 1) * n // k


def rows_loss(params, lo=0, hi=N_ROWS):
    w, b = params
    return ((X[lo:hi] @ w.T + b - Y[lo:hi]) ** 2).mean()


def grads_at(params, lo=0, hi=N_ROWS):
    for p in params:
        p.grad = None
    loss = rows_loss(params, lo, hi)
    loss.backward()
    return loss.item(), [p.grad.detach().clone() for p in params]


class Custom:
    """A procedure written out step by step; step(params) returns the loss it started from."""

    def zero_grad(self):
        pass


class AccSGD(torch.optim.Optimizer):
    """rahulkidambi/AccSGD AccSGD.py AccSGD.step, transcribed."""

    def __init__(self, params, lr, kappa=1000.0, xi=10.0, smallConst=0.7, weight_decay=0):
        super().__init__(params, dict(lr=lr, kappa=kappa, xi=xi, smallConst=smallConst, weight_decay=weight_decay))

    @torch.no_grad()
    def step(self):
        for group in self.param_groups:
            weight_decay = group["weight_decay"]
            large_lr = (group["lr"] * group["kappa"]) / (group["smallConst"])
            Alpha = 1.0 - ((group["smallConst"] * group["smallConst"] * group["xi"]) / group["kappa"])
            Beta = 1.0 - Alpha
            zeta = group["smallConst"] / (group["smallConst"] + Beta)
            for p in group["params"]:
                if p.grad is None:
                    continue
                d_p = p.grad.data
                if weight_decay != 0:
                    d_p.add_(p.data, alpha=weight_decay)
                param_state = self.state[p]
                if "momentum_buffer" not in param_state:
                    param_state["momentum_buffer"] = copy.deepcopy(p.data)
                buf = param_state["momentum_buffer"]
                buf.mul_((1.0 / Beta) - 1.0)
                buf.add_(d_p, alpha=-large_lr)
                buf.add_(p.data)
                buf.mul_(Beta)
                p.data.add_(d_p, alpha=-group["lr"])
                p.data.mul_(zeta)
                p.data.add_(buf, alpha=1.0 - zeta)


class MomoAdam(torch.optim.Optimizer):
    """fabian-sp/MoMo momo/momo_adam.py MomoAdam.step, transcribed (the loss is passed in)."""

    def __init__(self, params, lr=1e-2, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, lb=0, divide=True, use_fstar=False):
        super().__init__(params, dict(lr=lr, weight_decay=weight_decay, betas=betas, eps=eps))
        self.lb, self._initial_lb, self.divide, self.use_fstar = lb, lb, divide, use_fstar
        self._number_steps = 0
        self.loss_avg = 0.0

    @torch.no_grad()
    def step(self, loss):
        self._number_steps += 1
        k = self._number_steps
        _dot, _gamma, _norm = 0.0, 0.0, 0.0
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            eps = group["eps"]
            for p in group["params"]:
                g = p.grad.data.detach()
                state = self.state[p]
                if k == 1:
                    state["grad_avg"] = torch.zeros_like(p.data)
                    state["grad_avg_sq"] = torch.zeros_like(p.data)
                    state["grad_dot_w"] = torch.zeros(1, dtype=p.dtype)
                grad_avg, grad_avg_sq, grad_dot_w = state["grad_avg"], state["grad_avg_sq"], state["grad_dot_w"]
                grad_avg.mul_(beta1).add_(g, alpha=1 - beta1)
                grad_avg_sq.mul_(beta2).add_(g * g, alpha=1 - beta2)
                grad_dot_w.mul_(beta1).add_(torch.sum(p.data * g), alpha=1 - beta1)
                Dk = grad_avg_sq.div(1 - beta2**k).sqrt().add(eps)
                _dot += torch.sum(p.data * grad_avg)
                _gamma += grad_dot_w
                _norm += torch.sum(grad_avg * grad_avg / Dk)
        self.loss_avg = (1 - beta1) * loss.detach() + beta1 * self.loss_avg
        rho = 1 - beta1**k
        for group in self.param_groups:
            lr, lmbda = group["lr"], group["weight_decay"]
            beta1, beta2 = group["betas"]
            if self.use_fstar:
                cap = ((1 + lr * lmbda) * self.loss_avg + _dot - (1 + lr * lmbda) * _gamma).item()
                if cap < (1 + lr * lmbda) * rho * self.lb:
                    self.lb = max(cap / (2 * (1 + lr * lmbda) * rho), self._initial_lb)
            nom = (1 + lr * lmbda) * (self.loss_avg - rho * self.lb) + _dot - (1 + lr * lmbda) * _gamma
            t1 = float(max(nom, 0.0) / _norm)
            tau = min(lr / rho, t1)
            if self.use_fstar:
                h = float(self.loss_avg + _dot - _gamma)
                self.lb = max((h - 0.5 * tau * float(_norm)) / rho, self._initial_lb)
            for p in group["params"]:
                state = self.state[p]
                Dk = state["grad_avg_sq"].div(1 - beta2**k).sqrt().add(group["eps"])
                if lmbda > 0 and not self.divide:
                    p.data.mul_(1 - lmbda * lr)
                p.data.addcdiv_(state["grad_avg"], Dk, value=-tau)
                if lmbda > 0 and self.divide:
                    p.data.div_(1 + lmbda * lr)


class AMPRunner(Custom):
    """hiyouga/AMP-Regularizer amp.py AMP.step, transcribed on a list of params."""

    def __init__(self, params, base, epsilon=0.5, inner_lr=1.0, inner_iter=1):
        self.params, self.base, self.epsilon, self.inner_lr, self.inner_iter = params, base, epsilon, inner_lr, inner_iter

    def step(self, params):
        loss0, grads = grads_at(params)
        devs = [torch.zeros_like(p) for p in params]
        for _ in range(self.inner_iter):
            with torch.no_grad():
                for i, p in enumerate(params):
                    new = devs[i] + self.inner_lr * grads[i]
                    c = self.epsilon / (new.norm(2) + 1e-12)
                    if c < 1:
                        new = c * new
                    p.sub_(devs[i]).add_(new)
                    devs[i] = new
            _, grads = grads_at(params)
        with torch.no_grad():
            for p, d in zip(params, devs):
                p.sub_(d)
        for p, g in zip(params, grads):
            p.grad = g
        self.base.step()
        return loss0


class AWPRunner(Custom):
    """csdongxian/AWP utils_awp.py (calc_awp / perturb / restore) on the clean batch."""

    def __init__(self, params, base, gamma=0.01, proxy_lr=0.01):
        self.params, self.base, self.gamma, self.proxy_lr = params, base, gamma, proxy_lr

    def step(self, params):
        w, b = params
        # proxy: copy, one SGD step on −loss (lr proxy_lr), then diff_in_weights (ndim > 1 only).
        proxy = [p.detach().clone().requires_grad_(True) for p in params]
        proxy_opt = torch.optim.SGD(proxy, lr=self.proxy_lr)
        proxy_opt.zero_grad()
        (-rows_loss(proxy)).backward()
        proxy_opt.step()
        diffs = []
        for p, q in zip(params, proxy):
            if p.dim() <= 1:
                diffs.append(None)
                continue
            d = q.detach() - p.detach()
            diffs.append(p.detach().norm() / (d.norm() + 1e-20) * d)
        with torch.no_grad():
            for p, d in zip(params, diffs):
                if d is not None:
                    p.add_(self.gamma * d)
        for p in params:
            p.grad = None
        rows_loss(params).backward()
        self.base.step()
        with torch.no_grad():
            for p, d in zip(params, diffs):
                if d is not None:
                    p.sub_(self.gamma * d)
        return self.loss_at_start

    def before(self, params):
        with torch.no_grad():
            self.loss_at_start = rows_loss(params).item()


class CoherentRunner(Custom):
    """google-research coherent_gradients: M3 (median of 3) and winsorize_sum (utils.py)."""

    def __init__(self, params, base, estimator="m3", c=10.0):
        self.params, self.base, self.estimator, self.c = params, base, estimator, c

    def step(self, params):
        k = 3 if self.estimator == "m3" else N_ROWS
        per, loss = [], 0.0
        for i in range(k):
            lo, hi = part(i, k)
            l, g = grads_at(params, lo, hi)
            loss += l * (hi - lo) / N_ROWS
            per.append(g)
        out = []
        for j in range(len(params)):
            stack = torch.stack([g[j] for g in per])
            if self.estimator == "m3":
                out.append(stack.sum(0) - stack.max(0).values - stack.min(0).values)
            else:
                G = (stack / k).numpy().reshape(k, -1)
                lo_ = np.percentile(G, self.c, axis=0, method="nearest")
                hi_ = np.percentile(G, 100 - self.c, axis=0, method="nearest")
                out.append(torch.tensor(np.clip(G, lo_, hi_).sum(0).reshape(params[j].shape)))
        for p, g in zip(params, out):
            p.grad = g
        self.base.step()
        return loss


class GSNRRunner(Custom):
    """lossbench's gsnr_vrgd reconstruction (no authors' code exists), written out in torch."""

    def __init__(self, params, base, parts=4, lo=0.1, hi=10.0):
        self.params, self.base, self.k, self.lo, self.hi = params, base, parts, lo, hi

    def step(self, params):
        per, loss = [], 0.0
        for i in range(self.k):
            lo, hi = part(i, self.k)
            l, g = grads_at(params, lo, hi)
            wgt = (hi - lo) / N_ROWS
            loss += l * wgt
            per.append((wgt, g))
        for j, p in enumerate(params):
            mean = sum(wgt * g[j] for wgt, g in per)
            var = sum(wgt * (g[j] - mean) ** 2 for wgt, g in per)
            r = mean**2 / (var + 1e-12)
            p.grad = (r / (r.mean() + 1e-300)).clamp(self.lo, self.hi) * mean
        self.base.step()
        return loss


class FADRunner(Custom):
    """lossbench's fad reconstruction (no authors' code exists), written out in torch."""

    def __init__(self, params, base, rho=0.05, r=0.05, alpha=1.0, beta=1.0):
        self.params, self.base, self.rho, self.r, self.alpha, self.beta = params, base, rho, r, alpha, beta

    def step(self, params):
        def norm(gs):
            return torch.sqrt(sum((g**2).sum() for g in gs))

        def at(shift):
            with torch.no_grad():
                for p, s in zip(params, shift):
                    p.add_(s)
            _, g = grads_at(params)
            with torch.no_grad():
                for p, s in zip(params, shift):
                    p.sub_(s)
            return g

        loss, g0 = grads_at(params)
        e0 = [g * (self.rho / (norm(g0) + 1e-12)) for g in g0]
        g1 = at(e0)
        h = [a - b for a, b in zip(g1, g0)]
        e1 = [x * (self.rho / (norm(h) + 1e-12)) for x in h]
        g2 = at(e1)
        e2 = [a + g * (self.r / (norm(g2) + 1e-12)) for a, g in zip(e1, g2)]
        g3 = at(e2)
        G = [(1 - self.alpha) * a + self.alpha * b + self.beta * self.rho * (d - c) / self.r for a, b, c, d in zip(g0, g1, g2, g3)]
        for p, g in zip(params, G):
            p.grad = g
        self.base.step()
        return loss


class QATRunner(Custom):
    """Symmetric per-tensor max-abs fake quantisation with a straight-through gradient."""

    def __init__(self, params, base, bits=4, start=0):
        self.params, self.base, self.bits, self.start, self.t = params, base, bits, start, 0

    def step(self, params):
        active = self.t >= self.start
        self.t += 1
        saved = [p.detach().clone() for p in params]
        if active:
            with torch.no_grad():
                for p in params:
                    if p.dim() >= 2:
                        levels = 2 ** (self.bits - 1)
                        s = p.abs().max() / (levels - 1)
                        p.copy_(torch.clamp(torch.round(p / s), -levels, levels - 1) * s)
        loss, g = grads_at(params)
        with torch.no_grad():
            for p, s in zip(params, saved):
                p.copy_(s)
        for p, gg in zip(params, g):
            p.grad = gg
        self.base.step()
        return loss


class SAMmRunner(Custom):
    """SAM with m-sharpness: per micro-batch perturbation (google-research/sam), averaged."""

    def __init__(self, params, base, rho=0.05, m=2):
        self.params, self.base, self.rho, self.m = params, base, rho, m

    def step(self, params):
        k = -(-N_ROWS // self.m)
        acc = [torch.zeros_like(p) for p in params]
        loss = 0.0
        for i in range(k):
            lo, hi = part(i, k)
            wgt = (hi - lo) / N_ROWS
            l, g = grads_at(params, lo, hi)
            loss += wgt * l
            n = torch.sqrt(sum((x**2).sum() for x in g))
            e = [x * (self.rho / (n + 1e-12)) for x in g]
            with torch.no_grad():
                for p, s in zip(params, e):
                    p.add_(s)
            _, g2 = grads_at(params, lo, hi)
            with torch.no_grad():
                for p, s in zip(params, e):
                    p.sub_(s)
            acc = [a + wgt * x for a, x in zip(acc, g2)]
        for p, g in zip(params, acc):
            p.grad = g
        self.base.step()
        return loss


CONFIGS = [
    ("sgd", {"lr": 0.1}, lambda p: torch.optim.SGD(p, lr=0.1)),
    ("sgd", {"lr": 0.05, "momentum": 0.9}, lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9)),
    ("sgd", {"lr": 0.05, "momentum": 0.9, "nesterov": True}, lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True)),
    ("sgd", {"lr": 0.1, "momentum": 0.5, "weight_decay": 0.1}, lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.5, weight_decay=0.1)),
    ("adam", {"lr": 0.05}, lambda p: torch.optim.Adam(p, lr=0.05)),
    ("adam", {"lr": 0.05, "weight_decay": 0.1, "beta2": 0.99}, lambda p: torch.optim.Adam(p, lr=0.05, weight_decay=0.1, betas=(0.9, 0.99))),
    ("adamw", {"lr": 0.05}, lambda p: torch.optim.AdamW(p, lr=0.05)),
    ("adamw", {"lr": 0.05, "weight_decay": 1.0, "beta1": 0.8, "eps": 1e-6}, lambda p: torch.optim.AdamW(p, lr=0.05, weight_decay=1.0, betas=(0.8, 0.999), eps=1e-6)),
    # S059's Algorithm 2 (decay η_t·λ, not lr·λ) is torch's AdamW with weight_decay = λ / lr.
    ("adamw", {"lr": 0.05, "weight_decay": 0.04, "weight_decay_mode": "paper"}, lambda p: torch.optim.AdamW(p, lr=0.05, weight_decay=0.04 / 0.05)),
    ("adam_l2", {"lr": 0.05}, lambda p: torch.optim.Adam(p, lr=0.05, weight_decay=0.01)),
    ("sam", {"rho": 0.05, "base": {"name": "sgd", "lr": 0.05, "momentum": 0.9}},
     lambda p: SAM(p, torch.optim.SGD, rho=0.05, lr=0.05, momentum=0.9)),
    ("sam", {"rho": 0.5, "adaptive": True, "base": {"name": "adamw", "lr": 0.05}},
     lambda p: SAM(p, torch.optim.AdamW, rho=0.5, adaptive=True, lr=0.05)),
    ("perp_grad", {"base": {"name": "adamw", "lr": 0.05, "weight_decay": 0.0}},
     lambda p: OrthoGrad(p, torch.optim.AdamW, lr=0.05, weight_decay=0.0)),
    ("perp_grad", {"base": {"name": "sgd", "lr": 0.05, "momentum": 0.8}},
     lambda p: OrthoGrad(p, torch.optim.SGD, lr=0.05, momentum=0.8)),
    ("grams", {"lr": 0.05}, lambda p: Grams(p, lr=0.05)),
    ("grams", {"lr": 0.05, "beta1": 0.8, "weight_decay": 0.1, "eps": 1e-8}, lambda p: Grams(p, lr=0.05, betas=(0.8, 0.999), weight_decay=0.1, eps=1e-8)),
    ("momo", {"lr": 0.5}, lambda p: Momo(p, lr=0.5)),
    ("momo", {"lr": 0.5, "weight_decay": 0.1, "bias_correction": True, "beta": 0.8}, lambda p: Momo(p, lr=0.5, weight_decay=0.1, bias_correction=True, beta=0.8)),
    ("momo", {"lr": 1.0, "use_fstar": True}, lambda p: Momo(p, lr=1.0, use_fstar=True)),
    ("normalized_gd", {"lr": 0.1}, lambda p: NormalizedGD(p, lr=0.1)),
    ("normalized_gd", {"lr": 0.05, "mode": "loss"}, lambda p: NormalizedGD(p, lr=0.05, mode="loss")),
    ("gam", {"rho": 0.02, "norm_rho": 0.2, "gamma": 0.03, "base": {"name": "sgd", "lr": 0.05, "momentum": 0.9}},
     lambda p: GAMRunner(p, torch.optim.SGD(p, lr=0.05, momentum=0.9), rho=0.02, norm_rho=0.2, gamma=0.03)),
    ("gam", {"rho": 0.1, "norm_rho": 0.5, "beta2": -0.5, "gamma": 0.3, "base": {"name": "adamw", "lr": 0.05}},
     lambda p: GAMRunner(p, torch.optim.AdamW(p, lr=0.05), rho=0.1, norm_rho=0.5, beta2=-0.5, gamma=0.3)),
    ("asgd", {"lr": 0.01}, lambda p: AccSGD(p, lr=0.01)),
    ("asgd", {"lr": 0.02, "kappa": 100.0, "xi": 5.0, "small_const": 0.5, "weight_decay": 0.1},
     lambda p: AccSGD(p, lr=0.02, kappa=100.0, xi=5.0, smallConst=0.5, weight_decay=0.1)),
    ("momo_adam", {"lr": 0.05}, lambda p: MomoAdam(p, lr=0.05)),
    ("momo_adam", {"lr": 0.05, "weight_decay": 0.1, "beta1": 0.8, "use_fstar": True},
     lambda p: MomoAdam(p, lr=0.05, weight_decay=0.1, betas=(0.8, 0.999), use_fstar=True)),
    ("momo_adam", {"lr": 0.05, "weight_decay": 0.1, "divide": False}, lambda p: MomoAdam(p, lr=0.05, weight_decay=0.1, divide=False)),
    ("amp", {"epsilon": 0.1, "base": {"name": "sgd", "lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 1e-4}},
     lambda p: AMPRunner(p, torch.optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-4), epsilon=0.1)),
    ("amp", {"epsilon": 0.3, "inner_lr": 0.5, "inner_iter": 3, "base": {"name": "adamw", "lr": 0.05}},
     lambda p: AMPRunner(p, torch.optim.AdamW(p, lr=0.05), epsilon=0.3, inner_lr=0.5, inner_iter=3)),
    ("awp", {"gamma": 0.05, "base": {"name": "sgd", "lr": 0.05, "momentum": 0.9, "weight_decay": 5e-4}},
     lambda p: AWPRunner(p, torch.optim.SGD(p, lr=0.05, momentum=0.9, weight_decay=5e-4), gamma=0.05)),
    ("coherent_gd", {"estimator": "m3", "base": {"name": "sgd", "lr": 0.1}},
     lambda p: CoherentRunner(p, torch.optim.SGD(p, lr=0.1), "m3")),
    ("coherent_gd", {"estimator": "winsorized", "c": 20.0, "base": {"name": "sgd", "lr": 0.1, "momentum": 0.5}},
     lambda p: CoherentRunner(p, torch.optim.SGD(p, lr=0.1, momentum=0.5), "winsorized", 20.0)),
    ("gsnr_vrgd", {"parts": 4, "base": {"name": "sgd", "lr": 0.05}}, lambda p: GSNRRunner(p, torch.optim.SGD(p, lr=0.05))),
    ("fad", {"rho": 0.05, "r": 0.02, "alpha": 0.7, "beta": 0.5, "base": {"name": "sgd", "lr": 0.05, "momentum": 0.9}},
     lambda p: FADRunner(p, torch.optim.SGD(p, lr=0.05, momentum=0.9), rho=0.05, r=0.02, alpha=0.7, beta=0.5)),
    ("qat", {"bits": 3, "start_fraction": 0.25, "base": {"name": "adamw", "lr": 0.05}},
     lambda p: QATRunner(p, torch.optim.AdamW(p, lr=0.05), bits=3, start=5)),
    ("sam", {"rho": 0.1, "m": 2, "base": {"name": "sgd", "lr": 0.05}}, lambda p: SAMmRunner(p, torch.optim.SGD(p, lr=0.05), rho=0.1, m=2)),
]


def main():
    cases = []
    for name, params, make in CONFIGS:
        w = W0.clone().requires_grad_(True)
        b = B0.clone().requires_grad_(True)
        opt = make([w, b])
        traj = []
        for _ in range(STEPS):
            if isinstance(opt, GAMRunner):
                loss_value = gam_step([w, b], lambda: ((X @ w.T + b - Y) ** 2).mean(), opt.base, **opt.kw)
                traj.append({"w": w.detach().tolist(), "b": b.detach().tolist(), "loss_before": loss_value})
                continue
            if isinstance(opt, Custom):
                if isinstance(opt, AWPRunner):
                    opt.before([w, b])
                loss_value = opt.step([w, b])
                traj.append({"w": w.detach().tolist(), "b": b.detach().tolist(), "loss_before": float(loss_value)})
                continue
            opt.zero_grad()
            loss = ((X @ w.T + b - Y) ** 2).mean()
            loss.backward()
            if isinstance(opt, (Momo, MomoAdam, NormalizedGD)):
                opt.step(loss)
                traj.append({"w": w.detach().tolist(), "b": b.detach().tolist(), "loss_before": loss.item()})
                continue
            if isinstance(opt, SAM):
                opt.first_step()
                opt.zero_grad()
                ((X @ w.T + b - Y) ** 2).mean().backward()
                opt.second_step()
            else:
                opt.step()
            traj.append({"w": w.detach().tolist(), "b": b.detach().tolist(), "loss_before": loss.item()})
        cases.append({"optimizer": name, "params": params, "trajectory": traj})
    out = {"generator": "scripts/make_optim_fixtures.py", "torch": torch.__version__, "dtype": "float64",
           "problem": {"x": X.tolist(), "y": Y.tolist(), "w0": W0.tolist(), "b0": B0.tolist()}, "cases": cases}
    path = pathlib.Path("tests/fixtures/optimizers.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {path}: {len(cases)} trajectories x {STEPS} steps")


if __name__ == "__main__":
    main()
