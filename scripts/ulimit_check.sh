#!/usr/bin/env bash
# The largest plan and the largest dataset `check` accepts train, or fail cleanly, inside an
# address-space limit (default 4 GiB, as `ulimit -v`): nothing aborts.
#
#   scripts/ulimit_check.sh [LOSSBENCH_BINARY]      # LIMIT_KB=4194304 PLAN_SECONDS=60 RUNS=100000
#
# 1. a 10^6-run plan (the run limit): `check` accepts it; `train` runs PLAN_SECONDS and is then
#    stopped (it would take hours), having trained without aborting;
# 2. a RUNS-run plan trained to the end, final comparison of all of them included;
# 3. the largest CSV near the memory budget (2 000 000 rows × 32 features): `check` accepts it
#    and `train` finishes; 10 % more rows are refused by `check`, naming the figures.
# Prints exit codes, runs trained, wall times and peak resident memory.
set -uo pipefail
cd "$(dirname "$0")/.."
bin="$(realpath "${1:-${CARGO_TARGET_DIR:-target}/release/lossbench}")"
limit="${LIMIT_KB:-4194304}"
seconds="${PLAN_SECONDS:-60}"
runs="${RUNS:-100000}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"

limited() { (ulimit -v "$limit"; /usr/bin/time -f "  wall %e s, peak RSS %M KiB" "$@"); }
finished() { find "$1" -name run.json 2>/dev/null | wc -l; }
ranges() { local n=$1 out="" i; for ((i = 0; i < n; i += 100000)); do out+="$i-$((i + 99999 < n - 1 ? i + 99999 : n - 1)),"; done; echo "${out%,}"; }

cat > plan.yaml <<'EOF'
name: plan
train: {epochs: 1, batch_size: 32}
tasks:
  - name: blobs
    dataset: {name: blobs, n: 60, classes: 3, dim: 4}
    model: {name: linear}
losses: [cross_entropy]
EOF

echo "ulimit -v $limit KiB"
echo "1. 10^6 runs"
limited "$bin" check plan.yaml --seeds "$(ranges 1000000)" | grep -E "runs:|memory:"
echo "  check exit ${PIPESTATUS[0]}"
(ulimit -v "$limit"; exec "$bin" train plan.yaml --seeds "$(ranges 1000000)" --out million --jobs 2 --quiet > /dev/null 2> million.err) &
pid=$!
sleep "$seconds"
if kill -0 "$pid" 2>/dev/null; then
    peak=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
    kill -TERM "$pid"; wait "$pid"
    echo "  train still running after ${seconds} s (stopped): $(finished million) runs finished, peak RSS ${peak} KiB"
else
    wait "$pid"; echo "  train ended early with exit $?: $(cat million.err)"
fi

echo "2. $runs runs to the end"
limited "$bin" train plan.yaml --seeds "$(ranges "$runs")" --out many --jobs 2 --quiet > many.out
echo "  train exit $?, $(finished many) runs finished, table rows: $(grep -c '^| cross_entropy' many.out)"

echo "3. the largest dataset"
python3 - <<'EOF'
for name, rows in [("near.csv", 2_000_000), ("over.csv", 2_200_000)]:
    cells = [str(i % 10) for i in range(997)]
    with open(name, "w") as f:
        f.write(",".join(f"x{j}" for j in range(32)) + ",y\n")
        for r in range(rows):
            k = 7 * r
            f.write(",".join(cells[(k + j) % 997] for j in range(32)) + f",{r % 10}\n")
EOF
for csv in near over; do
    printf 'tasks:\n  - name: big\n    dataset: {name: csv, path: %s.csv, target: y}\n    model: {name: mlp, hidden: [64]}\nlosses: [cross_entropy]\ntrain: {epochs: 1, batch_size: 256}\n' "$csv" > "$csv.yaml"
    echo "  $csv.csv ($(du -h "$csv.csv" | cut -f1)):"
    limited "$bin" check "$csv.yaml" 2>&1 | grep -E "memory:|error:|wall" | cut -c1-400
    limited "$bin" train "$csv.yaml" --out "$csv-out" --quiet > /dev/null 2> "$csv.err"
    echo "  train exit $? ($(grep -o 'needs about [^,]*' "$csv.err" | head -1))"; tail -1 "$csv.err"
done
