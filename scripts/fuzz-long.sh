#!/usr/bin/env bash
# Runs every cargo-fuzz target (or the ones named) for SECONDS each, JOBS at a time, and prints one
# summary line per target: executions, final coverage, corpus size and whether it crashed.
#
#   scripts/fuzz-long.sh [-s SECONDS] [-j JOBS] [TARGET...]      (defaults: 3600 s, 1 job)
#
# Safe to leave in the background: every run is bounded by `timeout`, each target's log goes to
# fuzz/logs/<target>.log, crashes to fuzz/artifacts/<target>/, and Ctrl-C / SIGTERM stops all runs.
# Seeds come from fuzz/seed_corpus.py (run first when a corpus is missing). Needs cargo-fuzz
# (`cargo install cargo-fuzz`); RUSTC_BOOTSTRAP=1 lets it use the stable toolchain.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

seconds=3600
jobs=1
while getopts "s:j:" opt; do
  case $opt in
    s) seconds=$OPTARG ;;
    j) jobs=$OPTARG ;;
    *) sed -n '2,10p' "$0"; exit 2 ;;
  esac
done
shift $((OPTIND - 1))

export RUSTC_BOOTSTRAP=1
command -v cargo-fuzz >/dev/null || { echo "fuzz-long: cargo-fuzz is not installed (cargo install cargo-fuzz)" >&2; exit 1; }
targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(cargo fuzz list)
[ -d corpus ] || python3 seed_corpus.py
cargo fuzz build -s none >/dev/null 2>&1
mkdir -p logs

pids=()
stop() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap 'stop; exit 130' INT TERM

run_one() {
  local t=$1
  mkdir -p "corpus/$t" "artifacts/$t"
  # libFuzzer stops itself at max_total_time; timeout is the backstop for a hung target.
  timeout --signal=INT --kill-after=30 $((seconds + 120)) \
    cargo fuzz run -s none "$t" -- -max_total_time="$seconds" -rss_limit_mb=2048 \
      -timeout=20 -print_final_stats=1 >"logs/$t.log" 2>&1
}

summary() {
  local t=$1 rc=$2 log="logs/$1.log" runs cov crashes
  runs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' || true)
  [ -n "$runs" ] || runs=$(grep -oE '^#[0-9]+' "$log" | tail -n 1 | tr -d '#')
  cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -n 1 | grep -oE '[0-9]+' || echo '?')
  crashes=$(find "artifacts/$t" -type f | wc -l)
  printf '%-26s rc=%-3s execs=%-12s cov=%-6s corpus=%-6s artifacts=%s\n' \
    "$t" "$rc" "${runs:-?}" "$cov" "$(find "corpus/$t" -type f | wc -l)" "$crashes"
}

for t in "${targets[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || true; done
  ( rc=0; run_one "$t" || rc=$?; summary "$t" "$rc" ) &
  pids+=($!)
done
wait
