"""How one command's time grows with the events: the same journeyctl command on each size,
the sizes taking turns.

    python bench/scaling.py --events 1m 10m 100m --repeat 3 --data /tmp/bench-data

A machine's speed drifts over minutes (other tenants, the page cache, memory the host
took back), so instead of timing each size in a block of its own, every round runs every
size once, smallest first; one warm-up round is not counted. It prints, per size, the
median wall time and the CPU time (user + system) and peak memory of the median run, and
the growth of wall and CPU time from the size before, against the growth of the events.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from run import ANALYZE, HERE, ROOT, load_average, measure, prepare, size, spread


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].replace("\n", " "))
    parser.add_argument("--events", nargs="+", default=["1m", "10m", "100m"], help="sizes such as 1m 10m")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--data", type=Path, default=HERE / "data", help="where exports are kept")
    parser.add_argument("--config", default=str(ROOT / "configs" / "ecommerce.yaml"))
    parser.add_argument("--memory-limit", default="3GiB", help="passed to journeyctl; 'none' for the default")
    args = parser.parse_args()
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    limit = [] if args.memory_limit == "none" else ["--memory-limit", args.memory_limit]
    labels = sorted(args.events, key=size)
    commands = {}
    for label in labels:
        file, _ = prepare(label, args.data, args.config, [])
        command = [p.replace("{file}", str(file)).replace("{config}", args.config) for p in ANALYZE]
        commands[label] = [*command, *limit]
    print(f"# {' '.join(['journeyctl analyze FILE -c', args.config, '-f json -q', *limit])}")
    print(f"load average before: {load_average()}\n")
    runs: dict[str, list[tuple[float, float, float]]] = {label: [] for label in labels}
    for round_ in range(args.repeat + 1):  # round 0 warms the page cache and compiled kernels
        for label, command in commands.items():
            wall, cpu, rss, _ = measure(command)
            print(f"round {round_}: {label} {wall:.2f} s", file=sys.stderr, flush=True)
            if round_:
                runs[label].append((wall, cpu, rss))
    print("| events | wall s (median) | CPU s | peak RSS MB | × events | × wall | × CPU |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    before: tuple[int, float, float] | None = None
    for label in labels:
        wall, cpu, rss = sorted(runs[label])[len(runs[label]) // 2]
        growth = ["", "", ""]
        if before is not None:
            growth = [f"{size(label) / before[0]:g}", f"{wall / before[1]:.2f}", f"{cpu / before[2]:.2f}"]
        print(f"| {size(label):,} | {wall:.2f} | {cpu:.2f} | {rss:,.0f} | {' | '.join(growth)} |")
        before = (size(label), wall, cpu)
    print("\n" + spread({label: [run[0] for run in label_runs] for label, label_runs in runs.items()}))
    print(f"load average after: {load_average()}")
    print(f"median of {args.repeat} whole-process runs after one warm-up round, sizes taking turns")


if __name__ == "__main__":
    main()
