#!/usr/bin/env bash
# Instructions (and mallocs) per request of guard-axum's `guards` bench
# routes, under callgrind: deterministic, so two builds compare to the
# instruction. Each route runs 2,000 and 12,000 requests; the figure is the
# difference / 10,000, so start-up and warm-up cancel out.
#
#   cargo bench -p guard-axum --all-features --bench guards --no-run   # prints BIN
#   scripts/ir.sh BIN TAG route/bare route/peer route/guarded breakdown/layers
#   scripts/ir_diff.py TAG1 TAG2 route/guarded      # per-function change
#
# Output: one line per route; the callgrind files stay in $IR_DIR/TAG
# (default target/ir/TAG).
set -euo pipefail
bin=$1 tag=$2
shift 2
dir=${IR_DIR:-target/ir}/$tag
mkdir -p "$dir"
totals() { grep -m1 -E '^(summary|totals):' "$1" | awk '{print $2}'; }
mallocs() {
  # The calls to `malloc`. callgrind names a function once, as `fn=(N) name`
  # or `cfn=(N) name`, and then as `(N)` alone; each `calls=` line counts
  # for the `cfn` just before it.
  awk '
    /^c?fn=\(/ {
      id = $1; sub(/^c?fn=/, "", id)
      if (NF > 1) { name = $2; for (i = 3; i <= NF; i++) name = name " " $i; names[id] = name }
      if ($0 ~ /^cfn=/) cur = (names[id] == "malloc")
      next
    }
    /^calls=/ { if (cur) { split($1, c, "="); n += c[2] } cur = 0 }
    END { print n + 0 }' "$1"
}
for route in "$@"; do
  file=$dir/$(echo "$route" | tr / _)
  for n in 2000 12000; do
    GUARD_BENCH_PROFILE=$route:$n valgrind --tool=callgrind \
      --callgrind-out-file="$file.$n.out" "$bin" > /dev/null 2> "$file.$n.log"
  done
  ir=$(( ($(totals "$file.12000.out") - $(totals "$file.2000.out")) / 10000 ))
  ma=$(( $(mallocs "$file.12000.out") - $(mallocs "$file.2000.out") ))
  printf '%-22s %8d Ir/request  %6s mallocs/request\n' "$route" "$ir" \
    "$(awk -v m="$ma" 'BEGIN { printf "%.2f", m / 10000 }')"
done | tee "$dir/summary.txt"
