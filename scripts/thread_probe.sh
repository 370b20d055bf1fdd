#!/usr/bin/env bash
# Thread probe (docs/PERFORMANCE.md, session 16): while a release server imports, measures for
# SECONDS seconds, per thread group and per imported item, the CPU time, the time spent runnable
# but waiting for a core (/proc/*/schedstat) and the context switches, voluntary (blocked) and
# involuntary (preempted). The store's writer thread and its SQLite thread are shown apart as
# WRITER and WRITER-SQL: they are the serial chain every item passes through.
#
#   scripts/thread_probe.sh empty SECONDS
#       a fresh store importing 60k items; measures from 10.5k imported (near the bench's 10k
#       point; keep SECONDS to a few)
#   scripts/thread_probe.sh SNAPSHOT SECONDS STORED [CUSTOMERS]
#       a copy of SNAPSHOT (a stopped server's data dir holding the corpus's first STORED items,
#       CUSTOMERS 252500 for `--items 1010000`); measures from 30 s into the import, when SQLite's
#       cache has filled
set -euo pipefail
cd "$(dirname "$0")/.."
source=${1:?"empty" or a snapshot dir}
seconds=${2:?seconds to measure}
cargo build --release --bin triage --bin triage-bench
work=$(mktemp -d)
mkdir "$work/db"
source scripts/start_server.sh
ingested() {
    curl -s "http://$metrics/metrics" |
        awk '/^triage_feedback_ingested_total/ { n += $2 } END { print n + 0 }'
}
if [ "$source" = empty ]; then
    start_server "$work/db" "$work"
    ./target/release/triage-bench --server "http://$address" --items 60000 --unary-items 0 \
        --queries 0 >/dev/null 2>&1 &
    while [ "$(ingested)" -lt 10500 ]; do sleep 0.05; done
else
    stored=${3:?items in the snapshot}
    cp -a "$source/." "$work/db"
    start_server "$work/db" "$work"
    ./target/release/triage-bench --server "http://$address" --already-stored "$stored" \
        --customers "${4:-252500}" --items 400000 --unary-items 0 --queries 0 >/dev/null 2>&1 &
    while [ "$(ingested)" = 0 ]; do sleep 0.2; done
    sleep 30
fi
bench=$!
# The writer is the runtime thread in the batch scheduling class (src/scheduling.rs); its SQLite
# connection's thread is the next one the process started.
writer="" writer_sql=""
for task in /proc/$server/task/*; do
    if [ "$(cat "$task/comm" 2>/dev/null)" = tokio-rt-worker ] &&
        [ "$(awk '{ print $41 }' "$task/stat" 2>/dev/null)" = 3 ]; then
        writer=$(basename "$task")
    fi
done
[ -n "$writer" ] && writer_sql=$(ls "/proc/$server/task" | sort -n | awk -v w="$writer" '$1 > w' | head -1)
# One line per thread group: name, CPU ns, run delay ns, voluntary and involuntary switches.
snapshot() {
    for task in /proc/$server/task/*; do
        local id name
        id=$(basename "$task")
        name=$(cat "$task/comm" 2>/dev/null) || continue
        [ "$id" = "$writer" ] && name=WRITER
        [ "$id" = "$writer_sql" ] && name=WRITER-SQL
        echo "${name%%[-_][0-9]*} $(cat "$task/schedstat" 2>/dev/null | cut -d' ' -f1-2)" \
            "$(awk '/^voluntary_ctxt/ { v = $2 } /^nonvoluntary_ctxt/ { n = $2 } END { print v, n }' \
                "$task/status" 2>/dev/null)"
    done | awk 'NF == 5 { c[$1] += $2; d[$1] += $3; v[$1] += $4; n[$1] += $5 }
                END { for (k in c) print k, c[k], d[k], v[k], n[k] }' | sort
}
before=$(ingested)
snapshot >"$work/before"
sleep "$seconds"
after=$(ingested)
snapshot >"$work/after"
kill "$bench" 2>/dev/null || true
items=$((after - before))
echo "$items items imported in $seconds s ($((items / seconds)) items/s); per item:"
join "$work/before" "$work/after" | awk -v n="$items" '
    { printf "  %-16s CPU %4.0f µs, waiting for a core %4.0f µs, switches %.2f voluntary %.2f involuntary\n",
        $1, ($6 - $2) / 1e3 / n, ($7 - $3) / 1e3 / n, ($8 - $4) / n, ($9 - $5) / n }'
