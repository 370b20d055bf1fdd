#!/usr/bin/env bash
# Interleaved probes of the two store sizes #9 compares (docs/PERFORMANCE.md, session 20). Each
# round times the bench's 10k-item import twice, about a minute apart, so that a slow phase of
# the host tends to hit both probes or neither:
#   - 10k stored: a fresh release server on an empty data dir imports the corpus's first 10k
#     items, then the next 10k (the probe);
#   - SNAPSHOT stored: a fresh server on a synced copy of SNAPSHOT (the data dir of a stopped
#     server holding the corpus's first STORED items, e.g. one `scripts/full_run.sh` kept) imports
#     30k items to warm its caches, then the next 10k (the probe).
# It prints each probe's throughput and the server's CPU per item by thread group, then the
# medians and their ratio. CUSTOMERS is the customer pool of the run that filled the snapshot (a
# quarter of its `--items`: 252500 for `--items 1010000`).
#
#   scripts/pair_probe.sh SNAPSHOT STORED CUSTOMERS [ROUNDS, default 4]
set -euo pipefail
cd "$(dirname "$0")/.."
snapshot=${1:?snapshot dir}
stored=${2:?items in the snapshot}
customers=${3:?customer pool of the run that filled it}
rounds=${4:-4}
cargo build --release --bin triage --bin triage-bench
results=$(mktemp)
trap 'rm -f "$results"' EXIT

# probe DATA_DIR ALREADY_STORED WARM_UP: prints "items/s group=µs … all=µs" for one probe.
probe() (
    data=$1 base=$2 warm=$3
    work=$(mktemp -d)
    source scripts/start_server.sh
    start_server "$data" "$work"
    bench() {
        ./target/release/triage-bench --server "http://$address" --already-stored "$1" \
            --customers "$customers" --items "$2" --unary-items 0 --queries 0 2>&1
    }
    # CPU ticks per thread group (threads named alike summed), and the whole process's, whose
    # count keeps the time of threads that have ended (tantivy's indexing threads).
    groups() {
        {
            for task in /proc/$server/task/*; do
                # A thread may end between the listing and the read.
                echo "$({ tr ' ' '_' <"$task/comm"; } 2>/dev/null) $(awk '{ print $14 + $15 }' "$task/stat" 2>/dev/null)" || true
            done | awk '{ name = $1; sub(/[-_][0-9]+$/, "", name); if (name ~ /^sqlx-sqlite/) name = "sqlite"
                          ticks[name] += $2 }
                        END { for (name in ticks) print name, ticks[name] }'
            echo "all $(awk '{ print $14 + $15 }' "/proc/$server/stat")"
        } | sort
    }
    ingested() {
        curl -s "http://$metrics/metrics" |
            awk '/^triage_feedback_ingested_total/ { n += $2 } END { print n + 0 }'
    }
    bench "$base" "$warm" >/dev/null
    # The index catches up with the warm-up before the probe starts (it lags by under a second).
    sleep 1
    warmed=$(ingested)
    bench $((base + warm)) 10000 >"$work/bench.out" &
    probe_bench=$!
    # The bench first generates the stored items again (the corpus is sequential): the server's
    # CPU is counted from its first imported item, as in scripts/snapshot_probe.sh.
    groups >"$work/before"
    while [ "$(ingested)" = "$warmed" ] && kill -0 $probe_bench 2>/dev/null; do
        groups >"$work/before"
        sleep 0.05
    done
    # The bench ends once the probe's items are searchable: the window holds the index's
    # catching up too (a tenth of a second normally).
    wait $probe_bench
    groups >"$work/after"
    rate=$(tr '\r' '\n' <"$work/bench.out" | awk '/import \(bulk stream\)/ { print $6 }')
    printf '%s ' "$rate"
    join "$work/before" "$work/after" | awk -v hz="$(getconf CLK_TCK)" '
        { used = ($3 - $2) * 1e6 / hz / 10000; if (used >= 3 || $1 == "all") printf "%s=%.0f ", $1, used }'
    echo
)

for round in $(seq 1 "$rounds"); do
    small=$(mktemp -d)
    small_probe=$(probe "$small" 0 10000)
    rm -rf "$small"
    large=$(mktemp -d)
    cp -a "$snapshot/." "$large"
    sync
    large_probe=$(probe "$large" "$stored" 30000)
    rm -rf "$large"
    echo "round $round: 10k stored: $small_probe"
    echo "round $round: $stored stored: $large_probe"
    echo "${small_probe%% *} ${large_probe%% *}" >>"$results"
done
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
small_median=$(cut -d' ' -f1 "$results" | median)
large_median=$(cut -d' ' -f2 "$results" | median)
awk -v s="$small_median" -v l="$large_median" -v stored="$stored" 'BEGIN {
    printf "medians: %d items/s with 10k stored, %d with %d stored: %.0f%%\n", s, l, stored, 100 * l / s }'
