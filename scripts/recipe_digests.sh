#!/usr/bin/env bash
# The refactor invariant: train every shipped recipe (claim files included) briefly and print the SHA-256 of every
# metrics.csv it writes, one line per file (`<recipe>/<task>/<loss>/<optimizer>/seed-<n> <sha256>`),
# sorted. Run it before and after a change that must not move any number, and compare.
#
#   scripts/recipe_digests.sh [LOSSBENCH_BINARY] > tests/fixtures/recipe-digests-$(scripts/recipe_digests.sh --isa).txt
#
# Float rounding depends on the matrix kernels the CPU runs (AVX-512 or AVX2), so digests are
# kept per instruction set; `--isa` prints this machine's. EPOCHS (default 3) shortens every
# recipe, grokking included, and claim files train their first two seeds only, so the whole
# set trains in about a minute; EPOCHS=full trains each recipe as written (hours: the claims).
set -euo pipefail
cd "$(dirname "$0")/.."

isa() {
    if grep -q '\bavx512f\b' /proc/cpuinfo 2>/dev/null; then echo avx512; else echo avx2; fi
}
if [[ "${1:-}" == "--isa" ]]; then
    isa
    exit 0
fi

bin="${1:-${CARGO_TARGET_DIR:-target}/release/lossbench}"
epochs=(--epochs "${EPOCHS:-3}")
if [[ "${EPOCHS:-}" == "full" ]]; then epochs=(); fi
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
for recipe in recipes/*.yaml recipes/claims/*.yaml; do
    name="$(basename "$recipe" .yaml)"
    seeds=()
    if [[ "$recipe" == recipes/claims/* && "${EPOCHS:-}" != "full" ]]; then seeds=(--seeds 0,1); fi
    RAYON_NUM_THREADS=1 "$bin" train "$recipe" "${epochs[@]}" "${seeds[@]}" --jobs 2 --quiet --out "$out/$name" > /dev/null
done
cd "$out"
find . -name metrics.csv | sed 's|^\./||' | sort | while read -r f; do
    printf '%s %s\n' "$(dirname "$f")" "$(sha256sum "$f" | cut -d' ' -f1)"
done
