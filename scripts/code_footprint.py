#!/usr/bin/env python3
"""Code footprint of one request, from a callgrind profile.

Counts the distinct 64-byte code lines (and instructions) executed at
least N/2 times in a run of N requests: the steady-state code a request
touches, which is what an instruction cache has to hold. Under load the
kernel's network path runs between requests and evicts it, so a request
that touches more lines pays more cache misses than its instruction count
says (BENCHMARKS.md, "Ninth step").

    GUARD_BENCH_PROFILE=route/guarded:2000 valgrind --tool=callgrind \\
        --dump-instr=yes --callgrind-out-file=guarded.out $BENCH_BINARY
    scripts/code_footprint.py guarded.out 2000          # totals
    scripts/code_footprint.py guarded.out 2000 40       # and the 40 largest functions
    scripts/code_footprint.py guarded.out 2000 40 peer.out   # per function, against another profile
"""

import collections
import re
import sys

POSITION = re.compile(r"^(0x[0-9a-fA-F]+|\+\d+|-\d+|\*)\s+\S+\s+(\d+)")
NAMED = re.compile(r"c?fn=\((\d+)\)(?: (.*))?")


def parse(path):
    """Ir per (object, instruction address), and each address's function."""
    counts = collections.Counter()
    owner = {}
    names = {}
    obj = fn = None
    last = 0
    after_calls = False
    with open(path, encoding="utf-8", errors="replace") as profile:
        for line in profile:
            if line.startswith("ob="):
                obj = line[3:].split(")")[0]
                continue
            if line.startswith(("fn=", "cfn=")):
                match = NAMED.match(line.rstrip("\n"))
                if match and match.group(2):
                    names[match.group(1)] = match.group(2)
                if line.startswith("fn=") and match:
                    fn = names.get(match.group(1), match.group(1))
                continue
            if line.startswith("calls="):
                # The next cost line is the call's inclusive cost, not the
                # call instruction's own.
                after_calls = True
                continue
            match = POSITION.match(line)
            if not match:
                continue
            pos = match.group(1)
            if pos.startswith("0x"):
                addr = int(pos, 16)
            elif pos == "*":
                addr = last
            else:
                addr = last + int(pos)
            last = addr
            if after_calls:
                after_calls = False
                continue
            counts[(obj, addr)] += int(match.group(2))
            owner[(obj, addr)] = fn
    return counts, owner


def hot(path, requests):
    counts, owner = parse(path)
    lines = collections.defaultdict(set)
    instructions = collections.Counter()
    for key, ir in counts.items():
        if ir >= requests / 2:
            lines[owner[key]].add((key[0], key[1] >> 6))
            instructions[owner[key]] += 1
    return lines, instructions


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    path, requests = sys.argv[1], int(sys.argv[2])
    top = int(sys.argv[3]) if len(sys.argv) > 3 else 0
    lines, instructions = hot(path, requests)
    total = sum(len(v) for v in lines.values())
    print(f"{path}: {sum(instructions.values())} hot instructions, "
          f"{total} code lines ({total * 64 / 1024:.1f} KiB)")
    if not top:
        return
    if len(sys.argv) > 4:
        other, _ = hot(sys.argv[4], requests)
        print(f"{sys.argv[4]}: {sum(len(v) for v in other.values())} code lines")
        names = set(lines) | set(other)
        rows = sorted(names, key=lambda n: -(len(lines.get(n, ())) - len(other.get(n, ()))))
        for name in rows[:top]:
            a, b = len(lines.get(name, ())), len(other.get(name, ()))
            print(f"{a:5d} {b:5d} {a - b:+5d}  {name[:140]}")
        return
    for name in sorted(lines, key=lambda n: -len(lines[n]))[:top]:
        print(f"{len(lines[name]):5d} lines {instructions[name]:6d} instructions  {name[:140]}")


if __name__ == "__main__":
    main()
