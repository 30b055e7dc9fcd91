#!/usr/bin/env bash
# The one command behind docs/performance.md: builds our `gost` and `gost-bench` (release), builds
# or installs the peer servers into bench/.peers (gitignored; once), then runs every server side by
# side on loopback and writes the table to docs/performance.md and the plot to docs/performance.png.
#
#   bench/run.sh            full run (5 repetitions, a few minutes), rewrites the docs
#   bench/run.sh --quick    smoke run, prints the table only
#   bench/run.sh --servers dante,go --only bulk      any other `gost-bench run` option
#
# Debian packages used: dante-server microsocks gnuplot-nox golang-go golang-github-armon-go-socks5-dev
# iperf3 proxychains4 (root is needed for dante's configuration and for SO_RCVBUFFORCE on the UDP sink).
# The real peers hev-socks5-server, microsocks-head and gost-upstream (GOST 3.2.6) are found on PATH:
# ../shared/peers/bin is put there when it exists, as .ci/run does; a missing one is noted and skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -d ../shared/peers/bin ]; then
    PATH="$(cd ../shared/peers/bin && pwd):$PATH"
    export PATH
fi
for tool in iperf3 proxychains4; do
    command -v "$tool" >/dev/null ||
        echo "$tool not found: its rows are skipped (apt-get install iperf3 proxychains4)" >&2
done
peers="$PWD/bench/.peers"
mkdir -p "$peers/bin"

if [ ! -x "$peers/bin/go-socks5" ]; then
    if command -v go >/dev/null && [ -d /usr/share/gocode/src/github.com/armon/go-socks5 ]; then
        (cd bench/peers/go-socks5 &&
            GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE="$peers/gocache" go build -o "$peers/bin/go-socks5" .)
    else
        echo "go peer not built: apt-get install golang-go golang-github-armon-go-socks5-dev" >&2
    fi
fi
if [ ! -x "$peers/bin/merino" ]; then
    cargo install --root "$peers" --locked merino || echo "merino could not be installed" >&2
fi
if [ ! -x "$peers/bin/fast-socks5-server" ]; then
    # fast-socks5 ships its server only as an example.
    if cargo install --root "$peers" fast-socks5 --example server; then
        mv "$peers/bin/server" "$peers/bin/fast-socks5-server"
    else
        echo "fast-socks5 could not be installed" >&2
    fi
fi

cargo build --release -p gost-bench
if [ -f bins/gost/Cargo.toml ]; then
    cargo build --release -p gost || echo "our gost did not build; running the peers only" >&2
fi

write_docs=--write-docs
for arg in "$@"; do
    [ "$arg" = --quick ] && write_docs=
done
exec target/release/gost-bench run $write_docs "$@"
