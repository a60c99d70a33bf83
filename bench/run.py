"""Run the whole comparison: journeyctl against the Polars scan floor and the peers.

    python bench/run.py --events 1m 10m --repeat 5

For each size it generates the export once (bench/data/, seeded), then runs every tool as a
whole process: one warm-up, then ``--repeat`` timed runs; it reports the median wall time,
the CPU time (user + system) and the peak resident memory of that median run, the ratio to
the Polars scan, and whether the funnel counts equal journeyctl's.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent
ROOT = HERE.parent
JOURNEYCTL = [sys.executable, "-m", "journeyctl", "analyze", "{file}", "-c", "{config}", "-f", "json"]
TOOLS = {
    "polars scan (floor)": [sys.executable, str(HERE / "peers.py"), "scan", "{file}"],
    "journeyctl": JOURNEYCTL,
    "duckdb SQL": [sys.executable, str(HERE / "peers.py"), "duckdb", "{file}"],
    "pandas": [sys.executable, str(HERE / "peers.py"), "pandas", "{file}"],
    "chdb windowFunnel": [sys.executable, str(HERE / "peers.py"), "chdb", "{file}"],
}


def size(text: str) -> int:
    text = text.lower().replace("_", "")
    scale = {"k": 1_000, "m": 1_000_000}.get(text[-1], 1)
    return int(float(text.rstrip("km")) * scale)


def measure(command: list[str]) -> tuple[float, float, float, str]:
    """(wall s, CPU s, peak RSS MB, stdout) of one whole-process run, from the kernel's
    accounting of that child (wait4), so memory is the process's own peak."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert process.stdout is not None
    out = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise SystemExit(f"{' '.join(command)} failed with exit code {process.returncode}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, out


def counts(tool: str, out: str) -> list[int] | None:
    data = json.loads(out)
    if tool == "journeyctl":
        return [stage["users"] for stage in data["stages"]]
    return None if tool.startswith("polars") else list(data)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", nargs="+", default=["1m"], help="sizes such as 1m 10m")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--config", default=str(ROOT / "configs" / "ecommerce.yaml"))
    parser.add_argument("--tools", nargs="+", default=list(TOOLS), choices=list(TOOLS))
    args = parser.parse_args()
    print(f"# {platform.node()} · {os.cpu_count()} cores · Python {platform.python_version()}")
    for label in args.events:
        n = size(label)
        file = HERE / "data" / f"events_{label}.csv"
        if not file.exists():
            subprocess.run(
                [sys.executable, str(HERE / "generate.py"), "--events", str(n), "-o", str(file)], check=True
            )
        print(f"\n## {n:,} events ({file.stat().st_size / 1e6:,.0f} MB CSV)\n")
        print("| tool | wall s (median) | CPU s | peak RSS MB | × scan | counts |")
        print("|---|---:|---:|---:|---:|---|")
        floor = None
        reference: list[int] | None = None
        for tool in args.tools:
            command = [
                part.replace("{file}", str(file)).replace("{config}", args.config) for part in TOOLS[tool]
            ]
            measure(command)  # warm-up: caches, compiled kernels
            runs = sorted((measure(command) for _ in range(args.repeat)), key=lambda r: r[0])
            wall, cpu, rss, out = runs[len(runs) // 2]
            floor = floor or (wall if tool.startswith("polars") else None)
            found = counts(tool, out)
            if tool == "journeyctl":
                reference = found
            same = "" if found is None else ("= journeyctl" if found == reference else f"differ: {found}")
            ratio = f"{wall / floor:.2f}" if floor else ""
            print(f"| {tool} | {wall:.2f} | {cpu:.2f} | {rss:,.0f} | {ratio} | {same} |", flush=True)
        if reference:
            print(f"\njourneyctl users per stage: {reference}")
    print(f"\nmedian of {args.repeat} whole-process runs after one warm-up")


if __name__ == "__main__":
    main()
