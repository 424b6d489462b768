# Shared by the bench scripts: a release build, a seeded SQLite store of 10,000 keys, and `measure`, which
# starts a fresh server with extra environment and drives it with wrk over the key pool.
# Source it after `cd` to the repository root; set SECONDS_PER_RUN, CONNECTIONS, THREADS first if wanted.
# TRONCH_BIN=/path/to/tronch uses that binary instead of building one (`swift build -c release`).
set -euo pipefail
seconds=${SECONDS_PER_RUN:-10}
connections=${CONNECTIONS:-64}
threads=${THREADS:-2}

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
if [ -n "${TRONCH_BIN:-}" ]; then
    bin=$TRONCH_BIN
    [ -x "$bin" ] || { echo "TRONCH_BIN=$bin is not an executable (give an absolute path)" >&2; exit 1; }
else
    swift build -c release --product tronch >&2
    bin="$(swift build -c release --show-bin-path)/tronch"
fi
work=/tmp/tronch-bench-$$
mkdir -p "$work"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
server=""
cleanup() {
    [ -n "$server" ] && kill "$server" 2>/dev/null || true
    scripts/redis destroy "$work/redis" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

export TRONCH_KEY_PEPPER=$(python3 -c 'import secrets; print(secrets.token_hex(32))')
export TRONCH_BOOTSTRAP_ROOT_KEY=$("$bin" keys generate)
export TRONCH_LOG_LEVEL=warning
export TRONCH_DATABASE_URL="sqlite://$work/keys.sqlite"
"$bin" bench seed --database-url "$TRONCH_DATABASE_URL" --count 10000 --sample 10000 --sample-file "$work/keys.txt" \
    --data-dir "$work/data" >&2

# Runs wrk against a fresh server started with the given environment (NAME=value ...); prints wrk's RESULT
# line and a SINGLE line (one connection: the round trip with no queueing).
measure() {
    local port
    port=$(free_port)
    env "$@" "$bin" serve --port "$port" --data-dir "$work/data" >"$work/server.log" 2>&1 &
    server=$!
    for _ in $(seq 1 200); do curl -sf "http://127.0.0.1:$port/api/v1/health/ready" >/dev/null && break; sleep 0.05; done
    local url="http://127.0.0.1:$port"
    # Warm-up: every key cached (and, with Redis, the connection up and the script loaded).
    KEYS_FILE=$work/keys.txt ROOT_KEY=$TRONCH_BOOTSTRAP_ROOT_KEY \
        wrk -t"$threads" -c"$connections" -d3s -s bench/lua/verify-pool.lua "$url" >/dev/null
    KEYS_FILE=$work/keys.txt ROOT_KEY=$TRONCH_BOOTSTRAP_ROOT_KEY \
        wrk -t"$threads" -c"$connections" -d"${seconds}s" -s bench/lua/verify-pool.lua "$url" | grep RESULT
    KEYS_FILE=$work/keys.txt ROOT_KEY=$TRONCH_BOOTSTRAP_ROOT_KEY \
        wrk -t1 -c1 -d3s -s bench/lua/verify-pool.lua "$url" | grep RESULT | sed 's/^RESULT/SINGLE/'
    kill "$server"
    wait "$server" 2>/dev/null || true
    server=""
}

field() { echo "$1" | grep "^$2" | tr ' ' '\n' | grep "^$3=" | cut -d= -f2; }

# Prints one table row: NAME and the figures of a `measure` result.
row() {
    printf '%-22s %10s %8s %8s %14s %10s\n' "$1" "$(field "$2" RESULT rps)" "$(field "$2" RESULT p50_ms)" \
        "$(field "$2" RESULT p99_ms)" "$(field "$2" SINGLE p50_ms)" "$(field "$2" RESULT unexpected)"
}

header() {
    echo
    echo "$1, c=$connections, $(nproc) cores, $(date -u +%Y-%m-%d)"
    printf '%-22s %10s %8s %8s %14s %10s\n' "" "req/s" "p50 ms" "p99 ms" "c=1 p50 ms" unexpected
}

# --- Scenarios against one long-running server (bench/run) ---

# Starts a server with the given environment (NAME=value ...) and sets $url.
start_server() {
    local port
    port=$(free_port)
    env "$@" "$bin" serve --port "$port" --data-dir "$work/data" >"$work/server.log" 2>&1 &
    server=$!
    url="http://127.0.0.1:$port"
    for _ in $(seq 1 200); do curl -sf "$url/api/v1/health/ready" >/dev/null && return 0; sleep 0.05; done
    echo "the server did not start:" >&2
    cat "$work/server.log" >&2
    return 1
}

stop_server() {
    kill "$server"
    wait "$server" 2>/dev/null || true
    server=""
}

# CPU time (user + system, from /proc) a process and its descendants have used, in clock ticks.
process_tree_ticks() {
    local ticks child
    # Fields after the command name, which is in parentheses and may hold spaces: utime and stime are 12 and 13.
    ticks=$(sed 's/^.*) //' "/proc/$1/stat" | awk '{print $12 + $13}')
    for child in $(cat /proc/"$1"/task/*/children 2>/dev/null); do
        ticks=$(( ticks + $(process_tree_ticks "$child" 2>/dev/null || echo 0) ))
    done
    echo "$ticks"
}

# CPU time the server has used, in microseconds: the process and its children (the peer's workers).
server_cpu_us() {
    echo $(( $(process_tree_ticks "$server") * 1000000 / $(getconf CLK_TCK) ))
}

# --- The ceiling (bench/peers/ceiling): a bare Hummingbird app, the framework's own cost, for bench/run ---

# Builds the ceiling, the target Ceiling of Tronch's own package, in release (CEILING_CONFIG=debug for a smoke
# run), in .build or CEILING_SCRATCH: the scratch path of the tronch build beside it shares its Hummingbird, so
# the ceiling costs seconds, not a second framework build. Sets $ceiling_bin.
build_ceiling() {
    local config=${CEILING_CONFIG:-release} scratch=${CEILING_SCRATCH:-$PWD/.build} flags=()
    # A debug ceiling shares the debug build of scripts/test, built with TRONCH_SWIFT_BUILD_FLAGS (coverage).
    if [ "$config" = debug ]; then read -r -a flags <<<"${TRONCH_SWIFT_BUILD_FLAGS:-}"; fi
    swift build -c "$config" "${flags[@]}" --product Ceiling --scratch-path "$scratch" >&2
    ceiling_bin="$(swift build -c "$config" --scratch-path "$scratch" --show-bin-path)/Ceiling"
}

# Starts the ceiling on the key pool (the root key among its keys, so it can be the caller) and sets $server
# and $url like start_server.
start_ceiling() {
    local port
    port=$(free_port)
    { echo "$TRONCH_BOOTSTRAP_ROOT_KEY"; cat "$work/keys.txt"; } > "$work/ceiling-keys.txt"
    "$ceiling_bin" "$port" "$work/ceiling-keys.txt" >"$work/ceiling.log" 2>&1 &
    server=$!
    url="http://127.0.0.1:$port"
    for _ in $(seq 1 200); do curl -sf "$url/hello" >/dev/null && return 0; sleep 0.05; done
    echo "the ceiling did not start:" >&2
    cat "$work/ceiling.log" >&2
    return 1
}

# --- The FastAPI peer (bench/peers/fastapi): the same verification in Python, for bench/peer and bench/run ---

# Starts the peer (uvicorn, PEER_WORKERS workers, default 2) on the seeded store and sets $server and $url
# like start_server. Its virtualenv is made on first use (bench/peers/fastapi/serve).
start_peer() {
    local port workers=${PEER_WORKERS:-2}
    bench/peers/fastapi/serve >/dev/null
    port=$(free_port)
    PEER_WORKERS=$workers bench/peers/fastapi/serve "$port" >"$work/peer.log" 2>&1 &
    server=$!
    url="http://127.0.0.1:$port"
    # Each worker loads every key before it takes connections; wait for all of them, not just the first.
    for _ in $(seq 1 1200); do
        if [ "$(grep -c 'Application startup complete' "$work/peer.log")" -ge "$workers" ] &&
            curl -sf "$url/api/v1/health" >/dev/null; then
            return 0
        fi
        kill -0 "$server" 2>/dev/null || break
        sleep 0.1
    done
    echo "the FastAPI peer did not start:" >&2
    cat "$work/peer.log" >&2
    return 1
}

# Runs one scenario: a 2 s warm-up, then SECONDS_PER_RUN measured; prints its RESULT line with the
# server's CPU time per request appended. Usage: scenario CONNECTIONS SCRIPT [LUA_ENV=value ...]
scenario() {
    local connections=$1 script=$2
    shift 2
    local wrk_threads=$(( connections < threads ? connections : threads ))
    # WRK_TIMEOUT: wrk drops (and leaves out of the latencies) answers slower than this; logins queue for seconds.
    env ROOT_KEY="$TRONCH_BOOTSTRAP_ROOT_KEY" "$@" wrk -t"$wrk_threads" -c"$connections" -d2s --timeout "${WRK_TIMEOUT:-2s}" -s "$script" "$url" >/dev/null
    local before after result requests
    before=$(server_cpu_us)
    result=$(env ROOT_KEY="$TRONCH_BOOTSTRAP_ROOT_KEY" "$@" \
        wrk -t"$wrk_threads" -c"$connections" -d"${seconds}s" --timeout "${WRK_TIMEOUT:-2s}" -s "$script" "$url" | grep RESULT)
    after=$(server_cpu_us)
    requests=$(echo "$result" | tr ' ' '\n' | grep '^requests=' | cut -d= -f2)
    echo "$result cpu_us=$(( (after - before) / (requests > 0 ? requests : 1) ))"
}
