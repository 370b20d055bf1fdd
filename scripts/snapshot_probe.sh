#!/usr/bin/env bash
# Snapshot probe: how much one 10k import costs with a given store size (docs/PERFORMANCE.md,
# sessions 5-9). Copies SNAPSHOT, the data dir of a stopped `triage serve` that holds the
# corpus's first STORED items (keep one from a full `triage-bench --server` run against
# `triage serve --data-dir DIR`), starts a release server on the copy, imports the corpus's next
# 10k items and prints the throughput, the server's CPU per imported item (in all and per thread
# group), how many cores the import kept busy, the single writer's time per item, and per thread
# the time running and waiting for a core and the time slices (session 13). CUSTOMERS
# must be the customer pool of the run that filled the snapshot (a quarter of its `--items` by
# default: 252500 for `--items 1010000`).
#
# Single probes on a 2-core VM move by ±15% and more between hours: repeat them and interleave
# the binaries or store sizes you compare.
#
#   scripts/snapshot_probe.sh SNAPSHOT STORED CUSTOMERS
set -euo pipefail
cd "$(dirname "$0")/.."
snapshot=${1:?snapshot dir}
stored=${2:?items in the snapshot}
customers=${3:?customer pool of the run that filled it}
cargo build --release --bin triage --bin triage-bench
work=$(mktemp -d)
cp -a "$snapshot" "$work/db"
source scripts/start_server.sh
start_server "$work/db" "$work"

ingested() {
    curl -s "http://$metrics/metrics" |
        awk '/^triage_feedback_ingested_total/ { n += $2 } END { print n + 0 }'
}
# CPU ticks per thread group (threads named alike, e.g. tokio-rt-worker, summed).
threads() {
    for task in /proc/$server/task/*; do
        # A thread may end between the listing and the read.
        echo "$({ tr ' ' '_' <"$task/comm"; } 2>/dev/null) $(awk '{ print $14 + $15 }' "$task/stat" 2>/dev/null)" || true
    done | awk '{ name = $1; sub(/_[0-9]+$/, "", name); ticks[name] += $2 }
                END { for (name in ticks) print name, ticks[name] }' | sort
}

# Per thread: time running and waiting for a core (ns) and time slices, from the scheduler.
sched() {
    for task in /proc/$server/task/*; do
        # A thread may end between the listing and the read.
        echo "${task##*/}:$(tr ' ' '_' <"$task/comm" 2>/dev/null) $(cat "$task/schedstat" 2>/dev/null)" || true
    done | sort
}

# The whole machine's jiffies: busy (user, nice, system, irq, softirq), stolen by the host, all.
machine() {
    awk '/^cpu / { print $2 + $3 + $4 + $7 + $8, $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat
}

./target/release/triage-bench --server "http://$address" --already-stored "$stored" \
    --customers "$customers" --items 10000 --unary-items 0 --queries 0 >"$work/bench.out" 2>&1 &
bench=$!
# The bench first generates the stored items again (the corpus is sequential): the server's CPU
# is counted from its first imported item.
threads >"$work/before"
machine >"$work/machine_before"
sched >"$work/sched_before"
while [ "$(ingested)" = 0 ] && kill -0 $bench 2>/dev/null; do
    threads >"$work/before"
    machine >"$work/machine_before"
    sched >"$work/sched_before"
    sleep 0.05
done
wait $bench || { cat "$work/bench.out"; exit 1; }
threads >"$work/after"
machine >"$work/machine_after"
sched >"$work/sched_after"
rate=$(tr '\r' '\n' <"$work/bench.out" | awk '/import \(bulk stream\)/ { print $6 }')
ticks_per_second=$(getconf CLK_TCK)
echo "$stored stored: $rate items/s; server CPU µs per imported item:"
join "$work/before" "$work/after" | awk -v hz="$ticks_per_second" '
    { used = ($3 - $2) * 1e6 / hz / 10000; total += used; if (used >= 1) printf "  %-20s %6.0f\n", $1, used }
    END { printf "  %-20s %6.0f\n", "all threads", total }'
# With the bench client on the same machine the import can use every core: then throughput
# follows the total CPU per item, not the writer's time alone (docs/PERFORMANCE.md, session 9).
paste "$work/machine_before" "$work/machine_after" | awk -v cores="$(nproc)" '
    { total = $6 - $3; printf "machine: %.2f of %d cores busy during the import, %.2f stolen by the host\n",
        ($4 - $1) / total * cores, cores, ($5 - $2) / total * cores }'
# The single writer's busy time per imported item (the ceiling of the write rate) and where the
# duplicate check's candidate rows came from; the server counted nothing before the import.
curl -s "http://$metrics/metrics" | awk '
    /^triage_feedback_ingested_total/ { items += $2 }
    /^triage_store_batch_seconds_sum/ { writer = $2 }
    /^triage_store_commit_seconds_sum/ { commit = $2 }
    /^triage_dedup_candidate_rows_total\{source="store"\}/ { store = $2 }
    /^triage_dedup_candidate_rows_total\{source="cache"\}/ { cache = $2 }
    END {
        if (items == 0) exit
        printf "writer µs per item: %.0f (commit %.0f); candidate rows per item: %.2f from the store, %.2f from the cache\n",
            writer * 1e6 / items, commit * 1e6 / items, store / items, cache / items
    }'
# The writer's time per item is its own thread's running and waiting plus SQLite's worker
# thread's (docs/PERFORMANCE.md, session 13): slices per item count the hand-overs.
echo "per thread, µs per imported item running / waiting for a core, and time slices per item:"
join "$work/sched_before" "$work/sched_after" | awk '
    { run = ($5 - $2) / 1e3 / 10000; wait = ($6 - $3) / 1e3 / 10000; slices = ($7 - $4) / 10000
      if (run + wait >= 5) printf "  %-28s %5.0f / %5.0f  %4.1f\n", $1, run, wait, slices }'
