#!/usr/bin/env bash
# Run .ci/run N times, each on a fresh clone of this repository's HEAD, one line per run
# (exit code, seconds, commit, pytest's summary, load) in ci_repeat.log: the check behind
# "the suite passes N of N times on a clean clone".   Usage: scripts/ci_repeat.sh [N] [LOG]
set -u
n=${1:-3}
log=${2:-$PWD/ci_repeat.log}
repo=$(git rev-parse --show-toplevel)
work=$(mktemp -d)
for i in $(seq 1 "$n"); do
  rm -rf "$work/clone" && git clone -q "$repo" "$work/clone"
  start=$(date +%s)
  (cd "$work/clone" && CI=true bash .ci/run > "$work/run_$i.txt" 2>&1)
  rc=$?
  summary=$(grep -E '^=+ .*(passed|failed)' "$work/run_$i.txt" | tail -1)
  echo "run $i: rc=$rc $(( $(date +%s) - start )) s $(git -C "$work/clone" rev-parse --short HEAD) $summary load: $(cut -d' ' -f1-3 /proc/loadavg) (output: $work/run_$i.txt)" | tee -a "$log"
done
