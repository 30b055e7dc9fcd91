#!/usr/bin/env bash
# Profiles our SOCKS5 server under one kind of load with perf (software cpu-clock sampling: this
# machine exposes no hardware counters) and prints the hottest symbols, kernel included.
#
#   bench/profile.sh upload|download|setup|udp [extra gost-bench load options]
#
# Needs target/release/gost and target/release/gost-bench (bench/run.sh builds both) and linux-perf.
set -euo pipefail
cd "$(dirname "$0")/.."
kind="${1:-upload}"
shift || true
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
out="${TMPDIR:-/tmp}/gost-profile-$kind.data"
GOST_LOGGER_LEVEL=error target/release/gost -L "socks5://127.0.0.1:$port?notls=true&udp=true" >/dev/null 2>&1 &
gost_pid=$!
trap 'kill "$gost_pid" 2>/dev/null; wait "$gost_pid" 2>/dev/null || true' EXIT
for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    sleep 0.05
done
perf record -q -o "$out" -e cpu-clock -F 1999 -g -p "$gost_pid" -- sleep 4 >/dev/null 2>&1 &
perf_pid=$!
target/release/gost-bench load --socks "127.0.0.1:$port" --kind "$kind" --secs 4 "$@"
wait "$perf_pid"
echo "--- hottest symbols (self time), $kind"
perf report -i "$out" --stdio --no-children --sort symbol -g none 2>/dev/null | grep -v '^#' | grep -v '^$' | head -40
echo "--- by command/dso"
perf report -i "$out" --stdio --no-children --sort dso -g none 2>/dev/null | grep -v '^#' | grep -v '^$' | head -10
