#!/usr/bin/env python3
"""Scores `cargo-guard-audit` against the hand counts in this directory.

For every `<crate>-<version>.tsv` here, runs the scanner (JSON output) on
that crate's source in cargo's registry cache and compares the exact
(METHOD, PATH) pairs it reports with the hand-counted ones. Prints recall,
precision, and every missed and every extra route.

    cargo build -p guard-audit
    python3 guard-audit/calibration/score.py [path/to/cargo-guard-audit]
    python3 guard-audit/calibration/score.py --verdicts [--only CRATE] [BINARY]
    python3 guard-audit/calibration/score.py --dump FILE [BINARY]

`--verdicts` also compares each matched route's GA-AUTH-001 verdict with the
TSV's `auth` column (`yes` ~ guarded, `no` ~ unguarded, `unclear` ~ unknown)
and lists every `guarded` verdict on a `no` or `unclear` row (the worst error:
an open route called protected) and every other disagreement. `--dump FILE`
writes every reported route's GA-AUTH-001 verdict per crate as JSON, to diff
two binaries route by route. `--only` scores the crates whose TSV name
starts with CRATE.

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


def rows(tsv):
    with open(tsv, newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def truth(tsv):
    return {(r["method"].upper(), r["path"]) for r in rows(tsv)}


AGREES = {"yes": "guarded", "no": "unguarded", "unclear": "unknown"}


def auth_verdicts(data):
    """(METHOD, PATH) -> [(verdict, reason)] of GA-AUTH-001, one per entry."""
    out = {}
    for r in data["report"]["routes"]:
        for c in r.get("checks", []):
            if c["rule"] == "GA-AUTH-001":
                key = (r["method"].upper(), r["path"])
                out.setdefault(key, []).append((c["verdict"], c["reason"]))
    return out


def compare_verdicts(tsv, data):
    """Counts of (auth, verdict) over the matched rows, and the disagreements."""
    verdicts = auth_verdicts(data)
    counts, wrong_guarded, other = {}, [], []
    for r in rows(tsv):
        key = (r["method"].upper(), r["path"])
        for verdict, reason in verdicts.get(key, []):
            counts[(r["auth"], verdict)] = counts.get((r["auth"], verdict), 0) + 1
            if AGREES.get(r["auth"]) == verdict:
                continue
            line = f"{r['auth']} -> {verdict}: {key[0]} {key[1]}: {reason}"
            (wrong_guarded if verdict == "guarded" else other).append(line)
    return counts, wrong_guarded, other


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
    args = sys.argv[1:]
    verdicts = "--verdicts" in args
    args = [a for a in args if a != "--verdicts"]
    dump = only = None
    if "--dump" in args:
        i = args.index("--dump")
        dump = args[i + 1]
        del args[i : i + 2]
    if "--only" in args:
        i = args.index("--only")
        only = args[i + 1]
        del args[i : i + 2]
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    binary = args[0] if args else os.path.join(target, "debug", "cargo-guard-audit")
    total_truth = total_found = total_hit = 0
    total_wrong_guarded = total_agree = total_compared = 0
    dumped = {}
    for tsv in sorted(glob.glob(os.path.join(HERE, "*.tsv"))):
        name = os.path.basename(tsv)[: -len(".tsv")]
        if only and not name.startswith(only):
            continue
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
        if dump:
            dumped[name] = {f"{m} {p}": v for (m, p), v in sorted(auth_verdicts(data).items())}
        if verdicts:
            counts, wrong_guarded, other = compare_verdicts(tsv, data)
            agree = sum(n for (a, v), n in counts.items() if AGREES.get(a) == v)
            compared = sum(counts.values())
            total_agree += agree
            total_compared += compared
            total_wrong_guarded += len(wrong_guarded)
            table = ", ".join(f"{a}/{v} {n}" for (a, v), n in sorted(counts.items()))
            print(f"  GA-AUTH-001: {agree}/{compared} agree, {len(wrong_guarded)} wrong guarded; {table}")
            for line in wrong_guarded:
                print(f"  WRONG GUARDED {line}")
            for line in other:
                print(f"  differs {line}")
    if total_truth:
        precision = total_hit / total_found if total_found else 1.0
        print(f"all: recall {total_hit / total_truth:.2f} ({total_hit}/{total_truth}), "
              f"precision {precision:.2f} ({total_hit}/{total_found})")
    if verdicts:
        print(f"all GA-AUTH-001: {total_agree}/{total_compared} agree, "
              f"{total_wrong_guarded} wrong guarded")
    if dump:
        with open(dump, "w") as f:
            json.dump(dumped, f, indent=1, sort_keys=True)


if __name__ == "__main__":
    main()
