#!/usr/bin/env python3
"""Per-function exclusive instructions per request, and their change, between
two `scripts/ir.sh` runs of one route:

    scripts/ir_diff.py TAG1 TAG2 route/guarded [N]

Each function's figure is (its Ir at 12,000 requests - at 2,000) / 10,000,
read with `callgrind_annotate --inclusive=no`; the N largest changes print.
"""
import os
import re
import subprocess
import sys

LINE = re.compile(r"^\s*([\d,]+)\s+\([^)]*\)\s+(.*)$")


def per_function(path):
    out = subprocess.run(
        ["callgrind_annotate", "--inclusive=no", "--threshold=100", "--auto=no", path],
        capture_output=True, text=True, check=False,
    ).stdout
    table = {}
    for line in out.splitlines():
        m = LINE.match(line)
        if m and ":" in m.group(2):
            name = m.group(2).split(" [")[0]
            table[name] = table.get(name, 0) + int(m.group(1).replace(",", ""))
    return table


def per_request(tag, route):
    base = os.path.join(os.environ.get("IR_DIR", "target/ir"), tag, route.replace("/", "_"))
    hi, lo = per_function(base + ".12000.out"), per_function(base + ".2000.out")
    return {k: (hi.get(k, 0) - lo.get(k, 0)) / 10000 for k in set(hi) | set(lo)}


def main():
    a_tag, b_tag, route = sys.argv[1:4]
    n = int(sys.argv[4]) if len(sys.argv) > 4 else 25
    a, b = per_request(a_tag, route), per_request(b_tag, route)
    rows = sorted(set(a) | set(b), key=lambda k: -abs(b.get(k, 0) - a.get(k, 0)))
    print(f"{'change':>8} {a_tag:>8} {b_tag:>8}  function")
    for k in rows[:n]:
        print(f"{b.get(k, 0) - a.get(k, 0):+8.0f} {a.get(k, 0):8.0f} {b.get(k, 0):8.0f}  {k[:110]}")
    print(f"{sum(b.values()) - sum(a.values()):+8.0f} {sum(a.values()):8.0f} {sum(b.values()):8.0f}  total")


if __name__ == "__main__":
    main()
