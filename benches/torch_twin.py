#!/usr/bin/env python3
"""PyTorch twin of `lossbench bench`: the same MLP training steps with the same shapes, init
scheme (nn.Linear's default U(±1/sqrt(fan_in))), loss, optimizer hyper-parameters, thread count
and timing protocol, printing one JSON object per case with the same keys.

    python3 benches/torch_twin.py --threads 1            # all MLP cases
    python3 benches/torch_twin.py --threads 2 --case digits --case mnist

Step = forward, per-example loss, mean, backward, optimizer step, loss.item() (lossbench reads
the loss back to the host every step too). After `warmup` steps, `repeats` blocks of `steps`
steps are timed and the median block's time per step is reported. The `sweep` case of
lossbench (a whole recipe with evaluation and file output) has no twin here. The `metric` case
needs pytorch-metric-learning (scripts/requirements.txt). The `ranking` case scores 64 lists of
30 items with a per-item 16-64-1 MLP and trains it with allRank's neuralNDCG (its code, as
transcribed in scripts/ranking_references.py), grades (7q + 3i) mod 5.
"""
import argparse
import json
import resource
import statistics
import time

import torch
import torch.nn.functional as F

CASES = {
    "tiny": ([2, 32, 2], 64, "cross_entropy", "adamw"),
    "digits": ([64, 256, 256, 10], 128, "cross_entropy", "adamw"),
    "mnist": ([784, 512, 512, 10], 256, "cross_entropy", "adamw"),
    "focal": ([64, 256, 256, 10], 128, "focal", "adamw"),
    "sam": ([64, 256, 256, 10], 128, "cross_entropy", "sam"),
    "metric": ([64, 128, 32], 64, "triplet", "adamw"),
    "ranking": ([16, 64, 1], 64, "neural_ndcg", "adam"),
}
LIST_ITEMS = 30


def mlp(widths):
    layers = []
    for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
        layers.append(torch.nn.Linear(a, b))
        if i < len(widths) - 2:
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers)


def focal(z, y, gamma=2.0):
    logp = F.log_softmax(z, dim=1).gather(1, y[:, None]).squeeze(1)
    return -((1 - logp.exp()) ** gamma) * logp


class SAM(torch.optim.Optimizer):
    """davda54/sam, as in scripts/make_optim_fixtures.py."""

    def __init__(self, params, base, rho=0.05, **kw):
        super().__init__(params, dict(rho=rho, **kw))
        self.base = base(self.param_groups, **kw)
        self.param_groups = self.base.param_groups

    @torch.no_grad()
    def first_step(self):
        norm = torch.norm(torch.stack([p.grad.norm(2) for g in self.param_groups for p in g["params"] if p.grad is not None]), 2)
        for g in self.param_groups:
            scale = g["rho"] / (norm + 1e-12)
            for p in g["params"]:
                if p.grad is None:
                    continue
                self.state[p]["old"] = p.data.clone()
                p.add_(p.grad * scale)

    @torch.no_grad()
    def second_step(self):
        for g in self.param_groups:
            for p in g["params"]:
                if p.grad is not None:
                    p.data = self.state[p]["old"]
        self.base.step()


def run(name, threads, warmup, steps, repeats):
    widths, batch, loss_name, opt_name = CASES[name]
    torch.manual_seed(0)
    model = mlp(widths)
    x = torch.randn(batch, widths[0])
    y = torch.arange(batch) % widths[-1]
    if loss_name == "neural_ndcg":
        import pathlib
        import sys

        sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "scripts"))
        import ranking_references as refs

        x = torch.randn(batch, LIST_ITEMS, widths[0])
        q, i = torch.meshgrid(torch.arange(batch), torch.arange(LIST_ITEMS), indexing="ij")
        relevance = ((7 * q + 3 * i) % 5).float()
        scorer = model
        model = lambda xs: scorer(xs).squeeze(-1)
        loss_fn = lambda s: refs.neuralNDCG(s, relevance)
    elif loss_name == "cross_entropy":
        loss_fn = lambda z: F.cross_entropy(z, y, reduction="none")
    elif loss_name == "focal":
        loss_fn = lambda z: focal(z, y)
    else:
        # pytorch-metric-learning's TripletMarginLoss (normalised embeddings, all triplets,
        # AvgNonZeroReducer) on P×K = 8 classes × 8 consecutive rows; it returns the batch value.
        from pytorch_metric_learning.losses import TripletMarginLoss

        y = torch.arange(batch) // 8
        triplet = TripletMarginLoss(margin=0.05)
        loss_fn = lambda z: triplet(z, y)
    params = scorer.parameters() if loss_name == "neural_ndcg" else model.parameters()
    if opt_name == "sam":
        opt = SAM(model.parameters(), torch.optim.SGD, rho=0.05, lr=0.01, momentum=0.9)
    elif opt_name == "adam":
        opt = torch.optim.Adam(params, lr=1e-3)
    else:
        opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x)).mean()
        loss.backward()
        if opt_name == "sam":
            opt.first_step()
            opt.zero_grad(set_to_none=True)
            loss_fn(model(x)).mean().backward()
            opt.second_step()
        else:
            opt.step()
        return loss.item()

    for _ in range(warmup):
        step()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        for _ in range(steps):
            step()
        times.append((time.perf_counter() - t) / steps)
    s = statistics.median(times)
    macs = sum(a * b for a, b in zip(widths[:-1], widths[1:])) * (LIST_ITEMS if loss_name == "neural_ndcg" else 1)
    passes = 2 if opt_name == "sam" else 1
    gflops = 6 * batch * macs * passes / s / 1e9
    return {
        "case": name,
        "threads": threads,
        "ms_per_step": s * 1e3,
        "steps_per_s": 1 / s,
        "gflops": gflops,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "framework": f"torch {torch.__version__}",
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--case", action="append", choices=sorted(CASES))
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    for name in args.case or list(CASES):
        print(json.dumps(run(name, args.threads, args.warmup, args.steps, args.repeats)), flush=True)


if __name__ == "__main__":
    main()
