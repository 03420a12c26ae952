#!/usr/bin/env python3
"""Reference trajectories of lossbench's optimizers, from torch.optim in float64.

Problem: least squares f(W, b) = mean((X W^T + b - Y)^2) with X [8, 3], Y [8, 2], W [2, 3],
b [2]; fixed data and start. For each optimizer configuration, 20 steps; the parameters after
every step are written to tests/fixtures/optimizers.json, which tests/optim_fixtures.rs
replays through lossbench's optimizers (f64, relative tolerance 1e-5). Run from the repo root:

    .venv/bin/python scripts/make_optim_fixtures.py
"""
import json
import pathlib

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


CONFIGS = [
    ("sgd", {"lr": 0.1}, lambda p: torch.optim.SGD(p, lr=0.1)),
    ("sgd", {"lr": 0.05, "momentum": 0.9}, lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9)),
    ("sgd", {"lr": 0.05, "momentum": 0.9, "nesterov": True}, lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True)),
    ("sgd", {"lr": 0.1, "momentum": 0.5, "weight_decay": 0.1}, lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.5, weight_decay=0.1)),
    ("adam", {"lr": 0.05}, lambda p: torch.optim.Adam(p, lr=0.05)),
    ("adam", {"lr": 0.05, "weight_decay": 0.1, "beta2": 0.99}, lambda p: torch.optim.Adam(p, lr=0.05, weight_decay=0.1, betas=(0.9, 0.99))),
    ("adamw", {"lr": 0.05}, lambda p: torch.optim.AdamW(p, lr=0.05)),
    ("adamw", {"lr": 0.05, "weight_decay": 1.0, "beta1": 0.8, "eps": 1e-6}, lambda p: torch.optim.AdamW(p, lr=0.05, weight_decay=1.0, betas=(0.8, 0.999), eps=1e-6)),
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
            opt.zero_grad()
            loss = ((X @ w.T + b - Y) ** 2).mean()
            loss.backward()
            if isinstance(opt, (Momo, NormalizedGD)):
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
