#!/usr/bin/env bash
# Soak: starts a release `triage serve` on a loopback port with a temporary data dir, imports
# ITEMS items, then runs mixed ingest + search + review load at LOAD of the measured capacity for
# MINUTES minutes and prints per-minute p99 latencies, errors and the server's RSS.
#
#   scripts/soak.sh [MINUTES=10] [LOAD=0.8] [ITEMS=20000]
set -euo pipefail
cd "$(dirname "$0")/.."
minutes=${1:-10}
load=${2:-0.8}
items=${3:-20000}
cargo build --release --bin triage --bin triage-bench
data=$(mktemp -d)
log="$data/server.log"
./target/release/triage serve --listen 127.0.0.1:0 --data-dir "$data/db" >"$log" 2>&1 &
server=$!
trap 'kill -TERM $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$data"' EXIT
address=""
for _ in $(seq 1 600); do
    address=$(sed -n 's/^triage listening on //p' "$log")
    [ -n "$address" ] && break
    kill -0 $server 2>/dev/null || { cat "$log"; exit 1; }
    sleep 0.1
done
[ -n "$address" ] || { echo "server did not start" >&2; cat "$log"; exit 1; }
echo "server pid $server at $address, data in $data"
./target/release/triage-bench --server "http://$address" --server-pid $server \
    --items "$items" --soak-minutes "$minutes" --soak-load "$load"
