"""Compare `musinterp bench --json` runs of several trees, measured interleaved.

    python .ci/compare-bench.py NAME=RUN.json,RUN.json NAME=RUN.json,RUN.json ...

The first name is the one compared with the others. Prints Markdown: a summary (time keys'
median ratio and spread, how many lie beyond ±10 %, quality keys that differ) and the
table of every key the trees share (each run's value, the ratios of the medians).
"""

import json
import statistics
import sys
from pathlib import Path

TIME_SUFFIXES = ("_s", "_ms", ".s")


def read(arguments: list[str]) -> dict[str, list[dict]]:
    """``{name: [run, …]}`` from ``NAME=a.json,b.json`` arguments."""
    trees = {}
    for argument in arguments:
        name, files = argument.split("=", 1)
        trees[name] = [json.loads(Path(f).read_text()) for f in files.split(",")]
    return trees


def ratio(a: float, b: float) -> float:
    return a / b if b else float("nan")


def main(arguments: list[str]) -> None:
    trees = read(arguments)
    names = list(trees)
    first, others = names[0], names[1:]
    shared = sorted(set.intersection(*(set(run) for runs in trees.values() for run in runs)))
    median = {n: {k: statistics.median(r[k] for r in trees[n]) for k in shared} for n in names}
    times = [k for k in shared if k.endswith(TIME_SUFFIXES)]
    quality = [k for k in shared if k not in times]
    print(f"{len(shared)} keys in every run; {len(times)} are times.\n")
    for other in others:
        ratios = [ratio(median[first][k], median[other][k]) for k in times if median[other][k]]
        beyond = [r for r in ratios if abs(r - 1) > 0.1]
        deviation = statistics.median(abs(r - 1) for r in ratios)
        differ = [k for k in quality if median[first][k] != median[other][k]]
        print(
            f"- {first} ÷ {other}, times: median ratio {statistics.median(ratios):.3f}, median "
            f"deviation {deviation:.1%}; {len(beyond)} beyond ±10 % "
            f"({sum(r > 1.1 for r in beyond)} slower, {sum(r < 0.9 for r in beyond)} faster); "
            f"other keys that differ: {len(differ)} of {len(quality)}"
            + (f" ({', '.join(differ)})" if len(differ) <= 8 else "")
        )
    spreads = [
        max(r[k] for r in runs) / min(r[k] for r in runs) - 1
        for runs in trees.values()
        if len(runs) > 1
        for k in times
        if min(r[k] for r in runs) > 0
    ]
    if spreads:
        spreads.sort()
        print(
            f"- the same tree run to run: median spread {statistics.median(spreads):.1%}, "
            f"90th percentile {spreads[int(0.9 * (len(spreads) - 1))]:.1%}"
        )
    header = [f"{n} (runs)" for n in names] + [f"{first} ÷ {o}" for o in others]
    print("\n| key | " + " | ".join(header) + " |")
    print("| --- |" + " --- |" * len(header))
    for k in shared:
        runs = [" / ".join(f"{r[k]:g}" for r in trees[n]) for n in names]
        ratios = [f"{ratio(median[first][k], median[o][k]):.2f}" for o in others]
        print(f"| `{k}` | " + " | ".join(runs + ratios) + " |")


if __name__ == "__main__":
    main(sys.argv[1:])
