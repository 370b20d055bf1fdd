#!/usr/bin/env bash
# Warm probe (docs/PERFORMANCE.md, session 15): a fresh release server on a copy of SNAPSHOT (a
# stopped server's data dir holding the corpus's first STORED items) imports the corpus's next
# ITEMS items; every 10k items it prints the throughput and the server's CPU per item (all
# threads, from /proc). Unlike scripts/snapshot_probe.sh it shows the server warming up, so the
# windows after the first 30k compare a fresh process with the long-running one of a full run.
# CUSTOMERS: the customer pool of the run that filled SNAPSHOT (252500 for `--items 1010000`).
#
#   scripts/warm_probe.sh SNAPSHOT STORED ITEMS [CUSTOMERS]
set -euo pipefail
cd "$(dirname "$0")/.."
snapshot=${1:?snapshot dir}
stored=${2:?items in the snapshot}
items=${3:?items to import}
customers=${4:-252500}
cargo build --release --bin triage --bin triage-bench
work=$(mktemp -d)
cp -a "$snapshot" "$work/db"
source scripts/start_server.sh
start_server "$work/db" "$work"
samples="$work/samples"
(
    while kill -0 $server 2>/dev/null; do
        printf '%s %s %s\n' "$(date +%s.%N)" \
            "$(curl -s "http://$metrics/metrics" |
                awk '/^triage_feedback_ingested_total/ { n += $2 } END { print n + 0 }')" \
            "$(awk '{ print $14 + $15 }' "/proc/$server/stat")" >>"$samples"
        sleep 0.3
    done
) &
./target/release/triage-bench --server "http://$address" --already-stored "$stored" \
    --customers "$customers" --items "$items" --unary-items 0 --queries 0 >"$work/bench.out" 2>&1 ||
    { cat "$work/bench.out"; exit 1; }
tr '\r' '\n' <"$work/bench.out" | grep "import (bulk stream)"
python3 - "$samples" "$(getconf CLK_TCK)" <<'EOF_PY'
import sys
hz = int(sys.argv[2])
samples = [tuple(map(float, line.split())) for line in open(sys.argv[1]) if len(line.split()) == 3]
for start in range(0, int(samples[-1][1]), 10_000):
    try:
        before = next(s for s in samples if s[1] >= start + 500)
        after = next(s for s in samples if s[1] >= start + 10_000)
    except StopIteration:
        break
    items = after[1] - before[1]
    print(f"{start // 1000:4d}k-{(start + 10_000) // 1000}k imported: "
          f"{items / (after[0] - before[0]):6.0f} items/s, server CPU "
          f"{(after[2] - before[2]) * 1e6 / hz / items:4.0f} µs per item")
EOF_PY
