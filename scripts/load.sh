#!/usr/bin/env bash
# Loopback load test: the bare, guarded and peer routers of
# guard-axum/benches/common under wrk, in four views, interleaved over
# several rounds. Prints, per view, the median requests/s, p50 and p99
# latency of each router, and the ratios guarded/peer and guarded/bare.
# See BENCHMARKS.md.
#
#   scripts/load.sh                       # 5 rounds x 5 s per run
#   ROUNDS=3 DURATION=4 scripts/load.sh   # about 3.5 minutes after the build
#   ROUNDS=1 DURATION=1 scripts/load.sh   # smoke test, under a minute
#
# The views (VIEWS, space-separated, default all four):
#   pinned1     1 server worker pinned to SERVER_CPU, wrk (1 thread) pinned
#               to WRK_CPU, CONNECTIONS connections
#   pinned1@256 the same at HIGH_CONNECTIONS connections
#   shared2     2 server workers and wrk (2 threads), all unpinned on the
#               machine's cores, CONNECTIONS connections
#   shared2@256 the same at HIGH_CONNECTIONS connections
#
# Settings (environment): ROUNDS (5), DURATION seconds per run (5),
# WARMUP seconds before each run (1), CONNECTIONS (32), HIGH_CONNECTIONS
# (256), PORT (18080), SERVER_CPU (0), WRK_CPU (1), VIEWS,
# CARGO_TARGET_DIR (cargo's default).
#
# Only 127.0.0.1 is ever targeted; every run is bounded by its duration and
# a timeout (wrk and the server both), and the script stops the servers it
# started.
set -euo pipefail

ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-5}
WARMUP=${WARMUP:-1}
CONNECTIONS=${CONNECTIONS:-32}
HIGH_CONNECTIONS=${HIGH_CONNECTIONS:-256}
PORT=${PORT:-18080}
SERVER_CPU=${SERVER_CPU:-0}
WRK_CPU=${WRK_CPU:-1}
read -r -a VIEW_LIST <<<"${VIEWS:-pinned1 pinned1@256 shared2 shared2@256}"
# The routers (VARIANTS, space-separated): bare, guarded and peer, which the
# ratios need, and optionally guarded_peer_headers (the guarded route with
# the peer's three security headers: what the header bytes cost).
read -r -a VARIANTS <<<"${VARIANTS:-bare guarded peer}"
# Must match ALICE_KEY and ALICE_PROJECT in guard-axum/benches/common/mod.rs.
KEY="alice-bench-key-0123456789-0123456789"
URL="http://127.0.0.1:${PORT}/projects/4242"

cd "$(dirname "$0")/.."

for view in "${VIEW_LIST[@]}"; do
    case "$view" in
        pinned1 | pinned1@256 | shared2 | shared2@256) ;;
        *)
            echo "unknown view \`$view\`: pinned1, pinned1@256, shared2, shared2@256" >&2
            exit 1
            ;;
    esac
done
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

# The settings of a view: workers, wrk threads, connections, pinned (1/0).
view_settings() { # view
    case "$1" in
        pinned1) echo "1 1 ${CONNECTIONS} 1" ;;
        pinned1@256) echo "1 1 ${HIGH_CONNECTIONS} 1" ;;
        shared2) echo "2 2 ${CONNECTIONS} 0" ;;
        shared2@256) echo "2 2 ${HIGH_CONNECTIONS} 0" ;;
    esac
}

run_wrk() { # seconds threads connections pinned
    local pin=()
    if [[ "$4" == 1 ]]; then pin=(taskset -c "$WRK_CPU"); fi
    timeout $(( $1 + 10 )) "${pin[@]}" \
        wrk -t"$2" -c"$3" -d"$1"s --latency -H "Authorization: Bearer ${KEY}" "$URL"
}

# A wrk latency figure ("250.00us", "1.20ms", "2.00s") in microseconds.
to_us() {
    awk -v v="$1" 'BEGIN {
        n = v + 0
        if (v ~ /us$/) print n
        else if (v ~ /ms$/) print n * 1000
        else if (v ~ /s$/) print n * 1000000
        else print n
    }'
}

# One measurement: start the variant's server, warm it, run wrk, stop it;
# sets `rps`, `p50` and `p99` (microseconds). Not run in a subshell, so the
# EXIT trap can stop the server.
measure() { # view variant
    local workers threads conns pinned
    read -r workers threads conns pinned <<<"$(view_settings "$1")"
    local pin=()
    if [[ "$pinned" == 1 ]]; then pin=(taskset -c "$SERVER_CPU"); fi
    # The server's own bound: it cannot outlive the run by much even if
    # this script is killed without running its trap.
    timeout $(( WARMUP + DURATION + 30 )) "${pin[@]}" \
        "$SERVER" serve "$2" "127.0.0.1:${PORT}" "$workers" >/dev/null &
    server_pid=$!
    wait_ready
    run_wrk "$WARMUP" "$threads" "$conns" "$pinned" >/dev/null
    local out
    out=$(run_wrk "$DURATION" "$threads" "$conns" "$pinned")
    stop_server
    if grep -q "Non-2xx or 3xx responses" <<<"$out"; then
        echo "$1 $2: some responses were not 2xx; the figure would be wrong:" >&2
        echo "$out" >&2
        exit 1
    fi
    rps=$(awk '/^Requests\/sec:/ { print $2 }' <<<"$out")
    p50=$(to_us "$(awk '$1 == "50%" { print $2 }' <<<"$out")")
    p99=$(to_us "$(awk '$1 == "99%" { print $2 }' <<<"$out")")
    if [[ -z "$rps" || -z "$p50" || -z "$p99" ]]; then
        echo "$1 $2: could not read wrk's output:" >&2
        echo "$out" >&2
        exit 1
    fi
    errors=$(awk '/Socket errors:/ { print }' <<<"$out")
    if [[ -n "$errors" ]]; then
        echo "$1 $2: ${errors# }" >&2
    fi
}

median() {
    tr ' ' '\n' | grep -v '^$' | sort -g |
        awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

declare -A rps_runs p50_runs p99_runs
runs=$(( ROUNDS * ${#VIEW_LIST[@]} * ${#VARIANTS[@]} ))
echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "${ROUNDS} rounds x ${#VIEW_LIST[@]} views x ${#VARIANTS[@]} routers = ${runs} runs of ${WARMUP} s warm-up + ${DURATION} s"
echo "views: pinned1 = 1 server worker on CPU ${SERVER_CPU}, wrk -t1 on CPU ${WRK_CPU}; shared2 = 2 server workers and wrk -t2, unpinned; @N = N connections (else ${CONNECTIONS})"
for round in $(seq 1 "$ROUNDS"); do
    for view in "${VIEW_LIST[@]}"; do
        # Rotate the order each round so no router always runs first.
        for i in "${!VARIANTS[@]}"; do
            variant=${VARIANTS[$(( (i + round - 1) % ${#VARIANTS[@]} ))]}
            measure "$view" "$variant"
            key="$view/$variant"
            rps_runs[$key]="${rps_runs[$key]:-} $rps"
            p50_runs[$key]="${p50_runs[$key]:-} $p50"
            p99_runs[$key]="${p99_runs[$key]:-} $p99"
            printf 'round %d  %-12s %-20s %12s req/s  p50 %8s us  p99 %8s us\n' \
                "$round" "$view" "$variant" "$rps" "$p50" "$p99"
        done
    done
done

echo
echo "medians over ${ROUNDS} round(s); latency in microseconds"
printf '%-12s %-20s %12s %10s %10s\n' view router "req/s" p50 p99
declare -A med_rps med_p99
for view in "${VIEW_LIST[@]}"; do
    for variant in "${VARIANTS[@]}"; do
        key="$view/$variant"
        med_rps[$key]=$(median <<<"${rps_runs[$key]}")
        med_p99[$key]=$(median <<<"${p99_runs[$key]}")
        printf '%-12s %-20s %12.0f %10.0f %10.0f\n' "$view" "$variant" \
            "${med_rps[$key]}" "$(median <<<"${p50_runs[$key]}")" "${med_p99[$key]}"
    done
done

echo
echo "ratios (req/s: guarded / other, higher is better for guarded;"
echo "        p99: guarded / other, lower is better for guarded)"
printf '%-12s %14s %14s %14s %14s\n' view "req/s g/peer" "req/s g/bare" "p99 g/peer" "p99 g/bare"
for view in "${VIEW_LIST[@]}"; do
    awk -v view="$view" \
        -v gr="${med_rps[$view/guarded]}" -v pr="${med_rps[$view/peer]}" -v br="${med_rps[$view/bare]}" \
        -v gl="${med_p99[$view/guarded]}" -v pl="${med_p99[$view/peer]}" -v bl="${med_p99[$view/bare]}" \
        'function ratio(a, b) { return b > 0 ? sprintf("%.3f", a / b) : "n/a" }
        BEGIN { printf "%-12s %14s %14s %14s %14s\n", view, ratio(gr, pr), ratio(gr, br), ratio(gl, pl), ratio(gl, bl) }'
done
echo
echo "targets (issue 15): req/s guarded/peer >= 1.0, guarded/bare >= 0.75; p99 guarded/peer <= 1.1"
