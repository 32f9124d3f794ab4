#!/usr/bin/env python3
"""Scores `cargo-guard-audit` against the hand counts in this directory.

For every `<crate>-<version>.tsv` here, runs the scanner (JSON output) on
that crate's source in cargo's registry cache and compares the exact
(METHOD, PATH) pairs it reports with the hand-counted ones. Prints recall,
precision, and every missed and every extra route.

    cargo build -p guard-audit
    python3 guard-audit/calibration/score.py [path/to/cargo-guard-audit]

The sources must be in the registry cache first (README.md: `cargo fetch`
in the scratch projects). A crate whose source is missing is reported as
such, not scored.
"""
import csv
import glob
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def registry_dirs():
    home = os.environ.get("CARGO_HOME", os.path.expanduser("~/.cargo"))
    return glob.glob(os.path.join(home, "registry", "src", "*"))


def truth(tsv):
    with open(tsv, newline="") as f:
        return {(r["method"].upper(), r["path"]) for r in csv.DictReader(f, delimiter="\t")}


def scan(binary, crate_dir):
    out = subprocess.run(
        [binary, "--manifest-path", os.path.join(crate_dir, "Cargo.toml"), "--format", "json"],
        capture_output=True, text=True, timeout=120,
    )
    if out.returncode == 2:
        raise RuntimeError(out.stderr.strip())
    data = json.loads(out.stdout)
    # Entries whose path is in parentheses are not endpoints: `(fallback)`
    # (README.md, Scoring) and the scanner's markers for what it could not
    # read (`(merged)`, `(.ext_method)`, `(macro!)`). They are not scored;
    # the markers are listed.
    routes = [r for r in data["report"]["routes"] if not r["path"].startswith("(")]
    markers = [r for r in data["report"]["routes"]
               if r["path"].startswith("(") and r["path"] != "(fallback)"]
    return {(r["method"].upper(), r["path"]) for r in routes}, data, markers


def main():
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    binary = sys.argv[1] if len(sys.argv) > 1 else os.path.join(target, "debug", "cargo-guard-audit")
    total_truth = total_found = total_hit = 0
    for tsv in sorted(glob.glob(os.path.join(HERE, "*.tsv"))):
        name = os.path.basename(tsv)[: -len(".tsv")]
        dirs = [d for r in registry_dirs() if os.path.isdir(d := os.path.join(r, name))]
        if not dirs:
            print(f"{name}: source not in the registry cache; not scored")
            continue
        expected = truth(tsv)
        try:
            found, data, markers = scan(binary, dirs[0])
        except Exception as err:  # the scanner could not run: say so
            print(f"{name}: scanner failed: {err}")
            continue
        hit = expected & found
        total_truth += len(expected)
        total_found += len(found)
        total_hit += len(hit)
        recall = len(hit) / len(expected) if expected else 1.0
        precision = len(hit) / len(found) if found else 1.0
        unparsed = data.get("totals", {}).get("files_not_parsed", 0)
        print(f"{name}: {len(expected)} counted, {len(found)} reported, {len(hit)} matched; "
              f"recall {recall:.2f}, precision {precision:.2f}; {unparsed} files not parsed")
        for m, p in sorted(expected - found):
            print(f"  missed {m} {p}")
        for m, p in sorted(found - expected):
            print(f"  extra  {m} {p}")
        for r in markers:
            print(f"  marker {r['method']} {r['path']}: {r.get('unknown')}")
    if total_truth:
        precision = total_hit / total_found if total_found else 1.0
        print(f"all: recall {total_hit / total_truth:.2f} ({total_hit}/{total_truth}), "
              f"precision {precision:.2f} ({total_hit}/{total_found})")


if __name__ == "__main__":
    main()
