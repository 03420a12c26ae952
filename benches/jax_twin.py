#!/usr/bin/env python3
"""JAX twin of `lossbench bench` for the cross-entropy + AdamW cases (tiny, digits, mnist):
the same shapes, init scheme (U(±1/sqrt(fan_in)) like nn.Linear), optax.adamw with lr 1e-3 and
weight decay 0.01, one jit-compiled step (forward, loss, grad, update) and the loss read back
to the host each step, timed as lossbench does (20 warm-up steps, 7 blocks of 20, median).

    taskset -c 0 python3 benches/jax_twin.py --threads 1
    python3 benches/jax_twin.py --threads 2

Threads: XLA_FLAGS (--xla_cpu_multi_thread_eigen, intra_op_parallelism_threads) is set before
jax is imported, but XLA's CPU client still ran a second thread here (user time above wall
time), so pin the process with `taskset` for a one-thread figure.
"""
import argparse
import json
import os
import statistics
import time

CASES = {"tiny": ([2, 32, 2], 64), "digits": ([64, 256, 256, 10], 128), "mnist": ([784, 512, 512, 10], 256)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--case", action="append", choices=sorted(CASES))
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args()
    os.environ["XLA_FLAGS"] = f"--xla_cpu_multi_thread_eigen={'true' if args.threads > 1 else 'false'} intra_op_parallelism_threads={args.threads}"
    import jax
    import jax.numpy as jnp
    import optax

    for name in args.case or list(CASES):
        widths, batch = CASES[name]
        key = jax.random.PRNGKey(0)
        params = []
        for a, b in zip(widths[:-1], widths[1:]):
            key, k1, k2 = jax.random.split(key, 3)
            bound = 1 / a**0.5
            params.append((jax.random.uniform(k1, (a, b), minval=-bound, maxval=bound), jax.random.uniform(k2, (b,), minval=-bound, maxval=bound)))
        x = jax.random.normal(key, (batch, widths[0]))
        y = jnp.arange(batch) % widths[-1]

        def loss_fn(p):
            h = x
            for i, (w, b) in enumerate(p):
                h = h @ w + b
                if i < len(p) - 1:
                    h = jax.nn.relu(h)
            return optax.softmax_cross_entropy_with_integer_labels(h, y).mean()

        opt = optax.adamw(1e-3, weight_decay=0.01)
        state = opt.init(params)

        @jax.jit
        def step(p, s):
            loss, g = jax.value_and_grad(loss_fn)(p)
            u, s = opt.update(g, s, p)
            return optax.apply_updates(p, u), s, loss

        for _ in range(args.warmup):
            params, state, loss = step(params, state)
            float(loss)
        times = []
        for _ in range(args.repeats):
            t = time.perf_counter()
            for _ in range(args.steps):
                params, state, loss = step(params, state)
                float(loss)
            times.append((time.perf_counter() - t) / args.steps)
        s = statistics.median(times)
        print(json.dumps({"case": name, "threads": args.threads, "ms_per_step": s * 1e3, "steps_per_s": 1 / s, "framework": f"jax {jax.__version__}"}), flush=True)


if __name__ == "__main__":
    main()
