#!/usr/bin/env bash
# Full run with a breakdown (docs/PERFORMANCE.md, session 12): starts a release `triage serve` on
# a fresh data dir, runs `triage-bench` against it with the given arguments, and samples the
# server every 0.3 s (ingested items, the single writer's busy time, CPU per thread). At the end
# it prints, for each of the bench's 10k-item scaling probes, the throughput, the writer's busy
# and commit time per item and the server's CPU per item by thread group; "sqlite writer" is the
# SQLite worker thread that used the most CPU (the writer's connection), "sqlite others" the
# checkpointer's and the readers'.
#
#   scripts/full_run.sh DATA_DIR [triage-bench arguments, e.g. --items 1010000 --unary-items 1000
#                                 --queries 1000 --search-concurrency 1,8,32]
#
# DATA_DIR is deleted first and kept afterwards (3 GB for a 1M run), for scripts/snapshot_probe.sh;
# the raw samples are kept beside it in DATA_DIR.samples.
# A 1M run takes about 10 minutes on 2 cores; runs move by ±15% between hours, so compare
# binaries with interleaved runs.
set -euo pipefail
cd "$(dirname "$0")/.."
data=${1:?data dir}
shift
cargo build --release --bin triage --bin triage-bench
rm -rf "$data"
mkdir -p "$data"
work=$(mktemp -d)
source scripts/start_server.sh
start_server "$data" "$work"
samples="$data.samples"
rm -f "$samples"

# One line per sample: time, metrics (ingested, writer busy and commit seconds), the server's
# minor page faults, then CPU ticks for the whole process, whose count keeps the time of threads
# that have ended (tantivy's indexing threads end at every commit), and per thread
# (name:tid=user/system).
sample() {
    while kill -0 $server 2>/dev/null; do
        {
            printf %s "$(date +%s.%N)"
            curl -s "http://$metrics/metrics" | awk '
                /^triage_feedback_ingested_total/ { n += $2 }
                /^triage_store_batch_seconds_sum/ { busy = $2 }
                /^triage_store_commit_seconds_sum/ { commit = $2 }
                END { printf " %d %f %f", n, busy, commit }'
            awk '{ printf " %d all=%d/%d", $10, $14, $15 }' /proc/$server/stat
            for task in /proc/$server/task/*; do
                # A thread may end between the listing and the read.
                { printf " %s:%s=" "$(tr ' ' '_' <"$task/comm")" "${task##*/}"
                  awk '{ printf "%d/%d", $14, $15 }' "$task/stat"; } 2>/dev/null || true
            done
            echo
        } >>"$samples"
        sleep 0.3
    done
}
sample &
./target/release/triage-bench --server "http://$address" "$@"
echo "server peak RSS: $(awk '/VmHWM/ { printf "%.0f MiB", $2 / 1024 }' /proc/$server/status)"

python3 - "$samples" "$(getconf CLK_TCK)" <<'EOF'
import re, sys
hz = int(sys.argv[2])
samples = []
for line in open(sys.argv[1]):
    fields = line.split()
    if len(fields) < 6:
        continue
    threads = {}
    for entry in fields[5:]:
        name, ticks = entry.rsplit("=", 1)
        if "/" not in ticks:
            continue
        user, system = (int(t) for t in ticks.split("/"))
        threads[name] = user + system
    samples.append((float(fields[0]), int(fields[1]), float(fields[2]), float(fields[3]),
                    threads, int(fields[4])))

def group(name):
    if name == "all":
        return name
    comm = name.rsplit(":", 1)[0]
    return "sqlite" if comm.startswith("sqlx-sqlite") else re.sub(r"[-_]?\d+$", "", comm)

for point in (10_000, 100_000, 300_000, 1_000_000):
    before = next((s for s in reversed(samples) if s[1] <= point), None)
    after = next((s for s in samples if s[1] >= point + 10_000), None)
    if before is None or after is None or before[1] < point - 5_000:
        continue
    items = after[1] - before[1]
    per_item = lambda ticks: ticks * 1e6 / hz / items
    print(f"probe at {point // 1000}k stored (sampled items {before[1]}..{after[1]}): "
          f"{items / (after[0] - before[0]):.0f} items/s; writer busy "
          f"{(after[2] - before[2]) * 1e6 / items:.0f} µs/item (commit "
          f"{(after[3] - before[3]) * 1e6 / items:.0f}); {(after[5] - before[5]) / items:.2f} "
          "page faults per item; server CPU µs per item:")
    used = {name: ticks - before[4].get(name, 0) for name, ticks in after[4].items()}
    groups = {}
    sqlite = []
    for name, ticks in used.items():
        if group(name) == "sqlite":
            sqlite.append(ticks)
        else:
            groups[group(name)] = groups.get(group(name), 0) + ticks
    if sqlite:
        sqlite.sort(reverse=True)
        groups["sqlite writer"] = sqlite[0]
        groups["sqlite others"] = sum(sqlite[1:])
    named = sum(ticks for name, ticks in groups.items() if name != "all")
    groups["ended threads (tantivy indexing)"] = groups.get("all", 0) - named
    for name, ticks in sorted(groups.items(), key=lambda g: g[0] == "all"):
        if per_item(ticks) >= 1:
            print(f"  {name:34s} {per_item(ticks):6.0f}")

# The bench's scaling points are 10k items each, about two seconds: whether a tantivy merge or a
# checkpoint lands inside one moves it by 10-20%. Throughput over the first and the last 100k
# items of the import says the same with less noise (docs/PERFORMANCE.md, session 24). Samples
# taken after the server stopped read 0 items and are left out.
rising = []
for sample in samples:
    if not rising or sample[1] >= rising[-1][1]:
        rising.append(sample)
def window(start, end):
    before = next((s for s in rising if s[1] >= start), None)
    after = next((s for s in rising if s[1] >= end), rising[-1])
    if before is None or after[1] - before[1] < 50_000:
        return None
    return (after[1] - before[1]) / (after[0] - before[0]), before[1], after[1]
if rising and rising[-1][1] >= 210_000:
    last = rising[-1][1]
    early, late = window(10_000, 110_000), window(last - 100_000, last)
    if early and late:
        print(f"100k-item windows: {early[0]:.0f} items/s over items {early[1]}..{early[2]}, "
              f"{late[0]:.0f} over items {late[1]}..{late[2]}: {100 * late[0] / early[0]:.0f}%")
EOF
