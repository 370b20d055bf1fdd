# Sourced by the benchmark scripts: `start_server DATA_DIR WORK` starts the release `triage serve`
# on DATA_DIR with its log in WORK, waits until it listens and sets `server` (its pid), `address`
# and `metrics`. On exit the server is stopped and WORK removed.
start_server() {
    local data=$1 work=$2
    local log="$work/server.log"
    ./target/release/triage serve --listen 127.0.0.1:0 --metrics-listen 127.0.0.1:0 \
        --data-dir "$data" >"$log" 2>&1 &
    server=$!
    # shellcheck disable=SC2064 # expand now: the variables are local to this function
    trap "kill -TERM $server 2>/dev/null; wait $server 2>/dev/null; rm -rf '$work'" EXIT
    address="" metrics=""
    for _ in $(seq 1 600); do
        address=$(sed -n 's/^triage listening on //p' "$log")
        metrics=$(sed -n 's/.*metrics at \/metrics address=\([0-9.:]*\).*/\1/p' "$log")
        [ -n "$address" ] && [ -n "$metrics" ] && return
        kill -0 $server 2>/dev/null || { cat "$log"; exit 1; }
        sleep 0.1
    done
    echo "server did not start" >&2
    cat "$log"
    exit 1
}
