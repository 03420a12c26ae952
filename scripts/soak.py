"""Kill -9 soak of a sweep, and concurrent processes on one results folder.

    python3 scripts/soak.py [--bin target/release/lossbench] [--kills 50] [--trials 10]

1. Trains a 48-run recipe uninterrupted (the reference).
2. Starts the same sweep with --jobs 2 and kills it with SIGKILL at a random moment, again and
   again (--kills times, fresh processes resuming the same folder), then lets it finish. After
   every kill it checks that every folder lossbench would count as finished (run.json whose
   digest matches metrics.csv) holds exactly the reference bytes, and that a finished run is
   never trained again (its run.json keeps its bytes through every later resume).
3. Runs two `train` processes at once on a fresh folder, --trials times: together they must
   train each run exactly once, and every metrics.csv must equal the reference.

Prints the figures and exits non-zero on any violation. Needs only Python's standard library.
"""

import argparse
import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time

RECIPE = """name: soak
seeds: [0, 1, 2, 3, 4, 5]
train: {epochs: 40, batch_size: 32}
tasks:
  - name: digits
    dataset: {name: digits}
    model: {name: mlp, hidden: [64]}
  - name: moons
    dataset: {name: two_moons, n: 400}
    model: {name: mlp, hidden: [32, 32]}
losses: [cross_entropy, focal, {name: cross_entropy, label: ls, smoothing: 0.1}, gce]
"""
RUNS = 48


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def run_dirs(root):
    """Every run folder (…/seed-N) under root."""
    out = []
    for dirpath, dirnames, _ in os.walk(root):
        if os.path.basename(dirpath).startswith("seed-"):
            out.append(os.path.relpath(dirpath, root))
            dirnames.clear()
    return sorted(out)


def finished(root, rel):
    """The run.json bytes when the folder holds a run lossbench counts as finished, else None."""
    d = os.path.join(root, rel)
    try:
        with open(os.path.join(d, "run.json"), "rb") as f:
            raw = f.read()
        record = json.loads(raw)
        digest = (record.get("metrics") or {}).get("sha256")
        if digest and digest == sha256(os.path.join(d, "metrics.csv")) and record["status"]["state"] != "failed":
            return raw
    except (OSError, ValueError, KeyError):
        pass
    return None


def train(binary, recipe, out, jobs=2, quiet=True, **kw):
    quiet = ["--quiet"] if quiet else []
    return subprocess.Popen([binary, "train", recipe, "--out", out, "--jobs", str(jobs)] + quiet, stdout=subprocess.DEVNULL, **kw)


def trained_count(stderr_text):
    for line in stderr_text.splitlines():
        if " trained (" in line:
            return int(line.split(" runs: ")[1].split(" ")[0])
    raise RuntimeError("no summary line in:\n" + stderr_text)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.path.join(os.environ.get("CARGO_TARGET_DIR", "target"), "release", "lossbench"))
    ap.add_argument("--kills", type=int, default=50)
    ap.add_argument("--trials", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    random.seed(args.seed)
    work = tempfile.mkdtemp(prefix="lossbench-soak-")
    recipe = os.path.join(work, "soak.yaml")
    with open(recipe, "w") as f:
        f.write(RECIPE)
    problems = []

    t = time.time()
    ref = os.path.join(work, "ref")
    subprocess.run([args.bin, "train", recipe, "--out", ref, "--jobs", "2", "--quiet"], check=True, stdout=subprocess.DEVNULL)
    sweep_s = time.time() - t
    reference = {rel: sha256(os.path.join(ref, rel, "metrics.csv")) for rel in run_dirs(ref)}
    assert len(reference) == RUNS, f"reference has {len(reference)} runs"
    print(f"reference: {RUNS} runs in {sweep_s:.1f} s")

    # 2. Kills.
    out = os.path.join(work, "killed")
    seen = {}  # rel -> run.json bytes when first seen finished
    kills = half_written_seen = interrupted = 0
    while kills < args.kills:
        p = train(args.bin, recipe, out)
        time.sleep(random.uniform(0.02, sweep_s * 0.6))
        if p.poll() is None:
            p.send_signal(signal.SIGKILL)
            kills += 1
        p.wait()
        for rel in run_dirs(out):
            raw = finished(out, rel)
            if raw is None:
                interrupted += 1
                if os.path.exists(os.path.join(out, rel, "run.json")) or os.path.exists(os.path.join(out, rel, "metrics.csv")):
                    half_written_seen += 1
                if rel in seen:
                    problems.append(f"{rel}: finished before, not finished after a resume (lost)")
                continue
            if sha256(os.path.join(out, rel, "metrics.csv")) != reference[rel]:
                problems.append(f"{rel}: counted as finished with metrics differing from the reference")
            if rel in seen and seen[rel] != raw:
                problems.append(f"{rel}: trained twice (run.json rewritten after it was finished)")
            seen.setdefault(rel, raw)
        if len(seen) == RUNS:
            # Everything finished: start over so every kill lands in a sweep in progress.
            subprocess.run(["rm", "-rf", out], check=True)
            seen.clear()
    p = train(args.bin, recipe, out, stderr=subprocess.PIPE, text=True)
    _, err = p.communicate()
    if p.returncode != 0:
        problems.append(f"final resume failed: {err}")
    lost = [rel for rel in reference if finished(out, rel) is None]
    differing = [rel for rel in reference if finished(out, rel) is not None and sha256(os.path.join(out, rel, "metrics.csv")) != reference[rel]]
    temps = [os.path.join(dp, f) for dp, _, fs in os.walk(out) for f in fs if ".tmp-" in f]
    problems += [f"lost: {r}" for r in lost] + [f"differs: {r}" for r in differing] + [f"temporary file left: {t}" for t in temps]
    print(f"kills: {kills} SIGKILLs; runs caught unfinished after a kill: {interrupted}, of which with a metrics.csv "
          f"or run.json already written: {half_written_seen} (none counted as finished); "
          f"after the final resume: {RUNS - len(lost)}/{RUNS} finished, {len(differing)} differing from the reference, {len(temps)} temporary files")

    # 3. Two processes at once.
    for trial in range(args.trials):
        shared = os.path.join(work, f"concurrent-{trial}")
        a = train(args.bin, recipe, shared, jobs=1 + trial % 2, quiet=False, stderr=subprocess.PIPE, text=True)
        time.sleep(random.uniform(0.0, 0.3))
        b = train(args.bin, recipe, shared, jobs=1 + (trial + 1) % 2, quiet=False, stderr=subprocess.PIPE, text=True)
        ea, eb = a.communicate()[1], b.communicate()[1]
        if a.returncode or b.returncode:
            problems.append(f"trial {trial}: exit codes {a.returncode}, {b.returncode}: {ea}{eb}")
            continue
        ta, tb = trained_count(ea), trained_count(eb)
        bad = [rel for rel in reference if finished(shared, rel) is None or sha256(os.path.join(shared, rel, "metrics.csv")) != reference[rel]]
        if ta + tb != RUNS:
            problems.append(f"trial {trial}: the two processes trained {ta} + {tb} runs of {RUNS}")
        problems += [f"trial {trial}: {rel} missing or differing" for rel in bad]
        print(f"concurrent trial {trial}: trained {ta} + {tb} = {ta + tb} of {RUNS}; {RUNS - len(bad)}/{RUNS} identical to the reference")

    subprocess.run(["rm", "-rf", work])
    if problems:
        print(f"{len(problems)} problems:")
        for p in problems[:50]:
            print("  " + p)
        sys.exit(1)
    print("soak passed: 0 runs lost, 0 trained twice, 0 half-written files counted as finished, every metrics.csv identical")


if __name__ == "__main__":
    main()
