#!/usr/bin/env bash
# Loopback load test: the bare, guarded and peer routers of
# guard-axum/benches/common under wrk, interleaved over several rounds,
# server and wrk pinned to separate cores. Prints the median requests/s of
# each and the ratios. See BENCHMARKS.md.
#
#   scripts/load.sh                       # 5 rounds x 5 s per router
#   ROUNDS=3 DURATION=3 scripts/load.sh   # quicker
#
# Settings (environment): ROUNDS (5), DURATION seconds per run (5),
# WARMUP seconds before each run (1), CONNECTIONS (32), PORT (18080),
# SERVER_CPU (0), WRK_CPU (1), CARGO_TARGET_DIR (cargo's default).
#
# Only 127.0.0.1 is ever targeted; every run is bounded by its duration and
# a timeout, and the script stops the servers it started.
set -euo pipefail

ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-5}
WARMUP=${WARMUP:-1}
CONNECTIONS=${CONNECTIONS:-32}
PORT=${PORT:-18080}
SERVER_CPU=${SERVER_CPU:-0}
WRK_CPU=${WRK_CPU:-1}
VARIANTS=(bare guarded peer)
# Must match ALICE_KEY and ALICE_PROJECT in guard-axum/benches/common/mod.rs.
KEY="alice-bench-key-0123456789-0123456789"
URL="http://127.0.0.1:${PORT}/projects/4242"

cd "$(dirname "$0")/.."

if ! command -v wrk >/dev/null 2>&1; then
    echo "wrk not found; installing it from Debian's packages" >&2
    apt-get update -qq && apt-get install -y -qq wrk >/dev/null
fi
if ! command -v taskset >/dev/null 2>&1; then
    echo "taskset (util-linux) is required to pin server and wrk" >&2
    exit 1
fi
if (( $(nproc) < 2 )); then
    echo "need at least 2 CPUs to pin server and wrk apart" >&2
    exit 1
fi

# The server is a bench target (release profile, the benches' dependencies).
echo "building the load server (cargo bench --no-run)..." >&2
SERVER=$(cargo bench -p guard-axum --bench load_server --no-run --message-format=json 2>/dev/null |
    grep -o '"executable":"[^"]*load_server[^"]*"' | tail -n 1 | cut -d'"' -f4)
if [[ -z "$SERVER" || ! -x "$SERVER" ]]; then
    echo "could not build the load server; run: cargo bench -p guard-axum --bench load_server --no-run" >&2
    exit 1
fi

server_pid=""
stop_server() {
    if [[ -n "$server_pid" ]]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
        server_pid=""
    fi
}
trap stop_server EXIT INT TERM

wait_ready() {
    for _ in $(seq 1 100); do
        if (exec 3<>"/dev/tcp/127.0.0.1/${PORT}") 2>/dev/null; then
            return 0
        fi
        sleep 0.05
    done
    echo "server did not start on port ${PORT}" >&2
    return 1
}

run_wrk() { # seconds
    timeout $(( $1 + 10 )) taskset -c "$WRK_CPU" \
        wrk -t1 -c"$CONNECTIONS" -d"$1"s -H "Authorization: Bearer ${KEY}" "$URL"
}

# One measurement: start the variant's server, warm it, run wrk, stop it;
# sets `rps`. Not run in a subshell, so the EXIT trap can stop the server.
measure() { # variant
    taskset -c "$SERVER_CPU" "$SERVER" serve "$1" "127.0.0.1:${PORT}" >/dev/null &
    server_pid=$!
    wait_ready
    run_wrk "$WARMUP" >/dev/null
    local out
    out=$(run_wrk "$DURATION")
    stop_server
    if grep -q "Non-2xx or 3xx responses" <<<"$out"; then
        echo "$1: some responses were not 2xx; the figure would be wrong:" >&2
        echo "$out" >&2
        exit 1
    fi
    rps=$(awk '/^Requests\/sec:/ { print $2 }' <<<"$out")
}

median() {
    sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

declare -A results
echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "wrk: 1 thread, ${CONNECTIONS} connections, ${DURATION} s per run, ${ROUNDS} rounds; server on CPU ${SERVER_CPU}, wrk on CPU ${WRK_CPU}"
for round in $(seq 1 "$ROUNDS"); do
    # Rotate the order each round so no variant always runs first.
    for i in 0 1 2; do
        variant=${VARIANTS[$(( (i + round - 1) % 3 ))]}
        measure "$variant"
        results[$variant]="${results[$variant]:-} $rps"
        printf 'round %d  %-8s %12s req/s\n' "$round" "$variant" "$rps"
    done
done

echo
printf '%-8s %14s   %s\n' variant "median req/s" "runs"
declare -A med
for variant in "${VARIANTS[@]}"; do
    med[$variant]=$(tr ' ' '\n' <<<"${results[$variant]}" | grep -v '^$' | median)
    printf '%-8s %14.0f  %s\n' "$variant" "${med[$variant]}" "${results[$variant]}"
done
echo
awk -v b="${med[bare]}" -v g="${med[guarded]}" -v p="${med[peer]}" 'BEGIN {
    printf "time per request relative to bare (bare rps / variant rps):\n"
    printf "  guarded/bare  %.3f\n", b / g
    printf "  peer/bare     %.3f\n", b / p
    printf "  guarded/peer  %.3f\n", p / g
}'
