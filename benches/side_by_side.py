#!/usr/bin/env python3
"""Run `lossbench bench` and its PyTorch twin with the same cases and threads, one after the
other on the same machine, and print the ratio lossbench / PyTorch of ms per step.

    python3 benches/side_by_side.py --threads 1 --threads 2 [--lossbench target/release/lossbench]
"""
import argparse
import json
import subprocess
import sys

ap = argparse.ArgumentParser()
ap.add_argument("--threads", type=int, action="append")
ap.add_argument("--case", action="append")
ap.add_argument("--lossbench", default="target/release/lossbench")
args = ap.parse_args()
cases = args.case or ["tiny", "digits", "mnist", "focal", "sam", "metric", "ranking"]
print("| case | threads | lossbench ms/step | PyTorch ms/step | ratio |")
print("|---|---|---|---|---|")
for t in args.threads or [1]:
    case_args = [a for c in cases for a in ("--case", c)]
    ours = subprocess.run([args.lossbench, "bench", "--threads", str(t), "--format", "json", *case_args], capture_output=True, text=True, check=True)
    theirs = subprocess.run([sys.executable, "benches/torch_twin.py", "--threads", str(t), *case_args], capture_output=True, text=True, check=True)
    a = {r["case"]: r for r in (json.loads(l) for l in ours.stdout.splitlines() if l.strip())}
    b = {r["case"]: r for r in (json.loads(l) for l in theirs.stdout.splitlines() if l.strip())}
    for c in cases:
        if c in a and c in b:
            print(f"| {c} | {t} | {a[c]['ms_per_step']:.3f} | {b[c]['ms_per_step']:.3f} | {a[c]['ms_per_step'] / b[c]['ms_per_step']:.2f} |")
